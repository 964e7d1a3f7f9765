/**
 * ForgeryTalker module tests: output shapes per config and decoder kind, every loss against a
 * hand computation, the KV-cache decode equal to the uncached one, beam search against an
 * exhaustive search on a toy vocabulary, relative-position buckets against T5's table, the
 * instruction templates, config errors, and no leaked memory.
 */
import assert from "node:assert/strict";
import { ForgeryTalker } from "../../src/model/forgerytalker.ts";
import { exampleBatch } from "../../src/model/example_batch.ts";
import { resolveConfig } from "../../src/model/config.ts";
import { contrastiveLoss, fpnLoss, segLoss, tokenLoss } from "../../src/model/losses.ts";
import { instruction, selectedRegions } from "../../src/model/instruction.ts";
import { bucketIds, relativeBucket, T5 } from "../../src/nn/t5.ts";
import { decodeDefaults, generate, logSoftmaxRow, processScores } from "../../src/infer/generate.ts";
import { intTensor, ones, randn, tensor } from "../../src/tensor/create.ts";
import { Rng } from "../../src/tensor/rng.ts";
import { noGrad } from "../../src/autograd/tape.ts";
import { tidy } from "../../src/tensor/scope.ts";
import { memoryStats } from "../../src/tensor/storage.ts";
import type { Tensor } from "../../src/tensor/tensor.ts";

const close = (a: number, b: number, tol: number, what: string) =>
  assert.ok(Math.abs(a - b) <= tol * Math.max(1, Math.abs(b)), `${what}: ${a} vs ${b}`);

for (const variant of ["sam", "token-mlp"] as const) {
  Deno.test(`model: tiny (${variant}) output shapes, finite losses, no leaks`, () => {
    const m = new ForgeryTalker({ name: "tiny", maskDecoder: { kind: variant, maskSize: 32 } } as never, 1);
    const b = exampleBatch(m.cfg, 2, 2);
    const live = memoryStats().liveBytes;
    try {
      tidy(() => {
        const out = noGrad(() => m.forward(b));
        const side = variant === "sam" ? 4 * 14 : 32;
        assert.deepEqual(out.image.shape, [2, 197, 192]);
        assert.deepEqual(out.queries.shape, [2, 32, 192]);
        assert.deepEqual(out.maskLogits.shape, [2, 1, side, side]);
        assert.deepEqual(out.lmLogits!.shape, [2, 32, m.cfg.t5.vocabSize]);
        assert.deepEqual(out.encoder.shape, [2, 32 + 24, 256]);
        assert.deepEqual(m.fpn.forward(b.images).logits.shape, [2, 21]);
        for (const stage of ["fpn", "finetune", "pretrain"] as const) {
          const { loss, terms } = m.losses(b, { stage });
          assert.ok(Number.isFinite(loss.item()), `${stage} loss`);
          for (const [k, v] of Object.entries(terms)) assert.ok(Number.isFinite(v.item()), `${stage}.${k}`);
        }
      });
      assert.equal(memoryStats().liveBytes, live, "forward/loss leaked memory");
    } finally {
      for (const t of Object.values(b)) (t as Tensor).dispose();
      m.dispose();
    }
  });
}

Deno.test("model: small config builds and runs one sample", () => {
  const m = new ForgeryTalker("small", 0);
  const b = exampleBatch(m.cfg, 1, 4, { instruction: 12, caption: 10 });
  try {
    tidy(() => {
      const out = noGrad(() => m.forward(b));
      assert.deepEqual(out.image.shape, [1, 197, 384]);
      assert.deepEqual(out.maskLogits.shape, [1, 1, 56, 56]);
      assert.deepEqual(out.lmLogits!.shape, [1, 10, 4096]);
    });
  } finally {
    for (const t of Object.values(b)) (t as Tensor).dispose();
    m.dispose();
  }
});

Deno.test("losses: each term equals a hand computation", () => {
  tidy(() => {
    const sig = (x: number) => 1 / (1 + Math.exp(-x));
    const x = [2.0, -1.0, 0.5, -3.0], y = [1, 0, 0, 1];
    // FPN: ½(BCE with ω = 0.2 on negatives + soft Dice with smooth 1), one sample of 4 labels
    let bce = 0;
    for (let i = 0; i < 4; i++) {
      bce += -(y[i] * Math.log(sig(x[i])) + 0.2 * (1 - y[i]) * Math.log(1 - sig(x[i])));
    }
    bce /= 4;
    const p = x.map(sig), inter = p.reduce((s, v, i) => s + v * y[i], 0);
    const dice = 1 - (2 * inter + 1) / (p.reduce((a, b) => a + b) + 2 + 1);
    close(fpnLoss(tensor(x, [1, 4]), tensor(y, [1, 4])).item(), 0.5 * (bce + dice), 1e-5, "fpnLoss");
    // ω = 1 without Dice (paper Table 7 ablations)
    let bce1 = 0;
    for (let i = 0; i < 4; i++) bce1 += -(y[i] * Math.log(sig(x[i])) + (1 - y[i]) * Math.log(1 - sig(x[i])));
    close(
      fpnLoss(tensor(x, [1, 4]), tensor(y, [1, 4]), { negWeight: 1, dice: false }).item(),
      0.5 * bce1 / 4,
      1e-5,
      "fpn ω=1",
    );
    // seg at the same size: BCE + Dice; official: BCE with pos_weight 2
    const lx = tensor(x, [1, 1, 2, 2]), ly = tensor(y, [1, 1, 2, 2]);
    const plainBce = bce1 / 4;
    close(segLoss(lx, ly).item(), plainBce + dice, 1e-5, "segLoss");
    let bce2 = 0;
    for (let i = 0; i < 4; i++) {
      bce2 += -(2 * y[i] * Math.log(sig(x[i])) + (1 - y[i]) * Math.log(1 - sig(x[i])));
    }
    close(segLoss(lx, ly, { variant: "official" }).item(), bce2 / 4, 1e-5, "segLoss official");
    // token loss ignores −100
    const logits = [[1, 2, 0.5], [0.1, 0.2, 3], [5, 5, 5]];
    const lse = (r: number[]) => Math.log(r.reduce((s, v) => s + Math.exp(v), 0));
    const ce = ((lse(logits[0]) - logits[0][1]) + (lse(logits[1]) - logits[1][2])) / 2;
    close(
      tokenLoss(tensor(logits.flat(), [1, 3, 3]), intTensor([1, 2, -100], [1, 3])).item(),
      ce,
      1e-5,
      "tokenLoss",
    );
    // InfoNCE with τ = 0.5 on 2 pairs
    const a = [[1, 0], [0, 1]], b2 = [[0.6, 0.8], [1, 0]];
    const n = (v: number[]) => v.map((z) => z / Math.hypot(...v));
    const sim = a.map((u) => b2.map((w) => n(u).reduce((s, z, k) => s + z * n(w)[k], 0) / 0.5));
    const rowCe = (m: number[][]) => m.reduce((s, r, i) => s + lse(r) - r[i], 0) / m.length;
    const simT = sim[0].map((_, j) => sim.map((r) => r[j]));
    close(
      contrastiveLoss(tensor(a.flat(), [2, 2]), tensor(b2.flat(), [2, 2]), 0.5).item(),
      0.5 * (rowCe(sim) + rowCe(simT)),
      1e-5,
      "InfoNCE",
    );
    // learnable τ: log-scale log(1/0.5) gives the same value
    close(
      contrastiveLoss(tensor(a.flat(), [2, 2]), tensor(b2.flat(), [2, 2]), 0.5, tensor([Math.log(2)], [1]))
        .item(),
      0.5 * (rowCe(sim) + rowCe(simT)),
      1e-5,
      "InfoNCE learnable τ",
    );
  });
});

Deno.test("t5: relative buckets follow T5's table", () => {
  // bidirectional, 32 buckets, max distance 128: 0..7 exact, log buckets up to 15, +16 for keys after
  assert.equal(relativeBucket(0, true, 32, 128), 0);
  assert.equal(relativeBucket(-3, true, 32, 128), 3);
  assert.equal(relativeBucket(3, true, 32, 128), 19);
  assert.equal(relativeBucket(-8, true, 32, 128), 8);
  assert.equal(relativeBucket(-1000, true, 32, 128), 15);
  assert.equal(relativeBucket(1000, true, 32, 128), 31);
  // unidirectional (decoder): future keys map to 0, past ones to 0..31
  assert.equal(relativeBucket(5, false, 32, 128), 0);
  assert.equal(relativeBucket(-15, false, 32, 128), 15);
  assert.equal(relativeBucket(-16, false, 32, 128), 16);
  assert.equal(relativeBucket(-127, false, 32, 128), 31);
  assert.deepEqual([...bucketIds(2, 3, 1, false, 32, 128)], [1, 0, 0, 2, 1, 0]);
});

function toyT5(vocab: number, seed: number): T5 {
  const cfg = {
    ...resolveConfig("tiny").t5,
    vocabSize: vocab,
    dModel: 32,
    dKv: 8,
    heads: 4,
    dFf: 64,
    encoderLayers: 1,
    decoderLayers: 2,
  };
  const t5 = new T5(cfg, new Rng(seed));
  t5.eval();
  return t5;
}

Deno.test("t5: the KV-cache decode equals the uncached decode", () => {
  const t5 = toyT5(40, 3);
  try {
    noGrad(() =>
      tidy(() => {
        const enc = randn([2, 6, 32], new Rng(4));
        const mask = tensor([1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0], [2, 6]);
        const ids = [0, 5, 9, 3, 7, 7, 12];
        const full = t5.decode(intTensor([...ids, ...ids.map((v) => (v * 3) % 40)], [2, 7]), enc, mask)
          .data();
        const cache = t5.startDecode(enc, mask);
        for (let t = 0; t < 7; t++) {
          const step = t5.decodeStep(intTensor([ids[t], (ids[t] * 3) % 40], [2, 1]), cache).data();
          for (let b = 0; b < 2; b++) {
            for (let v = 0; v < 40; v++) {
              close(step[b * 40 + v], full[(b * 7 + t) * 40 + v], 1e-5, `step ${t} row ${b}`);
            }
          }
        }
      })
    );
  } finally {
    t5.dispose();
  }
});

Deno.test("decode: beam search with enough beams equals exhaustive search (toy vocabulary)", () => {
  const V = 4, maxNew = 3;
  const t5 = toyT5(V, 11);
  const o = decodeDefaults({
    beams: 40,
    maxNewTokens: maxNew,
    minLength: 2,
    repetitionPenalty: 1.3,
    lengthPenalty: 1.0,
  });
  try {
    noGrad(() =>
      tidy(() => {
        const enc = randn([1, 5, 32], new Rng(12));
        const mask = ones([1, 5]);
        // exhaustive: every continuation, scored like HF (EOS: sum / len before EOS; at max: sum / len)
        const logprobs = (prefix: number[]): Float32Array => {
          const logits = t5.decode(intTensor(prefix, [1, prefix.length]), enc, mask).data();
          const row = logSoftmaxRow(logits.slice((prefix.length - 1) * V, prefix.length * V));
          processScores(row, prefix, o);
          return row;
        };
        let best = { score: -Infinity, ids: [] as number[] };
        const walk = (prefix: number[], sum: number) => {
          const lp = logprobs(prefix);
          for (let tok = 0; tok < V; tok++) {
            if (lp[tok] === -Infinity) continue;
            const s = Math.fround(sum + lp[tok]);
            if (tok === o.eos) {
              const sc = s / prefix.length;
              if (sc >= best.score) best = { score: sc, ids: prefix.slice(1) };
            } else if (prefix.length === maxNew) {
              const sc = s / (prefix.length + 1);
              if (sc >= best.score) best = { score: sc, ids: [...prefix.slice(1), tok] };
            } else walk([...prefix, tok], s);
          }
        };
        walk([0], 0);
        const [got] = generate(t5, enc, mask, o);
        close(got.score, best.score, 1e-5, "best score");
        assert.deepEqual(got.ids, best.ids);
        // greedy picks the per-step argmax of the processed scores
        const [g] = generate(t5, enc, mask, { ...o, beams: 1 });
        const seq = [0];
        for (let t = 0; t < maxNew; t++) {
          const logits = t5.decode(intTensor(seq, [1, seq.length]), enc, mask).data().slice(
            (seq.length - 1) * V,
          );
          processScores(logits, seq, o);
          let a = 0;
          for (let i = 1; i < V; i++) if (logits[i] > logits[a]) a = i;
          if (a === o.eos) break;
          seq.push(a);
        }
        assert.deepEqual(g.ids, seq.slice(1));
      })
    );
  } finally {
    t5.dispose();
  }
});

Deno.test("decode: min length, repetition penalty and no-repeat n-grams", () => {
  const o = decodeDefaults({ minLength: 3, repetitionPenalty: 2, noRepeatNgram: 2 });
  const row = Float32Array.from([1, 2, -2, 4, 0.5]);
  processScores(row, [0, 3, 2, 3], o);
  // seen {0, 3, 2}: 1/2, -2·2, 4/2; bigram (3, 2) seen after 3 -> token 2 banned; length 4 ≥ 3 keeps EOS
  assert.deepEqual([...row], [0.5, 2, -Infinity, 2, 0.5]);
  const r2 = Float32Array.from([0, 0, 0]);
  processScores(r2, [0, 2], o);
  assert.equal(r2[1], -Infinity, "EOS is banned below the minimum length");
  assert.throws(() => decodeDefaults({ beams: 0 }), /beams must be a positive integer/);
});

Deno.test("instruction: paper and official templates, regions in the official order", () => {
  const scores = new Array(21).fill(0);
  scores[2] = 0.9, scores[0] = 0.7, scores[10] = 0.51, scores[5] = 0.5;
  assert.deepEqual(selectedRegions(scores), ["eye", "lip", "eyebrow"]);
  assert.equal(
    instruction(["eye", "lip"]),
    "These facial areas may be manipulated by AI: eye, lip. Please describe the specific issues in these areas.",
  );
  assert.match(
    instruction([], "official"),
    /^The following facial areas may have been modified by AI\. These/,
  );
  assert.match(instruction(["nose"], "official"), /modified by AI: nose\. These areas/);
});

Deno.test("config: unknown keys and bad values name the key", () => {
  assert.throws(() => resolveConfig("huge"), /unknown config 'huge'/);
  assert.throws(
    () => resolveConfig({ name: "tiny", vision: { dimm: 3 } } as never),
    /unknown key 'vision.dimm'/,
  );
  assert.throws(
    () => resolveConfig({ name: "tiny", vision: { heads: 5 } } as never),
    /'vision.heads' \(5\) must divide dim 192/,
  );
  assert.throws(
    () => resolveConfig({ name: "tiny", maskDecoder: { kind: "unet" } } as never),
    /maskDecoder.kind/,
  );
  assert.throws(
    () => resolveConfig({ name: "tiny", imageSize: 200 } as never),
    /multiple of 'vision.patchSize'/,
  );
  assert.equal(resolveConfig({ name: "tiny", template: "official" } as never).template, "official");
});
