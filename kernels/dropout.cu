// Inverted dropout (native/dropout.cpp's ABI and mask): element i of a call with seed s is
// dropped when the top 32 bits of splitmix64(s + (i + 1)·γ) are below p·2^32, else scaled by
// 1/(1-p); y(n) = x(n) * m(n). The same bits as the CPU for the same seed, so a run's masks do
// not depend on the backend; the backward applies the same call to the gradient.
// Check: tests/cuda/dropout_test.ts (CPU vs CUDA masks bit for bit).
#include "common.cuh"

namespace {

__device__ __forceinline__ uint64_t mix(uint64_t seed, uint64_t i) {
  uint64_t z = seed + (i + 1) * 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

__global__ void dropout_k(int64_t n, uint64_t seed, uint64_t thresh, float keep, const float* __restrict__ x,
                          float* __restrict__ y) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
    const uint64_t u = mix(seed, (uint64_t)i) >> 32;
    y[i] = x[i] * (u < thresh ? 0.f : keep);
  }
}

}  // namespace

// y(n) = x(n) * mask(seed, p); p in [0, 1]; x and y may alias
FT_API int ft_dropout_apply(int64_t n, float p, uint64_t seed, const float* x, float* y) {
  if (n < 0 || !(p >= 0.f && p <= 1.f)) return FT_EINVAL;
  if (n == 0) return FT_OK;
  const uint64_t thresh = (uint64_t)((double)p * 4294967296.0);
  const float keep = p < 1.f ? (float)(1.0 / (1.0 - (double)p)) : 0.f;
  dropout_k<<<ftc::blocks_for(n, 256, (int64_t)ftc::sm_count() * 8), 256, 0, ftc::stream()>>>(n, seed, thresh, keep,
                                                                                              x, y);
  return ftc::launched("ft_dropout_apply");
}
