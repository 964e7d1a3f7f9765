// BatchNorm2d forward and fused backward (native/batchnorm.cpp's ABI, PyTorch semantics):
// x (B, C, HW) normalised per channel; training uses the batch mean / biased variance (two
// passes, fp64 block sums), saves mean/invstd and updates running stats (unbiased variance);
// eval uses running stats. One block per channel for statistics, a grid-stride pass to apply.
// Check: tests/cuda/conv_test.ts (batchnorm case).
#include "common.cuh"

namespace {
__device__ __forceinline__ double block_sum_d(double v, double* sh) {
  int lane = threadIdx.x & 31, w = threadIdx.x >> 5;
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  __syncthreads();
  if (lane == 0) sh[w] = v;
  __syncthreads();
  v = lane < (int)(blockDim.x >> 5) ? sh[lane] : 0.0;
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

// per channel c: mean, invstd (training: batch stats; else running) and the running update
__global__ void bn_stats(int64_t B, int64_t C, int64_t HW, int training, float momentum, float eps,
                         const float* __restrict__ x, float* runMean, float* runVar, float* __restrict__ mean,
                         float* __restrict__ invstd) {
  __shared__ double sh[32];
  int64_t c = blockIdx.x;
  if (!training) {
    if (threadIdx.x == 0) {
      mean[c] = runMean[c];
      invstd[c] = 1.f / sqrtf(runVar[c] + eps);
    }
    return;
  }
  int64_t n = B * HW;
  float s = 0.f;
  for (int64_t t = threadIdx.x; t < n; t += blockDim.x) s += x[((t / HW) * C + c) * HW + t % HW];
  float m = (float)(block_sum_d(s, sh) / (double)n);
  float q = 0.f;
  for (int64_t t = threadIdx.x; t < n; t += blockDim.x) {
    float d = x[((t / HW) * C + c) * HW + t % HW] - m;
    q += d * d;
  }
  double qs = block_sum_d(q, sh);
  if (threadIdx.x == 0) {
    double var = qs / (double)n;
    mean[c] = m;
    invstd[c] = (float)(1.0 / sqrt(var + eps));
    if (runMean) runMean[c] = (1.f - momentum) * runMean[c] + momentum * m;
    if (runVar) runVar[c] = (1.f - momentum) * runVar[c] + momentum * (float)(n > 1 ? qs / (double)(n - 1) : var);
  }
}

__global__ void bn_apply(int64_t total, int64_t C, int64_t HW, const float* __restrict__ x, const float* __restrict__ w,
                         const float* __restrict__ b, const float* __restrict__ mean, const float* __restrict__ invstd,
                         float* __restrict__ y) {
  for (int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; e < total; e += (int64_t)gridDim.x * blockDim.x) {
    int64_t c = (e / HW) % C;
    float a = invstd[c] * (w ? w[c] : 1.f);
    y[e] = x[e] * a + ((b ? b[c] : 0.f) - mean[c] * a);
  }
}

// per channel: sg = Σ gy, sgx = Σ gy (x - m); gw = sgx * invstd, gb = sg; k(C, 3) for gx
__global__ void bn_bwd_sums(int64_t B, int64_t C, int64_t HW, int training, const float* __restrict__ x,
                            const float* __restrict__ w, const float* __restrict__ mean, const float* __restrict__ invstd,
                            const float* __restrict__ gy, float* __restrict__ gw, float* __restrict__ gb,
                            float* __restrict__ k) {
  __shared__ double sh[32];
  int64_t c = blockIdx.x, n = B * HW;
  float m = mean[c], is = invstd[c], wc = w ? w[c] : 1.f;
  float a = 0.f, bsum = 0.f;
  for (int64_t t = threadIdx.x; t < n; t += blockDim.x) {
    int64_t o = ((t / HW) * C + c) * HW + t % HW;
    a += gy[o];
    bsum += gy[o] * (x[o] - m);
  }
  double sg = block_sum_d(a, sh);
  double sgx = block_sum_d(bsum, sh);
  if (threadIdx.x == 0) {
    if (gw) gw[c] = (float)(sgx * is);
    if (gb) gb[c] = (float)sg;
    float k1 = wc * is, k2 = 0.f, k3 = 0.f;
    if (training && n > 0) {
      k2 = (float)(wc * (double)is * is * is * sgx / n);
      k3 = (float)(wc * (double)is * sg / n);
    }
    k[c * 3] = k1;
    k[c * 3 + 1] = k2;
    k[c * 3 + 2] = k3;
  }
}

__global__ void bn_bwd_x(int64_t total, int64_t C, int64_t HW, const float* __restrict__ x, const float* __restrict__ mean,
                         const float* __restrict__ k, const float* __restrict__ gy, float* __restrict__ gx) {
  for (int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; e < total; e += (int64_t)gridDim.x * blockDim.x) {
    int64_t c = (e / HW) % C;
    gx[e] = k[c * 3] * gy[e] - k[c * 3 + 1] * (x[e] - mean[c]) - k[c * 3 + 2];
  }
}
}  // namespace

// y(B, C, HW) = batchnorm(x); saveMean/saveInvstd (C); running stats (C) updated in training
FT_API int ft_batchnorm2d_fwd(int64_t B, int64_t C, int64_t HW, int training, float momentum, float eps, const float* x,
                              const float* weight, const float* bias, float* runMean, float* runVar, float* saveMean,
                              float* saveInvstd, float* y) {
  if (B < 0 || C < 1 || HW < 0 || !(eps >= 0.f)) return FT_EINVAL;
  if (training && B * HW < 1) return FT_EINVAL;
  if (!training && (!runMean || !runVar)) return FT_EINVAL;
  if (C > INT32_MAX) return FT_EUNSUP;
  cudaStream_t s = ftc::stream();
  bn_stats<<<(unsigned)C, 256, 0, s>>>(B, C, HW, training, momentum, eps, x, runMean, runVar, saveMean, saveInvstd);
  int64_t total = B * C * HW;
  if (total) bn_apply<<<ftc::blocks_for(total, 256), 256, 0, s>>>(total, C, HW, x, weight, bias, saveMean, saveInvstd, y);
  return ftc::launched("ft_batchnorm2d_fwd");
}

// gx(B, C, HW), gw(C), gb(C) (each nullable) from gy and the forward's saved mean / invstd
FT_API int ft_batchnorm2d_bwd(int64_t B, int64_t C, int64_t HW, int training, const float* x, const float* weight,
                              const float* saveMean, const float* saveInvstd, const float* gy, float* gx, float* gw,
                              float* gb) {
  if (B < 0 || C < 1 || HW < 0) return FT_EINVAL;
  if (C > INT32_MAX) return FT_EUNSUP;
  cudaStream_t s = ftc::stream();
  float* k = (float*)ftc::workspace((size_t)C * 12);
  if (!k) return FT_ENOMEM;
  bn_bwd_sums<<<(unsigned)C, 256, 0, s>>>(B, C, HW, training, x, weight, saveMean, saveInvstd, gy, gw, gb, k);
  int64_t total = B * C * HW;
  if (gx && total) bn_bwd_x<<<ftc::blocks_for(total, 256), 256, 0, s>>>(total, C, HW, x, saveMean, k, gy, gx);
  return ftc::launched("ft_batchnorm2d_bwd");
}
