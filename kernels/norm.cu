// Fused LayerNorm / RMSNorm over the last axis of x viewed as (rows, D) (native/norm.cpp's
// ABI): y = (x - mean) * rstd * w + b (rms: mean = 0, no bias), mean/rstd saved per row;
// backward gives gx, gw, gb (each optional; gw/gb overwritten). Forward with D % 4 == 0 and
// D <= 1024: one warp per row, the row in registers as float4 (one read, one write); other
// shapes: one block per row. Backward: rows split over blocks, per-block column partials of
// gw/gb in scratch, then a fixed-order column sum (deterministic, no atomics).
// Check: tests/cuda/norm_test.ts; bench: bench/gpu_timings.ts "layernorm" vs F.layer_norm.
#include "common.cuh"

namespace {

template <int V4>
__global__ void norm_fwd_warp(int64_t rows, int D, int rms, float eps, const float* __restrict__ x,
                              const float* __restrict__ w, const float* __restrict__ b, float* __restrict__ y,
                              float* __restrict__ mean, float* __restrict__ rstd) {
  int64_t row = (blockIdx.x * (int64_t)blockDim.x + threadIdx.x) / 32;
  int lane = threadIdx.x & 31;
  if (row >= rows) return;
  const float4* xr = reinterpret_cast<const float4*>(x + row * D);
  int n4 = D / 4;
  float4 v[V4];
  float s = 0.f;
#pragma unroll
  for (int i = 0; i < V4; i++) {
    int j = lane + 32 * i;
    v[i] = j < n4 ? xr[j] : make_float4(0.f, 0.f, 0.f, 0.f);
    s += (v[i].x + v[i].y) + (v[i].z + v[i].w);
  }
  float mu = rms ? 0.f : ftc::warp_sum(s) / (float)D;
  float s2 = 0.f;
#pragma unroll
  for (int i = 0; i < V4; i++) {
    int j = lane + 32 * i;
    if (j < n4) {
      float a = v[i].x - mu, bb = v[i].y - mu, c = v[i].z - mu, d = v[i].w - mu;
      s2 += (a * a + bb * bb) + (c * c + d * d);
    }
  }
  float rs = rsqrtf(ftc::warp_sum(s2) / (float)D + eps);
  float4* yr = reinterpret_cast<float4*>(y + row * D);
#pragma unroll
  for (int i = 0; i < V4; i++) {
    int j = lane + 32 * i;
    if (j < n4) {
      float4 h = make_float4((v[i].x - mu) * rs, (v[i].y - mu) * rs, (v[i].z - mu) * rs, (v[i].w - mu) * rs);
      if (w) {
        float4 wv = reinterpret_cast<const float4*>(w)[j];
        h.x *= wv.x; h.y *= wv.y; h.z *= wv.z; h.w *= wv.w;
      }
      if (b) {
        float4 bv = reinterpret_cast<const float4*>(b)[j];
        h.x += bv.x; h.y += bv.y; h.z += bv.z; h.w += bv.w;
      }
      yr[j] = h;
    }
  }
  if (lane == 0) {
    if (mean) mean[row] = mu;
    if (rstd) rstd[row] = rs;
  }
}

__global__ void norm_fwd_block(int64_t D, int rms, float eps, const float* __restrict__ x, const float* __restrict__ w,
                               const float* __restrict__ b, float* __restrict__ y, float* __restrict__ mean,
                               float* __restrict__ rstd) {
  __shared__ float sh[32];
  int64_t row = blockIdx.x;
  const float* xr = x + row * D;
  float s = 0.f;
  if (!rms)
    for (int64_t j = threadIdx.x; j < D; j += blockDim.x) s += xr[j];
  float mu = rms ? 0.f : ftc::block_sum(s, sh) / (float)D;
  float s2 = 0.f;
  for (int64_t j = threadIdx.x; j < D; j += blockDim.x) s2 += (xr[j] - mu) * (xr[j] - mu);
  float rs = rsqrtf(ftc::block_sum(s2, sh) / (float)D + eps);
  float* yr = y + row * D;
  for (int64_t j = threadIdx.x; j < D; j += blockDim.x) {
    float h = (xr[j] - mu) * rs;
    if (w) h *= w[j];
    if (b) h += b[j];
    yr[j] = h;
  }
  if (threadIdx.x == 0) {
    if (mean) mean[row] = mu;
    if (rstd) rstd[row] = rs;
  }
}

// block per group of rows; part(G, 2, D) <- per-block sums of g * xhat (gw) and g (gb)
__global__ void norm_bwd_k(int64_t rows, int64_t D, int rms, const float* __restrict__ x, const float* __restrict__ w,
                           const float* __restrict__ mean, const float* __restrict__ rstd, const float* __restrict__ g,
                           float* __restrict__ gx, float* __restrict__ part) {
  __shared__ float sh[32];
  float* pw = part ? part + blockIdx.x * 2 * D : nullptr;
  float* pb = pw ? pw + D : nullptr;
  if (pw)
    for (int64_t j = threadIdx.x; j < D; j += blockDim.x) pw[j] = pb[j] = 0.f;
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const float* xr = x + r * D;
    const float* gr = g + r * D;
    float mu = mean[r], rs = rstd[r];
    float sa = 0.f, sb = 0.f;
    for (int64_t j = threadIdx.x; j < D; j += blockDim.x) {
      float xh = (xr[j] - mu) * rs, gh = gr[j] * (w ? w[j] : 1.f);
      if (pw) {
        pw[j] += gr[j] * xh;
        pb[j] += gr[j];
      }
      sa += gh;
      sb += gh * xh;
    }
    if (!gx) continue;
    sa = ftc::block_sum(sa, sh);
    sb = ftc::block_sum(sb, sh);
    float a = rms ? 0.f : sa / (float)D, bb = sb / (float)D;
    float* o = gx + r * D;
    for (int64_t j = threadIdx.x; j < D; j += blockDim.x) {
      float xh = (xr[j] - mu) * rs, gh = gr[j] * (w ? w[j] : 1.f);
      o[j] = (gh - a - xh * bb) * rs;
    }
  }
}

// out_w(D), out_b(D) = sums over G of part(G, 2, D)
__global__ void norm_bwd_reduce(int G, int64_t D, const float* __restrict__ part, float* __restrict__ gw,
                                float* __restrict__ gb) {
  for (int64_t j = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; j < D; j += (int64_t)gridDim.x * blockDim.x) {
    float sw = 0.f, sb = 0.f;
    for (int t = 0; t < G; t++) {
      sw += part[(int64_t)t * 2 * D + j];
      sb += part[(int64_t)t * 2 * D + D + j];
    }
    if (gw) gw[j] = sw;
    if (gb) gb[j] = sb;
  }
}

}  // namespace

// y(rows, D) = norm(x(rows, D)) * w(D) + b(D); rms = 1 for RMSNorm; mean, rstd (rows) or null
FT_API int ft_norm_fwd(int64_t rows, int64_t D, int rms, float eps, const float* x, const float* w, const float* b,
                       float* y, float* mean, float* rstd) {
  if (rows < 0 || D < 0 || !(eps >= 0.f)) return FT_EINVAL;
  if (rows == 0 || D == 0) return FT_OK;
  cudaStream_t s = ftc::stream();
  bool al = (((uintptr_t)x | (uintptr_t)y | (uintptr_t)w | (uintptr_t)b) & 15) == 0;
  if (D % 4 == 0 && D <= 1024 && al) {
    unsigned g = (unsigned)((rows * 32 + 255) / 256);
    int d = (int)D, n4 = d / 4;
    if (n4 <= 32) norm_fwd_warp<1><<<g, 256, 0, s>>>(rows, d, rms, eps, x, w, b, y, mean, rstd);
    else if (n4 <= 64) norm_fwd_warp<2><<<g, 256, 0, s>>>(rows, d, rms, eps, x, w, b, y, mean, rstd);
    else if (n4 <= 128) norm_fwd_warp<4><<<g, 256, 0, s>>>(rows, d, rms, eps, x, w, b, y, mean, rstd);
    else if (n4 <= 192) norm_fwd_warp<6><<<g, 256, 0, s>>>(rows, d, rms, eps, x, w, b, y, mean, rstd);
    else norm_fwd_warp<8><<<g, 256, 0, s>>>(rows, d, rms, eps, x, w, b, y, mean, rstd);
  } else {
    if (rows > INT32_MAX) return FT_EUNSUP;
    norm_fwd_block<<<(unsigned)rows, D >= 1024 ? 512 : 128, 0, s>>>(D, rms, eps, x, w, b, y, mean, rstd);
  }
  return ftc::launched("ft_norm_fwd");
}

// gradients of ft_norm_fwd given g(rows, D): gx(rows, D), gw(D), gb(D), each optional
FT_API int ft_norm_bwd(int64_t rows, int64_t D, int rms, const float* x, const float* w, const float* mean,
                       const float* rstd, const float* g, float* gx, float* gw, float* gb) {
  if (rows < 0 || D < 0) return FT_EINVAL;
  if (D == 0) return FT_OK;
  cudaStream_t s = ftc::stream();
  if (rows == 0) {
    if (gw) cudaMemsetAsync(gw, 0, (size_t)D * 4, s);
    if (gb) cudaMemsetAsync(gb, 0, (size_t)D * 4, s);
    return ftc::launched("ft_norm_bwd");
  }
  int G = (int)(rows < (int64_t)ftc::sm_count() * 4 ? rows : (int64_t)ftc::sm_count() * 4);
  float* part = nullptr;
  if (gw || gb) {
    part = (float*)ftc::workspace((size_t)G * 2 * D * 4);
    if (!part) return FT_ENOMEM;
  }
  norm_bwd_k<<<G, 256, 0, s>>>(rows, D, rms, x, w, mean, rstd, g, gx, part);
  if (part) norm_bwd_reduce<<<ftc::blocks_for(D, 256), 256, 0, s>>>(G, D, part, gw, gb);
  return ftc::launched("ft_norm_bwd");
}
