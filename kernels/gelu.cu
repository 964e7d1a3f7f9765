// Fused GELU forward/backward (native/gelu.cpp's ABI): erf form x·Φ(x) (approx 0) and tanh
// form x·σ(2u), u = √(2/π)(x + 0.044715x³) (approx 1), over n elements, fp32. Φ through
// erfcf so the negative tail keeps its relative accuracy like the CPU's erfc.
// Memory-bound: 16-byte loads/stores when aligned, a grid-stride loop of one full wave at the
// kernel's occupancy (ftc::grid_for).
// Check: tests/cuda/gelu_test.ts; bench: bench/gpu_timings.ts "gelu" vs F.gelu.
#include "common.cuh"

namespace {
constexpr float kC = 0.7978845608028654f;  // sqrt(2/pi)

__device__ __forceinline__ float gelu_f(float v, int approx) {
  if (approx) return v / (1.f + expf(-2.f * kC * (v + 0.044715f * v * v * v)));
  return 0.5f * v * erfcf(-v * 0.70710678118654752f);
}
__device__ __forceinline__ float dgelu_f(float v, int approx) {
  if (approx) {
    float s = 1.f / (1.f + expf(-2.f * kC * (v + 0.044715f * v * v * v)));
    return s + 2.f * v * s * (1.f - s) * kC * (1.f + 3.f * 0.044715f * v * v);
  }
  return 0.5f * erfcf(-v * 0.70710678118654752f) + v * 0.3989422804014327f * expf(-0.5f * v * v);
}

__global__ void gelu_fwd_k(int64_t n, const float* __restrict__ x, float* __restrict__ y, int approx, int vec) {
  int64_t stride = (int64_t)gridDim.x * blockDim.x, t = blockIdx.x * (int64_t)blockDim.x + threadIdx.x;
  int64_t n4 = vec ? n / 4 : 0;
  for (int64_t i = t; i < n4; i += stride) {
    float4 v = reinterpret_cast<const float4*>(x)[i];
    reinterpret_cast<float4*>(y)[i] =
        make_float4(gelu_f(v.x, approx), gelu_f(v.y, approx), gelu_f(v.z, approx), gelu_f(v.w, approx));
  }
  for (int64_t i = n4 * 4 + t; i < n; i += stride) y[i] = gelu_f(x[i], approx);
}

__global__ void gelu_bwd_k(int64_t n, const float* __restrict__ x, const float* __restrict__ gy, float* __restrict__ gx,
                           int approx, int vec) {
  int64_t stride = (int64_t)gridDim.x * blockDim.x, t = blockIdx.x * (int64_t)blockDim.x + threadIdx.x;
  int64_t n4 = vec ? n / 4 : 0;
  for (int64_t i = t; i < n4; i += stride) {
    float4 v = reinterpret_cast<const float4*>(x)[i], g = reinterpret_cast<const float4*>(gy)[i];
    reinterpret_cast<float4*>(gx)[i] = make_float4(g.x * dgelu_f(v.x, approx), g.y * dgelu_f(v.y, approx),
                                                   g.z * dgelu_f(v.z, approx), g.w * dgelu_f(v.w, approx));
  }
  for (int64_t i = n4 * 4 + t; i < n; i += stride) gx[i] = gy[i] * dgelu_f(x[i], approx);
}

}  // namespace

// y(n) = gelu(x(n)); approx 0 = erf form, 1 = tanh form
FT_API int ft_gelu_fwd(int64_t n, const float* x, float* y, int approx) {
  if (n < 0 || (approx != 0 && approx != 1)) return FT_EINVAL;
  if (n == 0) return FT_OK;
  int vec = (((uintptr_t)x | (uintptr_t)y) & 15) == 0;
  gelu_fwd_k<<<ftc::grid_for(gelu_fwd_k, 256, vec ? n / 4 + 1 : n), 256, 0, ftc::stream()>>>(n, x, y, approx, vec);
  return ftc::launched("ft_gelu_fwd");
}

// gx(n) = gy(n) * gelu'(x(n))
FT_API int ft_gelu_bwd(int64_t n, const float* x, const float* gy, float* gx, int approx) {
  if (n < 0 || (approx != 0 && approx != 1)) return FT_EINVAL;
  if (n == 0) return FT_OK;
  int vec = (((uintptr_t)x | (uintptr_t)gy | (uintptr_t)gx) & 15) == 0;
  gelu_bwd_k<<<ftc::grid_for(gelu_bwd_k, 256, vec ? n / 4 + 1 : n), 256, 0, ftc::stream()>>>(n, x, gy, gx, approx, vec);
  return ftc::launched("ft_gelu_bwd");
}
