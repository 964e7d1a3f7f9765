/**
 * The staged trainer on a small synthetic set with a micro config (64² images): an interrupted
 * run resumes to the same losses bit for bit; each stage changes only what it trains (frozen
 * weights identical byte for byte); bad inputs give one clear message; a non-finite loss stops
 * with the last checkpoint intact or is skipped on request.
 */
import assert from "node:assert/strict";
import { generateDataset } from "../../src/data/synth/generate.ts";
import { readMMTT, splitPath } from "../../src/data/mmtt.ts";
import { train } from "../../src/train/trainer.ts";
import { resolveConfig } from "../../src/model/config.ts";
import { MICRO, microOptions } from "./micro_fixture.ts";
import { disposeCheckpoint, readCheckpoint, saveCheckpoint } from "../../src/train/run_checkpoint.ts";
import { ForgeryTalker } from "../../src/model/forgerytalker.ts";
import { main as trainCli } from "../../src/cli/train.ts";
import { normalizeText, Tokenizer } from "../../src/data/tokenizer.ts";
import { decodingSettings, loadModel, runModel, unloadModel } from "../../src/infer/analyze.ts";
import { preprocessImage } from "../../src/data/transforms.ts";
import { readImage, toRgb } from "../../src/data/image_io.ts";

const root = Deno.makeTempDirSync({ prefix: "ft_trainer_" });
const dataDir = `${root}/data`;
let data: { train: Awaited<ReturnType<typeof readMMTT>>; val: Awaited<ReturnType<typeof readMMTT>> } | null =
  null;

async function getData() {
  if (!data) {
    await generateDataset({ out: dataDir, n: 30, seed: 5, size: 64, workers: 0, quiet: true });
    data = {
      train: await readMMTT(splitPath(dataDir, "train"), dataDir),
      val: await readMMTT(splitPath(dataDir, "eval"), dataDir),
    };
  }
  return data;
}

const options = microOptions;

function trainLosses(out: string): string[] {
  return Deno.readTextFileSync(`${out}/log.jsonl`).split("\n").filter((l) => l.includes('"type":"train"'))
    .map((l) => {
      const r = JSON.parse(l);
      return `${r.stage}:${r.step}:${r.loss}`;
    });
}

Deno.test("trainer: an interrupted run resumes to the same losses bit for bit", async () => {
  const d = await getData();
  await train(options(`${root}/full`, ["pretrain"]), d);
  await train(options(`${root}/part`, ["pretrain"], { stopAfter: 2 }), d);
  assert.equal(trainLosses(`${root}/part`).length, 2);
  await train(options(`${root}/part`, ["pretrain"], { resume: `${root}/part/pretrain-last.safetensors` }), d);
  const full = trainLosses(`${root}/full`), resumed = trainLosses(`${root}/part`);
  assert.equal(full.length, 4);
  assert.deepEqual(resumed, full);
});

function weights(path: string): Map<string, Uint8Array> {
  const c = readCheckpoint(path);
  const out = new Map<string, Uint8Array>();
  for (const [k, t] of c.model) {
    out.set(k, new Uint8Array((t.dtype === "int32" ? t.dataI32() : t.data()).slice().buffer));
  }
  disposeCheckpoint(c);
  return out;
}

function changed(a: Map<string, Uint8Array>, b: Map<string, Uint8Array>): string[] {
  const out: string[] = [];
  for (const [k, x] of a) {
    const y = b.get(k)!;
    if (x.length !== y.length || x.some((v, i) => v !== y[i])) out.push(k);
  }
  return out;
}

Deno.test("trainer: each stage trains only its parameters (frozen ones identical byte for byte)", async () => {
  const d = await getData();
  const out = `${root}/stages`;
  Deno.mkdirSync(out, { recursive: true });
  // the initial weights, as the trainer builds them (same config and seed)
  const m0 = new ForgeryTalker(MICRO, 3);
  saveCheckpoint(`${out}/init.safetensors`, m0, {
    version: 1,
    config: MICRO,
    tokenizer: Tokenizer.train(["a b"], 300).toJSON(),
    stage: "init",
    step: 0,
    epoch: 0,
    batchInEpoch: 0,
    stepCount: 0,
    rng: { model: {}, mlm: { s: [1, 2, 3, 4] } as never },
    best: null,
    options: {},
    resumable: false,
  }, null);
  m0.dispose();
  await train(options(out, ["fpn", "pretrain", "finetune"], { freeze: { vision: true, lm: true } }), d);
  const w0 = weights(`${out}/init.safetensors`);
  const wf = weights(`${out}/fpn-last.safetensors`), wp = weights(`${out}/pretrain-last.safetensors`);
  const wt = weights(`${out}/finetune-last.safetensors`);
  // fpn: only fpn.* (BatchNorm running statistics included) changed
  const c1 = changed(w0, wf);
  assert.ok(
    c1.length > 0 && c1.every((k) => k.startsWith("fpn.")),
    `fpn stage changed ${c1.filter((k) => !k.startsWith("fpn."))}`,
  );
  // pretrain with the paper's freezing: not the FPN, image encoder or T5
  const c2 = changed(wf, wp);
  const frozen = (k: string) => /^(fpn|visual_encoder|ln_vision|t5_model)\./.test(k);
  assert.ok(c2.length > 0 && !c2.some(frozen), `pretrain changed frozen ${c2.filter(frozen)}`);
  assert.ok(c2.some((k) => k.startsWith("Qformer.")) && c2.some((k) => k.startsWith("mask_decoder.")));
  const c3 = changed(wp, wt);
  assert.ok(c3.length > 0 && !c3.some(frozen), `finetune changed frozen ${c3.filter(frozen)}`);
  // the MLM head only learns in pretraining
  assert.ok(c2.includes("Qformer.mlm_head.weight") && !c3.includes("Qformer.mlm_head.weight"));
});

async function cli(args: string[]): Promise<{ code: number; err: string }> {
  const errs: string[] = [];
  const orig = console.error;
  console.error = (...a: unknown[]) => errs.push(a.join(" "));
  try {
    return { code: await trainCli(args), err: errs.join("\n") };
  } finally {
    console.error = orig;
  }
}

Deno.test("trainer CLI: bad input gives one clear message", async () => {
  await getData();
  let r = await cli(["--data", dataDir, "--out", `${root}/x`, "--epochz", "3"]);
  assert.equal(r.code, 2);
  assert.match(r.err, /Unknown option '--epochz'/);
  r = await cli(["--data", `${root}/nope`, "--out", `${root}/x`]);
  assert.equal(r.code, 2);
  assert.match(r.err, /--data '.*nope' does not exist/);
  r = await cli(["--config", "huge", "--dry-run"]);
  assert.match(r.err, /unknown config 'huge'/);
  r = await cli(["--set", '{"vision":{"dimm":1}}', "--dry-run"]);
  assert.match(r.err, /unknown key 'vision.dimm'/);
  r = await cli(["--data", dataDir, "--out", `${root}/x`, "--stage", "warmup"]);
  assert.match(r.err, /--stage must be fpn, pretrain, finetune or all/);
  r = await cli(["--data", dataDir, "--out", `${root}/x`, "--loss-ratio", "2:1"]);
  assert.match(r.err, /--loss-ratio takes four/);
  r = await cli(["--data", dataDir, "--out", `${root}/x`, "--no-fpn", "--fpn-gt"]);
  assert.match(r.err, /exclude each other/);
  r = await cli(["--data", dataDir, "--out", `${root}/x`, "--precision", "fp8"]);
  assert.match(r.err, /--precision must be fp32, bf16 or fp16, got 'fp8'/);
  r = await cli(["--data", dataDir, "--out", `${root}/x`, "--fpn-init", "imagenet"]);
  assert.match(r.err, /--fpn-init must be scratch or vision/);
  // an empty split
  const empty = `${root}/empty`;
  Deno.mkdirSync(empty, { recursive: true });
  for (const f of ["train", "eval", "test"]) Deno.writeTextFileSync(`${empty}/${f}-mutilabel.json`, "[]");
  r = await cli(["--data", empty, "--out", `${root}/x`]);
  assert.equal(r.code, 2);
  assert.match(r.err, /training split .* is empty/);
  // a checkpoint of another config
  const d = await getData();
  await train(options(`${root}/cfgA`, ["fpn"], { steps: { fpn: 2, pretrain: 2, finetune: 2 } }), d);
  await assert.rejects(
    train(
      options(`${root}/cfgB`, ["fpn"], {
        config: resolveConfig({ ...MICRO, fpn: { ...MICRO.fpn, depth: 3 } } as never),
        resume: `${root}/cfgA/fpn-last.safetensors`,
      }),
      d,
    ),
    /checkpoint of config 'tiny' differs from the requested config/,
  );
  // mixed precision on the CPU: refused before any step, naming the device
  await assert.rejects(
    train(options(`${root}/amp`, ["fpn"], { precision: "bf16" }), d),
    /--precision bf16 needs the CUDA device/,
  );
  // not a checkpoint at all
  Deno.writeTextFileSync(`${root}/junk.safetensors`, "not a checkpoint");
  await assert.rejects(
    train(options(`${root}/junk`, ["fpn"], { resume: `${root}/junk.safetensors` }), d),
    /safetensors/,
  );
});

Deno.test("trainer: a non-finite loss stops with the last good checkpoint intact, or is skipped", async () => {
  const d = await getData();
  const out = `${root}/nan`;
  await train(options(out, ["fpn"], { steps: { fpn: 2, pretrain: 2, finetune: 2 } }), d);
  const before = Deno.readFileSync(`${out}/fpn-last.safetensors`);
  // poison the FPN head: every later loss is NaN
  const c = readCheckpoint(`${out}/fpn-last.safetensors`);
  const m = new ForgeryTalker(MICRO, 3);
  m.loadStateDict(c.model);
  m.fpn.head.weight.set(new Float32Array(m.fpn.head.weight.size).fill(NaN));
  saveCheckpoint(`${out}/poisoned.safetensors`, m, { ...c.meta, resumable: false }, null);
  disposeCheckpoint(c);
  m.dispose();
  await assert.rejects(
    train(options(`${root}/nan2`, ["fpn"], { init: `${out}/poisoned.safetensors` }), d),
    /non-finite loss \(NaN\) at fpn step 0/,
  );
  assert.deepEqual(Deno.readFileSync(`${out}/fpn-last.safetensors`), before);
  await assert.rejects(
    train(options(`${root}/nan3`, ["fpn"], { init: `${out}/poisoned.safetensors`, skipNonfinite: true }), d),
    /20 non-finite losses in a row/,
  );
});

globalThis.addEventListener("unload", () => {
  try {
    Deno.removeSync(root, { recursive: true });
  } catch {
    // already gone
  }
});

function trainTerms(out: string, term: string): number[] {
  return Deno.readTextFileSync(`${out}/log.jsonl`).split("\n").filter((l) => l.includes('"type":"train"'))
    .map((l) => JSON.parse(l)[term] as number);
}

Deno.test("trainer: the model overfits 8 samples (captions reproduced, masks IoU > 0.9)", async () => {
  const d = await getData();
  const eight = { train: d.train.slice(0, 8), val: d.train.slice(0, 8) };
  const out = `${root}/overfit`;
  const steps = 300;
  await train(
    options(out, ["finetune"], {
      steps: { fpn: 1, pretrain: 1, finetune: steps },
      lr: { fpn: 1e-3, pretrain: 3e-4, finetune: 2e-3 },
      batchSize: 8,
      warmup: 10,
      augment: false,
      finetuneRegions: "gt",
      logEvery: 1,
      saveEvery: 1000,
    }),
    eight,
  );
  const lm = trainTerms(out, "lm");
  assert.equal(lm.length, steps);
  // decode the 8 training images with their ground-truth regions, greedy, dropout off
  const m = await loadModel(`${out}/finetune-last.safetensors`);
  try {
    const S = m.config.imageSize, B = 8;
    const pixels = new Float32Array(B * 3 * S * S);
    const truth: Uint8Array[] = [];
    for (let b = 0; b < B; b++) {
      const r = eight.train[b];
      preprocessImage(toRgb(await readImage(r.imageFile)), S, pixels, b * 3 * S * S);
      const gt = new Uint8Array(S * S);
      if (r.maskFile) {
        const mk = await readImage(r.maskFile); // nearest-neighbour to S×S, as the loader does
        for (let y = 0; y < S; y++) {
          for (let x = 0; x < S; x++) {
            const sy = Math.floor(((y + 0.5) * mk.height) / S), sx = Math.floor(((x + 0.5) * mk.width) / S);
            gt[y * S + x] = mk.data[(sy * mk.width + sx) * mk.channels] > 0 ? 1 : 0;
          }
        }
      }
      truth.push(gt);
    }
    const regions = Float32Array.from(eight.train.flatMap((r) => r.multilabel.map((v) => (v > 0 ? 1 : 0))));
    // no repetition penalty: a memorised caption may repeat words
    const dec = decodingSettings({ greedy: true, maxNewTokens: 96, repetitionPenalty: 1 });
    const res = runModel(m, pixels, B, dec, 0.5, regions);
    let exact = 0, inter = 0, uni = 0;
    for (let b = 0; b < B; b++) {
      // the target the trainer used: the caption cut to maxCaptionLen tokens (end token included)
      const ids = m.tok.encode(eight.train[b].caption), L = m.config.maxCaptionLen;
      const want = ids.length + 1 <= L ? eight.train[b].caption : m.tok.decode(ids.slice(0, L - 1));
      if (normalizeText(res.explanations[b].text) === normalizeText(want)) exact++;
      else {console.log(
          `  differs: ${JSON.stringify(res.explanations[b].text)}\n    want: ${JSON.stringify(want)}`,
        );}
      for (let i = 0; i < S * S; i++) {
        const p = res.maskProbs[b * S * S + i] >= 0.5, g = truth[b][i] > 0;
        if (p && g) inter++;
        if (p || g) uni++;
      }
    }
    const iou = uni ? inter / uni : 1;
    console.log(
      `  overfit 8: LM loss ${lm[0].toFixed(3)} -> ${
        lm[steps - 1].toFixed(3)
      }, ${exact}/8 captions exact, mask IoU ${iou.toFixed(3)}`,
    );
    assert.equal(exact, 8, `only ${exact} of 8 captions reproduced`);
    assert.ok(iou > 0.9, `mask IoU ${iou}`);
  } finally {
    unloadModel(m);
  }
});

Deno.test("trainer: a full disk fails the save with a clear error and keeps the previous checkpoint", async (t) => {
  const d = await getData();
  // size of one resumable checkpoint of this config
  const probe = `${root}/disk_probe`;
  await train(options(probe, ["pretrain"], { steps: { fpn: 1, pretrain: 1, finetune: 1 }, saveEvery: 1 }), d);
  const size = Deno.statSync(`${probe}/pretrain-last.safetensors`).size;
  const dir = `${root}/small_disk`;
  Deno.mkdirSync(dir);
  // room for one checkpoint plus the log, not for the second checkpoint's temp file beside it
  const kb = Math.ceil((size * 1.5) / 4096) * 4;
  const mount = new Deno.Command("mount", { args: ["-t", "tmpfs", "-o", `size=${kb}k`, "tmpfs", dir] })
    .outputSync();
  if (!mount.success) {
    console.log(
      `  skipped: cannot mount a small tmpfs here (${new TextDecoder().decode(mount.stderr).trim()})`,
    );
    return;
  }
  try {
    const err = await train(
      options(dir, ["pretrain"], { steps: { fpn: 1, pretrain: 4, finetune: 1 }, saveEvery: 1 }),
      d,
    )
      .then(() => null, (e) => e as Error);
    assert.ok(err, "training on a full disk must fail");
    assert.match(
      err.message,
      /pretrain-last\.safetensors': write failed .*(No space left|ENOSPC|os error 28)/i,
    );
    const left = [...Deno.readDirSync(dir)].map((e) => e.name).sort();
    assert.ok(!left.some((n) => n.includes(".tmp")), `temp files left behind: ${left}`);
    const c = readCheckpoint(`${dir}/pretrain-last.safetensors`);
    assert.equal(c.meta.step, 1, "the last good checkpoint (step 1) is intact and readable");
    disposeCheckpoint(c);
    await t.step("resuming from it after space is freed works", async () => {
      new Deno.Command("umount", { args: [dir] }).outputSync();
      Deno.removeSync(dir, { recursive: true });
      Deno.mkdirSync(dir);
      Deno.copyFileSync(`${probe}/pretrain-last.safetensors`, `${dir}/pretrain-last.safetensors`);
      await train(
        options(dir, ["pretrain"], {
          steps: { fpn: 1, pretrain: 2, finetune: 1 },
          resume: `${dir}/pretrain-last.safetensors`,
        }),
        d,
      );
    });
  } finally {
    new Deno.Command("umount", { args: [dir] }).outputSync();
  }
});
