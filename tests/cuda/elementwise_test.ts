// Broadcasting binary ops, unary ops with their backward, fill/axpby/copy on CUDA vs the CPU
// backend (same seeded inputs), NaN/Inf parity, and guard regions around raw outputs.
import { compareOp, cudaTest, guarded, TOL, upload } from "./cuda_helpers.ts";
import {
  add,
  BinOp,
  copy,
  div,
  full,
  maximum,
  minimum,
  mul,
  sub,
  Unary,
  unaryOp,
  unaryRaw,
} from "../../src/ops/elementwise.ts";
import {
  abs,
  cos,
  exp,
  leakyRelu,
  log,
  relu,
  rsqrt,
  sigmoid,
  sin,
  sqrt,
  square,
  tanh,
} from "../../src/ops/unary.ts";
import { kernels } from "../../src/backend/dispatch.ts";
import { GELU_SYMBOLS } from "../../src/ops/gelu.ts";
import { cudaRaw } from "../../src/backend/cuda.ts";
import { expectClose } from "./cuda_helpers.ts";
import { randArray } from "../helpers.ts";
import type { Tensor } from "../../src/tensor/tensor.ts";

const T = TOL.pointwise;

cudaTest("binary ops with broadcasting (fwd + grads)", () => {
  const shapes: [number[], number[]][] = [[[4, 5, 6], [4, 5, 6]], [[4, 5, 6], [6]], [[4, 1, 6], [1, 5, 1]], [[
    3,
    1,
  ], [1, 7]], [[8, 16], []]];
  for (const [sa, sb] of shapes) {
    for (
      const [name, f] of [["add", add], ["sub", sub], ["mul", mul], ["maximum", maximum], [
        "minimum",
        minimum,
      ]] as const
    ) {
      compareOp(
        `${name} ${sa}x${sb}`,
        (a, b) => (f as (a: Tensor, b: Tensor) => Tensor)(a, b),
        [
          { shape: sa, grad: true },
          { shape: sb, grad: true, seed: 5 },
        ],
        T,
        TOL.fp32,
      );
    }
    compareOp(
      `div ${sa}x${sb}`,
      div,
      [{ shape: sa, grad: true }, { shape: sb, grad: true, lo: 0.5, hi: 2 }],
      T,
      TOL.fp32,
    );
  }
});

cudaTest("large contiguous binary op (vector path) and odd sizes", () => {
  for (const n of [1 << 20, 1000003, 3, 1]) {
    compareOp(`add n=${n}`, add, [{ shape: [n] }, { shape: [n], seed: 3 }], T);
  }
});

cudaTest("unary ops forward and backward", () => {
  const fs: [string, (x: Tensor) => Tensor, number, number][] = [
    ["exp", exp, -3, 3],
    ["log", log, 0.1, 4],
    ["sqrt", sqrt, 0.1, 4],
    ["rsqrt", rsqrt, 0.1, 4],
    ["tanh", tanh, -3, 3],
    ["sigmoid", sigmoid, -6, 6],
    ["relu", relu, -1, 1],
    ["leaky", (x) => leakyRelu(x, 0.1), -1, 1],
    ["geluErf", (x) => unaryOp(x, Unary.geluErf), -4, 4],
    ["geluTanh", (x) => unaryOp(x, Unary.geluTanh), -4, 4],
    ["abs", abs, -1, 1],
    ["square", square, -2, 2],
    ["sin", sin, -3, 3],
    ["cos", cos, -3, 3],
  ];
  for (const [name, f, lo, hi] of fs) {
    compareOp(
      name,
      f,
      [{ shape: [37, 129], grad: true, lo, hi }],
      { rtol: 2e-5, atol: 1e-6, norm: 2e-6 },
      TOL.fp32,
    );
  }
});

cudaTest("NaN / Inf parity through pointwise ops", () => {
  const v = new Float32Array([NaN, Infinity, -Infinity, 0, -0, 1, -1, 1e30, -1e30, 3.5e-39]);
  for (
    const op of [Unary.exp, Unary.tanh, Unary.sigmoid, Unary.relu, Unary.abs, Unary.square, Unary.geluErf]
  ) {
    compareOp(`unary ${op} specials`, (x) => unaryRaw(x, op), [{ shape: [v.length], values: v }], T);
  }
  compareOp("maximum NaN", maximum, [{ shape: [v.length], values: v }, {
    shape: [v.length],
    values: v.slice().reverse(),
  }], T);
});

cudaTest("fill, copy, axpby", () => {
  compareOp("full", (x) => add(x, full([5, 7], 2.5, x.device)), [{ shape: [5, 7] }], T);
  compareOp("copy", (x) => copy(x), [{ shape: [1001] }], T);
});

const k = kernels({
  ft_binary_fwd: {
    parameters: ["i32", "i32", "buffer", "buffer", "buffer", "pointer", "pointer", "pointer"],
    result: "i32",
  },
  ft_unary_fwd: { parameters: ["i32", "i64", "pointer", "pointer", "f32"], result: "i32" },
  ft_fill_f32: { parameters: ["i64", "pointer", "f32"], result: "i32" },
});

cudaTest("guard regions: binary / unary / fill write exactly their outputs", () => {
  for (const n of [1, 5, 1024, 4099]) {
    const a = randArray(n, 1), b = randArray(n, 2);
    const pa = upload(a), pb = upload(b);
    const out = guarded(
      n,
      (o) =>
        k("cuda").ft_binary_fwd(
          BinOp.add,
          1,
          BigInt64Array.of(BigInt(n)),
          BigInt64Array.of(1n),
          BigInt64Array.of(1n),
          pa,
          pb,
          o,
        ),
      `binary n=${n}`,
    );
    expectClose(out, a.map((x, i) => x + b[i]), T, "binary values");
    guarded(n, (o) => k("cuda").ft_unary_fwd(Unary.tanh, BigInt(n), pa, o, 0), `unary n=${n}`);
    guarded(n, (o) => k("cuda").ft_fill_f32(BigInt(n), o, 1), `fill n=${n}`);
    cudaRaw.free(pa);
    cudaRaw.free(pb);
  }
});

const kg = kernels(GELU_SYMBOLS);

/** `values` uploaded 4 bytes into a fresh block: a pointer that is 4- but not 16-byte aligned. */
function uploadMisaligned(values: Float32Array): { base: Deno.PointerObject; p: Deno.PointerObject } {
  const base = cudaRaw.malloc(values.byteLength + 64);
  const p = Deno.UnsafePointer.offset(base, 4)!;
  cudaRaw.upload(p, values);
  return { base, p };
}

/** Runs call(out) on an output 4 bytes into a sentinel-filled block; checks both neighbours. */
function misalignedOut(n: number, call: (o: Deno.PointerObject) => number, what: string): Float32Array {
  const base = cudaRaw.malloc((n + 8) * 4);
  const SENT = 0x7fbadbad;
  cudaRaw.upload(base, new Uint32Array(n + 8).fill(SENT));
  const st = call(Deno.UnsafePointer.offset(base, 4)!);
  if (st !== 0) throw new Error(`${what}: status ${st}`);
  const back = new Uint32Array(n + 8);
  cudaRaw.download(back, base);
  cudaRaw.free(base);
  if (back[0] !== SENT || back[n + 1] !== SENT) throw new Error(`${what}: wrote outside its output`);
  return new Float32Array(back.buffer, 4, n).slice();
}

cudaTest("misaligned fp32 pointers (views at odd offsets) take the scalar path and stay exact", () => {
  for (const n of [4, 1027, 1 << 16]) {
    const a = randArray(n, 1, -3, 3), b = randArray(n, 2);
    const A = uploadMisaligned(a), B = uploadMisaligned(b);
    const sum = misalignedOut(
      n,
      (o) =>
        k("cuda").ft_binary_fwd(
          BinOp.add,
          1,
          BigInt64Array.of(BigInt(n)),
          BigInt64Array.of(1n),
          BigInt64Array.of(1n),
          A.p,
          B.p,
          o,
        ),
      `add misaligned n=${n}`,
    );
    expectClose(sum, a.map((x, i) => x + b[i]), T, `add misaligned n=${n}`);
    const g = misalignedOut(n, (o) => kg("cuda").ft_gelu_fwd(BigInt(n), A.p, o, 0), `gelu misaligned n=${n}`);
    const ref = Array.from(a, (x) => 0.5 * x * (1 + erf64(x / Math.SQRT2)));
    expectClose(g, ref, { rtol: 2e-6, atol: 1e-6, norm: 1e-6, scaled: false }, `gelu misaligned n=${n}`);
    const gb = misalignedOut(
      n,
      (o) => kg("cuda").ft_gelu_bwd(BigInt(n), A.p, B.p, o, 1),
      `gelu tanh bwd misaligned n=${n}`,
    );
    const c = Math.sqrt(2 / Math.PI);
    const refb = Array.from(a, (x, i) => {
      const u = c * (x + 0.044715 * x ** 3), t = Math.tanh(u);
      return b[i] * (0.5 * (1 + t) + 0.5 * x * (1 - t * t) * c * (1 + 3 * 0.044715 * x * x));
    });
    expectClose(gb, refb, { rtol: 1e-5, atol: 1e-6, norm: 1e-6, scaled: false }, `gelu tanh bwd n=${n}`);
    cudaRaw.free(A.base);
    cudaRaw.free(B.base);
  }
});

/** erf in float64 (Abramowitz-Stegun 7.1.26 is too coarse; a series / continued fraction). */
function erf64(x: number): number {
  const ax = Math.abs(x);
  if (ax < 2.5) {
    // Maclaurin series: converges fast for |x| < 2.5 in float64
    let term = ax, sum = ax;
    for (let n = 1; n < 80; n++) {
      term *= -(ax * ax) / n;
      sum += term / (2 * n + 1);
    }
    return Math.sign(x) * (2 / Math.sqrt(Math.PI)) * sum;
  }
  // erfc continued fraction (Lentz) for the tail
  let f = ax, C = ax, D = 0;
  for (let i = 1; i < 200; i++) {
    const an = i / 2;
    D = ax + an * D;
    D = 1 / D;
    C = ax + an / C;
    const delta = C * D;
    f *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  const erfc = Math.exp(-ax * ax) / (Math.sqrt(Math.PI) * f);
  return Math.sign(x) * (1 - erfc);
}
