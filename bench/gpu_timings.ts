/**
 * Kernel benchmarks of the CUDA backend, timed with CUDA events (warm-up, then the median of
 * several rounds of back-to-back launches). Prints one JSON line per case to stdout; the same
 * cases are timed with PyTorch by bench/gpu_torch.py and merged by bench/gpu_table.py.
 *   deno run --allow-ffi --allow-read --allow-env bench/gpu_timings.ts [--quick]
 * Cases: copy (bandwidth ceiling), bf16 GEMM (ours: wgmma on Hopper / mma.sync; cuBLAS) at
 * 4096³ and ViT-B shapes, bf16 flash attention fwd and fwd+bwd, softmax, layernorm, GELU,
 * BCE + Dice (fp32, memory-bound: GB/s over the minimal bytes).
 * @module
 */
import { SOFTMAX_SYMBOLS } from "../src/ops/softmax.ts";
import { NORM_SYMBOLS } from "../src/ops/norm.ts";
import { GELU_SYMBOLS } from "../src/ops/gelu.ts";
import { BCE_DICE_SYMBOLS } from "../src/ops/bce_dice.ts";
import { CUDA_HALF_SYMBOLS, CudaEvent, cudaRaw, cudaStatus, cudaSynchronize } from "../src/backend/cuda.ts";
import { kernels } from "../src/backend/dispatch.ts";

const st = cudaStatus();
if (!st.available) {
  console.error(`gpu_timings: CUDA not available (${st.reason})`);
  Deno.exit(2);
}
const quick = Deno.args.includes("--quick");

const k = kernels({
  ft_mem_copy: { parameters: ["pointer", "pointer", "i64"], result: "i32" },
  ...CUDA_HALF_SYMBOLS,
  ...SOFTMAX_SYMBOLS,
  ...NORM_SYMBOLS,
  ...GELU_SYMBOLS,
  ...BCE_DICE_SYMBOLS,
})("cuda");

function ok(s: number, what: string): void {
  if (s !== 0) throw new Error(`${what}: status ${s}`);
}

/** Median ms per call of fn (events around `reps` back-to-back calls, `rounds` times). */
function time(fn: () => void, reps: number, rounds = quick ? 3 : 7): number {
  for (let i = 0; i < Math.max(2, reps >> 1); i++) fn(); // warm-up: module load, handles
  cudaSynchronize();
  const a = new CudaEvent(), b = new CudaEvent();
  const t: number[] = [];
  for (let r = 0; r < rounds; r++) {
    a.record();
    for (let i = 0; i < reps; i++) fn();
    b.record();
    t.push(b.elapsedSince(a) / reps);
  }
  a.dispose();
  b.dispose();
  t.sort((x, y) => x - y);
  return t[t.length >> 1];
}

/** Device buffer of n random values in [-1, 1) stored as fp32 or bf16 (seeded LCG). */
function randBuf(n: number, bf16 = false, seed = 1, lo = -1, hi = 1): Deno.PointerObject {
  let s = seed >>> 0;
  const f = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    f[i] = lo + (hi - lo) * (s / 4294967296);
  }
  const p = cudaRaw.malloc(n * (bf16 ? 2 : 4));
  if (bf16) {
    const u = new Uint32Array(f.buffer);
    cudaRaw.upload(p, Uint16Array.from(u, (x) => (x + 0x7fff + ((x >> 16) & 1)) >>> 16));
  } else cudaRaw.upload(p, f);
  return p;
}

const out: Record<string, unknown>[] = [];
function emit(r: Record<string, unknown>): void {
  out.push(r);
  console.log(JSON.stringify({ impl: "ours", ...r }));
}

// ---- copy: the bandwidth ceiling (bytes read + written) ----
{
  const n = 256 << 20; // bytes
  const a = cudaRaw.malloc(n), b = cudaRaw.malloc(n);
  const ms = time(() => ok(k.ft_mem_copy(b, a, BigInt(n)), "copy"), 10);
  emit({ case: "copy", shape: "256MiB", ms, gbps: (2 * n) / ms / 1e6 });
  cudaRaw.free(a);
  cudaRaw.free(b);
}

// ---- GEMM bf16: C(M,N) bf16 = A(M,K) · B(N,K)ᵀ ----
const GEMMS: [number, number, number, string][] = [
  [4096, 4096, 4096, "4096^3"],
  [3152, 2304, 768, "vit qkv"],
  [3152, 768, 768, "vit proj"],
  [3152, 3072, 768, "vit fc1"],
  [3152, 768, 3072, "vit fc2"],
  [4112, 768, 768, "qformer 16x257"],
];
for (const [M, N, K, tag] of quick ? GEMMS.slice(0, 2) : GEMMS) {
  const a = randBuf(M * K, true, 1), b = randBuf(N * K, true, 2), c = cudaRaw.malloc(M * N * 2);
  const flops = 2 * M * N * K;
  const reps = Math.max(3, Math.min(200, Math.round(2e12 / flops)));
  for (const [impl, name] of [[0, "ours"], [2, "ours-mma.sync"], [1, "cublas"]] as const) {
    const run = () =>
      ok(
        k.ft_cuda_gemm_16(impl, 1, 1n, BigInt(M), BigInt(N), BigInt(K), 1, a, b, 0, c, 1),
        `gemm ${name} ${tag}`,
      );
    try {
      const ms = time(run, reps);
      emit({
        case: `gemm bf16 ${tag}`,
        variant: name,
        shape: `${M}x${N}x${K}`,
        ms,
        tflops: flops / ms / 1e9,
      });
    } catch (e) {
      emit({ case: `gemm bf16 ${tag}`, variant: name, shape: `${M}x${N}x${K}`, error: (e as Error).message });
    }
  }
  for (const p of [a, b, c]) cudaRaw.free(p);
}

// ---- attention bf16 (B, H, T, 64) ----
for (const [B, H, T] of [[16, 12, 257], [16, 3, 197]]) {
  const D = 64, nq = B * H * T * D;
  const q = randBuf(nq, true, 1),
    kk = randBuf(nq, true, 2),
    v = randBuf(nq, true, 3),
    go = randBuf(nq, true, 4);
  const o = cudaRaw.malloc(nq * 2), lse = cudaRaw.malloc(B * H * T * 4);
  const gq = cudaRaw.malloc(nq * 4), gk = cudaRaw.malloc(nq * 4), gv = cudaRaw.malloc(nq * 4);
  const bb = BigInt(B), hh = BigInt(H), tt = BigInt(T), dd = BigInt(D), sc = 1 / 8;
  const fwd = () =>
    ok(k.ft_cuda_attention_fwd_16(1, bb, hh, tt, tt, dd, sc, 0, q, kk, v, o, lse), "attn fwd");
  const bwd = () =>
    ok(
      k.ft_cuda_attention_bwd_16(1, bb, hh, tt, tt, dd, sc, 0, q, kk, v, o, lse, go, gq, gk, gv),
      "attn bwd",
    );
  const flops = 4 * B * H * T * T * D;
  const shape = `${B}x${H}x${T}x${D}`;
  const msF = time(fwd, 50);
  emit({ case: `attention fwd ${shape}`, shape, ms: msF, tflops: flops / msF / 1e9 });
  const msFB = time(() => {
    fwd();
    bwd();
  }, 30);
  emit({ case: `attention fwd+bwd ${shape}`, shape, ms: msFB, tflops: 3.5 * flops / msFB / 1e9 });
  for (const p of [q, kk, v, go, o, lse, gq, gk, gv]) cudaRaw.free(p);
}

// ---- memory-bound fp32 kernels: GB/s over the minimal bytes (read inputs once, write outputs once) ----
{
  const rows = 16 * 12 * 257, T = 257, n = rows * T;
  const x = randBuf(n, false, 5, -4, 4), y = cudaRaw.malloc(n * 4);
  const z = new BigInt64Array(1);
  const ms = time(() => ok(k.ft_softmax_fwd(BigInt(rows), BigInt(T), x, null, 0, z, z, 0, y), "softmax"), 50);
  emit({ case: "softmax", shape: `${rows}x${T}`, ms, gbps: (2 * n * 4) / ms / 1e6 });
  cudaRaw.free(x);
  cudaRaw.free(y);
}
{
  const rows = 16 * 257, D = 768, n = rows * D;
  const x = randBuf(n, false, 6),
    w = randBuf(D, false, 7),
    b = randBuf(D, false, 8),
    y = cudaRaw.malloc(n * 4);
  const mean = cudaRaw.malloc(rows * 4), rstd = cudaRaw.malloc(rows * 4);
  const ms = time(
    () => ok(k.ft_norm_fwd(BigInt(rows), BigInt(D), 0, 1e-5, x, w, b, y, mean, rstd), "layernorm"),
    100,
  );
  emit({ case: "layernorm", shape: `${rows}x${D}`, ms, gbps: (2 * n * 4) / ms / 1e6 });
  for (const p of [x, w, b, y, mean, rstd]) cudaRaw.free(p);
}
{
  const n = 16 * 257 * 3072;
  const x = randBuf(n, false, 9, -4, 4), y = cudaRaw.malloc(n * 4);
  const ms = time(() => ok(k.ft_gelu_fwd(BigInt(n), x, y, 0), "gelu"), 50);
  emit({ case: "gelu", shape: `${n}`, ms, gbps: (2 * n * 4) / ms / 1e6 });
  cudaRaw.free(x);
  cudaRaw.free(y);
}
{
  const S = 16, L = 512 * 512, n = S * L;
  const x = randBuf(n, false, 10, -4, 4), t = randBuf(n, false, 11, 0, 1);
  const loss = cudaRaw.malloc(16), sums = cudaRaw.malloc(S * 12), loss2 = cudaRaw.malloc(16);
  const ms = time(() => {
    ok(k.ft_bce_logits_fwd(BigInt(n), 1, 0.2, 1 / n, x, t, null, loss), "bce");
    ok(k.ft_soft_dice_fwd(BigInt(S), BigInt(L), 1, x, t, sums, loss2), "dice");
  }, 50);
  emit({ case: "bce+dice", shape: `${S}x${L}`, ms, gbps: (2 * n * 4) / ms / 1e6 });
  for (const p of [x, t, loss, sums, loss2]) cudaRaw.free(p);
}
cudaSynchronize();
console.error(
  `gpu_timings: ${out.length} cases on ${st.device?.name} (cc ${st.device?.cc}, ${st.device?.sms} SMs)`,
);
