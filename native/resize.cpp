// interpolate (PyTorch F.interpolate with a size): x (B*C, H, W) -> y (B*C, Ho, Wo), forward and
// backward. nearest: src = min(floor(dst * (in/out)), in-1) in float, as PyTorch's CPU kernel.
// bilinear: align_corners=false src = max(0, (dst + 0.5) * in/out - 0.5), true: dst*(in-1)/(out-1);
// i0 = floor(src), i1 = min(i0+1, in-1), weights (1-l, l), all in float like PyTorch.
// bicubic: src as bilinear but never clamped, taps floor(src)-1 .. +2 clamped to the border,
// Keys cubic-convolution weights with A = -0.75 (PyTorch's upsample_bicubic2d).
// The per-axis index/weight tables are built once per call; planes run in parallel (no races
// in the scatter backward). Test: deno test --allow-ffi --allow-read --allow-env tests/ops/resize_test.ts
// Bench: deno bench --allow-ffi --allow-read --allow-env bench/resize_bench.ts
#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "ft.h"
#include "threadpool.h"

namespace {
struct Axis {
  std::vector<int64_t> i0, i1;
  std::vector<float> l0, l1;
};

void nearest_axis(int64_t in, int64_t out, Axis& a) {
  const float scale = (float)in / (float)out;
  a.i0.resize(out);
  for (int64_t d = 0; d < out; d++)
    a.i0[d] = std::min((int64_t)std::floor((float)d * scale), in - 1);
}

void linear_axis(int64_t in, int64_t out, bool align, Axis& a) {
  float scale;
  if (align)
    scale = out > 1 ? (float)(in - 1) / (float)(out - 1) : 0.f;
  else
    scale = (float)in / (float)out;
  a.i0.resize(out);
  a.i1.resize(out);
  a.l0.resize(out);
  a.l1.resize(out);
  for (int64_t d = 0; d < out; d++) {
    float src = align ? scale * (float)d : scale * ((float)d + 0.5f) - 0.5f;
    if (src < 0.f) src = 0.f;
    int64_t i0 = (int64_t)src;
    if (i0 > in - 1) i0 = in - 1;
    const int64_t i1 = i0 + (i0 < in - 1 ? 1 : 0);
    const float l1 = src - (float)i0;
    a.i0[d] = i0;
    a.i1[d] = i1;
    a.l1[d] = l1;
    a.l0[d] = 1.f - l1;
  }
}

// four taps per output: clamped indices and cubic-convolution weights (A = -0.75)
struct Cubic {
  std::vector<int64_t> i;  // (out, 4)
  std::vector<float> w;    // (out, 4)
};

void cubic_axis(int64_t in, int64_t out, bool align, Cubic& c) {
  const float A = -0.75f;
  float scale;
  if (align)
    scale = out > 1 ? (float)(in - 1) / (float)(out - 1) : 0.f;
  else
    scale = (float)in / (float)out;
  c.i.resize(out * 4);
  c.w.resize(out * 4);
  auto cc1 = [A](float x) { return ((A + 2.f) * x - (A + 3.f)) * x * x + 1.f; };
  auto cc2 = [A](float x) { return ((A * x - 5.f * A) * x + 8.f * A) * x - 4.f * A; };
  for (int64_t d = 0; d < out; d++) {
    const float src = align ? scale * (float)d : scale * ((float)d + 0.5f) - 0.5f;
    const float f = std::floor(src);
    const float t = src - f;
    const int64_t i0 = (int64_t)f;
    c.w[d * 4 + 0] = cc2(t + 1.f);
    c.w[d * 4 + 1] = cc1(t);
    c.w[d * 4 + 2] = cc1(1.f - t);
    c.w[d * 4 + 3] = cc2(2.f - t);
    for (int k = 0; k < 4; k++) c.i[d * 4 + k] = std::min(std::max<int64_t>(i0 - 1 + k, 0), in - 1);
  }
}

bool valid(int64_t BC, int64_t H, int64_t W, int64_t Ho, int64_t Wo, int mode) {
  return BC >= 0 && H >= 1 && W >= 1 && Ho >= 1 && Wo >= 1 && (mode == 0 || mode == 1 || mode == 2);
}

// bicubic forward: rows interpolated along x, then the four rows along y (PyTorch's order)
void bicubic_fwd(int64_t BC, int64_t H, int64_t W, int64_t Ho, int64_t Wo, bool align, const float* x, float* y) {
  Cubic cy, cx;
  cubic_axis(H, Ho, align, cy);
  cubic_axis(W, Wo, align, cx);
  ft::parallel_for(BC, [&](int64_t p0, int64_t p1, int) {
    for (int64_t p = p0; p < p1; p++) {
      const float* xp = x + p * H * W;
      float* yp = y + p * Ho * Wo;
      for (int64_t oy = 0; oy < Ho; oy++) {
        const float* wy = &cy.w[oy * 4];
        const int64_t* iy = &cy.i[oy * 4];
        for (int64_t ox = 0; ox < Wo; ox++) {
          const float* wx = &cx.w[ox * 4];
          const int64_t* ix = &cx.i[ox * 4];
          float acc = 0.f;
          for (int j = 0; j < 4; j++) {
            const float* r = xp + iy[j] * W;
            acc += wy[j] * (wx[0] * r[ix[0]] + wx[1] * r[ix[1]] + wx[2] * r[ix[2]] + wx[3] * r[ix[3]]);
          }
          yp[oy * Wo + ox] = acc;
        }
      }
    }
  });
}

void bicubic_bwd(int64_t BC, int64_t H, int64_t W, int64_t Ho, int64_t Wo, bool align, const float* gy, float* gx) {
  Cubic cy, cx;
  cubic_axis(H, Ho, align, cy);
  cubic_axis(W, Wo, align, cx);
  ft::parallel_for(BC, [&](int64_t p0, int64_t p1, int) {
    for (int64_t p = p0; p < p1; p++) {
      float* gp = gx + p * H * W;
      std::memset(gp, 0, (size_t)(H * W) * 4);
      const float* g = gy + p * Ho * Wo;
      for (int64_t oy = 0; oy < Ho; oy++)
        for (int64_t ox = 0; ox < Wo; ox++) {
          const float v = g[oy * Wo + ox];
          for (int j = 0; j < 4; j++) {
            float* r = gp + cy.i[oy * 4 + j] * W;
            const float vy = cy.w[oy * 4 + j] * v;
            for (int i = 0; i < 4; i++) r[cx.i[ox * 4 + i]] += vy * cx.w[ox * 4 + i];
          }
        }
    }
  });
}
}  // namespace

// mode 0 = nearest, 1 = bilinear, 2 = bicubic; y(B*C, Ho, Wo) = resize(x(B*C, H, W))
FT_API int ft_resize_fwd(int64_t BC, int64_t H, int64_t W, int64_t Ho, int64_t Wo, int mode, int alignCorners,
                         const float* x,  // (B*C, H, W)
                         float* y) {      // (B*C, Ho, Wo)
  if (!valid(BC, H, W, Ho, Wo, mode)) return FT_EINVAL;
  if (mode == 2) {
    bicubic_fwd(BC, H, W, Ho, Wo, alignCorners != 0, x, y);
    return FT_OK;
  }
  Axis ay, ax;
  if (mode == 0) {
    nearest_axis(H, Ho, ay);
    nearest_axis(W, Wo, ax);
  } else {
    linear_axis(H, Ho, alignCorners != 0, ay);
    linear_axis(W, Wo, alignCorners != 0, ax);
  }
  ft::parallel_for(BC, [&](int64_t p0, int64_t p1, int) {
    for (int64_t p = p0; p < p1; p++) {
      const float* xp = x + p * H * W;
      float* yp = y + p * Ho * Wo;
      for (int64_t oy = 0; oy < Ho; oy++) {
        float* yr = yp + oy * Wo;
        if (mode == 0) {
          const float* xr = xp + ay.i0[oy] * W;
          for (int64_t ox = 0; ox < Wo; ox++) yr[ox] = xr[ax.i0[ox]];
        } else {
          const float* r0 = xp + ay.i0[oy] * W;
          const float* r1 = xp + ay.i1[oy] * W;
          const float h0 = ay.l0[oy], h1 = ay.l1[oy];
          for (int64_t ox = 0; ox < Wo; ox++) {
            const int64_t a = ax.i0[ox], b = ax.i1[ox];
            yr[ox] = h0 * (ax.l0[ox] * r0[a] + ax.l1[ox] * r0[b]) + h1 * (ax.l0[ox] * r1[a] + ax.l1[ox] * r1[b]);
          }
        }
      }
    }
  });
  return FT_OK;
}

// gx(B*C, H, W) = adjoint of the resize applied to gy(B*C, Ho, Wo)
FT_API int ft_resize_bwd(int64_t BC, int64_t H, int64_t W, int64_t Ho, int64_t Wo, int mode, int alignCorners,
                         const float* gy,  // (B*C, Ho, Wo)
                         float* gx) {      // (B*C, H, W)
  if (!valid(BC, H, W, Ho, Wo, mode)) return FT_EINVAL;
  if (mode == 2) {
    bicubic_bwd(BC, H, W, Ho, Wo, alignCorners != 0, gy, gx);
    return FT_OK;
  }
  Axis ay, ax;
  if (mode == 0) {
    nearest_axis(H, Ho, ay);
    nearest_axis(W, Wo, ax);
  } else {
    linear_axis(H, Ho, alignCorners != 0, ay);
    linear_axis(W, Wo, alignCorners != 0, ax);
  }
  ft::parallel_for(BC, [&](int64_t p0, int64_t p1, int) {
    for (int64_t p = p0; p < p1; p++) {
      float* gp = gx + p * H * W;
      std::memset(gp, 0, (size_t)(H * W) * 4);
      const float* g = gy + p * Ho * Wo;
      for (int64_t oy = 0; oy < Ho; oy++) {
        const float* gr = g + oy * Wo;
        if (mode == 0) {
          float* xr = gp + ay.i0[oy] * W;
          for (int64_t ox = 0; ox < Wo; ox++) xr[ax.i0[ox]] += gr[ox];
        } else {
          float* r0 = gp + ay.i0[oy] * W;
          float* r1 = gp + ay.i1[oy] * W;
          const float h0 = ay.l0[oy], h1 = ay.l1[oy];
          for (int64_t ox = 0; ox < Wo; ox++) {
            const int64_t a = ax.i0[ox], b = ax.i1[ox];
            const float v = gr[ox];
            r0[a] += h0 * ax.l0[ox] * v;
            r0[b] += h0 * ax.l1[ox] * v;
            r1[a] += h1 * ax.l0[ox] * v;
            r1[b] += h1 * ax.l1[ox] * v;
          }
        }
      }
    }
  });
  return FT_OK;
}
