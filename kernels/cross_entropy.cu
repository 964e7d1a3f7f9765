// Fused cross-entropy over logits x (N, C) and int32 targets t (N) (native/cross_entropy.cpp's
// ABI, PyTorch semantics): loss_i = lse_i - (1-ε) x_i,t - ε mean_j x_ij (0 where t_i is
// ignore_index); reduction none (N) | mean over non-ignored rows (NaN when none) | sum; lse (N)
// saved for the backward gx_ij = s_i (softmax_ij - ε/C - (1-ε)[j == t_i]).
// Targets are validated on the device; a bad one costs one device->host copy of {row, target}
// (the forward synchronises once per call for that check). One block per row.
// Check: tests/cuda/cross_entropy_test.ts; bench: bench/gpu_timings.ts.
#include "common.cuh"

namespace {
enum { R_NONE = 0, R_MEAN = 1, R_SUM = 2 };

// info(3): [0] first bad row (INT32_MAX = none), [1] its target, [2] count of non-ignored rows
__global__ void ce_check(int64_t N, int64_t C, const int32_t* __restrict__ t, int32_t ignore, int32_t* info) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < N; i += (int64_t)gridDim.x * blockDim.x) {
    int32_t v = t[i];
    if (v == ignore) continue;
    atomicAdd(info + 2, 1);
    if (v < 0 || v >= C) atomicMin(info, (int32_t)i);
  }
}

__global__ void ce_fwd_rows(int64_t C, const float* __restrict__ x, const int32_t* __restrict__ t, int32_t ignore,
                            float eps, float* __restrict__ loss, float* __restrict__ lse) {
  __shared__ float sh[32];
  int64_t i = blockIdx.x;
  const float* xr = x + i * C;
  float m = -INFINITY;
  for (int64_t j = threadIdx.x; j < C; j += blockDim.x) m = ftc::nan_max(m, xr[j]);
  m = ftc::block_max(m, sh);
  float s = 0.f, sx = 0.f;
  for (int64_t j = threadIdx.x; j < C; j += blockDim.x) {
    float v = xr[j];
    s += expf(v - m);
    sx += v;
  }
  s = ftc::block_sum(s, sh);
  sx = ftc::block_sum(sx, sh);
  if (threadIdx.x == 0) {
    float l = m + logf(s);
    lse[i] = l;
    int32_t ti = t[i];
    loss[i] = ti == ignore ? 0.f : l - (1.f - eps) * xr[ti] - (eps > 0.f ? eps * sx / (float)C : 0.f);
  }
}

// out(1) = Σ rows (sum) or Σ rows / count (mean; NaN when count == 0)
__global__ void ce_reduce(int64_t N, const float* __restrict__ rows, int reduction, const int32_t* __restrict__ info,
                          float* __restrict__ out) {
  __shared__ double sh[32];
  double a = 0.0;
  for (int64_t i = threadIdx.x; i < N; i += blockDim.x) a += rows[i];
  int lane = threadIdx.x & 31, w = threadIdx.x >> 5;
  for (int o = 16; o > 0; o >>= 1) a += __shfl_xor_sync(0xffffffffu, a, o);
  if (lane == 0) sh[w] = a;
  __syncthreads();
  if (threadIdx.x == 0) {
    double s = 0.0;
    for (int k = 0; k < (int)(blockDim.x >> 5); k++) s += sh[k];
    out[0] = reduction == R_SUM ? (float)s : (float)(s / (double)info[2]);
  }
}

__global__ void ce_bwd_rows(int64_t C, const float* __restrict__ x, const int32_t* __restrict__ t,
                            const float* __restrict__ lse, const float* __restrict__ g, int32_t ignore, float eps,
                            int reduction, const int32_t* __restrict__ info, float* __restrict__ gx) {
  int64_t i = blockIdx.x;
  float* gr = gx + i * C;
  int32_t ti = t[i];
  if (ti == ignore) {
    for (int64_t j = threadIdx.x; j < C; j += blockDim.x) gr[j] = 0.f;
    return;
  }
  float s = reduction == R_NONE ? g[i] : reduction == R_MEAN ? g[0] / (float)info[2] : g[0];
  float l = lse[i], eC = eps / (float)C;
  const float* xr = x + i * C;
  for (int64_t j = threadIdx.x; j < C; j += blockDim.x)
    gr[j] = s * (expf(xr[j] - l) - eC - (j == ti ? 1.f - eps : 0.f));
}

int threads_for(int64_t C) { return C >= 2048 ? 512 : C >= 256 ? 256 : C >= 64 ? 64 : 32; }
}  // namespace

// out (N) if reduction == none else (1); lse (N); bad (2, host) = {row, target} on FT_EINVAL
FT_API int ft_cross_entropy_fwd(int64_t N, int64_t C, const float* x, const int32_t* t, int32_t ignore_index,
                                float smoothing, int reduction, float* out, float* lse, int32_t* bad) {
  if (N < 0 || C <= 0 || reduction < 0 || reduction > 2 || !(smoothing >= 0.f && smoothing <= 1.f)) return FT_EINVAL;
  if (N > INT32_MAX) return FT_EUNSUP;
  cudaStream_t s = ftc::stream();
  size_t rows_b = reduction == R_NONE ? 0 : ((size_t)N * 4 + 255) / 256 * 256;
  char* ws = (char*)ftc::workspace(rows_b + 16);
  if (!ws) return FT_ENOMEM;
  int32_t* info = (int32_t*)(ws + rows_b);
  int32_t init[3] = {INT32_MAX, 0, 0};
  int st = ftc::fail(cudaMemcpyAsync(info, init, 12, cudaMemcpyHostToDevice, s), "cross_entropy");
  if (st) return st;
  if (N > 0) ce_check<<<ftc::blocks_for(N, 256), 256, 0, s>>>(N, C, t, ignore_index, info);
  int32_t h[3];
  st = ftc::fail(cudaMemcpyAsync(h, info, 12, cudaMemcpyDeviceToHost, s), "cross_entropy");
  if (!st) st = ftc::fail(cudaStreamSynchronize(s), "cross_entropy (check)");
  if (st) return st;
  if (h[0] != INT32_MAX) {
    if (bad) {
      int32_t tv = 0;
      st = ftc::fail(cudaMemcpyAsync(&tv, t + h[0], 4, cudaMemcpyDeviceToHost, s), "cross_entropy (bad target)");
      if (!st) st = ftc::fail(cudaStreamSynchronize(s), "cross_entropy (bad target sync)");
      if (st) return st;  // a device error, not a bad target: report it as such
      bad[0] = h[0];
      bad[1] = tv;
    }
    return FT_EINVAL;
  }
  float* rows = reduction == R_NONE ? out : (float*)ws;
  if (N > 0) ce_fwd_rows<<<(unsigned)N, threads_for(C), 0, s>>>(C, x, t, ignore_index, smoothing, rows, lse);
  if (reduction != R_NONE) ce_reduce<<<1, 1024, 0, s>>>(N, rows, reduction, info, out);
  return ftc::launched("ft_cross_entropy_fwd");
}

// gx(N, C) = d loss / d x given g ((N) for none, (1) otherwise) and the saved lse (N)
FT_API int ft_cross_entropy_bwd(int64_t N, int64_t C, const float* x, const int32_t* t, const float* lse,
                                const float* g, int32_t ignore_index, float smoothing, int reduction, float* gx) {
  if (N < 0 || C <= 0 || reduction < 0 || reduction > 2) return FT_EINVAL;
  if (N == 0) return FT_OK;
  if (N > INT32_MAX) return FT_EUNSUP;
  cudaStream_t s = ftc::stream();
  int32_t* info = (int32_t*)ftc::workspace(16);
  if (!info) return FT_ENOMEM;
  int32_t init[3] = {INT32_MAX, 0, 0};
  int st = ftc::fail(cudaMemcpyAsync(info, init, 12, cudaMemcpyHostToDevice, s), "cross_entropy bwd");
  if (st) return st;
  ce_check<<<ftc::blocks_for(N, 256), 256, 0, s>>>(N, C, t, ignore_index, info);
  ce_bwd_rows<<<(unsigned)N, threads_for(C), 0, s>>>(C, x, t, lse, g, ignore_index, smoothing, reduction, info, gx);
  return ftc::launched("ft_cross_entropy_bwd");
}
