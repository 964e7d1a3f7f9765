// Attention's newer options on CUDA vs CPU: additive bias (full and broadcast, gradient
// included), bottom-right causal alignment, kvLength over a capacity buffer; fp32 path and the
// bf16 tensor-core path (D = 64, the T5 / Q-Former head size).
// Run: deno test --allow-all tests/cuda/attention_bias_test.ts (skipped without a device)
import { compareOp, cudaTest, TOL, type Tol } from "./cuda_helpers.ts";
import { attention } from "../../src/ops/attention.ts";
import { setCudaMath } from "../../src/backend/cuda.ts";
import type { Tensor } from "../../src/tensor/tensor.ts";

type Case = {
  B: number;
  H: number;
  Tq: number;
  Tk: number;
  D: number;
  bias?: [number, number];
  align?: "top-left" | "bottom-right";
  cap?: number;
  pad?: boolean;
};

const CASES: Case[] = [
  { B: 4, H: 4, Tq: 64, Tk: 64, D: 64, bias: [1, 4] }, // T5 self-attention
  { B: 2, H: 2, Tq: 70, Tk: 70, D: 64, bias: [2, 2], align: "top-left" }, // T5 decoder
  { B: 2, H: 3, Tq: 32, Tk: 197, D: 64, bias: [2, 1], pad: true }, // Q-Former cross + padding
  { B: 2, H: 2, Tq: 5, Tk: 40, D: 64, align: "bottom-right", cap: 64, bias: [1, 2] }, // cached decode
  { B: 1, H: 2, Tq: 50, Tk: 20, D: 32, align: "bottom-right" }, // Tq > Tk: leading rows see nothing
  { B: 2, H: 1, Tq: 9, Tk: 33, D: 16, cap: 48, pad: true },
];

function runCases(tag: string, tol: Tol, gradTol: Tol): void {
  for (const c of CASES) {
    const cap = c.cap ?? c.Tk;
    const inputs = [
      { shape: [c.B, c.H, c.Tq, c.D], grad: true, seed: 1 },
      { shape: [c.B, c.H, cap, c.D], grad: true, seed: 2 },
      { shape: [c.B, c.H, cap, c.D], grad: true, seed: 3 },
      { shape: [...(c.bias ?? [1, 1]), c.Tq, c.Tk], grad: true, seed: 4, lo: -2, hi: 2 },
      {
        shape: [c.B, cap],
        values: Array.from(
          { length: c.B * cap },
          (_, i) => (!c.pad || i % cap < c.Tk - 3 * (i < cap ? 1 : 2) ? 1 : 0),
        ),
      },
    ];
    compareOp(
      `${tag} attention ${JSON.stringify(c)}`,
      (q: Tensor, k: Tensor, v: Tensor, b: Tensor, m: Tensor) =>
        attention(q, k, v, {
          bias: c.bias ? b : null,
          keyPaddingMask: c.pad ? m : null,
          causal: !!c.align,
          causalAlign: c.align,
          kvLength: c.cap ? c.Tk : undefined,
        }),
      c.bias ? inputs : inputs.map((s, i) => (i === 3 ? { ...s, grad: false } : s)),
      tol,
      gradTol,
    );
  }
}

cudaTest("fp32 attention with bias / bottom-right / kvLength matches the CPU", () => {
  runCases("fp32", TOL.fp32, TOL.fp32);
});

cudaTest("bf16 autocast attention with bias stays on the tensor-core path and matches the CPU", () => {
  setCudaMath({ autocast: "bf16" });
  try {
    runCases("bf16", TOL.bf16, { rtol: 1e-1, atol: 5e-2, norm: 2e-2 });
  } finally {
    setCudaMath({ autocast: "off" });
  }
});
