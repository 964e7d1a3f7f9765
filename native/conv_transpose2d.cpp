// conv_transpose2d, forward and backward (PyTorch layout): y(B,Cout,Ho,Wo) from x(B,Cin,H,W) and
// w(Cin,Cout,kh,kw), Ho = (H-1)*s - 2p + d*(kh-1) + outputPadding + 1. It is conv2d's
// backward-data: y_b = col2im(w^T x_b) + b; backward is conv2d's forward on dy:
// dx_b = w im2col(dy_b), dw += x_b im2col(dy_b)^T, db = sum dy. Groups = 1.
// Kernels (im2col, col2im, small-A GEMM) are shared with native/conv2d.cpp.
// Test: deno test --allow-ffi --allow-read --allow-env tests/ops/conv_transpose2d_test.ts
// Bench: deno bench --allow-ffi --allow-read --allow-env bench/conv_transpose2d_bench.ts
#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "ft.h"
#include "threadpool.h"

namespace ft {
struct ConvGeom {
  int64_t H, W, kh, kw, sh, sw, ph, pw, dh, dw, Ho, Wo;
};
// grow-only aligned scratch (identical to conv2d.cpp's)
struct Scratch {
  float* p = nullptr;
  size_t cap = 0;
  float* get(size_t n) {
    if (n > cap) {
      std::free(p);
      size_t bytes = ((n * 4 + 63) / 64) * 64;
      p = (float*)std::aligned_alloc(64, bytes);
      cap = p ? n : 0;
    }
    return p;
  }
  ~Scratch() { std::free(p); }
};
void conv_gemm_ab(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* B,
                  int64_t ldb, float* C, int64_t ldc, const float* bias, bool acc);
void conv_gemm_abt(int64_t M, int64_t P, int64_t N, const float* A, int64_t lda, const float* B,
                   int64_t ldb, float* C, int64_t ldc);
void conv_im2col(const float* x, int64_t Creal, const ConvGeom& g, int64_t c0, int64_t cg, int64_t oy0,
                 int64_t oy1, float* col);
void conv_col2im(const float* col, const ConvGeom& g, int64_t cg, int64_t oy0, int64_t oy1, float* dx);
int64_t conv_tile_rows(int64_t K, int64_t Ho, int64_t Wo);
float conv_row_sum(const float* x, int64_t n);
}  // namespace ft

// The conv2d geometry that maps y (as the conv input, Ho x Wo) back onto x (H x W).
static bool convt_geom(int64_t H, int64_t W, int64_t kh, int64_t kw, int64_t sh, int64_t sw, int64_t ph,
                       int64_t pw, int64_t oph, int64_t opw, int64_t dh, int64_t dw, ft::ConvGeom& g) {
  if (H < 1 || W < 1 || kh < 1 || kw < 1 || sh < 1 || sw < 1 || ph < 0 || pw < 0 || dh < 1 || dw < 1)
    return false;
  if (oph < 0 || opw < 0 || (oph >= sh && oph >= dh) || (opw >= sw && opw >= dw)) return false;
  const int64_t Ho = (H - 1) * sh - 2 * ph + dh * (kh - 1) + oph + 1;
  const int64_t Wo = (W - 1) * sw - 2 * pw + dw * (kw - 1) + opw + 1;
  if (Ho < 1 || Wo < 1) return false;
  g = {Ho, Wo, kh, kw, sh, sw, ph, pw, dh, dw, H, W};  // conv input = y, conv output = x
  return true;
}

// y = conv_transpose2d(x, w) + bias
FT_API int ft_conv_transpose2d_fwd(int64_t B, int64_t Cin, int64_t H, int64_t W, int64_t Cout,
                                   int64_t kh, int64_t kw, int64_t sh, int64_t sw, int64_t ph,
                                   int64_t pw, int64_t oph, int64_t opw, int64_t dh, int64_t dw,
                                   const float* x,     // (B, Cin, H, W)
                                   const float* w,     // (Cin, Cout, kh, kw)
                                   const float* bias,  // (Cout) or null
                                   float* y) {         // (B, Cout, Ho, Wo)
  ft::ConvGeom g;
  if (B < 0 || Cin < 1 || Cout < 1) return FT_EINVAL;
  if (!convt_geom(H, W, kh, kw, sh, sw, ph, pw, oph, opw, dh, dw, g)) return FT_EINVAL;
  if (B == 0) return FT_OK;
  const int64_t Kt = Cout * kh * kw, HW = H * W, HWo = g.H * g.W;
  // A operand of col = w^T x_b: (Kt, Cin)
  static ft::Scratch wt;
  float* wT = wt.get((size_t)Kt * Cin);
  if (!wT) return FT_ENOMEM;
  for (int64_t c = 0; c < Cin; c++)
    for (int64_t k = 0; k < Kt; k++) wT[k * Cin + c] = w[c * Kt + k];
  const int64_t R = ft::conv_tile_rows(Kt, H, W);  // input rows per tile
  const int64_t tiles = (H + R - 1) / R;
  ft::parallel_for(B, [&](int64_t b0, int64_t b1, int) {
    static thread_local ft::Scratch colbuf;
    for (int64_t b = b0; b < b1; b++) {
      float* yb = y + b * Cout * HWo;
      for (int64_t c = 0; c < Cout; c++) {
        float v = bias ? bias[c] : 0.f;
        std::fill(yb + c * HWo, yb + (c + 1) * HWo, v);
      }
      for (int64_t tile = 0; tile < tiles; tile++) {
        const int64_t iy0 = tile * R, iy1 = std::min(H, iy0 + R), n = (iy1 - iy0) * W;
        float* col = colbuf.get((size_t)Kt * n);
        ft::conv_gemm_ab(Kt, n, Cin, wT, Cin, x + b * Cin * HW + iy0 * W, HW, col, n, nullptr, false);
        ft::conv_col2im(col, g, Cout, iy0, iy1, yb);
      }
    }
  });
  return FT_OK;
}

// gx = dL/dx, gw = dL/dw, gb = dL/db (each may be null; all overwritten)
FT_API int ft_conv_transpose2d_bwd(int64_t B, int64_t Cin, int64_t H, int64_t W, int64_t Cout,
                                   int64_t kh, int64_t kw, int64_t sh, int64_t sw, int64_t ph,
                                   int64_t pw, int64_t oph, int64_t opw, int64_t dh, int64_t dw,
                                   const float* x,   // (B, Cin, H, W)
                                   const float* w,   // (Cin, Cout, kh, kw)
                                   const float* gy,  // (B, Cout, Ho, Wo)
                                   float* gx,        // (B, Cin, H, W) or null
                                   float* gw,        // (Cin, Cout, kh, kw) or null
                                   float* gb) {      // (Cout) or null
  ft::ConvGeom g;
  if (B < 0 || Cin < 1 || Cout < 1) return FT_EINVAL;
  if (!convt_geom(H, W, kh, kw, sh, sw, ph, pw, oph, opw, dh, dw, g)) return FT_EINVAL;
  const int64_t Kt = Cout * kh * kw, HW = H * W, HWo = g.H * g.W;
  const int nt = ft::num_threads();
  const int64_t wsize = Cin * Kt, psz = wsize + Cout;
  static ft::Scratch partial;
  float* part = nullptr;
  if (gw || gb) {
    part = partial.get((size_t)nt * psz);
    if (!part) return FT_ENOMEM;
    std::memset(part, 0, (size_t)nt * psz * 4);
  }
  const int64_t R = ft::conv_tile_rows(Kt, H, W);
  const int64_t tiles = (H + R - 1) / R;
  ft::parallel_for(B, [&](int64_t b0, int64_t b1, int tid) {
    static thread_local ft::Scratch colbuf;
    float* pw_ = part ? part + tid * psz : nullptr;
    for (int64_t b = b0; b < b1; b++) {
      const float* gyb = gy + b * Cout * HWo;
      if (gb)
        for (int64_t c = 0; c < Cout; c++) pw_[wsize + c] += ft::conv_row_sum(gyb + c * HWo, HWo);
      if (!gx && !gw) continue;
      for (int64_t tile = 0; tile < tiles; tile++) {
        const int64_t iy0 = tile * R, iy1 = std::min(H, iy0 + R), n = (iy1 - iy0) * W;
        float* col = colbuf.get((size_t)Kt * n);
        ft::conv_im2col(gyb, Cout, g, 0, Cout, iy0, iy1, col);
        if (gx) ft::conv_gemm_ab(Cin, n, Kt, w, Kt, col, n, gx + b * Cin * HW + iy0 * W, HW, nullptr, false);
        if (gw) ft::conv_gemm_abt(Cin, Kt, n, x + b * Cin * HW + iy0 * W, HW, col, n, pw_, Kt);
      }
    }
  });
  if (gw) {
    std::memcpy(gw, part, (size_t)wsize * 4);
    for (int t = 1; t < nt; t++)
      for (int64_t i = 0; i < wsize; i++) gw[i] += part[t * psz + i];
  }
  if (gb)
    for (int64_t c = 0; c < Cout; c++) {
      float s = 0.f;
      for (int t = 0; t < nt; t++) s += part[t * psz + wsize + c];
      gb[c] = s;
    }
  return FT_OK;
}
