/**
 * NaN in, NaN out (issue 10, faults 10 and 13): every CPU loss, reduction and fused row kernel
 * is run with a NaN, +inf or -inf planted in its input (at a position inside the first AVX-512
 * vector, and one in a masked tail) and compared with the same formula evaluated in float64
 * (PyTorch's formulas: log-softmax for cross-entropy, x·Φ(x) for GELU), where NaN must match
 * NaN and an infinity the same infinity. With a NaN input, the gradient at that element must be
 * NaN too (the AVX-512 max/min used to swallow it: all-NaN logits gave BCE 1.4e-45, gradient 0).
 * Every case runs on the AVX-512 and the portable paths. `mean` of an empty tensor is NaN as in PyTorch.
 * Run: deno test --allow-ffi --allow-read --allow-env tests/ops/nan_inf_test.ts
 * @module
 */
import { assertEquals } from "../assert.ts";
import { intTensor, tensor, zeros } from "../../src/tensor/create.ts";
import type { Tensor } from "../../src/tensor/tensor.ts";
import { tidy } from "../../src/tensor/scope.ts";
import { backward } from "../../src/autograd/tape.ts";
import { max, mean, sum } from "../../src/ops/reduce.ts";
import { mul } from "../../src/ops/elementwise.ts";
import { bceWithLogits, softDice } from "../../src/ops/bce_dice.ts";
import { crossEntropy } from "../../src/ops/cross_entropy.ts";
import { infoNCE } from "../../src/ops/infonce.ts";
import { logSoftmax, softmax } from "../../src/ops/softmax.ts";
import { layerNorm, rmsNorm } from "../../src/ops/norm.ts";
import { gelu } from "../../src/ops/gelu.ts";
import { batchNorm2d } from "../../src/ops/batchnorm.ts";
import { reshape } from "../../src/ops/shape_ops.ts";
import { assertClose, randArray } from "../helpers.ts";
import { withCpuIsa } from "../../src/backend/cpu_isa.ts";

const R = 3, L = 37; // rows of 37: two 16-lane vectors and a masked tail of 5
const BAD = [NaN, Infinity, -Infinity];
const POS = [5, 34]; // row 0: in a full vector / in the tail

function input(bad: number, at: number, n = R * L, seed = 3): number[] {
  const v = Array.from(randArray(n, seed, -3, 3));
  v[at] = bad;
  return v;
}
const targets01 = Array.from({ length: R * L }, (_, i) => (i % 3 === 0 ? 1 : i % 3 === 1 ? 0 : 0.5));
const labels = [4, 0, 36];

// ---- float64 references (rows of length L) ----
const rows = (x: number[]) => Array.from({ length: x.length / L }, (_, r) => x.slice(r * L, (r + 1) * L));
const fsum = (a: number[]) => a.reduce((s, v) => s + v, 0);
const fmax = (a: number[]) => (a.some(Number.isNaN) ? NaN : Math.max(...a));
function refLogSoftmax(row: number[]): number[] {
  const m = fmax(row);
  const s = fsum(row.map((v) => Math.exp(v - m)));
  return row.map((v) => v - m - Math.log(s));
}
const softplus = (x: number) => Math.max(x, 0) + Math.log1p(Math.exp(-Math.abs(x)));
const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));
function erf(x: number): number { // Abramowitz–Stegun 7.1.26 is too coarse; use the series/cf pair
  if (Number.isNaN(x)) return NaN;
  if (!Number.isFinite(x)) return Math.sign(x);
  const ax = Math.abs(x);
  if (ax < 3) { // Maclaurin series, converges fast here
    let term = ax, s = ax;
    for (let n = 1; n < 80; n++) {
      term *= (-ax * ax) / n;
      s += term / (2 * n + 1);
    }
    return Math.sign(x) * (2 / Math.sqrt(Math.PI)) * s;
  }
  // continued fraction for erfc
  let f = 0;
  for (let n = 60; n >= 1; n--) f = (n / 2) / (ax + f);
  return Math.sign(x) * (1 - Math.exp(-ax * ax) / Math.sqrt(Math.PI) / (ax + f));
}
const geluRef = (x: number) => 0.5 * x * (1 + erf(x / Math.SQRT2));
const geluTanhRef = (x: number) =>
  0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x)));

interface Case {
  name: string;
  run: (x: Tensor) => Tensor; // x (R, L) -> output
  ref: (x: number[]) => number[];
  grad: boolean; // with a NaN input, the gradient at that element must be NaN
}

const cases: Case[] = [
  { name: "sum", run: (x) => sum(x), ref: (x) => [fsum(x)], grad: false },
  {
    name: "sum(axis 0)",
    run: (x) => sum(x, 0),
    ref: (x) => rows(x)[0].map((_, j) => fsum(rows(x).map((r) => r[j]))),
    grad: false,
  },
  { name: "mean", run: (x) => mean(x), ref: (x) => [fsum(x) / x.length], grad: false },
  { name: "mean(axis 1)", run: (x) => mean(x, 1), ref: (x) => rows(x).map((r) => fsum(r) / L), grad: false },
  { name: "max(axis 1)", run: (x) => max(x, 1), ref: (x) => rows(x).map(fmax), grad: false },
  {
    name: "max(axis 0)",
    run: (x) => max(x, 0),
    ref: (x) => rows(x)[0].map((_, j) => fmax(rows(x).map((r) => r[j]))),
    grad: false,
  },
  {
    name: "bceWithLogits",
    run: (x) => bceWithLogits(x, tensor(targets01, [R, L])),
    ref: (
      x,
    ) => [fsum(x.map((v, i) => targets01[i] * softplus(-v) + (1 - targets01[i]) * softplus(v))) / x.length],
    grad: true,
  },
  {
    name: "bceWithLogits(none)",
    run: (x) => bceWithLogits(x, tensor(targets01, [R, L]), { reduction: "none" }),
    ref: (x) => x.map((v, i) => targets01[i] * softplus(-v) + (1 - targets01[i]) * softplus(v)),
    grad: true,
  },
  {
    name: "softDice",
    run: (x) => softDice(x, tensor(targets01, [R, L])),
    ref: (x) => {
      const y = rows(targets01);
      return [
        fsum(
          rows(x).map((r, s) => {
            const p = r.map(sigmoid);
            const I = fsum(p.map((v, i) => v * y[s][i])), P = fsum(p), T = fsum(y[s]);
            return 1 - (2 * I + 1) / (P + T + 1);
          }),
        ) / R,
      ];
    },
    grad: true,
  },
  {
    name: "crossEntropy",
    run: (x) => crossEntropy(x, intTensor(labels, [R])),
    ref: (x) => [-fsum(rows(x).map((r, i) => refLogSoftmax(r)[labels[i]])) / R],
    grad: true,
  },
  {
    name: "softmax",
    run: (x) => softmax(x),
    ref: (x) => rows(x).flatMap((r) => refLogSoftmax(r).map(Math.exp)),
    grad: true,
  },
  { name: "logSoftmax", run: (x) => logSoftmax(x), ref: (x) => rows(x).flatMap(refLogSoftmax), grad: true },
  {
    name: "layerNorm",
    run: (x) => layerNorm(x),
    ref: (x) =>
      rows(x).flatMap((r) => {
        const m = fsum(r) / L, v = fsum(r.map((a) => (a - m) ** 2)) / L;
        return r.map((a) => (a - m) / Math.sqrt(v + 1e-5));
      }),
    grad: true,
  },
  {
    name: "rmsNorm",
    run: (x) => rmsNorm(x),
    ref: (x) => rows(x).flatMap((r) => r.map((a) => a / Math.sqrt(fsum(r.map((b) => b * b)) / L + 1e-6))),
    grad: true,
  },
  { name: "gelu", run: (x) => gelu(x), ref: (x) => x.map(geluRef), grad: true },
  { name: "gelu(tanh)", run: (x) => gelu(x, "tanh"), ref: (x) => x.map(geluTanhRef), grad: true },
  {
    name: "batchNorm2d (train)",
    run: (x) => batchNorm2d(reshape(x, [1, R, L]), null, null, null, null),
    ref: (x) =>
      rows(x).flatMap((r) => {
        const m = fsum(r) / L, v = fsum(r.map((a) => (a - m) ** 2)) / L;
        return r.map((a) => (a - m) / Math.sqrt(v + 1e-5));
      }),
    grad: true,
  },
];

for (const c of cases) {
  Deno.test(`NaN/inf: ${c.name} matches the float64 formula, NaN in gives NaN out (AVX-512 and portable)`, () => {
    for (const [level, bad] of [2, 0].flatMap((l) => BAD.map((b) => [l as 0 | 2, b] as const))) {
      for (const at of POS) {
        withCpuIsa(level, () =>
          tidy(() => {
            const xv = input(bad, at);
            const x = tensor(xv, [R, L]).requireGrad();
            const y = c.run(x);
            const what = `${c.name} with ${bad} at [${at}] (ISA level <= ${level})`;
            const got = y.data(), want = c.ref(xv);
            assertClose(got, want, { rtol: 2e-4, atol: 2e-5, what });
            for (let i = 0; i < want.length; i++) {
              assertEquals(Number.isNaN(got[i]), Number.isNaN(want[i]), `${what}: NaN-ness of output [${i}]`);
            }
            if (c.grad && Number.isNaN(bad)) {
              const g = tensor(Array.from(randArray(y.size, 9)), y.shape);
              backward(sum(mul(y, g)));
              const gx = x.grad!.data();
              assertEquals(Number.isNaN(gx[at]), true, `${what}: gradient at the NaN is ${gx[at]}`);
            }
          }));
      }
    }
  });
}

Deno.test("NaN/inf: all-NaN logits give NaN BCE, Dice and cross-entropy with NaN gradients", () => {
  tidy(() => {
    const n = 64;
    for (
      const f of [
        (x: Tensor) => bceWithLogits(x, tensor(new Array(n).fill(1), [4, 16])),
        (x: Tensor) => softDice(x, tensor(new Array(n).fill(1), [4, 16])),
        (x: Tensor) => crossEntropy(x, intTensor([0, 1, 2, 3], [4])),
      ]
    ) {
      const x = tensor(new Array(n).fill(NaN), [4, 16]).requireGrad();
      const loss = f(x);
      assertEquals(Number.isNaN(loss.item()), true, `loss ${loss.item()}`);
      backward(loss);
      assertEquals(x.grad!.data().every(Number.isNaN), true, "every gradient NaN");
    }
  });
});

Deno.test("NaN/inf: infoNCE with a NaN or an infinity in an embedding is NaN", () => {
  for (const bad of BAD) {
    tidy(() => {
      const a = tensor(input(bad, 3, 4 * 8), [4, 8]), b = tensor(input(0.5, 1, 4 * 8, 5), [4, 8]);
      assertEquals(Number.isNaN(infoNCE(a, b).item()), true, `infoNCE with ${bad}`);
    });
  }
});

Deno.test("mean of an empty tensor is NaN (PyTorch), sum is 0", () => {
  tidy(() => {
    assertEquals(Number.isNaN(mean(zeros([0])).item()), true, "mean([])");
    assertEquals(sum(zeros([0])).item(), 0, "sum([])");
    const m = mean(zeros([2, 0]), 1).data();
    assertEquals(m.length, 2);
    assertEquals(Array.from(m).every(Number.isNaN), true, "mean over an empty axis");
  });
});

Deno.test("NaN/inf: a NaN among -inf (masked) logits is NaN, not a fully masked row of zeros", () => {
  for (const level of [2, 0] as const) {
    for (const L of [5, 37]) {
      withCpuIsa(level, () =>
        tidy(() => {
          const v = new Array<number>(L).fill(-Infinity);
          v[3] = NaN;
          const x = tensor(v, [1, L]);
          const what = `row of ${L} (ISA level <= ${level})`;
          assertEquals(softmax(x).data().every(Number.isNaN), true, `softmax ${what}`);
          assertEquals(logSoftmax(x).data().every(Number.isNaN), true, `logSoftmax ${what}`);
          assertEquals(
            Number.isNaN(crossEntropy(x, intTensor([0], [1])).item()),
            true,
            `crossEntropy ${what}`,
          );
        }));
    }
  }
});
