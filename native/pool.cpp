// 2-D max and average pooling, forward and backward (PyTorch semantics, floor mode):
// x (B,C,H,W) -> y (B,C,Ho,Wo), Ho = (H + 2p - k) / s + 1. Max pooling pads with -inf, keeps the
// first maximum (NaN wins) and stores its flat h*W+w index per output for the backward scatter;
// average pooling divides by kh*kw (count_include_pad) or by the in-bounds count.
// Planes (b, c) are independent, so both passes run in parallel over them without races.
// Max pooling 2x2 / stride 2 / no padding (the FPN's) has an AVX-512 path with the same rule.
// Test: deno test --allow-ffi --allow-read --allow-env tests/ops/pool_test.ts
// Bench: deno bench --allow-ffi --allow-read --allow-env bench/pool_bench.ts
#include <algorithm>
#include <cmath>
#include <cstring>

#include "ft.h"
#include "simd.h"
#include "threadpool.h"

static bool pool_geom(int64_t H, int64_t W, int64_t kh, int64_t kw, int64_t sh, int64_t sw, int64_t ph,
                      int64_t pw, int64_t Ho, int64_t Wo) {
  if (H < 1 || W < 1 || kh < 1 || kw < 1 || sh < 1 || sw < 1 || ph < 0 || pw < 0) return false;
  if (2 * ph > kh || 2 * pw > kw) return false;  // PyTorch: padding at most half the kernel
  return Ho == (H + 2 * ph - kh) / sh + 1 && Wo == (W + 2 * pw - kw) / sw + 1 && Ho >= 1 && Wo >= 1;
}

// The common 2x2 window, stride 2, no padding, on one plane, AVX-512: 16 outputs per step. Each
// row pair's 32 inputs are split into even / odd columns, then the four candidates are visited
// in the scalar loop's order (row 0 left, right, row 1 left, right): a later one replaces the
// running maximum when it is larger, or when it is NaN and the maximum is not yet NaN. That is
// the generic loop's rule (first maximum wins; the first NaN wins and stops the search).
// A trailing odd row / column is never read (floor mode), nor is anything past 2*Wo.
FT_TARGET_AVX512 static void maxpool_2x2s2_plane(const float* xp, float* yp, int32_t* ip, int64_t W,
                                                 int64_t Ho, int64_t Wo) {
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i odd = _mm512_add_epi32(even, _mm512_set1_epi32(1));
  const __m512i offW = _mm512_set1_epi32((int32_t)W), offW1 = _mm512_set1_epi32((int32_t)W + 1);
  const __m512i one = _mm512_set1_epi32(1);
  for (int64_t oy = 0; oy < Ho; oy++) {
    const float* r0 = xp + 2 * oy * W;
    const float* r1 = r0 + W;
    for (int64_t ox = 0; ox < Wo; ox += 16) {
      const int64_t n = std::min<int64_t>(16, Wo - ox);  // outputs this step, 2n inputs per row
      const __mmask16 mlo = ft::tail_mask(2 * n), mhi = 2 * n > 16 ? ft::tail_mask(2 * n - 16) : 0;
      const __mmask16 mo = ft::tail_mask(n);
      const float* a = r0 + 2 * ox;
      const float* b = r1 + 2 * ox;
      const __m512 alo = _mm512_maskz_loadu_ps(mlo, a), ahi = _mm512_maskz_loadu_ps(mhi, a + 16);
      const __m512 blo = _mm512_maskz_loadu_ps(mlo, b), bhi = _mm512_maskz_loadu_ps(mhi, b + 16);
      __m512 m = _mm512_permutex2var_ps(alo, even, ahi);
      const __m512 cand[3] = {_mm512_permutex2var_ps(alo, odd, ahi), _mm512_permutex2var_ps(blo, even, bhi),
                              _mm512_permutex2var_ps(blo, odd, bhi)};
      const __m512i offs[3] = {one, offW, offW1};
      __m512i off = _mm512_setzero_si512();
      for (int c = 0; c < 3; c++) {
        const __m512 v = cand[c];
        const __mmask16 take = _mm512_cmp_ps_mask(v, m, _CMP_GT_OQ) |
                               (_mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q) & _mm512_cmp_ps_mask(m, m, _CMP_ORD_Q));
        m = _mm512_mask_mov_ps(m, take, v);
        if (ip) off = _mm512_mask_mov_epi32(off, take, offs[c]);
      }
      _mm512_mask_storeu_ps(yp + oy * Wo + ox, mo, m);
      if (ip) {
        // flat index of the window's top-left input: 2*oy*W + 2*(ox + lane)
        const __m512i base = _mm512_add_epi32(_mm512_set1_epi32((int32_t)(2 * oy * W + 2 * ox)), even);
        _mm512_mask_storeu_epi32(ip + oy * Wo + ox, mo, _mm512_add_epi32(base, off));
      }
    }
  }
}

// y(B*C, Ho, Wo) = max over windows of x(B*C, H, W); idx(B*C, Ho, Wo) = argmax as iy*W + ix
FT_API int ft_maxpool2d_fwd(int64_t BC, int64_t H, int64_t W, int64_t kh, int64_t kw, int64_t sh,
                            int64_t sw, int64_t ph, int64_t pw, int64_t Ho, int64_t Wo,
                            const float* x,  // (B*C, H, W)
                            float* y,        // (B*C, Ho, Wo)
                            int32_t* idx) {  // (B*C, Ho, Wo) or null
  if (BC < 0 || !pool_geom(H, W, kh, kw, sh, sw, ph, pw, Ho, Wo)) return FT_EINVAL;
  if (kh == 2 && kw == 2 && sh == 2 && sw == 2 && ph == 0 && pw == 0 && ft::use_avx512()) {
    // a few planes per task at least: tiny planes (the 28x28 stage) cost less than a wake-up
    ft::parallel_for(
        BC,
        [&](int64_t p0, int64_t p1, int) {
          for (int64_t p = p0; p < p1; p++)
            maxpool_2x2s2_plane(x + p * H * W, y + p * Ho * Wo, idx ? idx + p * Ho * Wo : nullptr, W, Ho, Wo);
        },
        std::max<int64_t>(1, 4096 / (Ho * Wo)));
    return FT_OK;
  }
  ft::parallel_for(BC, [&](int64_t p0, int64_t p1, int) {
    for (int64_t p = p0; p < p1; p++) {
      const float* xp = x + p * H * W;
      float* yp = y + p * Ho * Wo;
      int32_t* ip = idx ? idx + p * Ho * Wo : nullptr;
      for (int64_t oy = 0; oy < Ho; oy++) {
        const int64_t y0 = std::max<int64_t>(0, oy * sh - ph), y1 = std::min(H, oy * sh - ph + kh);
        for (int64_t ox = 0; ox < Wo; ox++) {
          const int64_t x0 = std::max<int64_t>(0, ox * sw - pw), x1 = std::min(W, ox * sw - pw + kw);
          float m = -INFINITY;
          int64_t a = y0 * W + x0;
          for (int64_t iy = y0; iy < y1; iy++)
            for (int64_t ix = x0; ix < x1; ix++) {
              const float v = xp[iy * W + ix];
              if (v > m || std::isnan(v)) {
                m = v;
                a = iy * W + ix;
                if (std::isnan(v)) goto done;
              }
            }
        done:
          yp[oy * Wo + ox] = m;
          if (ip) ip[oy * Wo + ox] = (int32_t)a;
        }
      }
    }
  });
  return FT_OK;
}

// gx(B*C, H, W) = scatter-add of gy(B*C, Ho, Wo) at idx(B*C, Ho, Wo)
FT_API int ft_maxpool2d_bwd(int64_t BC, int64_t H, int64_t W, int64_t Ho, int64_t Wo,
                            const float* gy,       // (B*C, Ho, Wo)
                            const int32_t* idx,    // (B*C, Ho, Wo)
                            float* gx) {           // (B*C, H, W)
  if (BC < 0 || H < 1 || W < 1 || Ho < 1 || Wo < 1) return FT_EINVAL;
  int bad = 0;
  ft::parallel_for(BC, [&](int64_t p0, int64_t p1, int) {
    for (int64_t p = p0; p < p1; p++) {
      float* gp = gx + p * H * W;
      std::memset(gp, 0, (size_t)(H * W) * 4);
      const float* g = gy + p * Ho * Wo;
      const int32_t* ip = idx + p * Ho * Wo;
      for (int64_t i = 0; i < Ho * Wo; i++) {
        const int64_t a = ip[i];
        if (a < 0 || a >= H * W) {
          bad = 1;
          continue;
        }
        gp[a] += g[i];
      }
    }
  });
  return bad ? FT_EINVAL : FT_OK;
}

// y(B*C, Ho, Wo) = window mean of x(B*C, H, W); countPad: divide by kh*kw, else by in-bounds count
FT_API int ft_avgpool2d_fwd(int64_t BC, int64_t H, int64_t W, int64_t kh, int64_t kw, int64_t sh,
                            int64_t sw, int64_t ph, int64_t pw, int64_t Ho, int64_t Wo, int countPad,
                            const float* x,  // (B*C, H, W)
                            float* y) {      // (B*C, Ho, Wo)
  if (BC < 0 || !pool_geom(H, W, kh, kw, sh, sw, ph, pw, Ho, Wo)) return FT_EINVAL;
  ft::parallel_for(BC, [&](int64_t p0, int64_t p1, int) {
    for (int64_t p = p0; p < p1; p++) {
      const float* xp = x + p * H * W;
      float* yp = y + p * Ho * Wo;
      for (int64_t oy = 0; oy < Ho; oy++) {
        const int64_t y0 = std::max<int64_t>(0, oy * sh - ph), y1 = std::min(H, oy * sh - ph + kh);
        for (int64_t ox = 0; ox < Wo; ox++) {
          const int64_t x0 = std::max<int64_t>(0, ox * sw - pw), x1 = std::min(W, ox * sw - pw + kw);
          float s = 0.f;
          for (int64_t iy = y0; iy < y1; iy++)
            for (int64_t ix = x0; ix < x1; ix++) s += xp[iy * W + ix];
          const int64_t cnt = countPad ? kh * kw : (y1 - y0) * (x1 - x0);
          yp[oy * Wo + ox] = s / (float)cnt;
        }
      }
    }
  });
  return FT_OK;
}

// gx(B*C, H, W) = adjoint of the window mean applied to gy(B*C, Ho, Wo)
FT_API int ft_avgpool2d_bwd(int64_t BC, int64_t H, int64_t W, int64_t kh, int64_t kw, int64_t sh,
                            int64_t sw, int64_t ph, int64_t pw, int64_t Ho, int64_t Wo, int countPad,
                            const float* gy,  // (B*C, Ho, Wo)
                            float* gx) {      // (B*C, H, W)
  if (BC < 0 || !pool_geom(H, W, kh, kw, sh, sw, ph, pw, Ho, Wo)) return FT_EINVAL;
  ft::parallel_for(BC, [&](int64_t p0, int64_t p1, int) {
    for (int64_t p = p0; p < p1; p++) {
      float* gp = gx + p * H * W;
      std::memset(gp, 0, (size_t)(H * W) * 4);
      const float* g = gy + p * Ho * Wo;
      for (int64_t oy = 0; oy < Ho; oy++) {
        const int64_t y0 = std::max<int64_t>(0, oy * sh - ph), y1 = std::min(H, oy * sh - ph + kh);
        for (int64_t ox = 0; ox < Wo; ox++) {
          const int64_t x0 = std::max<int64_t>(0, ox * sw - pw), x1 = std::min(W, ox * sw - pw + kw);
          const int64_t cnt = countPad ? kh * kw : (y1 - y0) * (x1 - x0);
          const float v = g[oy * Wo + ox] / (float)cnt;
          for (int64_t iy = y0; iy < y1; iy++)
            for (int64_t ix = x0; ix < x1; ix++) gp[iy * W + ix] += v;
        }
      }
    }
  });
  return FT_OK;
}
