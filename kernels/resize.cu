// interpolate (PyTorch F.interpolate with a size; native/resize.cpp's ABI): x (BC, H, W) ->
// y (BC, Ho, Wo), nearest (src = min(floor(dst * in/out), in-1) in float) or bilinear
// (align_corners false/true), forward and backward (scatter with atomicAdd into zeroed gx).
// Index/weight math per output in float exactly like the CPU tables. Check: tests/cuda/conv_test.ts.
#include "common.cuh"

namespace {
struct Ax {
  int i0, i1;
  float l0, l1;
};
__device__ __forceinline__ Ax axis(int d, int in, int out, int mode, int align) {
  Ax a;
  if (mode == 0) {
    float scale = (float)in / (float)out;
    a.i0 = min((int)floorf((float)d * scale), in - 1);
    a.i1 = a.i0;
    a.l0 = 1.f;
    a.l1 = 0.f;
    return a;
  }
  float scale = align ? (out > 1 ? (float)(in - 1) / (float)(out - 1) : 0.f) : (float)in / (float)out;
  float src = align ? scale * (float)d : scale * ((float)d + 0.5f) - 0.5f;
  if (src < 0.f) src = 0.f;
  int i0 = (int)src;
  if (i0 > in - 1) i0 = in - 1;
  a.i0 = i0;
  a.i1 = i0 + (i0 < in - 1 ? 1 : 0);
  a.l1 = src - (float)i0;
  a.l0 = 1.f - a.l1;
  return a;
}

__global__ void resize_fwd_k(int64_t BC, int H, int W, int Ho, int Wo, int mode, int align, const float* __restrict__ x,
                             float* __restrict__ y) {
  int64_t n = BC * Ho * Wo;
  for (int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; e < n; e += (int64_t)gridDim.x * blockDim.x) {
    int ox = (int)(e % Wo), oy = (int)((e / Wo) % Ho);
    int64_t p = e / ((int64_t)Wo * Ho);
    const float* xp = x + p * H * W;
    Ax ay = axis(oy, H, Ho, mode, align), ax = axis(ox, W, Wo, mode, align);
    if (mode == 0) {
      y[e] = xp[ay.i0 * W + ax.i0];
    } else {
      const float* r0 = xp + ay.i0 * W;
      const float* r1 = xp + ay.i1 * W;
      y[e] = ay.l0 * (ax.l0 * r0[ax.i0] + ax.l1 * r0[ax.i1]) + ay.l1 * (ax.l0 * r1[ax.i0] + ax.l1 * r1[ax.i1]);
    }
  }
}

__global__ void resize_bwd_k(int64_t BC, int H, int W, int Ho, int Wo, int mode, int align, const float* __restrict__ gy,
                             float* __restrict__ gx) {
  int64_t n = BC * Ho * Wo;
  for (int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; e < n; e += (int64_t)gridDim.x * blockDim.x) {
    int ox = (int)(e % Wo), oy = (int)((e / Wo) % Ho);
    int64_t p = e / ((int64_t)Wo * Ho);
    float* gp = gx + p * H * W;
    Ax ay = axis(oy, H, Ho, mode, align), ax = axis(ox, W, Wo, mode, align);
    float v = gy[e];
    if (mode == 0) {
      atomicAdd(gp + ay.i0 * W + ax.i0, v);
    } else {
      atomicAdd(gp + ay.i0 * W + ax.i0, ay.l0 * ax.l0 * v);
      atomicAdd(gp + ay.i0 * W + ax.i1, ay.l0 * ax.l1 * v);
      atomicAdd(gp + ay.i1 * W + ax.i0, ay.l1 * ax.l0 * v);
      atomicAdd(gp + ay.i1 * W + ax.i1, ay.l1 * ax.l1 * v);
    }
  }
}
bool valid(int64_t BC, int64_t H, int64_t W, int64_t Ho, int64_t Wo, int mode) {
  return BC >= 0 && H >= 1 && W >= 1 && Ho >= 1 && Wo >= 1 && (mode == 0 || mode == 1) && H < INT32_MAX &&
         W < INT32_MAX && Ho < INT32_MAX && Wo < INT32_MAX;
}
unsigned grid(int64_t n) { return ftc::blocks_for(n, 256, (int64_t)ftc::sm_count() * 16); }
}  // namespace

// mode 0 nearest, 1 bilinear: y(BC, Ho, Wo) = resize(x(BC, H, W))
FT_API int ft_resize_fwd(int64_t BC, int64_t H, int64_t W, int64_t Ho, int64_t Wo, int mode, int alignCorners,
                         const float* x, float* y) {
  if (!valid(BC, H, W, Ho, Wo, mode)) return FT_EINVAL;
  int64_t n = BC * Ho * Wo;
  if (n == 0) return FT_OK;
  resize_fwd_k<<<grid(n), 256, 0, ftc::stream()>>>(BC, (int)H, (int)W, (int)Ho, (int)Wo, mode, alignCorners != 0, x, y);
  return ftc::launched("ft_resize_fwd");
}

// gx(BC, H, W) = adjoint of the resize applied to gy(BC, Ho, Wo)
FT_API int ft_resize_bwd(int64_t BC, int64_t H, int64_t W, int64_t Ho, int64_t Wo, int mode, int alignCorners,
                         const float* gy, float* gx) {
  if (!valid(BC, H, W, Ho, Wo, mode)) return FT_EINVAL;
  if (BC == 0) return FT_OK;
  cudaStream_t s = ftc::stream();
  cudaMemsetAsync(gx, 0, (size_t)(BC * H * W) * 4, s);
  resize_bwd_k<<<grid(BC * Ho * Wo), 256, 0, s>>>(BC, (int)H, (int)W, (int)Ho, (int)Wo, mode, alignCorners != 0, gy, gx);
  return ftc::launched("ft_resize_bwd");
}
