// The raw 16-bit entry points (CUDA_HALF_SYMBOLS) beyond the fp32-output, beta = 0 case the
// older tests covered: ft_cuda_gemm_16 with beta != 0 and bf16 output, with operands that are
// not 16-byte aligned (staged, same numbers as aligned), and ft_cuda_attention_fwd_16 /
// ft_cuda_attention_bwd_16 against a float64 reference per row; misaligned attention operands
// are refused with a message instead of killing the context. Skipped without a device.
import assert from "node:assert/strict";
import { cudaTest, expectRows } from "./cuda_helpers.ts";
import { CUDA_HALF_SYMBOLS, cudaErrorState, cudaRaw, cudaSynchronize } from "../../src/backend/cuda.ts";
import { kernels } from "../../src/backend/dispatch.ts";
import { randArray } from "../helpers.ts";

const k = kernels(CUDA_HALF_SYMBOLS);

function toBf16(v: Float32Array): Uint16Array {
  const u = new Uint32Array(v.buffer.slice(v.byteOffset, v.byteOffset + v.byteLength));
  return Uint16Array.from(u, (x) => (x + 0x7fff + ((x >> 16) & 1)) >>> 16);
}
function fromBf16(h: Uint16Array): Float32Array {
  return new Float32Array(Uint32Array.from(h, (x) => x << 16).buffer);
}

/** A device copy of `bytes` placed `offset` bytes into a fresh block (offset 2 = misaligned). */
function placed(bytes: ArrayBufferView, offset: number): { base: Deno.PointerObject; p: Deno.PointerObject } {
  const base = cudaRaw.malloc(bytes.byteLength + 64);
  const p = Deno.UnsafePointer.offset(base, offset)!;
  cudaRaw.upload(p, bytes);
  return { base, p };
}

cudaTest("gemm_16: beta != 0, bf16 output, misaligned A/B/C staged to the same result", () => {
  const [batch, M, N, K] = [2, 67, 129, 192];
  const a = toBf16(randArray(batch * M * K, 1)), b = toBf16(randArray(batch * N * K, 2));
  const c0 = randArray(batch * M * N, 3);
  const af = fromBf16(a), bf = fromBf16(b);
  const alpha = 0.75, beta = -1.5;
  const ref = new Float64Array(batch * M * N);
  for (let z = 0; z < batch; z++) {
    for (let i = 0; i < M; i++) {
      for (let j = 0; j < N; j++) {
        let s = 0;
        for (let t = 0; t < K; t++) s += af[(z * M + i) * K + t] * bf[(z * N + j) * K + t];
        ref[(z * M + i) * N + j] = alpha * s + beta * c0[(z * M + i) * N + j];
      }
    }
  }
  for (const impl of [0, 2]) {
    const results: Float32Array[] = [];
    for (const off of [0, 2]) {
      const A = placed(a, off), B = placed(b, off), C = placed(c0, off === 0 ? 0 : 4);
      const st = k("cuda").ft_cuda_gemm_16(
        impl,
        1,
        BigInt(batch),
        BigInt(M),
        BigInt(N),
        BigInt(K),
        alpha,
        A.p,
        B.p,
        beta,
        C.p,
        0,
      );
      assert.equal(st, 0, `impl ${impl} offset ${off}: status ${st} (${cudaErrorState().message})`);
      const out = new Float32Array(batch * M * N);
      cudaRaw.download(out, C.p);
      expectRows(
        out,
        ref,
        N,
        { rtol: 1e-3, atol: 1e-3, norm: 1e-4 },
        `gemm16 impl ${impl} beta offset ${off}`,
      );
      results.push(out);
      for (const x of [A, B, C]) cudaRaw.free(x.base);
    }
    assert.deepEqual(results[1], results[0], `impl ${impl}: staged misaligned operands change the result`);
    // bf16 output, beta = 1 reading a bf16 C
    const cb = toBf16(c0);
    const A = placed(a, 0), B = placed(b, 0), C = placed(cb, 2);
    const st = k("cuda").ft_cuda_gemm_16(
      impl,
      1,
      BigInt(batch),
      BigInt(M),
      BigInt(N),
      BigInt(K),
      1,
      A.p,
      B.p,
      1,
      C.p,
      1,
    );
    assert.equal(st, 0, cudaErrorState().message);
    const out = new Uint16Array(batch * M * N);
    cudaRaw.download(out, C.p);
    const cbf = fromBf16(cb);
    const ref1 = ref.map((_, i) => (ref[i] - beta * c0[i]) / alpha + cbf[i]);
    // one bf16 rounding of the output: 2^-8 relative
    expectRows(
      fromBf16(out),
      ref1,
      N,
      { rtol: 8e-3, atol: 2e-3, norm: 5e-3 },
      `gemm16 impl ${impl} bf16 out`,
    );
    for (const x of [A, B, C]) cudaRaw.free(x.base);
  }
  cudaSynchronize();
});

/** Float64 attention forward and backward for (BH, T, D) operands (no mask). */
function attentionRef(
  q: Float32Array,
  kk: Float32Array,
  v: Float32Array,
  go: Float32Array,
  BH: number,
  Tq: number,
  Tk: number,
  D: number,
  scale: number,
  causal: boolean,
) {
  const o = new Float64Array(BH * Tq * D), gq = new Float64Array(BH * Tq * D);
  const gk = new Float64Array(BH * Tk * D), gv = new Float64Array(BH * Tk * D);
  const off = Tk - Tq; // causal aligned bottom-right; Tq = Tk in the cases below
  for (let h = 0; h < BH; h++) {
    for (let i = 0; i < Tq; i++) {
      const p = new Float64Array(Tk);
      let m = -Infinity;
      for (let j = 0; j < Tk; j++) {
        if (causal && j > i + off) {
          p[j] = -Infinity;
          continue;
        }
        let d = 0;
        for (let e = 0; e < D; e++) d += q[(h * Tq + i) * D + e] * kk[(h * Tk + j) * D + e];
        p[j] = d * scale;
        m = Math.max(m, p[j]);
      }
      let z = 0;
      for (let j = 0; j < Tk; j++) z += p[j] = Math.exp(p[j] - m);
      for (let j = 0; j < Tk; j++) p[j] /= z;
      const oi = (h * Tq + i) * D;
      for (let e = 0; e < D; e++) {
        let s = 0;
        for (let j = 0; j < Tk; j++) s += p[j] * v[(h * Tk + j) * D + e];
        o[oi + e] = s;
      }
      let delta = 0;
      for (let e = 0; e < D; e++) delta += go[oi + e] * o[oi + e];
      for (let j = 0; j < Tk; j++) {
        if (p[j] === 0) continue;
        let dp = 0;
        for (let e = 0; e < D; e++) {
          dp += go[oi + e] * v[(h * Tk + j) * D + e];
          gv[(h * Tk + j) * D + e] += p[j] * go[oi + e];
        }
        const ds = p[j] * (dp - delta) * scale;
        for (let e = 0; e < D; e++) {
          gq[oi + e] += ds * kk[(h * Tk + j) * D + e];
          gk[(h * Tk + j) * D + e] += ds * q[oi + e];
        }
      }
    }
  }
  return { o, gq, gk, gv };
}

cudaTest("attention_fwd_16 / attention_bwd_16 vs a float64 reference, per row", () => {
  for (const [B, H, T, causal] of [[1, 2, 70, false], [2, 1, 129, true]] as const) {
    const D = 64, BH = B * H, scale = 1 / 8, nq = BH * T * D;
    const q = toBf16(randArray(nq, 1)), kk = toBf16(randArray(nq, 2)), v = toBf16(randArray(nq, 3));
    const go = toBf16(randArray(nq, 4));
    const ref = attentionRef(
      fromBf16(q),
      fromBf16(kk),
      fromBf16(v),
      fromBf16(go),
      BH,
      T,
      T,
      D,
      scale,
      causal,
    );
    const P = [q, kk, v, go].map((x) => placed(x, 0));
    const po = cudaRaw.malloc(nq * 2), pl = cudaRaw.malloc(BH * T * 4);
    const g = [0, 1, 2].map(() => cudaRaw.malloc(nq * 4));
    const dims = [BigInt(B), BigInt(H), BigInt(T), BigInt(T), BigInt(D)] as const;
    let st = k("cuda").ft_cuda_attention_fwd_16(
      1,
      ...dims,
      scale,
      causal ? 1 : 0,
      P[0].p,
      P[1].p,
      P[2].p,
      po,
      pl,
    );
    assert.equal(st, 0, cudaErrorState().message);
    const o = new Uint16Array(nq);
    cudaRaw.download(o, po);
    const what = `attention16 ${[B, H, T]}${causal ? " causal" : ""}`;
    expectRows(fromBf16(o), ref.o, D, { rtol: 3e-2, atol: 1e-2, norm: 1e-2 }, `${what} fwd`);
    // backward from the kernel's own o (bf16) and lse, as training would
    st = k("cuda").ft_cuda_attention_bwd_16(
      1,
      ...dims,
      scale,
      causal ? 1 : 0,
      P[0].p,
      P[1].p,
      P[2].p,
      po,
      pl,
      P[3].p,
      g[0],
      g[1],
      g[2],
    );
    assert.equal(st, 0, cudaErrorState().message);
    const names = ["gq", "gk", "gv"] as const;
    names.forEach((n, i) => {
      const out = new Float32Array(nq);
      cudaRaw.download(out, g[i]);
      expectRows(out, ref[n], D, { rtol: 6e-2, atol: 2e-2, norm: 3e-2 }, `${what} ${n}`);
    });
    for (const x of P) cudaRaw.free(x.base);
    for (const p of [po, pl, ...g]) cudaRaw.free(p);
  }
});

cudaTest("attention_*_16: misaligned operands are refused with a message; the context survives", () => {
  const [B, H, T, D] = [1, 1, 16, 64];
  const n = B * H * T * D;
  const q = placed(toBf16(randArray(n, 1)), 2), kk = placed(toBf16(randArray(n, 2)), 0);
  const v = placed(toBf16(randArray(n, 3)), 0);
  const po = cudaRaw.malloc(n * 2), pl = cudaRaw.malloc(T * 4);
  const st = k("cuda").ft_cuda_attention_fwd_16(
    1,
    1n,
    1n,
    BigInt(T),
    BigInt(T),
    BigInt(D),
    0.125,
    0,
    q.p,
    kk.p,
    v.p,
    po,
    pl,
  );
  assert.equal(st, 1);
  assert.match(cudaErrorState().message, /ft_cuda_attention_fwd_16: q, k, v and o must be 16-byte aligned/);
  cudaSynchronize(); // throws if the context were dead
  assert.equal(cudaErrorState().sticky, 0);
  for (const x of [q, kk, v]) cudaRaw.free(x.base);
  cudaRaw.free(po);
  cudaRaw.free(pl);
});
