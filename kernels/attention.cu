// Fused multi-head attention core (native/attention.cpp's ABI and semantics), forward and
// backward, flash-style (online softmax; no Tq x Tk matrix in memory):
//   o(B,H,Tq,D) = softmax(scale * q kᵀ + bias + key-padding mask + causal mask) v, lse(B,H,Tq)
// k, v (B,H,ldk,D) of which the first Tk rows take part (KV-cache capacity); bias
// (B|1,H|1,Tq,Tk) additive (its gradient dS is written per (b,h) to gbias (B,H,Tq,Tk));
// kmask (B,ldm) float32 or int32, nonzero = keep; causal 1: key j visible to query i iff j <= i,
// 2: iff j <= i + Tk - Tq; fully masked rows give o = 0, lse = -inf and zero gradients.
// Two paths: fp32 on the CUDA cores (one thread per query / key row, K/V tiles in shared
// memory; D <= 128) and, under bf16/fp16 autocast with D == 64, FlashAttention-2 style
// tensor-core kernels (mma.sync; P and dS rounded to 16 bits, fp32 accumulation; dQ summed
// with fp32 atomics across key blocks, so its last bits vary run to run).
// Check: tests/cuda/attention_test.ts; bench: bench/gpu_timings.ts "attention" vs torch SDPA.
#include "mma.cuh"

namespace {
using namespace ftc;

constexpr float kLog2e = 1.4426950408889634f, kLn2 = 0.6931471805599453f;

// bias(B, Tk) = 0 where the key is kept, -inf where masked; kmask rows have stride ldm
__global__ void mask_to_bias(int64_t n, int64_t Tk, int64_t ldm, const void* kmask, int i32, float* bias) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
    int64_t m = i / Tk * ldm + i % Tk;
    bool keep = i32 ? ((const int32_t*)kmask)[m] != 0 : ((const float*)kmask)[m] != 0.f;
    bias[i] = keep ? 0.f : -INFINITY;
  }
}

template <typename T>
__global__ void to16(int64_t n, const float* __restrict__ x, T* __restrict__ y) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
    y[i] = from_f32<T>(x[i]);
}

// What the newer options add to every kernel: the k/v row stride per (b,h), the causal
// diagonal offset, the additive logit bias and (backward) its gradient.
struct Extra {
  int64_t ldk;       // key rows per (b,h) in k, v, gk, gv
  int off;           // causal: key j visible to query i iff j <= i + off
  const float* ab;   // (B|1,H|1,Tq,Tk) bias or null
  int64_t sb, sh;    // bias batch / head strides (0 = broadcast)
  float* gb;         // (B,H,Tq,Tk) dL/dbias (pre-zeroed) or null
  __device__ __forceinline__ float bias(int64_t bh, int H, int Tq, int Tk, int i, int j) const {
    return ab ? ab[(bh / H) * sb + (bh % H) * sh + (int64_t)i * Tk + j] : 0.f;
  }
  __device__ __forceinline__ void grad(int64_t bh, int Tq, int Tk, int i, int j, float g) const {
    if (gb) gb[(bh * Tq + i) * Tk + j] = g;
  }
};

// ---------------- fp32 path (CUDA cores) ----------------
constexpr int SQ = 128, SK = 32;  // queries per block (one per thread), keys per shared tile

// o, lse for query rows; q, k, v fp32 (BH, T, D); bias (B, Tk) or null
template <int DM>
__global__ __launch_bounds__(SQ) void attn_fwd_f32(int H, int Tq, int Tk, int D, float scale, int causal,
                                                   const float* __restrict__ q, const float* __restrict__ k,
                                                   const float* __restrict__ v, const float* __restrict__ bias,
                                                   float* __restrict__ o, float* __restrict__ lse, Extra x) {
  __shared__ float Ks[SK][DM], Vs[SK][DM];
  int64_t bh = blockIdx.y;
  int b = (int)(bh / H);
  int i = blockIdx.x * SQ + threadIdx.x;
  bool valid = i < Tq;
  float qr[DM], acc[DM];
  const float sl = scale * kLog2e;
#pragma unroll
  for (int d = 0; d < DM; d++) {
    qr[d] = (valid && d < D) ? q[(bh * Tq + i) * D + d] * sl : 0.f;
    acc[d] = 0.f;
  }
  float m = -INFINITY, l = 0.f;
  int kend = causal ? max(0, min(Tk, (int)(blockIdx.x + 1) * SQ + x.off)) : Tk;
  for (int j0 = 0; j0 < kend; j0 += SK) {
    __syncthreads();
    for (int e = threadIdx.x; e < SK * DM; e += SQ) {
      int r = e / DM, d = e % DM, j = j0 + r;
      bool in = j < Tk && d < D;
      Ks[r][d] = in ? k[(bh * x.ldk + j) * D + d] : 0.f;
      Vs[r][d] = in ? v[(bh * x.ldk + j) * D + d] : 0.f;
    }
    __syncthreads();
    int jn = min(SK, kend - j0);
    for (int jj = 0; jj < jn; jj++) {
      int j = j0 + jj;
      float s = 0.f;
#pragma unroll
      for (int d = 0; d < DM; d++) s = fmaf(qr[d], Ks[jj][d], s);
      if (valid && x.ab) s = fmaf(x.bias(bh, H, Tq, Tk, i, j), kLog2e, s);
      if ((bias && bias[(int64_t)b * Tk + j] == -INFINITY) || (causal && j > i + x.off)) s = -INFINITY;
      float mn = fmaxf(m, s);  // NaN s keeps m, then p = NaN poisons the row like the CPU
      float base = mn == -INFINITY ? 0.f : mn;
      float corr = exp2f(m - base), p = exp2f(s - base);
      l = l * corr + p;
#pragma unroll
      for (int d = 0; d < DM; d++) acc[d] = fmaf(acc[d], corr, p * Vs[jj][d]);
      m = mn;
    }
  }
  if (!valid) return;
  float inv = l > 0.f ? 1.f / l : 0.f;
  if (l != l) inv = l;
#pragma unroll
  for (int d = 0; d < DM; d++)
    if (d < D) o[(bh * Tq + i) * D + d] = acc[d] * inv;
  if (lse) lse[bh * Tq + i] = l > 0.f ? (m + log2f(l)) * kLn2 : (l != l ? l : -INFINITY);
}

// dvec(BH*Tq) = sum_d go * o (one warp per row); T = float or 16-bit
template <typename T>
__global__ void attn_dvec(int64_t rows, int D, const T* __restrict__ go, const T* __restrict__ o,
                          float* __restrict__ dvec) {
  int64_t r = (blockIdx.x * (int64_t)blockDim.x + threadIdx.x) / 32;
  int lane = threadIdx.x & 31;
  if (r >= rows) return;
  float s = 0.f;
  for (int d = lane; d < D; d += 32) s += to_f32(go[r * D + d]) * to_f32(o[r * D + d]);
  s = warp_sum(s);
  if (lane == 0) dvec[r] = s;
}

// p(i, j) for the fp32 backward; returns 0 for masked pairs or rows with lse = -inf
__device__ __forceinline__ float attn_p(float s2, float lse2) { return lse2 == -INFINITY ? 0.f : exp2f(s2 - lse2); }

// gq rows: thread per query
template <int DM>
__global__ __launch_bounds__(SQ) void attn_bwd_dq_f32(int H, int Tq, int Tk, int D, float scale, int causal,
                                                      const float* __restrict__ q, const float* __restrict__ k,
                                                      const float* __restrict__ v, const float* __restrict__ bias,
                                                      const float* __restrict__ lse, const float* __restrict__ go,
                                                      const float* __restrict__ dvec, float* __restrict__ gq, Extra x) {
  __shared__ float Ks[SK][DM], Vs[SK][DM];
  int64_t bh = blockIdx.y;
  int b = (int)(bh / H);
  int i = blockIdx.x * SQ + threadIdx.x;
  bool valid = i < Tq;
  const float sl = scale * kLog2e;
  float qr[DM], gr[DM], acc[DM];
#pragma unroll
  for (int d = 0; d < DM; d++) {
    qr[d] = (valid && d < D) ? q[(bh * Tq + i) * D + d] * sl : 0.f;
    gr[d] = (valid && d < D) ? go[(bh * Tq + i) * D + d] : 0.f;
    acc[d] = 0.f;
  }
  float l2 = valid ? lse[bh * Tq + i] * kLog2e : -INFINITY, dv = valid ? dvec[bh * Tq + i] : 0.f;
  int kend = causal ? max(0, min(Tk, (int)(blockIdx.x + 1) * SQ + x.off)) : Tk;
  for (int j0 = 0; j0 < kend; j0 += SK) {
    __syncthreads();
    for (int e = threadIdx.x; e < SK * DM; e += SQ) {
      int r = e / DM, d = e % DM, j = j0 + r;
      bool in = j < Tk && d < D;
      Ks[r][d] = in ? k[(bh * x.ldk + j) * D + d] : 0.f;
      Vs[r][d] = in ? v[(bh * x.ldk + j) * D + d] : 0.f;
    }
    __syncthreads();
    int jn = min(SK, kend - j0);
    for (int jj = 0; jj < jn; jj++) {
      int j = j0 + jj;
      if (!valid || (bias && bias[(int64_t)b * Tk + j] == -INFINITY) || (causal && j > i + x.off)) continue;
      float s = 0.f, dp = 0.f;
#pragma unroll
      for (int d = 0; d < DM; d++) {
        s = fmaf(qr[d], Ks[jj][d], s);
        dp = fmaf(gr[d], Vs[jj][d], dp);
      }
      if (x.ab) s = fmaf(x.bias(bh, H, Tq, Tk, i, j), kLog2e, s);
      float ds = attn_p(s, l2) * (dp - dv);
      x.grad(bh, Tq, Tk, i, j, ds);
#pragma unroll
      for (int d = 0; d < DM; d++) acc[d] = fmaf(ds, Ks[jj][d], acc[d]);
    }
  }
  if (!valid) return;
#pragma unroll
  for (int d = 0; d < DM; d++)
    if (d < D) gq[(bh * Tq + i) * D + d] = acc[d] * scale;
}

// gk, gv rows: thread per key; queries streamed through shared memory
template <int DM>
__global__ __launch_bounds__(SQ) void attn_bwd_dkv_f32(int H, int Tq, int Tk, int D, float scale, int causal,
                                                       const float* __restrict__ q, const float* __restrict__ k,
                                                       const float* __restrict__ v, const float* __restrict__ bias,
                                                       const float* __restrict__ lse, const float* __restrict__ go,
                                                       const float* __restrict__ dvec, float* __restrict__ gk,
                                                       float* __restrict__ gv, Extra x) {
  __shared__ float Qs[SK][DM], Gs[SK][DM], Ls[SK], Ds[SK];
  int64_t bh = blockIdx.y;
  int b = (int)(bh / H);
  int j = blockIdx.x * SQ + threadIdx.x;
  bool valid = j < Tk && !(bias && bias[(int64_t)b * Tk + j] == -INFINITY);
  const float sl = scale * kLog2e;
  float kr[DM], vr[DM], dk[DM], dv[DM];
#pragma unroll
  for (int d = 0; d < DM; d++) {
    kr[d] = (valid && d < D) ? k[(bh * x.ldk + j) * D + d] : 0.f;
    vr[d] = (valid && d < D) ? v[(bh * x.ldk + j) * D + d] : 0.f;
    dk[d] = dv[d] = 0.f;
  }
  // queries before the block's first key (less the diagonal offset) see none of it
  int i0s = causal ? max(0, (int)(blockIdx.x * SQ) - x.off) / SK * SK : 0;
  for (int i0 = i0s; i0 < Tq; i0 += SK) {
    __syncthreads();
    for (int e = threadIdx.x; e < SK * DM; e += SQ) {
      int r = e / DM, d = e % DM, i = i0 + r;
      bool in = i < Tq && d < D;
      Qs[r][d] = in ? q[(bh * Tq + i) * D + d] * sl : 0.f;
      Gs[r][d] = in ? go[(bh * Tq + i) * D + d] : 0.f;
    }
    if (threadIdx.x < SK) {
      int i = i0 + threadIdx.x;
      Ls[threadIdx.x] = i < Tq ? lse[bh * Tq + i] * kLog2e : -INFINITY;
      Ds[threadIdx.x] = i < Tq ? dvec[bh * Tq + i] : 0.f;
    }
    __syncthreads();
    if (!valid) continue;
    int in_ = min(SK, Tq - i0);
    for (int ii = 0; ii < in_; ii++) {
      if (causal && i0 + ii + x.off < j) continue;
      float s = 0.f, dp = 0.f;
#pragma unroll
      for (int d = 0; d < DM; d++) {
        s = fmaf(Qs[ii][d], kr[d], s);
        dp = fmaf(Gs[ii][d], vr[d], dp);
      }
      if (x.ab) s = fmaf(x.bias(bh, H, Tq, Tk, i0 + ii, j), kLog2e, s);
      float p = attn_p(s, Ls[ii]);
      float ds = p * (dp - Ds[ii]);
#pragma unroll
      for (int d = 0; d < DM; d++) {
        dv[d] = fmaf(p, Gs[ii][d], dv[d]);
        dk[d] = fmaf(ds, Qs[ii][d], dk[d]);  // Qs holds q * scale * log2e: undo log2e below
      }
    }
  }
  if (j >= Tk) return;
#pragma unroll
  for (int d = 0; d < DM; d++)
    if (d < D) {
      gk[(bh * x.ldk + j) * D + d] = dk[d] * kLn2;
      gv[(bh * x.ldk + j) * D + d] = dv[d];
    }
}

// ---------------- tensor-core path (D = 64, bf16 / fp16) ----------------
constexpr int TD = 64, TB = 64;  // head dim, rows per tile (queries or keys)

// 64 x 64 16-bit tile rows [r0, r0 + 64) of a (T, 64) matrix -> swizzled shared tile; rows >= T are zeros
template <typename T>
__device__ __forceinline__ void load_tile(uint4* s, const T* g, int r0, int T_, int tid, int nthreads) {
  for (int c = tid; c < TB * 8; c += nthreads) {
    int r = c / 8, ch = c % 8, gr = r0 + r;
    cp_async16(s + swz128(r, ch), g + (int64_t)(gr < T_ ? gr : 0) * TD + ch * 8, gr < T_ ? 16 : 0);
  }
}

// 4 warps x 16 query rows; K/V tiles double-buffered with cp.async
template <typename T, typename OutT>
__global__ __launch_bounds__(128) void flash_fwd_tc(int H, int Tq, int Tk, float sl, int causal, const T* __restrict__ q,
                                                    const T* __restrict__ k, const T* __restrict__ v,
                                                    const float* __restrict__ bias, OutT* __restrict__ o,
                                                    float* __restrict__ lse, Extra xt) {
  __shared__ uint4 Qs[TB * 8], Ks[2][TB * 8], Vs[2][TB * 8];
  const int tid = threadIdx.x, w = tid / 32, lane = tid % 32, g = lane / 4, t4 = lane % 4;
  const int64_t bh = blockIdx.y;
  const int b = (int)(bh / H), q0 = blockIdx.x * TB;
  const T* qp = q + bh * Tq * TD;
  const T* kp = k + bh * xt.ldk * TD;
  const T* vp = v + bh * xt.ldk * TD;
  const int kend = causal ? max(0, min(Tk, q0 + TB + xt.off)) : Tk;
  const int nt = (kend + TB - 1) / TB;
  load_tile(Qs, qp, q0, Tq, tid, 128);
  cp_async_commit();
  if (nt > 0) {
    load_tile(Ks[0], kp, 0, Tk, tid, 128);
    load_tile(Vs[0], vp, 0, Tk, tid, 128);
  }
  cp_async_commit();
  cp_async_wait<1>();
  __syncthreads();
  uint32_t qf[4][4];
#pragma unroll
  for (int kk = 0; kk < 4; kk++) ldsm_x4(qf[kk], Qs + swz128(16 * w + lane % 16, kk * 2 + lane / 16));
  float m[2] = {-INFINITY, -INFINITY}, l[2] = {0.f, 0.f};
  float oacc[8][4];
#pragma unroll
  for (int i = 0; i < 8; i++)
#pragma unroll
    for (int e = 0; e < 4; e++) oacc[i][e] = 0.f;
  const int row0 = q0 + 16 * w + g;  // this thread's rows: row0 and row0 + 8

  for (int t = 0; t < nt; t++) {
    if (t + 1 < nt) {
      load_tile(Ks[(t + 1) & 1], kp, (t + 1) * TB, Tk, tid, 128);
      load_tile(Vs[(t + 1) & 1], vp, (t + 1) * TB, Tk, tid, 128);
    }
    cp_async_commit();
    cp_async_wait<1>();
    __syncthreads();
    const uint4* ks = Ks[t & 1];
    const uint4* vs = Vs[t & 1];
    float s[8][4];
#pragma unroll
    for (int i = 0; i < 8; i++)
#pragma unroll
      for (int e = 0; e < 4; e++) s[i][e] = 0.f;
#pragma unroll
    for (int kk = 0; kk < 4; kk++)
#pragma unroll
      for (int nj = 0; nj < 4; nj++) {
        int j = lane / 8;
        uint32_t r[4];
        ldsm_x4(r, ks + swz128(nj * 16 + lane % 8 + 8 * (j / 2), kk * 2 + (j % 2)));
        mma16816<T>(s[2 * nj], qf[kk], r);
        mma16816<T>(s[2 * nj + 1], qf[kk], r + 2);
      }
    // scale (log2 units) and masks; key index of s[ni][e] = t*64 + ni*8 + 2*t4 + (e & 1)
    float mx[2] = {-INFINITY, -INFINITY};
#pragma unroll
    for (int ni = 0; ni < 8; ni++)
#pragma unroll
      for (int e = 0; e < 4; e++) {
        int key = t * TB + ni * 8 + 2 * t4 + (e & 1), row = row0 + 8 * (e >> 1);
        float x = s[ni][e] * sl;
        if (xt.ab && key < Tk && row < Tq) x = fmaf(xt.bias(bh, H, Tq, Tk, row, key), kLog2e, x);
        if (key >= Tk || (bias && bias[(int64_t)b * Tk + key] == -INFINITY) || (causal && key > row + xt.off))
          x = -INFINITY;
        s[ni][e] = x;
        mx[e >> 1] = fmaxf(mx[e >> 1], x);
      }
    float corr[2], base[2];
#pragma unroll
    for (int h = 0; h < 2; h++) {
      mx[h] = fmaxf(mx[h], __shfl_xor_sync(0xffffffffu, mx[h], 1));
      mx[h] = fmaxf(mx[h], __shfl_xor_sync(0xffffffffu, mx[h], 2));
      float mn = fmaxf(m[h], mx[h]);
      base[h] = mn == -INFINITY ? 0.f : mn;
      corr[h] = fast_exp2(m[h] - base[h]);
      m[h] = mn;
      l[h] *= corr[h];
    }
#pragma unroll
    for (int ni = 0; ni < 8; ni++)
#pragma unroll
      for (int e = 0; e < 4; e++) {
        float p = fast_exp2(s[ni][e] - base[e >> 1]);
        s[ni][e] = p;
        l[e >> 1] += p;
        oacc[ni][e] *= corr[e >> 1];
      }
    // O += P V: P from the accumulators as A fragments, V through ldmatrix.trans
#pragma unroll
    for (int kk = 0; kk < 4; kk++) {
      uint32_t a[4] = {pack2<T>(s[2 * kk][0], s[2 * kk][1]), pack2<T>(s[2 * kk][2], s[2 * kk][3]),
                       pack2<T>(s[2 * kk + 1][0], s[2 * kk + 1][1]), pack2<T>(s[2 * kk + 1][2], s[2 * kk + 1][3])};
#pragma unroll
      for (int dj = 0; dj < 4; dj++) {
        int j = lane / 8;
        uint32_t r[4];
        ldsm_x4_t(r, vs + swz128(kk * 16 + (j % 2) * 8 + lane % 8, dj * 2 + j / 2));
        mma16816<T>(oacc[2 * dj], a, r);
        mma16816<T>(oacc[2 * dj + 1], a, r + 2);
      }
    }
    __syncthreads();  // everyone is done with buffer t & 1 before it is refilled
  }
  cp_async_wait<0>();
#pragma unroll
  for (int h = 0; h < 2; h++) {
    l[h] += __shfl_xor_sync(0xffffffffu, l[h], 1);
    l[h] += __shfl_xor_sync(0xffffffffu, l[h], 2);
    int row = row0 + 8 * h;
    if (row >= Tq) continue;
    float inv = l[h] > 0.f ? 1.f / l[h] : 0.f;
    OutT* orow = o + (bh * Tq + row) * TD;
#pragma unroll
    for (int ni = 0; ni < 8; ni++) {
      int d = ni * 8 + 2 * t4;
      float x0 = oacc[ni][2 * h] * inv, x1 = oacc[ni][2 * h + 1] * inv;
      if constexpr (sizeof(OutT) == 4) {
        *reinterpret_cast<float2*>(orow + d) = make_float2(x0, x1);
      } else {
        *reinterpret_cast<uint32_t*>(orow + d) = pack2<OutT>(x0, x1);
      }
    }
    if (lse && t4 == 0) lse[bh * Tq + row] = l[h] > 0.f ? (m[h] + log2f(l[h])) * kLn2 : -INFINITY;
  }
}

// lse2(BH*Tq) = lse * log2e, with +inf for rows whose lse is -inf (so their p = 0)
__global__ void lse_to_log2(int64_t n, const float* __restrict__ lse, float* __restrict__ l2) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
    float x = lse[i];
    l2[i] = x == -INFINITY ? INFINITY : x * kLog2e;
  }
}

constexpr int BWD_SMEM = (2 + 4 + 1) * TB * 8 * 16 + 4 * TB * 4;

// One block per 64 keys; 4 warps x 16 keys. Streams 64-query tiles (double-buffered):
// Sᵀ = K Qᵀ, Pᵀ, dV += Pᵀ dO, dPᵀ = V dOᵀ, dSᵀ, dK += dSᵀ Q, dQ += dS K (fp32 atomics).
template <typename T>
__global__ __launch_bounds__(128) void flash_bwd_tc(int H, int Tq, int Tk, float sl, int causal, const T* __restrict__ q,
                                                    const T* __restrict__ k, const T* __restrict__ v,
                                                    const T* __restrict__ go, const float* __restrict__ bias,
                                                    const float* __restrict__ lse2, const float* __restrict__ dvec,
                                                    float* __restrict__ dq, float* __restrict__ gk,
                                                    float* __restrict__ gv, float scale, Extra xt) {
  extern __shared__ uint4 sm[];
  uint4* Ks = sm;
  uint4* Vs = Ks + TB * 8;
  uint4* Qs = Vs + TB * 8;        // [2][TB * 8]
  uint4* Gs = Qs + 2 * TB * 8;    // [2][TB * 8]
  uint4* Ss = Gs + 2 * TB * 8;    // dSᵀ [key][query]
  float* Ls = reinterpret_cast<float*>(Ss + TB * 8);  // [2][TB]
  float* Ds = Ls + 2 * TB;                            // [2][TB]
  const int tid = threadIdx.x, w = tid / 32, lane = tid % 32, g = lane / 4, t4 = lane % 4;
  const int64_t bh = blockIdx.y;
  const int b = (int)(bh / H), k0 = blockIdx.x * TB;
  const T* qp = q + bh * Tq * TD;
  const T* gp = go + bh * Tq * TD;
  load_tile(Ks, k + bh * xt.ldk * TD, k0, Tk, tid, 128);
  load_tile(Vs, v + bh * xt.ldk * TD, k0, Tk, tid, 128);
  cp_async_commit();
  const int qt0 = causal ? max(0, k0 - xt.off) / TB : 0, nqt = (Tq + TB - 1) / TB;
  auto load_q = [&](int qt, int buf) {
    load_tile(Qs + buf * TB * 8, qp, qt * TB, Tq, tid, 128);
    load_tile(Gs + buf * TB * 8, gp, qt * TB, Tq, tid, 128);
    if (tid < TB) {
      int i = qt * TB + tid;
      Ls[buf * TB + tid] = i < Tq ? lse2[bh * Tq + i] : INFINITY;
      Ds[buf * TB + tid] = i < Tq ? dvec[bh * Tq + i] : 0.f;
    }
  };
  if (qt0 < nqt) load_q(qt0, 0);
  cp_async_commit();
  cp_async_wait<1>();
  __syncthreads();
  uint32_t kf[4][4], vf[4][4];
#pragma unroll
  for (int kk = 0; kk < 4; kk++) {
    ldsm_x4(kf[kk], Ks + swz128(16 * w + lane % 16, kk * 2 + lane / 16));
    ldsm_x4(vf[kk], Vs + swz128(16 * w + lane % 16, kk * 2 + lane / 16));
  }
  float kb[2];  // bias of this thread's two keys
#pragma unroll
  for (int h = 0; h < 2; h++) {
    int key = k0 + 16 * w + g + 8 * h;
    kb[h] = key >= Tk ? -INFINITY : (bias ? bias[(int64_t)b * Tk + key] : 0.f);
  }
  float dk[8][4], dv[8][4];
#pragma unroll
  for (int i = 0; i < 8; i++)
#pragma unroll
    for (int e = 0; e < 4; e++) dk[i][e] = dv[i][e] = 0.f;

  for (int qt = qt0; qt < nqt; qt++) {
    const int buf = (qt - qt0) & 1;
    if (qt + 1 < nqt) load_q(qt + 1, buf ^ 1);
    cp_async_commit();
    cp_async_wait<1>();
    __syncthreads();
    const uint4* qs = Qs + buf * TB * 8;
    const uint4* gs = Gs + buf * TB * 8;
    const float* ls = Ls + buf * TB;
    const float* ds = Ds + buf * TB;
    const int i0 = qt * TB;
    float p[8][4], dp[8][4];
#pragma unroll
    for (int i = 0; i < 8; i++)
#pragma unroll
      for (int e = 0; e < 4; e++) p[i][e] = dp[i][e] = 0.f;
#pragma unroll
    for (int kk = 0; kk < 4; kk++)
#pragma unroll
      for (int nj = 0; nj < 4; nj++) {
        int j = lane / 8;
        uint32_t r[4];
        ldsm_x4(r, qs + swz128(nj * 16 + lane % 8 + 8 * (j / 2), kk * 2 + (j % 2)));
        mma16816<T>(p[2 * nj], kf[kk], r);
        mma16816<T>(p[2 * nj + 1], kf[kk], r + 2);
        ldsm_x4(r, gs + swz128(nj * 16 + lane % 8 + 8 * (j / 2), kk * 2 + (j % 2)));
        mma16816<T>(dp[2 * nj], vf[kk], r);
        mma16816<T>(dp[2 * nj + 1], vf[kk], r + 2);
      }
    // Pᵀ and dSᵀ; element (ni, e): key row 16w + g + 8*(e>>1), query column ni*8 + 2*t4 + (e&1)
#pragma unroll
    for (int ni = 0; ni < 8; ni++)
#pragma unroll
      for (int e = 0; e < 4; e++) {
        int qc = ni * 8 + 2 * t4 + (e & 1);
        int key = k0 + 16 * w + g + 8 * (e >> 1);
        float x = p[ni][e] * sl + kb[e >> 1];
        const bool in = key < Tk && i0 + qc < Tq;
        if (xt.ab && in) x = fmaf(xt.bias(bh, H, Tq, Tk, i0 + qc, key), kLog2e, x);
        if (causal && i0 + qc + xt.off < key) x = -INFINITY;
        float pv = fast_exp2(x - ls[qc]);
        p[ni][e] = pv;
        dp[ni][e] = pv * (dp[ni][e] - ds[qc]);
        if (in) xt.grad(bh, Tq, Tk, i0 + qc, key, dp[ni][e]);
      }
    // dV += Pᵀ dO and dK += dSᵀ Q (B operands [query][d] through ldmatrix.trans)
#pragma unroll
    for (int kq = 0; kq < 4; kq++) {
      uint32_t ap[4] = {pack2<T>(p[2 * kq][0], p[2 * kq][1]), pack2<T>(p[2 * kq][2], p[2 * kq][3]),
                        pack2<T>(p[2 * kq + 1][0], p[2 * kq + 1][1]), pack2<T>(p[2 * kq + 1][2], p[2 * kq + 1][3])};
      uint32_t as[4] = {pack2<T>(dp[2 * kq][0], dp[2 * kq][1]), pack2<T>(dp[2 * kq][2], dp[2 * kq][3]),
                        pack2<T>(dp[2 * kq + 1][0], dp[2 * kq + 1][1]),
                        pack2<T>(dp[2 * kq + 1][2], dp[2 * kq + 1][3])};
#pragma unroll
      for (int dj = 0; dj < 4; dj++) {
        int j = lane / 8;
        uint32_t r[4];
        ldsm_x4_t(r, gs + swz128(kq * 16 + (j % 2) * 8 + lane % 8, dj * 2 + j / 2));
        mma16816<T>(dv[2 * dj], ap, r);
        mma16816<T>(dv[2 * dj + 1], ap, r + 2);
        ldsm_x4_t(r, qs + swz128(kq * 16 + (j % 2) * 8 + lane % 8, dj * 2 + j / 2));
        mma16816<T>(dk[2 * dj], as, r);
        mma16816<T>(dk[2 * dj + 1], as, r + 2);
      }
      // dSᵀ to shared memory for the dQ product: rows = keys, columns = queries
#pragma unroll
      for (int h = 0; h < 2; h++) {
        int row = 16 * w + g + 8 * h;
        uint32_t* base0 = reinterpret_cast<uint32_t*>(Ss + swz128(row, 2 * kq)) + t4;
        uint32_t* base1 = reinterpret_cast<uint32_t*>(Ss + swz128(row, 2 * kq + 1)) + t4;
        *base0 = as[h];       // columns kq*16 + 2*t4 (+1)
        *base1 = as[2 + h];   // columns kq*16 + 8 + 2*t4 (+1)
      }
    }
    __syncthreads();
    // dQ rows 16w.. (queries) = dS (queries x 64 keys) · K (64 keys x 64 d)
    float qa[8][4];
#pragma unroll
    for (int i = 0; i < 8; i++)
#pragma unroll
      for (int e = 0; e < 4; e++) qa[i][e] = 0.f;
#pragma unroll
    for (int kk = 0; kk < 4; kk++) {
      int j = lane / 8;
      uint32_t a[4];
      ldsm_x4_t(a, Ss + swz128(kk * 16 + (j / 2) * 8 + lane % 8, 2 * w + (j % 2)));
#pragma unroll
      for (int dj = 0; dj < 4; dj++) {
        uint32_t r[4];
        ldsm_x4_t(r, Ks + swz128(kk * 16 + (j % 2) * 8 + lane % 8, dj * 2 + j / 2));
        mma16816<T>(qa[2 * dj], a, r);
        mma16816<T>(qa[2 * dj + 1], a, r + 2);
      }
    }
#pragma unroll
    for (int h = 0; h < 2; h++) {
      int qi = i0 + 16 * w + g + 8 * h;
      if (qi >= Tq) continue;
      float* dst = dq + (bh * Tq + qi) * TD;
#pragma unroll
      for (int ni = 0; ni < 8; ni++) {
        atomicAdd(dst + ni * 8 + 2 * t4, qa[ni][2 * h]);
        atomicAdd(dst + ni * 8 + 2 * t4 + 1, qa[ni][2 * h + 1]);
      }
    }
    __syncthreads();  // buffers of this tile and Ss are reused next iteration
  }
  cp_async_wait<0>();
#pragma unroll
  for (int h = 0; h < 2; h++) {
    int key = k0 + 16 * w + g + 8 * h;
    if (key >= Tk) continue;
    float* dkr = gk + (bh * xt.ldk + key) * TD;
    float* dvr = gv + (bh * xt.ldk + key) * TD;
#pragma unroll
    for (int ni = 0; ni < 8; ni++) {
      int d = ni * 8 + 2 * t4;
      *reinterpret_cast<float2*>(dkr + d) = make_float2(dk[ni][2 * h] * scale, dk[ni][2 * h + 1] * scale);
      *reinterpret_cast<float2*>(dvr + d) = make_float2(dv[ni][2 * h], dv[ni][2 * h + 1]);
    }
  }
}

__global__ void scale_k(int64_t n, const float* __restrict__ x, float s, float* __restrict__ y) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
    y[i] = x[i] * s;
}

bool dims_ok(int64_t B, int64_t H, int64_t Tq, int64_t Tk, int64_t D) {
  // B * H may exceed the 65535 of grid y: the entry points launch in batch chunks (H alone may not).
  // D = 0 is valid like on the CPU: scores are the bias alone, o and the q/k/v gradients are empty.
  return B >= 0 && H >= 0 && Tq >= 0 && Tk >= 0 && D >= 0 && H <= 65535 && Tq < INT32_MAX && Tk < INT32_MAX;
}

size_t al256(size_t b) { return (b + 255) / 256 * 256; }

// carves the workspace: bias (B*Tk floats) then `n16` 16-bit buffers of the given sizes, then floats
struct Carve {
  char* p;
  size_t off = 0;
  template <typename X>
  X* take(size_t count) {
    X* r = reinterpret_cast<X*>(p + off);
    off += al256(count * sizeof(X));
    return r;
  }
};

unsigned grid1(int64_t n) { return blocks_for(n, 256, (int64_t)sm_count() * 16); }

template <typename T>
int fwd_tc(int64_t B, int64_t H, int64_t Tq, int64_t Tk, float scale, int causal, const T* q, const T* k, const T* v,
           const float* bias, void* o, int out16, float* lse, Extra x) {
  dim3 grid((unsigned)((Tq + TB - 1) / TB), (unsigned)(B * H));
  float sl = scale * kLog2e;
  if (out16) flash_fwd_tc<T, T><<<grid, 128, 0, stream()>>>((int)H, (int)Tq, (int)Tk, sl, causal, q, k, v, bias, (T*)o, lse, x);
  else flash_fwd_tc<T, float><<<grid, 128, 0, stream()>>>((int)H, (int)Tq, (int)Tk, sl, causal, q, k, v, bias, (float*)o, lse, x);
  return launched("attention fwd (tensor cores)");
}

// dvec, lse2 and a zeroed dq accumulator must be ready; gq gets dq * scale
template <typename T>
int bwd_tc(int64_t B, int64_t H, int64_t Tq, int64_t Tk, float scale, int causal, const T* q, const T* k, const T* v,
           const T* go, const float* bias, const float* lse2, const float* dvec, float* dqacc, float* gq, float* gk,
           float* gv, Extra x) {
  static bool attr = false;
  if (!attr) {
    int st = fail(cudaFuncSetAttribute(flash_bwd_tc<T>, cudaFuncAttributeMaxDynamicSharedMemorySize, BWD_SMEM),
                  "attention bwd: smem attribute");
    if (st) return st;
    attr = true;
  }
  cudaStream_t s = stream();
  int64_t nq = B * H * Tq * TD;
  cudaMemsetAsync(dqacc, 0, (size_t)nq * 4, s);
  if (x.ldk > Tk) {  // key rows beyond kvLength get zero gradient
    cudaMemsetAsync(gk, 0, (size_t)(B * H * x.ldk * TD) * 4, s);
    cudaMemsetAsync(gv, 0, (size_t)(B * H * x.ldk * TD) * 4, s);
  }
  dim3 grid((unsigned)((Tk + TB - 1) / TB), (unsigned)(B * H));
  flash_bwd_tc<T><<<grid, 128, BWD_SMEM, s>>>((int)H, (int)Tq, (int)Tk, scale * kLog2e, causal, q, k, v, go, bias, lse2,
                                             dvec, dqacc, gk, gv, scale, x);
  scale_k<<<grid1(nq), 256, 0, s>>>(nq, dqacc, scale, gq);
  return launched("attention bwd (tensor cores)");
}

template <int DM>
void fwd_f32_launch(int64_t B, int64_t H, int64_t Tq, int64_t Tk, int64_t D, float scale, int causal, const float* q,
                    const float* k, const float* v, const float* bias, float* o, float* lse, Extra x) {
  dim3 grid((unsigned)((Tq + SQ - 1) / SQ), (unsigned)(B * H));
  attn_fwd_f32<DM><<<grid, SQ, 0, stream()>>>((int)H, (int)Tq, (int)Tk, (int)D, scale, causal, q, k, v, bias, o, lse, x);
}
template <int DM>
void bwd_f32_launch(int64_t B, int64_t H, int64_t Tq, int64_t Tk, int64_t D, float scale, int causal, const float* q,
                    const float* k, const float* v, const float* bias, const float* lse, const float* go,
                    const float* dvec, float* gq, float* gk, float* gv, Extra x) {
  dim3 gq_((unsigned)((Tq + SQ - 1) / SQ), (unsigned)(B * H)), gk_((unsigned)((Tk + SQ - 1) / SQ), (unsigned)(B * H));
  if (x.ldk > Tk) {  // key rows beyond kvLength get zero gradient
    cudaMemsetAsync(gk, 0, (size_t)(B * H * x.ldk * D) * 4, stream());
    cudaMemsetAsync(gv, 0, (size_t)(B * H * x.ldk * D) * 4, stream());
  }
  if (Tq > 0) attn_bwd_dq_f32<DM><<<gq_, SQ, 0, stream()>>>((int)H, (int)Tq, (int)Tk, (int)D, scale, causal, q, k, v, bias, lse, go, dvec, gq, x);
  if (Tk > 0) attn_bwd_dkv_f32<DM><<<gk_, SQ, 0, stream()>>>((int)H, (int)Tq, (int)Tk, (int)D, scale, causal, q, k, v, bias, lse, go, dvec, gk, gv, x);
}

bool args_ok(int64_t B, int64_t H, int64_t Tq, int64_t Tk, int64_t D, int64_t ldk, int causal, const void* kmask,
             int64_t ldm) {
  return dims_ok(B, H, Tq, Tk, D) && ldk >= Tk && ldk < INT32_MAX && causal >= 0 && causal <= 2 &&
         (!kmask || ldm >= Tk);
}

}  // namespace

// o(B,H,Tq,D) = softmax(scale * q kᵀ + bias + masks) v; lse(B,H,Tq) = row logsumexp (may be null).
// Arguments as native/attention.cpp: k, v hold ldk >= Tk rows per (b,h); causal 0 none, 1
// top-left, 2 bottom-right; kmask (B,ldm) or null; bias (B|1,H|1,Tq,Tk) with strides or null.
static int attention_fwd_chunk(int64_t B, int64_t H, int64_t Tq, int64_t Tk, int64_t D,
                            int64_t ldk,          // key rows per (b,h) in k and v
                            float scale, int causal,
                            const float* q,       // (B,H,Tq,D)
                            const float* k,       // (B,H,ldk,D)
                            const float* v,       // (B,H,ldk,D)
                            const void* kmask,    // (B,ldm) float32 / int32 (kmask_i32) or null
                            int kmask_i32, int64_t ldm,
                            const float* bias,    // (B|1,H|1,Tq,Tk) or null
                            int64_t bias_sb, int64_t bias_sh,
                            float* o,             // (B,H,Tq,D)
                            float* lse) {         // (B,H,Tq) or null
  if (!args_ok(B, H, Tq, Tk, D, ldk, causal, kmask, ldm)) return FT_EINVAL;
  if (B * H == 0 || Tq == 0) return FT_OK;
  if (D > 128) return FT_EUNSUP;
  const Extra x{ldk, causal == 2 ? (int)(Tk - Tq) : 0, bias, bias_sb, bias_sh, nullptr};
  cudaStream_t s = stream();
  int prec = precision();
  bool tc = D == TD && prec != P_FP32;
  size_t need = kmask ? al256((size_t)B * Tk * 4) : 0;
  if (tc) need += 256 + al256((size_t)B * H * Tq * D * 2) + 2 * al256((size_t)B * H * ldk * D * 2);
  Carve c{(char*)workspace(need + 256)};
  if (!c.p) return FT_ENOMEM;
  float* kb = nullptr;
  if (kmask && B * Tk > 0) {
    kb = c.take<float>((size_t)B * Tk);
    mask_to_bias<<<grid1(B * Tk), 256, 0, s>>>(B * Tk, Tk, ldm, kmask, kmask_i32, kb);
  }
  if (tc) {
    int64_t nq = B * H * Tq * D, nk = B * H * ldk * D;
    if (prec == P_BF16) {
      auto q16 = c.take<__nv_bfloat16>(nq), k16 = c.take<__nv_bfloat16>(nk), v16 = c.take<__nv_bfloat16>(nk);
      to16<<<grid1(nq), 256, 0, s>>>(nq, q, q16);
      if (nk) {
        to16<<<grid1(nk), 256, 0, s>>>(nk, k, k16);
        to16<<<grid1(nk), 256, 0, s>>>(nk, v, v16);
      }
      return fwd_tc(B, H, Tq, Tk, scale, causal, q16, k16, v16, kb, o, 0, lse, x);
    }
    auto q16 = c.take<__half>(nq), k16 = c.take<__half>(nk), v16 = c.take<__half>(nk);
    to16<<<grid1(nq), 256, 0, s>>>(nq, q, q16);
    if (nk) {
      to16<<<grid1(nk), 256, 0, s>>>(nk, k, k16);
      to16<<<grid1(nk), 256, 0, s>>>(nk, v, v16);
    }
    return fwd_tc(B, H, Tq, Tk, scale, causal, q16, k16, v16, kb, o, 0, lse, x);
  }
  if (D <= 32) fwd_f32_launch<32>(B, H, Tq, Tk, D, scale, causal, q, k, v, kb, o, lse, x);
  else if (D <= 64) fwd_f32_launch<64>(B, H, Tq, Tk, D, scale, causal, q, k, v, kb, o, lse, x);
  else fwd_f32_launch<128>(B, H, Tq, Tk, D, scale, causal, q, k, v, kb, o, lse, x);
  return launched("ft_attention_fwd");
}

// Gradients of ft_attention_fwd: gq (B,H,Tq,D), gk, gv (B,H,ldk,D) (rows >= Tk zero), all
// overwritten; gbias (B,H,Tq,Tk), pre-zeroed by the caller, gets dL/dlogits (or null).
static int attention_bwd_chunk(int64_t B, int64_t H, int64_t Tq, int64_t Tk, int64_t D,
                            int64_t ldk,          // key rows per (b,h) in k, v, gk, gv
                            float scale, int causal,
                            const float* q,       // (B,H,Tq,D)
                            const float* k,       // (B,H,ldk,D)
                            const float* v,       // (B,H,ldk,D)
                            const void* kmask,    // (B,ldm) or null
                            int kmask_i32, int64_t ldm,
                            const float* bias,    // (B|1,H|1,Tq,Tk) or null
                            int64_t bias_sb, int64_t bias_sh,
                            const float* o,       // (B,H,Tq,D) forward output
                            const float* lse,     // (B,H,Tq) forward logsumexp
                            const float* go,      // (B,H,Tq,D) dL/do
                            float* gq,            // (B,H,Tq,D)
                            float* gk,            // (B,H,ldk,D)
                            float* gv,            // (B,H,ldk,D)
                            float* gbias) {       // (B,H,Tq,Tk) pre-zeroed, or null
  if (!args_ok(B, H, Tq, Tk, D, ldk, causal, kmask, ldm)) return FT_EINVAL;
  if (B * H == 0) return FT_OK;
  if (D > 128) return FT_EUNSUP;
  const Extra x{ldk, causal == 2 ? (int)(Tk - Tq) : 0, bias, bias_sb, bias_sh, gbias};
  cudaStream_t s = stream();
  int prec = precision();
  bool tc = D == TD && prec != P_FP32 && Tq > 0 && Tk > 0;
  int64_t rows = B * H * Tq, nq = rows * D, nk = B * H * ldk * D;
  size_t need = (kmask ? al256((size_t)B * Tk * 4) : 0) + al256((size_t)rows * 4);
  if (tc) need += al256((size_t)rows * 4) + al256((size_t)nq * 4) + 2 * al256((size_t)nq * 2) + 2 * al256((size_t)nk * 2);
  Carve c{(char*)workspace(need + 256)};
  if (!c.p) return FT_ENOMEM;
  float* kb = nullptr;
  if (kmask && B * Tk > 0) {
    kb = c.take<float>((size_t)B * Tk);
    mask_to_bias<<<grid1(B * Tk), 256, 0, s>>>(B * Tk, Tk, ldm, kmask, kmask_i32, kb);
  }
  float* dvec = c.take<float>((size_t)rows);
  if (rows) attn_dvec<float><<<(unsigned)((rows * 32 + 255) / 256), 256, 0, s>>>(rows, (int)D, go, o, dvec);
  if (tc) {
    float* lse2 = c.take<float>((size_t)rows);
    float* dqacc = c.take<float>((size_t)nq);
    lse_to_log2<<<grid1(rows), 256, 0, s>>>(rows, lse, lse2);
    if (prec == P_BF16) {
      auto q16 = c.take<__nv_bfloat16>(nq), g16 = c.take<__nv_bfloat16>(nq);
      auto k16 = c.take<__nv_bfloat16>(nk), v16 = c.take<__nv_bfloat16>(nk);
      to16<<<grid1(nq), 256, 0, s>>>(nq, q, q16);
      to16<<<grid1(nq), 256, 0, s>>>(nq, go, g16);
      to16<<<grid1(nk), 256, 0, s>>>(nk, k, k16);
      to16<<<grid1(nk), 256, 0, s>>>(nk, v, v16);
      return bwd_tc(B, H, Tq, Tk, scale, causal, q16, k16, v16, g16, kb, lse2, dvec, dqacc, gq, gk, gv, x);
    }
    auto q16 = c.take<__half>(nq), g16 = c.take<__half>(nq);
    auto k16 = c.take<__half>(nk), v16 = c.take<__half>(nk);
    to16<<<grid1(nq), 256, 0, s>>>(nq, q, q16);
    to16<<<grid1(nq), 256, 0, s>>>(nq, go, g16);
    to16<<<grid1(nk), 256, 0, s>>>(nk, k, k16);
    to16<<<grid1(nk), 256, 0, s>>>(nk, v, v16);
    return bwd_tc(B, H, Tq, Tk, scale, causal, q16, k16, v16, g16, kb, lse2, dvec, dqacc, gq, gk, gv, x);
  }
  if (D <= 32) bwd_f32_launch<32>(B, H, Tq, Tk, D, scale, causal, q, k, v, kb, lse, go, dvec, gq, gk, gv, x);
  else if (D <= 64) bwd_f32_launch<64>(B, H, Tq, Tk, D, scale, causal, q, k, v, kb, lse, go, dvec, gq, gk, gv, x);
  else bwd_f32_launch<128>(B, H, Tq, Tk, D, scale, causal, q, k, v, kb, lse, go, dvec, gq, gk, gv, x);
  return launched("ft_attention_bwd");
}

// The entry points: grid y holds B * H, at most 65535, so larger batches run as batch chunks of
// at most 65535 / H with offset pointers (stream-ordered, so the chunks share the workspace).
FT_API int ft_attention_fwd(int64_t B, int64_t H, int64_t Tq, int64_t Tk, int64_t D, int64_t ldk, float scale,
                            int causal, const float* q, const float* k, const float* v, const void* kmask,
                            int kmask_i32, int64_t ldm, const float* bias, int64_t bias_sb, int64_t bias_sh, float* o,
                            float* lse) {
  if (!args_ok(B, H, Tq, Tk, D, ldk, causal, kmask, ldm)) return FT_EINVAL;
  int64_t bc = B * H <= 65535 ? B : 65535 / H;
  for (int64_t b0 = 0; b0 < B || b0 == 0; b0 += bc) {
    int64_t n = B - b0 < bc ? B - b0 : bc;
    int st = attention_fwd_chunk(n, H, Tq, Tk, D, ldk, scale, causal, q + b0 * H * Tq * D, k + b0 * H * ldk * D,
                                 v + b0 * H * ldk * D, kmask ? (const char*)kmask + b0 * ldm * 4 : nullptr, kmask_i32,
                                 ldm, bias ? bias + b0 * bias_sb : nullptr, bias_sb, bias_sh, o + b0 * H * Tq * D,
                                 lse ? lse + b0 * H * Tq : nullptr);
    if (st || B == 0) return st;
  }
  return FT_OK;
}

FT_API int ft_attention_bwd(int64_t B, int64_t H, int64_t Tq, int64_t Tk, int64_t D, int64_t ldk, float scale,
                            int causal, const float* q, const float* k, const float* v, const void* kmask,
                            int kmask_i32, int64_t ldm, const float* bias, int64_t bias_sb, int64_t bias_sh,
                            const float* o, const float* lse, const float* go, float* gq, float* gk, float* gv,
                            float* gbias) {
  if (!args_ok(B, H, Tq, Tk, D, ldk, causal, kmask, ldm)) return FT_EINVAL;
  int64_t bc = B * H <= 65535 ? B : 65535 / H;
  for (int64_t b0 = 0; b0 < B || b0 == 0; b0 += bc) {
    int64_t n = B - b0 < bc ? B - b0 : bc, oq = b0 * H * Tq * D, ok = b0 * H * ldk * D;
    int st = attention_bwd_chunk(n, H, Tq, Tk, D, ldk, scale, causal, q + oq, k + ok, v + ok,
                                 kmask ? (const char*)kmask + b0 * ldm * 4 : nullptr, kmask_i32, ldm,
                                 bias ? bias + b0 * bias_sb : nullptr, bias_sb, bias_sh, o + oq, lse + b0 * H * Tq,
                                 go + oq, gq + oq, gk + ok, gv + ok, gbias ? gbias + b0 * H * Tq * Tk : nullptr);
    if (st || B == 0) return st;
  }
  return FT_OK;
}

// 16-bit attention for benchmarks and bf16 pipelines (D = 64): dtype 1 bf16, 2 fp16.
// q (B,H,Tq,64), k/v (B,H,Tk,64), o (B,H,Tq,64) in the same dtype; lse (B,H,Tq) fp32.
FT_API int ft_cuda_attention_fwd_16(int dtype, int64_t B, int64_t H, int64_t Tq, int64_t Tk, int64_t D, float scale,
                                    int causal, const void* q, const void* k, const void* v, void* o, float* lse) {
  if (!dims_ok(B, H, Tq, Tk, D) || D != TD || (dtype != 1 && dtype != 2)) return FT_EINVAL;
  if (B * H > 65535) return FT_EUNSUP;  // raw entry: one launch (the fp32-API entry points chunk)
  if (B * H == 0 || Tq == 0) return FT_OK;
  if (ftc::misaligned16(q, k, v, o))  // a misaligned cp.async would kill the context
    return ftc::note(FT_EINVAL, "ft_cuda_attention_fwd_16: q, k, v and o must be 16-byte aligned");
  const Extra x{Tk, 0, nullptr, 0, 0, nullptr};
  if (dtype == 1)
    return fwd_tc(B, H, Tq, Tk, scale, causal, (const __nv_bfloat16*)q, (const __nv_bfloat16*)k,
                  (const __nv_bfloat16*)v, nullptr, o, 1, lse, x);
  return fwd_tc(B, H, Tq, Tk, scale, causal, (const __half*)q, (const __half*)k, (const __half*)v, nullptr, o, 1, lse, x);
}

// Backward of ft_cuda_attention_fwd_16: o, go 16-bit like q; gq, gk, gv fp32.
FT_API int ft_cuda_attention_bwd_16(int dtype, int64_t B, int64_t H, int64_t Tq, int64_t Tk, int64_t D, float scale,
                                    int causal, const void* q, const void* k, const void* v, const void* o,
                                    const float* lse, const void* go, float* gq, float* gk, float* gv) {
  if (!dims_ok(B, H, Tq, Tk, D) || D != TD || (dtype != 1 && dtype != 2)) return FT_EINVAL;
  if (B * H > 65535) return FT_EUNSUP;  // raw entry: one launch (the fp32-API entry points chunk)
  if (B * H == 0 || Tq == 0 || Tk == 0) return FT_OK;
  if (ftc::misaligned16(q, k, v, o, go))  // a misaligned cp.async would kill the context
    return ftc::note(FT_EINVAL, "ft_cuda_attention_bwd_16: q, k, v, o and go must be 16-byte aligned");
  const Extra x{Tk, 0, nullptr, 0, 0, nullptr};
  int64_t rows = B * H * Tq, nq = rows * D;
  cudaStream_t s = stream();
  Carve c{(char*)workspace(2 * al256((size_t)rows * 4) + al256((size_t)nq * 4) + 256)};
  if (!c.p) return FT_ENOMEM;
  float* dvec = c.take<float>((size_t)rows);
  float* lse2 = c.take<float>((size_t)rows);
  float* dqacc = c.take<float>((size_t)nq);
  lse_to_log2<<<grid1(rows), 256, 0, s>>>(rows, lse, lse2);
  if (dtype == 1) {
    attn_dvec<__nv_bfloat16><<<(unsigned)((rows * 32 + 255) / 256), 256, 0, s>>>(
        rows, (int)D, (const __nv_bfloat16*)go, (const __nv_bfloat16*)o, dvec);
    return bwd_tc(B, H, Tq, Tk, scale, causal, (const __nv_bfloat16*)q, (const __nv_bfloat16*)k,
                  (const __nv_bfloat16*)v, (const __nv_bfloat16*)go, nullptr, lse2, dvec, dqacc, gq, gk, gv, x);
  }
  attn_dvec<__half><<<(unsigned)((rows * 32 + 255) / 256), 256, 0, s>>>(rows, (int)D, (const __half*)go,
                                                                      (const __half*)o, dvec);
  return bwd_tc(B, H, Tq, Tk, scale, causal, (const __half*)q, (const __half*)k, (const __half*)v, (const __half*)go,
                nullptr, lse2, dvec, dqacc, gq, gk, gv, x);
}
