/**
 * Layer modules against float64 references computed from their own weights: MultiHeadAttention
 * (self / cross, internalDim, causal, key padding), MLP (plain and gated), BatchNorm2d (running
 * stats, eval), Conv2d / CoordConv (key names, shapes, gradients flow).
 */
import { deepStrictEqual as assertEquals, ok as assert, throws as assertThrows } from "node:assert/strict";
import { intTensor, tensor } from "../../src/tensor/create.ts";
import { Rng } from "../../src/tensor/rng.ts";
import { tidy } from "../../src/tensor/scope.ts";
import { backward } from "../../src/autograd/tape.ts";
import { sum } from "../../src/ops/reduce.ts";
import { mul } from "../../src/ops/elementwise.ts";
import { headsOf, MultiHeadAttention } from "../../src/nn/attention.ts";
import { MLP } from "../../src/nn/mlp.ts";
import { BatchNorm2d } from "../../src/nn/batchnorm.ts";
import { Conv2d, CoordConv } from "../../src/nn/conv.ts";
import type { Linear } from "../../src/nn/linear.ts";
import { Embedding } from "../../src/nn/embedding.ts";
import { Dropout } from "../../src/nn/dropout.ts";
import { assertClose, gradcheck, noLeak, randArray, randLeaf } from "../helpers.ts";

type Mat = number[][];
/** Rows of x (T, in) through a Linear's weights in float64. */
function lin(x: Mat, l: Linear): Mat {
  const w = l.weight.toArray(), b = l.bias?.toArray();
  const [o, i] = l.weight.shape;
  return x.map((r) =>
    Array.from({ length: o }, (_, j) => (b ? b[j] : 0) + r.reduce((s, v, c) => s + v * w[j * i + c], 0))
  );
}
function rows(t: number[], T: number, D: number, b: number): Mat {
  return Array.from({ length: T }, (_, i) => t.slice((b * T + i) * D, (b * T + i + 1) * D));
}

/** float64 multi-head attention for batch b. */
function mhaRef(
  m: MultiHeadAttention,
  q: number[],
  kv: number[],
  B: number,
  Tq: number,
  Tk: number,
  mask: number[] | null,
  causal: boolean,
): number[] {
  const out: number[] = [];
  for (let b = 0; b < B; b++) {
    const Q = lin(rows(q, Tq, m.dim, b), m.qProj);
    const kd = kv.length / (B * Tk);
    const K = lin(rows(kv, Tk, kd, b), m.kProj), V = lin(rows(kv, Tk, kd, b), m.vProj);
    const H = m.numHeads, hd = m.headDim, scale = 1 / Math.sqrt(hd);
    const o: Mat = Array.from({ length: Tq }, () => new Array(m.internalDim).fill(0));
    for (let h = 0; h < H; h++) {
      for (let i = 0; i < Tq; i++) {
        const s: number[] = [];
        for (let j = 0; j < Tk; j++) {
          const vis = (!mask || mask[b * Tk + j] !== 0) && (!causal || j <= i);
          let d = 0;
          for (let c = 0; c < hd; c++) d += Q[i][h * hd + c] * K[j][h * hd + c];
          s.push(vis ? d * scale : -Infinity);
        }
        const mx = Math.max(...s);
        const e = s.map((x) => (x === -Infinity ? 0 : Math.exp(x - mx)));
        const z = e.reduce((a, c) => a + c, 0);
        for (let j = 0; j < Tk; j++) {
          for (let c = 0; c < hd; c++) o[i][h * hd + c] += (e[j] / z) * V[j][h * hd + c];
        }
      }
    }
    out.push(...lin(o, m.outProj).flat());
  }
  return out;
}

Deno.test("MultiHeadAttention: self (causal + padding) and cross (kvDim, internalDim) vs float64", () => {
  noLeak(() => {
    const B = 2, T = 5, D = 8;
    const self = new MultiHeadAttention(D, { numHeads: 2, rng: new Rng(1) });
    const x = tensor(randArray(B * T * D, 2), [B, T, D]);
    const maskV = [1, 1, 1, 0, 0, 1, 1, 1, 1, 1];
    const mask = tensor(maskV, [B, T]);
    const y = tidy(() => self.forward(x, x, x, { causal: true, keyPaddingMask: mask }).toArray());
    assertClose(y, mhaRef(self, x.toArray(), x.toArray(), B, T, T, maskV, true), {
      rtol: 1e-4,
      atol: 1e-5,
      what: "self",
    });
    const y0 = tidy(() => self.forward(x).toArray());
    assertClose(y0, mhaRef(self, x.toArray(), x.toArray(), B, T, T, null, false), {
      rtol: 1e-4,
      atol: 1e-5,
      what: "plain self",
    });

    // cross-attention with attention downsampling (SAM: internalDim = dim / 2), 3 queries over 4 keys
    const cross = new MultiHeadAttention(D, { numHeads: 2, internalDim: 4, kvDim: 6, rng: new Rng(3) });
    assertEquals(cross.kProj.weight.shape, [4, 6]);
    assertEquals(cross.outProj.weight.shape, [8, 4]);
    const q = tensor(randArray(B * 3 * D, 4), [B, 3, D]), kv = tensor(randArray(B * 4 * 6, 5), [B, 4, 6]);
    const imask = intTensor([1, 0, 1, 1, 1, 1, 1, 1], [B, 4]);
    const yc = tidy(() => cross.forward(q, kv, kv, { keyPaddingMask: imask }).toArray());
    assertClose(yc, mhaRef(cross, q.toArray(), kv.toArray(), B, 3, 4, imask.toArray(), false), {
      rtol: 1e-4,
      atol: 1e-5,
      what: "cross",
    });
    assertEquals(cross.namedParameters().map(([n]) => n).filter((n) => n.endsWith("weight")), [
      "q_proj.weight",
      "k_proj.weight",
      "v_proj.weight",
      "out_proj.weight",
    ]);
    // gradients reach every projection
    tidy(() => backward(sum(cross.forward(q, kv))));
    assert(cross.parameters().every((p) => p.grad !== null && p.grad.toArray().some((v) => v !== 0)));
    assertThrows(() => new MultiHeadAttention(6, { numHeads: 4 }), /4 heads must divide internalDim 6/);
    assertThrows(() => tidy(() => self.forward(tensor([1, 2], [2]))), /expected q \(B,Tq,8\)/);
    for (const t of [self, cross, x, mask, q, kv, imask]) t.dispose();
  });
});

Deno.test("headsOf: part i of a fused (B, T, P·H·hd) projection as (B, H, T, hd), and its gradient", () => {
  noLeak(() => {
    const B = 2, T = 5, P = 3, H = 2, hd = 4;
    const yv = randArray(B * T * P * H * hd, 41);
    tidy(() => {
      for (let i = 0; i < P; i++) {
        const got = headsOf(tensor(yv, [B, T, P * H * hd]), P, i, H, hd).toArray();
        const want: number[] = [];
        for (let b = 0; b < B; b++) {
          for (let h = 0; h < H; h++) {
            for (let t = 0; t < T; t++) {
              for (let d = 0; d < hd; d++) want.push(yv[(((b * T + t) * P + i) * H + h) * hd + d]);
            }
          }
        }
        assertEquals(Array.from(got), want, `part ${i}`); // a copy: exact
      }
    });
    const y = randLeaf([B, T, P * H * hd], 42);
    gradcheck((t) => mul(headsOf(t, P, 1, H, hd), headsOf(t, P, 2, H, hd)), [y]);
    y.dispose();
  });
});

Deno.test("MLP: plain fc1/fc2 and T5 gated wi_0/wi_1/wo vs float64", () => {
  noLeak(() => {
    const x = tensor(randArray(2 * 4, 7), [2, 4]);
    const xs = [x.toArray().slice(0, 4), x.toArray().slice(4)];
    const plain = new MLP(4, 6, { act: "relu", rng: new Rng(8) });
    const h = lin(xs, plain.fc1!).map((r) => r.map((v) => Math.max(v, 0)));
    assertClose(tidy(() => plain.forward(x).toArray()), lin(h, plain.fc2!).flat(), {
      rtol: 1e-5,
      what: "plain",
    });
    const gated = new MLP(4, 6, { act: "gelu_tanh", gated: true, outDim: 3, rng: new Rng(9) });
    assertEquals(gated.namedParameters().map(([n]) => n), ["wi_0.weight", "wi_1.weight", "wo.weight"]);
    const g = (v: number) => 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v ** 3)));
    const a = lin(xs, gated.wi0!), b = lin(xs, gated.wi1!);
    const hg = a.map((r, i) => r.map((v, j) => g(v) * b[i][j]));
    assertClose(tidy(() => gated.forward(x).toArray()), lin(hg, gated.wo!).flat(), {
      rtol: 1e-4,
      atol: 1e-6,
      what: "gated",
    });
    for (const t of [x, plain, gated]) t.dispose();
  });
});

Deno.test("BatchNorm2d: batch stats in training, running-stat update, eval uses running stats", () => {
  noLeak(() => {
    const B = 2, C = 2, H = 2, W = 3, n = B * H * W;
    const v = randArray(B * C * H * W, 11, -2, 3);
    const x = tensor(v, [B, C, H, W]);
    const bn = new BatchNorm2d(C, { momentum: 0.1 });
    bn.weight!.set([2, 1]);
    bn.bias!.set([0, -1]);
    const chan = (c: number) =>
      [0, 1].flatMap((b) => Array.from(v).slice((b * C + c) * H * W, (b * C + c + 1) * H * W));
    const mean = [0, 1].map((c) => chan(c).reduce((s, a) => s + a, 0) / n);
    const vb = [0, 1].map((c) => chan(c).reduce((s, a) => s + (a - mean[c]) ** 2, 0) / n);
    const y = tidy(() => bn.forward(x).toArray());
    const ref = Array.from(v, (a, i) => {
      const c = Math.floor(i / (H * W)) % C;
      return ((a - mean[c]) / Math.sqrt(vb[c] + 1e-5)) * [2, 1][c] + [0, -1][c];
    });
    assertClose(y, ref, { rtol: 1e-4, atol: 1e-5, what: "train forward" });
    assertClose(bn.runningMean.toArray(), mean.map((m) => 0.1 * m), { rtol: 1e-5, what: "running mean" });
    assertClose(bn.runningVar.toArray(), vb.map((s) => 0.9 + 0.1 * s * n / (n - 1)), {
      rtol: 1e-5,
      what: "running var",
    });
    assertEquals(bn.numBatchesTracked.item(), 1);
    bn.eval();
    const rm = bn.runningMean.toArray(), rv = bn.runningVar.toArray();
    const ye = tidy(() => bn.forward(x).toArray());
    assertClose(
      ye,
      Array.from(v, (a, i) => {
        const c = Math.floor(i / (H * W)) % C;
        return ((a - rm[c]) / Math.sqrt(rv[c] + 1e-5)) * [2, 1][c] + [0, -1][c];
      }),
      { rtol: 1e-4, atol: 1e-5, what: "eval forward" },
    );
    assertEquals(bn.numBatchesTracked.item(), 1, "eval does not count");
    assertEquals([...bn.stateDict().keys()], [
      "weight",
      "bias",
      "running_mean",
      "running_var",
      "num_batches_tracked",
    ]);
    x.dispose();
    bn.dispose();
  });
});

Deno.test("Conv2d / CoordConv: PyTorch key names and shapes, torch-default init, gradients", () => {
  noLeak(() => {
    const conv = new Conv2d(3, 4, 3, { padding: 1, rng: new Rng(1) });
    const cc = new CoordConv(3, 4, [3, 3], { stride: 2, padding: 1, rng: new Rng(2) });
    assertEquals([...conv.stateDict().keys()], ["weight", "bias"]);
    assertEquals([...cc.stateDict().keys()], ["conv.weight", "conv.bias"]);
    assertEquals(cc.conv.weight.shape, [4, 5, 3, 3]);
    assert(conv.weight.toArray().every((v) => Math.abs(v) <= 1 / Math.sqrt(27)));
    const x = tensor(randArray(2 * 3 * 6 * 6, 3), [2, 3, 6, 6]).requireGrad();
    const shapes = tidy(() => {
      const a = conv.forward(x), b = cc.forward(x);
      backward(sum(a));
      backward(sum(b));
      return [a.shape, b.shape];
    });
    assertEquals(shapes, [[2, 4, 6, 6], [2, 4, 3, 3]]);
    assert([...conv.parameters(), ...cc.parameters()].every((p) => p.grad !== null));
    assertThrows(() => new Conv2d(3, 4, 3, { groups: 2 }), /groups 2 must divide/);
    for (const t of [conv, cc, x] as { dispose(): void }[]) t.dispose();
  });
});

Deno.test("Embedding: lookup, paddingIdx row zeroed, gradient scatters; Dropout: train vs eval, seeded", () => {
  noLeak(() => {
    const emb = new Embedding(5, 3, { paddingIdx: 0, std: 0.02, rng: new Rng(1) });
    const w = emb.weight.toArray();
    assertEquals(w.slice(0, 3), [0, 0, 0]);
    const ids = intTensor([4, 1, 4], [3]);
    const y = tidy(() => {
      const out = emb.forward(ids);
      backward(sum(out));
      return out.toArray();
    });
    assertEquals(y, [...w.slice(12, 15), ...w.slice(3, 6), ...w.slice(12, 15)]);
    assertEquals(emb.weight.grad!.toArray(), [0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 0, 0, 2, 2, 2]);
    assertThrows(() => new Embedding(5, 3, { paddingIdx: 5 }), /paddingIdx 5 out of range/);

    const x = tensor(new Float32Array(1000).fill(1), [10, 100]);
    const run = (seed: number) => {
      const d = new Dropout(0.25, new Rng(seed));
      return tidy(() => d.forward(x).toArray());
    };
    const a = run(3), b = run(3);
    assertEquals(a, b, "same seed, same mask");
    assert(a.every((v) => v === 0 || Math.abs(v - 1 / 0.75) < 1e-6));
    const kept = a.filter((v) => v !== 0).length;
    assert(kept > 680 && kept < 820, `kept ${kept} of 1000 at p = 0.25`);
    const d = new Dropout(0.5).eval();
    assertEquals(tidy(() => d.forward(x).toArray()), x.toArray(), "eval is the identity");
    assertThrows(() => new Dropout(1.5), /p must be in \[0, 1\]/);
    for (const t of [emb, ids, x]) t.dispose();
  });
});
