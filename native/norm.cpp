// Fused LayerNorm and RMSNorm (T5: no mean subtraction, no bias) over the last axis of x
// viewed as (rows, D). Forward saves mean/rstd per row; backward gives gx, gw, gb in one pass
// over the rows (weight/bias gradients from per-thread partial sums, then one reduction).
//   layer: y = (x - mean) * rstd * w + b,  rstd = 1/sqrt(var + eps)   (biased variance)
//   rms:   y = x * rstd * w,               rstd = 1/sqrt(mean(x^2) + eps)
// AVX-512 (runtime-detected; FT_NO_AVX512=1 forces the portable path) with a scalar fallback.
// Test: deno test --allow-ffi --allow-read --allow-env tests/ops/norm_test.ts
// Bench: deno bench --allow-ffi --allow-read --allow-env bench/norm_bench.ts
#include <immintrin.h>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <new>
#include <vector>

#include "ft.h"
#include "threadpool.h"

#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"

#define AVX512 __attribute__((target("avx512f,fma")))

namespace {

bool detect_avx512() {
  const char* off = std::getenv("FT_NO_AVX512");
  if (off && off[0] && off[0] != '0') return false;
  return __builtin_cpu_supports("avx512f");
}
const bool kUse512 = detect_avx512();

inline __mmask16 tail_mask(int64_t n) { return n >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << n) - 1); }

// statistics of one row x(D): mean (0 for rms) and rstd
AVX512 void stats_512(int64_t D, const float* x, int rms, float eps, float* mean, float* rstd) {
  float mu = 0.f;
  if (!rms) {
    __m512 s = _mm512_setzero_ps();
    for (int64_t j = 0; j < D; j += 16) s = _mm512_add_ps(s, _mm512_maskz_loadu_ps(tail_mask(D - j), x + j));
    mu = _mm512_reduce_add_ps(s) / (float)D;
  }
  __m512 vm = _mm512_set1_ps(mu), s2 = _mm512_setzero_ps();
  for (int64_t j = 0; j < D; j += 16) {
    __mmask16 k = tail_mask(D - j);
    __m512 d = _mm512_maskz_sub_ps(k, _mm512_maskz_loadu_ps(k, x + j), vm);
    s2 = _mm512_fmadd_ps(d, d, s2);
  }
  *mean = mu;
  *rstd = 1.f / std::sqrt(_mm512_reduce_add_ps(s2) / (float)D + eps);
}

void stats_ref(int64_t D, const float* x, int rms, float eps, float* mean, float* rstd) {
  float mu = 0.f, s2 = 0.f;
  if (!rms) {
    for (int64_t j = 0; j < D; j++) mu += x[j];
    mu /= (float)D;
  }
  for (int64_t j = 0; j < D; j++) s2 += (x[j] - mu) * (x[j] - mu);
  *mean = mu;
  *rstd = 1.f / std::sqrt(s2 / (float)D + eps);
}

// y(D) = (x(D) - mu) * rs * w(D) + b(D); w, b may be null
AVX512 void apply_512(int64_t D, const float* x, const float* w, const float* b, float mu, float rs, float* y) {
  __m512 vm = _mm512_set1_ps(mu), vr = _mm512_set1_ps(rs);
  for (int64_t j = 0; j < D; j += 16) {
    __mmask16 k = tail_mask(D - j);
    __m512 h = _mm512_mul_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, x + j), vm), vr);
    if (w) h = _mm512_mul_ps(h, _mm512_maskz_loadu_ps(k, w + j));
    if (b) h = _mm512_add_ps(h, _mm512_maskz_loadu_ps(k, b + j));
    _mm512_mask_storeu_ps(y + j, k, h);
  }
}

void apply_ref(int64_t D, const float* x, const float* w, const float* b, float mu, float rs, float* y) {
  for (int64_t j = 0; j < D; j++) {
    float h = (x[j] - mu) * rs;
    if (w) h *= w[j];
    if (b) h += b[j];
    y[j] = h;
  }
}

// one row of the backward: gx(D) (may be null); pw(D) += g * xhat, pb(D) += g (may be null)
AVX512 void bwd_512(int64_t D, const float* x, const float* w, const float* g, float mu, float rs, int rms,
                    float* gx, float* pw, float* pb) {
  __m512 vm = _mm512_set1_ps(mu), vr = _mm512_set1_ps(rs);
  __m512 sa = _mm512_setzero_ps(), sb = _mm512_setzero_ps();
  for (int64_t j = 0; j < D; j += 16) {
    __mmask16 k = tail_mask(D - j);
    __m512 gv = _mm512_maskz_loadu_ps(k, g + j);
    __m512 xh = _mm512_maskz_mul_ps(k, _mm512_sub_ps(_mm512_maskz_loadu_ps(k, x + j), vm), vr);
    if (pw) _mm512_mask_storeu_ps(pw + j, k, _mm512_fmadd_ps(gv, xh, _mm512_maskz_loadu_ps(k, pw + j)));
    if (pb) _mm512_mask_storeu_ps(pb + j, k, _mm512_add_ps(gv, _mm512_maskz_loadu_ps(k, pb + j)));
    __m512 gh = w ? _mm512_mul_ps(gv, _mm512_maskz_loadu_ps(k, w + j)) : gv;
    sa = _mm512_add_ps(sa, gh);
    sb = _mm512_fmadd_ps(gh, xh, sb);
  }
  if (!gx) return;
  float invD = 1.f / (float)D;
  __m512 a = _mm512_set1_ps(rms ? 0.f : _mm512_reduce_add_ps(sa) * invD);
  __m512 bb = _mm512_set1_ps(_mm512_reduce_add_ps(sb) * invD);
  for (int64_t j = 0; j < D; j += 16) {
    __mmask16 k = tail_mask(D - j);
    __m512 gv = _mm512_maskz_loadu_ps(k, g + j);
    __m512 xh = _mm512_mul_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, x + j), vm), vr);
    __m512 gh = w ? _mm512_mul_ps(gv, _mm512_maskz_loadu_ps(k, w + j)) : gv;
    __m512 r = _mm512_fnmadd_ps(xh, bb, _mm512_sub_ps(gh, a));
    _mm512_mask_storeu_ps(gx + j, k, _mm512_mul_ps(r, vr));
  }
}

void bwd_ref(int64_t D, const float* x, const float* w, const float* g, float mu, float rs, int rms, float* gx,
             float* pw, float* pb) {
  float sa = 0.f, sb = 0.f;
  for (int64_t j = 0; j < D; j++) {
    float xh = (x[j] - mu) * rs, gh = g[j] * (w ? w[j] : 1.f);
    if (pw) pw[j] += g[j] * xh;
    if (pb) pb[j] += g[j];
    sa += gh;
    sb += gh * xh;
  }
  if (!gx) return;
  float a = rms ? 0.f : sa / (float)D, bb = sb / (float)D;
  for (int64_t j = 0; j < D; j++) {
    float xh = (x[j] - mu) * rs, gh = g[j] * (w ? w[j] : 1.f);
    gx[j] = (gh - a - xh * bb) * rs;
  }
}

}  // namespace

// y(rows, D) = norm(x(rows, D)) * w + b; rms = 1 for RMSNorm (mean is 0, no bias).
FT_API int ft_norm_fwd(int64_t rows, int64_t D, int rms, float eps,
                       const float* x,     // (rows, D)
                       const float* w,     // (D) or null
                       const float* b,     // (D) or null
                       float* y,           // (rows, D)
                       float* mean,        // (rows) or null
                       float* rstd) {      // (rows) or null
  if (rows < 0 || D < 0 || !(eps >= 0.f)) return FT_EINVAL;
  if (rows == 0 || D == 0) return FT_OK;
  int64_t grain = D >= 4096 ? 1 : 4096 / D + 1;
  ft::parallel_for(
      rows,
      [&](int64_t r0, int64_t r1, int) {
        for (int64_t r = r0; r < r1; r++) {
          float mu, rs;
          const float* xr = x + r * D;
          if (kUse512) {
            stats_512(D, xr, rms, eps, &mu, &rs);
            apply_512(D, xr, w, b, mu, rs, y + r * D);
          } else {
            stats_ref(D, xr, rms, eps, &mu, &rs);
            apply_ref(D, xr, w, b, mu, rs, y + r * D);
          }
          if (mean) mean[r] = mu;
          if (rstd) rstd[r] = rs;
        }
      },
      grain);
  return FT_OK;
}

// Gradients of ft_norm_fwd given g = dL/dy. Any of gx, gw, gb may be null (not wanted).
FT_API int ft_norm_bwd(int64_t rows, int64_t D, int rms,
                       const float* x,      // (rows, D)
                       const float* w,      // (D) or null
                       const float* mean,   // (rows)
                       const float* rstd,   // (rows)
                       const float* g,      // (rows, D)
                       float* gx,           // (rows, D) or null
                       float* gw,           // (D) or null
                       float* gb) {         // (D) or null
  if (rows < 0 || D < 0) return FT_EINVAL;
  if (D == 0) return FT_OK;
  int nt = ft::num_threads();
  std::vector<float> part;
  try {
    part.assign((size_t)nt * 2 * D, 0.f);
  } catch (const std::bad_alloc&) {
    return FT_ENOMEM;
  }
  int64_t grain = D >= 4096 ? 1 : 4096 / D + 1;
  ft::parallel_for(
      rows,
      [&](int64_t r0, int64_t r1, int tid) {
        float* pw = gw ? part.data() + (size_t)tid * 2 * D : nullptr;
        float* pb = gb ? part.data() + (size_t)tid * 2 * D + D : nullptr;
        for (int64_t r = r0; r < r1; r++) {
          float* gxr = gx ? gx + r * D : nullptr;
          if (kUse512) bwd_512(D, x + r * D, w, g + r * D, mean[r], rstd[r], rms, gxr, pw, pb);
          else bwd_ref(D, x + r * D, w, g + r * D, mean[r], rstd[r], rms, gxr, pw, pb);
        }
      },
      grain);
  for (int64_t j = 0; j < D; j++) {
    float sw = 0.f, sb = 0.f;
    for (int t = 0; t < nt; t++) {
      sw += part[(size_t)t * 2 * D + j];
      sb += part[(size_t)t * 2 * D + D + j];
    }
    if (gw) gw[j] = sw;
    if (gb) gb[j] = sb;
  }
  return FT_OK;
}
