// interpolate (PyTorch F.interpolate with a size; native/resize.cpp's ABI): x (BC, H, W) ->
// y (BC, Ho, Wo), nearest (src = min(floor(dst * in/out), in-1) in float) or bilinear
// (align_corners false/true) or bicubic (A = -0.75, border-clamped taps, PyTorch's
// upsample_bicubic2d), forward and backward (scatter with atomicAdd into zeroed gx).
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

// bicubic taps of output d: clamped indices i[4], weights w[4]
__device__ __forceinline__ void cubic(int d, int in, int out, int align, int* i, float* w) {
  const float A = -0.75f;
  float scale = align ? (out > 1 ? (float)(in - 1) / (float)(out - 1) : 0.f) : (float)in / (float)out;
  float src = align ? scale * (float)d : scale * ((float)d + 0.5f) - 0.5f;
  float f = floorf(src), t = src - f;
  int i0 = (int)f;
  auto cc1 = [A](float x) { return ((A + 2.f) * x - (A + 3.f)) * x * x + 1.f; };
  auto cc2 = [A](float x) { return ((A * x - 5.f * A) * x + 8.f * A) * x - 4.f * A; };
  w[0] = cc2(t + 1.f);
  w[1] = cc1(t);
  w[2] = cc1(1.f - t);
  w[3] = cc2(2.f - t);
  for (int k = 0; k < 4; k++) i[k] = min(max(i0 - 1 + k, 0), in - 1);
}

__global__ void bicubic_fwd_k(int64_t BC, int H, int W, int Ho, int Wo, int align, const float* __restrict__ x,
                              float* __restrict__ y) {
  int64_t n = BC * Ho * Wo;
  for (int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; e < n; e += (int64_t)gridDim.x * blockDim.x) {
    int ox = (int)(e % Wo), oy = (int)((e / Wo) % Ho);
    const float* xp = x + e / ((int64_t)Wo * Ho) * H * W;
    int iy[4], ix[4];
    float wy[4], wx[4];
    cubic(oy, H, Ho, align, iy, wy);
    cubic(ox, W, Wo, align, ix, wx);
    float acc = 0.f;
#pragma unroll
    for (int j = 0; j < 4; j++) {
      const float* r = xp + (int64_t)iy[j] * W;
      acc += wy[j] * (wx[0] * r[ix[0]] + wx[1] * r[ix[1]] + wx[2] * r[ix[2]] + wx[3] * r[ix[3]]);
    }
    y[e] = acc;
  }
}

__global__ void bicubic_bwd_k(int64_t BC, int H, int W, int Ho, int Wo, int align, const float* __restrict__ gy,
                              float* __restrict__ gx) {
  int64_t n = BC * Ho * Wo;
  for (int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; e < n; e += (int64_t)gridDim.x * blockDim.x) {
    int ox = (int)(e % Wo), oy = (int)((e / Wo) % Ho);
    float* gp = gx + e / ((int64_t)Wo * Ho) * H * W;
    int iy[4], ix[4];
    float wy[4], wx[4];
    cubic(oy, H, Ho, align, iy, wy);
    cubic(ox, W, Wo, align, ix, wx);
    float v = gy[e];
#pragma unroll
    for (int j = 0; j < 4; j++)
#pragma unroll
      for (int i = 0; i < 4; i++) atomicAdd(gp + (int64_t)iy[j] * W + ix[i], wy[j] * wx[i] * v);
  }
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
  return BC >= 0 && H >= 1 && W >= 1 && Ho >= 1 && Wo >= 1 && (mode >= 0 && mode <= 2) && H < INT32_MAX &&
         W < INT32_MAX && Ho < INT32_MAX && Wo < INT32_MAX;
}
unsigned grid(int64_t n) { return ftc::blocks_for(n, 256, (int64_t)ftc::sm_count() * 16); }
}  // namespace

// mode 0 nearest, 1 bilinear, 2 bicubic: y(BC, Ho, Wo) = resize(x(BC, H, W))
FT_API int ft_resize_fwd(int64_t BC, int64_t H, int64_t W, int64_t Ho, int64_t Wo, int mode, int alignCorners,
                         const float* x, float* y) {
  if (!valid(BC, H, W, Ho, Wo, mode)) return FT_EINVAL;
  int64_t n = BC * Ho * Wo;
  if (n == 0) return FT_OK;
  if (mode == 2)
    bicubic_fwd_k<<<grid(n), 256, 0, ftc::stream()>>>(BC, (int)H, (int)W, (int)Ho, (int)Wo, alignCorners != 0, x, y);
  else
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
  if (mode == 2)
    bicubic_bwd_k<<<grid(BC * Ho * Wo), 256, 0, s>>>(BC, (int)H, (int)W, (int)Ho, (int)Wo, alignCorners != 0, gy, gx);
  else
    resize_bwd_k<<<grid(BC * Ho * Wo), 256, 0, s>>>(BC, (int)H, (int)W, (int)Ho, (int)Wo, mode, alignCorners != 0, gy, gx);
  return ftc::launched("ft_resize_bwd");
}
