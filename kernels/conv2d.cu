// conv2d / CoordConv and conv-transpose2d, forward and backward (native/conv2d.cpp and
// native/conv_transpose2d.cpp ABIs): any stride / padding / dilation, groups for conv2d, and
// CoordConv's two coordinate channels (xx along H, yy along W, linspace(-1, 1)) generated
// in-kernel, never materialised. Direct kernels: one thread per output (forward, grad-input),
// one block per weight element with a block reduction (grad-weight), a block per channel (grad-
// bias). Correct on any shape; not yet tuned (an implicit-GEMM tensor-core version is the next
// step, see docs/cuda.md). Check: tests/cuda/conv_test.ts.
#include "common.cuh"

namespace {
struct Geo {
  int B, Cin, H, W, Cout, kh, kw, sh, sw, ph, pw, dh, dw, G, coord, Ho, Wo, cg, og;
};

__device__ __forceinline__ float coord_of(int i, int n) { return n > 1 ? (float)i * (2.f / (float)(n - 1)) - 1.f : -1.f; }

// value of virtual input channel c (real channels, then xx, yy) at (iy, ix), in range
__device__ __forceinline__ float xin(const float* __restrict__ xb, const Geo& g, int c, int iy, int ix) {
  if (c < g.Cin) return xb[((int64_t)c * g.H + iy) * g.W + ix];
  return c == g.Cin ? coord_of(iy, g.H) : coord_of(ix, g.W);
}

__global__ void conv_fwd_k(Geo g, const float* __restrict__ x, const float* __restrict__ w,
                           const float* __restrict__ bias, float* __restrict__ y) {
  int64_t n = (int64_t)g.B * g.Cout * g.Ho * g.Wo;
  for (int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; e < n; e += (int64_t)gridDim.x * blockDim.x) {
    int ox = (int)(e % g.Wo), oy = (int)((e / g.Wo) % g.Ho), o = (int)((e / ((int64_t)g.Wo * g.Ho)) % g.Cout);
    int b = (int)(e / ((int64_t)g.Wo * g.Ho * g.Cout));
    int gi = o / g.og;
    const float* xb = x + (int64_t)b * g.Cin * g.H * g.W;
    const float* wo = w + (int64_t)o * g.cg * g.kh * g.kw;
    float s = bias ? bias[o] : 0.f;
    for (int c = 0; c < g.cg; c++) {
      int ch = gi * g.cg + c;
      for (int ki = 0; ki < g.kh; ki++) {
        int iy = oy * g.sh - g.ph + ki * g.dh;
        if (iy < 0 || iy >= g.H) continue;
        for (int kj = 0; kj < g.kw; kj++) {
          int ix = ox * g.sw - g.pw + kj * g.dw;
          if (ix < 0 || ix >= g.W) continue;
          s = fmaf(wo[(c * g.kh + ki) * g.kw + kj], xin(xb, g, ch, iy, ix), s);
        }
      }
    }
    y[e] = s;
  }
}

// gx over real input channels: sum of w * gy over the outputs that read (c, iy, ix)
__global__ void conv_bwd_x_k(Geo g, const float* __restrict__ w, const float* __restrict__ gy, float* __restrict__ gx) {
  int64_t n = (int64_t)g.B * g.Cin * g.H * g.W;
  for (int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; e < n; e += (int64_t)gridDim.x * blockDim.x) {
    int ix = (int)(e % g.W), iy = (int)((e / g.W) % g.H), c = (int)((e / ((int64_t)g.W * g.H)) % g.Cin);
    int b = (int)(e / ((int64_t)g.W * g.H * g.Cin));
    int gi = c / g.cg, cl = c % g.cg;
    float s = 0.f;
    for (int ki = 0; ki < g.kh; ki++) {
      int ty = iy + g.ph - ki * g.dh;
      if (ty < 0 || ty % g.sh) continue;
      int oy = ty / g.sh;
      if (oy >= g.Ho) continue;
      for (int kj = 0; kj < g.kw; kj++) {
        int tx = ix + g.pw - kj * g.dw;
        if (tx < 0 || tx % g.sw) continue;
        int ox = tx / g.sw;
        if (ox >= g.Wo) continue;
        for (int ol = 0; ol < g.og; ol++) {
          int o = gi * g.og + ol;
          s = fmaf(w[(((int64_t)o * g.cg + cl) * g.kh + ki) * g.kw + kj],
                   gy[(((int64_t)b * g.Cout + o) * g.Ho + oy) * g.Wo + ox], s);
        }
      }
    }
    gx[e] = s;
  }
}

// gw(o, c, ki, kj): block per weight element, reduction over (b, oy, ox)
__global__ void conv_bwd_w_k(Geo g, const float* __restrict__ x, const float* __restrict__ gy, float* __restrict__ gw) {
  __shared__ float sh[32];
  int64_t e = blockIdx.x;
  int kj = (int)(e % g.kw), ki = (int)((e / g.kw) % g.kh), c = (int)((e / (g.kw * g.kh)) % g.cg);
  int o = (int)(e / ((int64_t)g.kw * g.kh * g.cg));
  int ch = (o / g.og) * g.cg + c;
  int64_t n = (int64_t)g.B * g.Ho * g.Wo;
  float s = 0.f;
  for (int64_t t = threadIdx.x; t < n; t += blockDim.x) {
    int ox = (int)(t % g.Wo), oy = (int)((t / g.Wo) % g.Ho), b = (int)(t / ((int64_t)g.Wo * g.Ho));
    int iy = oy * g.sh - g.ph + ki * g.dh, ix = ox * g.sw - g.pw + kj * g.dw;
    if (iy < 0 || iy >= g.H || ix < 0 || ix >= g.W) continue;
    s = fmaf(gy[(((int64_t)b * g.Cout + o) * g.Ho + oy) * g.Wo + ox],
             xin(x + (int64_t)b * g.Cin * g.H * g.W, g, ch, iy, ix), s);
  }
  s = ftc::block_sum(s, sh);
  if (threadIdx.x == 0) gw[e] = s;
}

// gb(c) = sum of gy(b, c, plane); block per channel
__global__ void chan_sum_k(int B, int C, int64_t plane, const float* __restrict__ gy, float* __restrict__ gb) {
  __shared__ float sh[32];
  int c = blockIdx.x;
  float s = 0.f;
  for (int64_t t = threadIdx.x; t < (int64_t)B * plane; t += blockDim.x) {
    int64_t b = t / plane, i = t % plane;
    s += gy[((int64_t)b * C + c) * plane + i];
  }
  s = ftc::block_sum(s, sh);
  if (threadIdx.x == 0) gb[c] = s;
}

// ---- transposed convolution: x (B, Cin, H, W), w (Cin, Cout, kh, kw), y (B, Cout, Ho, Wo) ----
__global__ void convt_fwd_k(Geo g, const float* __restrict__ x, const float* __restrict__ w,
                            const float* __restrict__ bias, float* __restrict__ y) {
  int64_t n = (int64_t)g.B * g.Cout * g.Ho * g.Wo;
  for (int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; e < n; e += (int64_t)gridDim.x * blockDim.x) {
    int ox = (int)(e % g.Wo), oy = (int)((e / g.Wo) % g.Ho), co = (int)((e / ((int64_t)g.Wo * g.Ho)) % g.Cout);
    int b = (int)(e / ((int64_t)g.Wo * g.Ho * g.Cout));
    float s = bias ? bias[co] : 0.f;
    for (int ki = 0; ki < g.kh; ki++) {
      int ty = oy + g.ph - ki * g.dh;
      if (ty < 0 || ty % g.sh) continue;
      int iy = ty / g.sh;
      if (iy >= g.H) continue;
      for (int kj = 0; kj < g.kw; kj++) {
        int tx = ox + g.pw - kj * g.dw;
        if (tx < 0 || tx % g.sw) continue;
        int ix = tx / g.sw;
        if (ix >= g.W) continue;
        for (int ci = 0; ci < g.Cin; ci++)
          s = fmaf(x[(((int64_t)b * g.Cin + ci) * g.H + iy) * g.W + ix],
                   w[(((int64_t)ci * g.Cout + co) * g.kh + ki) * g.kw + kj], s);
      }
    }
    y[e] = s;
  }
}

__global__ void convt_bwd_x_k(Geo g, const float* __restrict__ w, const float* __restrict__ gy, float* __restrict__ gx) {
  int64_t n = (int64_t)g.B * g.Cin * g.H * g.W;
  for (int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; e < n; e += (int64_t)gridDim.x * blockDim.x) {
    int ix = (int)(e % g.W), iy = (int)((e / g.W) % g.H), ci = (int)((e / ((int64_t)g.W * g.H)) % g.Cin);
    int b = (int)(e / ((int64_t)g.W * g.H * g.Cin));
    float s = 0.f;
    for (int ki = 0; ki < g.kh; ki++) {
      int oy = iy * g.sh - g.ph + ki * g.dh;
      if (oy < 0 || oy >= g.Ho) continue;
      for (int kj = 0; kj < g.kw; kj++) {
        int ox = ix * g.sw - g.pw + kj * g.dw;
        if (ox < 0 || ox >= g.Wo) continue;
        for (int co = 0; co < g.Cout; co++)
          s = fmaf(gy[(((int64_t)b * g.Cout + co) * g.Ho + oy) * g.Wo + ox],
                   w[(((int64_t)ci * g.Cout + co) * g.kh + ki) * g.kw + kj], s);
      }
    }
    gx[e] = s;
  }
}

__global__ void convt_bwd_w_k(Geo g, const float* __restrict__ x, const float* __restrict__ gy, float* __restrict__ gw) {
  __shared__ float sh[32];
  int64_t e = blockIdx.x;
  int kj = (int)(e % g.kw), ki = (int)((e / g.kw) % g.kh), co = (int)((e / (g.kw * g.kh)) % g.Cout);
  int ci = (int)(e / ((int64_t)g.kw * g.kh * g.Cout));
  int64_t n = (int64_t)g.B * g.H * g.W;
  float s = 0.f;
  for (int64_t t = threadIdx.x; t < n; t += blockDim.x) {
    int ix = (int)(t % g.W), iy = (int)((t / g.W) % g.H), b = (int)(t / ((int64_t)g.W * g.H));
    int oy = iy * g.sh - g.ph + ki * g.dh, ox = ix * g.sw - g.pw + kj * g.dw;
    if (oy < 0 || oy >= g.Ho || ox < 0 || ox >= g.Wo) continue;
    s = fmaf(x[(((int64_t)b * g.Cin + ci) * g.H + iy) * g.W + ix], gy[(((int64_t)b * g.Cout + co) * g.Ho + oy) * g.Wo + ox], s);
  }
  s = ftc::block_sum(s, sh);
  if (threadIdx.x == 0) gw[e] = s;
}

unsigned grid(int64_t n) { return ftc::blocks_for(n, 256, (int64_t)ftc::sm_count() * 16); }

bool conv_geom(int64_t B, int64_t Cin, int64_t H, int64_t W, int64_t Cout, int64_t kh, int64_t kw, int64_t sh,
               int64_t sw, int64_t ph, int64_t pw, int64_t dh, int64_t dw, int64_t groups, int coord, Geo& g) {
  int64_t C = Cin + (coord ? 2 : 0);
  if (B < 0 || Cin < 0 || Cout < 1 || groups < 1 || C < 1 || C % groups || Cout % groups) return false;
  if (H < 1 || W < 1 || kh < 1 || kw < 1 || sh < 1 || sw < 1 || ph < 0 || pw < 0 || dh < 1 || dw < 1) return false;
  int64_t eh = dh * (kh - 1) + 1, ew = dw * (kw - 1) + 1;
  if (H + 2 * ph < eh || W + 2 * pw < ew) return false;
  g = {(int)B, (int)Cin, (int)H, (int)W, (int)Cout, (int)kh, (int)kw, (int)sh, (int)sw, (int)ph, (int)pw, (int)dh,
       (int)dw, (int)groups, coord ? 1 : 0, (int)((H + 2 * ph - eh) / sh + 1), (int)((W + 2 * pw - ew) / sw + 1),
       (int)(C / groups), (int)(Cout / groups)};
  return true;
}

bool convt_geom(int64_t B, int64_t Cin, int64_t H, int64_t W, int64_t Cout, int64_t kh, int64_t kw, int64_t sh,
                int64_t sw, int64_t ph, int64_t pw, int64_t oph, int64_t opw, int64_t dh, int64_t dw, Geo& g) {
  if (B < 0 || Cin < 1 || Cout < 1) return false;
  if (H < 1 || W < 1 || kh < 1 || kw < 1 || sh < 1 || sw < 1 || ph < 0 || pw < 0 || dh < 1 || dw < 1) return false;
  if (oph < 0 || opw < 0 || (oph >= sh && oph >= dh) || (opw >= sw && opw >= dw)) return false;
  int64_t Ho = (H - 1) * sh - 2 * ph + dh * (kh - 1) + oph + 1, Wo = (W - 1) * sw - 2 * pw + dw * (kw - 1) + opw + 1;
  if (Ho < 1 || Wo < 1) return false;
  g = {(int)B, (int)Cin, (int)H, (int)W, (int)Cout, (int)kh, (int)kw, (int)sh, (int)sw, (int)ph, (int)pw, (int)dh,
       (int)dw, 1, 0, (int)Ho, (int)Wo, (int)Cin, (int)Cout};
  return true;
}
}  // namespace

// y(B, Cout, Ho, Wo) = conv2d([x(B, Cin, H, W), coords if coord], w(Cout, (Cin+2coord)/groups, kh, kw)) + bias(Cout)
FT_API int ft_conv2d_fwd(int64_t B, int64_t Cin, int64_t H, int64_t W, int64_t Cout, int64_t kh, int64_t kw,
                         int64_t sh, int64_t sw, int64_t ph, int64_t pw, int64_t dh, int64_t dw, int64_t groups,
                         int coord, const float* x, const float* w, const float* bias, float* y) {
  Geo g;
  if (!conv_geom(B, Cin, H, W, Cout, kh, kw, sh, sw, ph, pw, dh, dw, groups, coord, g)) return FT_EINVAL;
  int64_t n = (int64_t)g.B * g.Cout * g.Ho * g.Wo;
  if (n == 0) return FT_OK;
  conv_fwd_k<<<grid(n), 256, 0, ftc::stream()>>>(g, x, w, bias, y);
  return ftc::launched("ft_conv2d_fwd");
}

// gx(B, Cin, H, W) (real channels), gw (like w), gb(Cout); each may be null; all overwritten
FT_API int ft_conv2d_bwd(int64_t B, int64_t Cin, int64_t H, int64_t W, int64_t Cout, int64_t kh, int64_t kw,
                         int64_t sh, int64_t sw, int64_t ph, int64_t pw, int64_t dh, int64_t dw, int64_t groups,
                         int coord, const float* x, const float* w, const float* gy, float* gx, float* gw, float* gb) {
  Geo g;
  if (!conv_geom(B, Cin, H, W, Cout, kh, kw, sh, sw, ph, pw, dh, dw, groups, coord, g)) return FT_EINVAL;
  cudaStream_t s = ftc::stream();
  int64_t nx = (int64_t)g.B * g.Cin * g.H * g.W, nw = (int64_t)g.Cout * g.cg * g.kh * g.kw;
  if (gx && nx) conv_bwd_x_k<<<grid(nx), 256, 0, s>>>(g, w, gy, gx);
  if (gw && nw) {
    if (nw > INT32_MAX) return FT_EUNSUP;
    conv_bwd_w_k<<<(unsigned)nw, 256, 0, s>>>(g, x, gy, gw);
  }
  if (gb) chan_sum_k<<<g.Cout, 256, 0, s>>>(g.B, g.Cout, (int64_t)g.Ho * g.Wo, gy, gb);
  return ftc::launched("ft_conv2d_bwd");
}

// y(B, Cout, Ho, Wo) = conv_transpose2d(x(B, Cin, H, W), w(Cin, Cout, kh, kw)) + bias(Cout)
FT_API int ft_conv_transpose2d_fwd(int64_t B, int64_t Cin, int64_t H, int64_t W, int64_t Cout, int64_t kh, int64_t kw,
                                   int64_t sh, int64_t sw, int64_t ph, int64_t pw, int64_t oph, int64_t opw, int64_t dh,
                                   int64_t dw, const float* x, const float* w, const float* bias, float* y) {
  Geo g;
  if (!convt_geom(B, Cin, H, W, Cout, kh, kw, sh, sw, ph, pw, oph, opw, dh, dw, g)) return FT_EINVAL;
  int64_t n = (int64_t)g.B * g.Cout * g.Ho * g.Wo;
  if (n == 0) return FT_OK;
  convt_fwd_k<<<grid(n), 256, 0, ftc::stream()>>>(g, x, w, bias, y);
  return ftc::launched("ft_conv_transpose2d_fwd");
}

// gx(B, Cin, H, W), gw(Cin, Cout, kh, kw), gb(Cout); each may be null; all overwritten
FT_API int ft_conv_transpose2d_bwd(int64_t B, int64_t Cin, int64_t H, int64_t W, int64_t Cout, int64_t kh, int64_t kw,
                                   int64_t sh, int64_t sw, int64_t ph, int64_t pw, int64_t oph, int64_t opw, int64_t dh,
                                   int64_t dw, const float* x, const float* w, const float* gy, float* gx, float* gw,
                                   float* gb) {
  Geo g;
  if (!convt_geom(B, Cin, H, W, Cout, kh, kw, sh, sw, ph, pw, oph, opw, dh, dw, g)) return FT_EINVAL;
  cudaStream_t s = ftc::stream();
  int64_t nx = (int64_t)g.B * g.Cin * g.H * g.W, nw = (int64_t)g.Cin * g.Cout * g.kh * g.kw;
  if (gx && nx) convt_bwd_x_k<<<grid(nx), 256, 0, s>>>(g, w, gy, gx);
  if (gw && nw) {
    if (nw > INT32_MAX) return FT_EUNSUP;
    convt_bwd_w_k<<<(unsigned)nw, 256, 0, s>>>(g, x, gy, gw);
  }
  if (gb) chan_sum_k<<<g.Cout, 256, 0, s>>>(g.B, g.Cout, (int64_t)g.Ho * g.Wo, gy, gb);
  return ftc::launched("ft_conv_transpose2d_bwd");
}
