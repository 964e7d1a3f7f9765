// Shapes past the launch limits and the model's real shapes, judged per row against float64 (or
// the CPU backend): elementwise / BCE / GELU with n >= 10 M (several grid-stride trips at one
// wave), norm backward with many rows per block, K = 4096 (many trips round the GEMM pipeline
// ring), batch > 65535 (GEMM, Dice samples) and rows past the old grid caps (fp32 4.2 M,
// autocast pack 2.1 M), the ViT/Q-Former shapes (B*H = 48, T = 197 / 257, softmax rows of 257, GEMM 3152x2304x768).
// Each case is its own test so one failure does not hide the others. Skipped without a device.
import {
  compareOp,
  cudaTest,
  expectRows,
  gemmRowsRef,
  host,
  sampleRows,
  TOL,
  type Tol,
} from "./cuda_helpers.ts";
import { setCudaMath } from "../../src/backend/cuda.ts";
import { tensor } from "../../src/tensor/create.ts";
import { tidy } from "../../src/tensor/scope.ts";
import { add, mul } from "../../src/ops/elementwise.ts";
import { gelu } from "../../src/ops/gelu.ts";
import { bceWithLogits, softDice } from "../../src/ops/bce_dice.ts";
import { layerNorm } from "../../src/ops/norm.ts";
import { matmul } from "../../src/ops/matmul.ts";
import { softmax } from "../../src/ops/softmax.ts";
import { attention } from "../../src/ops/attention.ts";
import { mean } from "../../src/ops/reduce.ts";
import { randArray } from "../helpers.ts";

const BIG = 10_000_003; // odd: the scalar tail after the 16-byte vector loop runs too

cudaTest("n >= 10 M: binary add / mul (vector and scalar paths)", () => {
  compareOp("add 10M", (a, b) => add(a, b), [{ shape: [BIG] }, { shape: [BIG], seed: 5 }], TOL.pointwise);
  compareOp("mul broadcast 10M", (a, b) => mul(a, b), [{ shape: [BIG, 1] }, { shape: [1, 3], seed: 5 }], {
    ...TOL.pointwise,
    scaled: false,
  });
});

cudaTest("n >= 10 M: GELU erf and tanh, forward and backward", () => {
  for (const approx of ["none", "tanh"] as const) {
    compareOp(`gelu ${approx} 10M`, (x) => gelu(x, approx), [{ shape: [BIG], lo: -6, hi: 6, grad: true }], {
      rtol: 2e-5,
      atol: 2e-6,
      norm: 2e-6,
      scaled: false,
    });
  }
});

cudaTest("n >= 10 M: BCE with logits (sum over a grid of partials), forward and backward", () => {
  const n = BIG;
  const y = Float32Array.from(randArray(n, 9, 0, 1), (v) => (v > 0.5 ? 1 : 0));
  compareOp(
    "bce 10M",
    (x, t) => bceWithLogits(x, t),
    [{ shape: [n], lo: -8, hi: 8, grad: true }, { shape: [n], values: y }],
    TOL.fp32,
    { ...TOL.pointwise, rtol: 1e-4, scaled: false },
  );
});

cudaTest("soft Dice with 70000 samples (past the 65535 grid-y limit), forward and backward", () => {
  const y = Float32Array.from(randArray(70_000 * 16, 8, 0, 1), (v) => (v > 0.5 ? 1 : 0));
  compareOp(
    "dice S=70000",
    (x, t) => softDice(x, t),
    [{ shape: [70_000, 16], lo: -4, hi: 4, grad: true }, { shape: [70_000, 16], values: y }],
    TOL.fp32,
  );
});

cudaTest("reduce mean over a large axis and over rows", () => {
  compareOp("mean all 10M", (x) => mean(x), [{ shape: [BIG], grad: true }], TOL.fp32);
  compareOp("mean rows", (x) => mean(x, 1), [{ shape: [5000, 2049], grad: true }], TOL.fp32);
});

cudaTest("norm backward with many rows per block (70000 x 64) and wide rows (64 x 8192)", () => {
  for (const [rows, d] of [[70_000, 64], [64, 8192]]) {
    compareOp(
      `layerNorm (${rows}, ${d})`,
      (x, w, b) => layerNorm(x, w, b),
      [{ shape: [rows, d], grad: true }, { shape: [d], grad: true, seed: 3 }, {
        shape: [d],
        grad: true,
        seed: 4,
      }],
      TOL.fp32,
    );
  }
});

function gemmCase(tag: string, M: number, K: number, N: number, tol: Tol): void {
  tidy(() => {
    const A = randArray(M * K, 21), B = randArray(K * N, 22);
    const a = tensor(A, [M, K], { device: "cuda" }), b = tensor(B, [K, N], { device: "cuda" });
    const y = host(matmul(a, b));
    const rows = sampleRows(M);
    const ref = gemmRowsRef(A, B, K, N, rows);
    const got = new Float32Array(rows.length * N);
    rows.forEach((r, i) => got.set(y.subarray(r * N, (r + 1) * N), i * N));
    expectRows(got, ref, N, tol, `${tag} (${M}x${K})@(${K}x${N})`, rows);
  });
}

// fp32: per-row error of a K-term dot product grows ~sqrt(K) * 2^-24 * |terms|
const FP32_ROW: Tol = { rtol: 1e-4, atol: 2e-5, norm: 2e-5 };
const BF16_ROW: Tol = { rtol: 5e-2, atol: 2e-2, norm: 8e-3 };

cudaTest("GEMM K = 4096 (many pipeline trips), fp32 and bf16, per row vs float64", () => {
  gemmCase("fp32", 130, 4096, 96, FP32_ROW);
  setCudaMath({ autocast: "bf16" });
  gemmCase("bf16", 130, 4096, 96, BF16_ROW);
});

cudaTest("GEMM model shape 3152x768 @ 768x2304, fp32 and bf16, per row vs float64", () => {
  gemmCase("fp32", 3152, 768, 2304, FP32_ROW);
  setCudaMath({ autocast: "bf16" });
  gemmCase("bf16", 3152, 768, 2304, BF16_ROW);
});

cudaTest("GEMM with M past the old grid caps: 4.3 M rows fp32, 2.2 M rows bf16 (pack)", () => {
  gemmCase("fp32 tall", 4_300_000, 8, 4, FP32_ROW);
  setCudaMath({ autocast: "bf16" });
  gemmCase("bf16 tall", 2_200_000, 16, 8, BF16_ROW);
});

cudaTest("batched GEMM with batch > 65535 (fp32 and bf16), forward and gradients", () => {
  const run = (tol: Tol) =>
    compareOp(
      "matmul batch 70000",
      (a, b) => matmul(a, b, { transB: true }),
      [{ shape: [70_000, 3, 8], grad: true }, { shape: [70_000, 5, 8], grad: true, seed: 7 }],
      tol,
    );
  run(TOL.fp32);
  setCudaMath({ autocast: "bf16" });
  run(TOL.bf16);
});

cudaTest("softmax rows of 257 (B*H = 48) and of 197, forward and backward", () => {
  for (const T of [257, 197]) {
    compareOp(`softmax (48, ${T}, ${T})`, (x) => softmax(x), [{
      shape: [48, T, T],
      lo: -4,
      hi: 4,
      grad: true,
    }], TOL.fp32);
  }
});

cudaTest("attention at the model's shapes: B*H = 48, T = 197 and 257, D = 64, fp32 and bf16", () => {
  for (const T of [197, 257]) {
    const inputs = [
      { shape: [4, 12, T, 64], grad: true },
      { shape: [4, 12, T, 64], grad: true, seed: 2 },
      { shape: [4, 12, T, 64], grad: true, seed: 3 },
    ];
    setCudaMath({ autocast: "off" });
    compareOp(`attention fp32 T=${T}`, (q, k, v) => attention(q, k, v), inputs, TOL.fp32);
    setCudaMath({ autocast: "bf16" });
    compareOp(`attention bf16 T=${T}`, (q, k, v) => attention(q, k, v), inputs, TOL.bf16, {
      rtol: 1e-1,
      atol: 5e-2,
      norm: 2e-2,
    });
  }
});

cudaTest(
  "attention with B*H > 65535 (batch chunks), key padding mask and a per-batch bias, fwd + grads",
  () => {
    const [B, H, T, D] = [33_000, 2, 5, 8]; // B*H = 66000
    const mask = Float32Array.from(
      { length: B * T },
      (_, i) => (i % T === T - 1 && (i / T) % 3 === 0 ? 0 : 1),
    );
    compareOp(
      "attention B*H=66000",
      (q, k, v, m, b) => attention(q, k, v, { keyPaddingMask: m, bias: b }),
      [
        { shape: [B, H, T, D], grad: true },
        { shape: [B, H, T, D], grad: true, seed: 2 },
        { shape: [B, H, T, D], grad: true, seed: 3 },
        { shape: [B, T], values: mask },
        { shape: [B, 1, T, T], grad: true, seed: 4 },
      ],
      TOL.fp32,
    );
  },
);

cudaTest("attention with D = 0 behaves like the CPU (empty output, no error)", () => {
  compareOp(
    "attention D=0 with bias",
    (q, k, v, b) => attention(q, k, v, { bias: b }),
    [
      { shape: [2, 3, 4, 0], grad: true },
      { shape: [2, 3, 6, 0], grad: true },
      { shape: [2, 3, 6, 0], grad: true },
      { shape: [2, 3, 4, 6], grad: true, seed: 5 },
    ],
    TOL.fp32,
  );
});
