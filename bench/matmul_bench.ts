/**
 * GEMM through the op layer (src/ops/matmul.ts -> native/gemm*.cpp) at the engine issue's shapes:
 * forward (NN) and the two backward products (NT for dA, TN for dB), plus a batched attention-like
 * product. GFLOP/s = 2MNK / time. Side by side with PyTorch: bash bench/compare_torch.sh --only gemm.
 * Run: .tools/deno bench --allow-ffi --allow-read --allow-env bench/matmul_bench.ts
 */
import { randn } from "../src/tensor/create.ts";
import { Rng } from "../src/tensor/rng.ts";
import { matmul } from "../src/ops/matmul.ts";

const r = new Rng(0);
for (const [M, N, K] of [[3136, 192, 576], [3136, 768, 192], [512, 512, 512], [2048, 2048, 2048]]) {
  const a = randn([M, K], r), b = randn([K, N], r);
  const g = randn([M, N], r);
  const group = `gemm ${M}x${N}x${K}`;
  Deno.bench(`NN (${M},${K})@(${K},${N})`, { group }, () => matmul(a, b).dispose());
  Deno.bench(`NT dA = g @ bᵀ`, { group }, () => matmul(g, b, { transB: true }).dispose());
  Deno.bench(`TN dB = aᵀ @ g`, { group }, () => matmul(a, g, { transA: true }).dispose());
}
const q = randn([48, 197, 64], r), k = randn([48, 197, 64], r);
Deno.bench(
  "batched q @ kᵀ (48,197,64)",
  { group: "batched" },
  () => matmul(q, k, { transB: true }).dispose(),
);
