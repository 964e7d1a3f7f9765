/**
 * Quick check of the Hopper wgmma GEMM before the long runs of bench/gpu_check.sh: one small
 * bf16 product against a float64 reference, run under a short timeout so a hang or a wrong
 * result turns the kernel off (FT_GEMM_SM90=0) instead of stalling the tests and benchmarks.
 *   deno run --allow-ffi --allow-read --allow-env bench/gpu_smoke.ts   (exit 0 = kernel ok)
 * @module
 */
import { CUDA_HALF_SYMBOLS, cudaRaw, cudaStatus } from "../src/backend/cuda.ts";
import { kernels } from "../src/backend/dispatch.ts";

const st = cudaStatus();
if (!st.available) {
  console.error(`gpu_smoke: no CUDA (${st.reason})`);
  Deno.exit(2);
}
const k = kernels(CUDA_HALF_SYMBOLS)("cuda");

let worst = 0;
for (const [batch, M, N, K] of [[1, 256, 512, 128], [2, 130, 300, 192]]) {
  const a = new Float32Array(batch * M * K), b = new Float32Array(batch * N * K);
  let s = 7;
  const r = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 4294967296) * 2 - 1;
  for (let i = 0; i < a.length; i++) a[i] = r();
  for (let i = 0; i < b.length; i++) b[i] = r();
  const bf = (v: Float32Array) =>
    Uint16Array.from(new Uint32Array(v.buffer), (x) => (x + 0x7fff + ((x >> 16) & 1)) >>> 16);
  const ab = bf(a), bb = bf(b);
  const af = new Float32Array(Uint32Array.from(ab, (x) => x << 16).buffer);
  const bfl = new Float32Array(Uint32Array.from(bb, (x) => x << 16).buffer);
  const pa = cudaRaw.malloc(ab.byteLength),
    pb = cudaRaw.malloc(bb.byteLength),
    pc = cudaRaw.malloc(batch * M * N * 4);
  cudaRaw.upload(pa, ab);
  cudaRaw.upload(pb, bb);
  const status = k.ft_cuda_gemm_16(0, 1, BigInt(batch), BigInt(M), BigInt(N), BigInt(K), 1, pa, pb, 0, pc, 0);
  if (status !== 0) {
    console.error(`gpu_smoke: status ${status}`);
    Deno.exit(1);
  }
  const c = new Float32Array(batch * M * N);
  cudaRaw.download(c, pc);
  let num = 0, den = 0;
  for (let z = 0; z < batch; z++) {
    for (let i = 0; i < M; i++) {
      for (let j = 0; j < N; j++) {
        let acc = 0;
        for (let t = 0; t < K; t++) acc += af[(z * M + i) * K + t] * bfl[(z * N + j) * K + t];
        num += (c[(z * M + i) * N + j] - acc) ** 2;
        den += acc * acc;
      }
    }
  }
  worst = Math.max(worst, Math.sqrt(num / den));
  for (const p of [pa, pb, pc]) cudaRaw.free(p);
}
console.log(`gpu_smoke: wgmma/own bf16 GEMM relative error ${worst.toExponential(2)} on ${st.device?.name}`);
Deno.exit(worst < 1e-4 ? 0 : 1);
