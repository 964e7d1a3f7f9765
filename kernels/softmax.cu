// Fused softmax / log-softmax over the last axis of x viewed as (rows, T) with an optional
// additive mask broadcast over the leading axes (native/softmax.cpp's ABI and semantics: a
// fully masked row gives zeros / -inf, never NaN). T <= 1024: one warp per row with the row in
// registers (one read, one write); longer rows: one block per row, online max+sum then a write.
// Check: tests/cuda/softmax_test.ts; bench: bench/gpu_timings.ts "softmax" vs torch.softmax.
#include "common.cuh"

namespace {
struct Lead {
  int nd;
  int64_t shape[ftc::kMaxDims], mst[ftc::kMaxDims];
};

__device__ __forceinline__ const float* mask_row(const float* mask, const Lead& L, int64_t r) {
  int64_t off = 0;
  for (int d = L.nd - 1; d >= 0; d--) {
    off += (r % L.shape[d]) * L.mst[d];
    r /= L.shape[d];
  }
  return mask + off;
}

// warp per row; element j = lane + 32 * i, i < V
template <int V>
__global__ void softmax_warp(int64_t rows, int T, const float* __restrict__ x, const float* __restrict__ mask, Lead L,
                             int log, float* __restrict__ y) {
  int64_t row = (blockIdx.x * (int64_t)blockDim.x + threadIdx.x) / 32;
  int lane = threadIdx.x & 31;
  if (row >= rows) return;
  const float* xr = x + row * T;
  const float* mr = mask ? mask_row(mask, L, row) : nullptr;
  float v[V];
  float mx = -INFINITY;
#pragma unroll
  for (int i = 0; i < V; i++) {
    int j = lane + 32 * i;
    v[i] = j < T ? xr[j] + (mr ? mr[j] : 0.f) : -INFINITY;
    mx = ftc::nan_max(mx, v[i]);
  }
  mx = ftc::warp_max(mx);
  float* yr = y + row * T;
  if (mx == -INFINITY) {
#pragma unroll
    for (int i = 0; i < V; i++) {
      int j = lane + 32 * i;
      if (j < T) yr[j] = log ? -INFINITY : 0.f;
    }
    return;
  }
  float s = 0.f;
#pragma unroll
  for (int i = 0; i < V; i++) {
    int j = lane + 32 * i;
    float e = j < T ? expf(v[i] - mx) : 0.f;
    s += e;
    if (!log) v[i] = e;
  }
  s = ftc::warp_sum(s);
  float off = mx + logf(s), inv = 1.f / s;
#pragma unroll
  for (int i = 0; i < V; i++) {
    int j = lane + 32 * i;
    if (j < T) yr[j] = log ? v[i] - off : v[i] * inv;
  }
}

// block per row for long rows: pass 1 online (max, sum), pass 2 writes
__global__ void softmax_block(int64_t T, const float* __restrict__ x, const float* __restrict__ mask, Lead L, int log,
                              float* __restrict__ y) {
  __shared__ float sh[32];
  int64_t row = blockIdx.x;
  const float* xr = x + row * T;
  const float* mr = mask ? mask_row(mask, L, row) : nullptr;
  float m = -INFINITY, s = 0.f;
  for (int64_t j = threadIdx.x; j < T; j += blockDim.x) {
    float v = xr[j] + (mr ? mr[j] : 0.f);
    if (v > m) {
      s = s * expf(m - v) + 1.f;  // m = -inf gives s * 0 + 1
      m = v;
    } else if (v == v && v != -INFINITY) {
      s += expf(v - m);
    } else if (v != v) {
      m = v;  // NaN poisons the row like the CPU's exp(NaN)
    }
  }
  float bm = ftc::block_max(m, sh);
  if (m != m) bm = m;
  // rescale each thread's sum to the block max, then add
  float part = (m == -INFINITY || bm == -INFINITY) ? 0.f : s * expf(m - bm);
  float tot = ftc::block_sum(part, sh);
  float* yr = y + row * T;
  if (bm == -INFINITY) {
    for (int64_t j = threadIdx.x; j < T; j += blockDim.x) yr[j] = log ? -INFINITY : 0.f;
    return;
  }
  float off = bm + logf(tot), inv = 1.f / tot;
  for (int64_t j = threadIdx.x; j < T; j += blockDim.x) {
    float v = xr[j] + (mr ? mr[j] : 0.f);
    yr[j] = log ? v - off : expf(v - bm) * inv;
  }
}

template <int V>
__global__ void softmax_bwd_warp(int64_t rows, int T, const float* __restrict__ y, const float* __restrict__ g, int log,
                                 float* __restrict__ gx) {
  int64_t row = (blockIdx.x * (int64_t)blockDim.x + threadIdx.x) / 32;
  int lane = threadIdx.x & 31;
  if (row >= rows) return;
  const float* yr = y + row * T;
  const float* gr = g + row * T;
  float yv[V], gv[V], d = 0.f;
#pragma unroll
  for (int i = 0; i < V; i++) {
    int j = lane + 32 * i;
    yv[i] = j < T ? yr[j] : 0.f;
    gv[i] = j < T ? gr[j] : 0.f;
    d += log ? gv[i] : gv[i] * yv[i];
  }
  d = ftc::warp_sum(d);
  float* o = gx + row * T;
#pragma unroll
  for (int i = 0; i < V; i++) {
    int j = lane + 32 * i;
    if (j < T) o[j] = log ? gv[i] - expf(yv[i]) * d : yv[i] * (gv[i] - d);
  }
}

__global__ void softmax_bwd_block(int64_t T, const float* __restrict__ y, const float* __restrict__ g, int log,
                                  float* __restrict__ gx) {
  __shared__ float sh[32];
  int64_t row = blockIdx.x;
  const float* yr = y + row * T;
  const float* gr = g + row * T;
  float d = 0.f;
  for (int64_t j = threadIdx.x; j < T; j += blockDim.x) d += log ? gr[j] : gr[j] * yr[j];
  d = ftc::block_sum(d, sh);
  float* o = gx + row * T;
  for (int64_t j = threadIdx.x; j < T; j += blockDim.x) o[j] = log ? gr[j] - expf(yr[j]) * d : yr[j] * (gr[j] - d);
}

}  // namespace

// y(rows, T) = (log_)softmax(x(rows, T) + mask) over T; mask row of row r at offset
// sum_d idx_d(r) * mask_strides[d] over lead_shape(nd) (host arrays); mask may be null.
FT_API int ft_softmax_fwd(int64_t rows, int64_t T, const float* x, const float* mask, int nd, const int64_t* lead_shape,
                          const int64_t* mask_strides, int log, float* y) {
  if (rows < 0 || T < 0 || (mask && (nd < 1 || nd > ftc::kMaxDims))) return FT_EINVAL;
  if (rows == 0 || T == 0) return FT_OK;
  Lead L{};
  if (mask) {
    int64_t p = 1;
    L.nd = nd;
    for (int d = 0; d < nd; d++) {
      L.shape[d] = lead_shape[d];
      L.mst[d] = mask_strides[d];
      p *= lead_shape[d];
    }
    if (p != rows) return FT_EINVAL;
  }
  cudaStream_t s = ftc::stream();
  unsigned g = (unsigned)((rows * 32 + 255) / 256);
  if (T <= 1024 && rows * 32 / 256 < INT32_MAX) {
    int t = (int)T;
    if (T <= 32) softmax_warp<1><<<g, 256, 0, s>>>(rows, t, x, mask, L, log, y);
    else if (T <= 64) softmax_warp<2><<<g, 256, 0, s>>>(rows, t, x, mask, L, log, y);
    else if (T <= 128) softmax_warp<4><<<g, 256, 0, s>>>(rows, t, x, mask, L, log, y);
    else if (T <= 256) softmax_warp<8><<<g, 256, 0, s>>>(rows, t, x, mask, L, log, y);
    else if (T <= 384) softmax_warp<12><<<g, 256, 0, s>>>(rows, t, x, mask, L, log, y);
    else if (T <= 512) softmax_warp<16><<<g, 256, 0, s>>>(rows, t, x, mask, L, log, y);
    else softmax_warp<32><<<g, 256, 0, s>>>(rows, t, x, mask, L, log, y);
  } else {
    if (rows > INT32_MAX) return FT_EUNSUP;
    softmax_block<<<(unsigned)rows, 512, 0, s>>>(T, x, mask, L, log, y);
  }
  return ftc::launched("ft_softmax_fwd");
}

// gx(rows, T) from the forward output y(rows, T) and its gradient g(rows, T)
FT_API int ft_softmax_bwd(int64_t rows, int64_t T, const float* y, const float* g, int log, float* gx) {
  if (rows < 0 || T < 0) return FT_EINVAL;
  if (rows == 0 || T == 0) return FT_OK;
  cudaStream_t s = ftc::stream();
  unsigned gr = (unsigned)((rows * 32 + 255) / 256);
  if (T <= 1024 && rows * 32 / 256 < INT32_MAX) {
    int t = (int)T;
    if (T <= 32) softmax_bwd_warp<1><<<gr, 256, 0, s>>>(rows, t, y, g, log, gx);
    else if (T <= 128) softmax_bwd_warp<4><<<gr, 256, 0, s>>>(rows, t, y, g, log, gx);
    else if (T <= 256) softmax_bwd_warp<8><<<gr, 256, 0, s>>>(rows, t, y, g, log, gx);
    else if (T <= 512) softmax_bwd_warp<16><<<gr, 256, 0, s>>>(rows, t, y, g, log, gx);
    else softmax_bwd_warp<32><<<gr, 256, 0, s>>>(rows, t, y, g, log, gx);
  } else {
    if (rows > INT32_MAX) return FT_EUNSUP;
    softmax_bwd_block<<<(unsigned)rows, 512, 0, s>>>(T, y, g, log, gx);
  }
  return ftc::launched("ft_softmax_bwd");
}
