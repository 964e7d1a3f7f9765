// Fused LayerNorm and RMSNorm (T5: no mean subtraction, no bias) over the last axis of x
// viewed as (rows, D). Forward saves mean/rstd per row; backward gives gx, gw, gb in one pass
// over the rows (weight/bias gradients from per-thread partial sums, then one reduction).
//   layer: y = (x - mean) * rstd * w + b,  rstd = 1/sqrt(var + eps)   (biased variance)
//   rms:   y = x * rstd * w,               rstd = 1/sqrt(mean(x^2) + eps)
// AVX-512 (runtime-detected; FT_NO_AVX512=1 forces the portable path) with a scalar fallback.
// Test: deno test --allow-ffi --allow-read --allow-env tests/ops/norm_test.ts
// Bench: deno bench --allow-ffi --allow-read --allow-env bench/norm_bench.ts
#include <immintrin.h>

#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <new>
#include <utility>
#include <vector>

#include "ft.h"
#include "simd.h"
#include "threadpool.h"

#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"


namespace {
using ft::run_chunked;
using ft::tail_mask;

// asked per call (not cached at load) so ft_cpu_set_isa reaches this kernel too
inline bool use512() { return ft::use_avx512(); }


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

// Rows of D <= 256 (NV = ceil(D/16) vectors) stay in registers: one load of x per element for
// the statistics (exact two-pass variance from registers) and the affine output.
template <int NV>
AVX512 void fwd_rows_reg(int64_t r0, int64_t r1, int64_t D, const float* x, const float* w, const float* b,
                         int rms, float eps, float* y, float* mean, float* rstd) {
  const __mmask16 kt = tail_mask(D - 16 * (NV - 1));
  const float invD = 1.f / (float)D;
  for (int64_t r = r0; r < r1; r++) {
    const float* xr = x + r * D;
    float* yr = y + r * D;
    __m512 v[NV];
#pragma GCC unroll 16
    for (int i = 0; i < NV; i++) v[i] = i < NV - 1 ? _mm512_loadu_ps(xr + 16 * i) : _mm512_maskz_loadu_ps(kt, xr + 16 * i);
    float mu = 0.f;
    if (!rms) {
      __m512 s0 = v[0], s1 = NV > 1 ? v[1] : _mm512_setzero_ps();
#pragma GCC unroll 16
      for (int i = 2; i < NV; i++) {
        if (i & 1) s1 = _mm512_add_ps(s1, v[i]);
        else s0 = _mm512_add_ps(s0, v[i]);
      }
      mu = _mm512_reduce_add_ps(_mm512_add_ps(s0, s1)) * invD;
    }
    __m512 vm = _mm512_set1_ps(mu), q0 = _mm512_setzero_ps(), q1 = _mm512_setzero_ps();
#pragma GCC unroll 16
    for (int i = 0; i < NV; i++) {
      v[i] = i < NV - 1 ? _mm512_sub_ps(v[i], vm) : _mm512_maskz_sub_ps(kt, v[i], vm);
      if (i & 1) q1 = _mm512_fmadd_ps(v[i], v[i], q1);
      else q0 = _mm512_fmadd_ps(v[i], v[i], q0);
    }
    float rs = 1.f / std::sqrt(_mm512_reduce_add_ps(_mm512_add_ps(q0, q1)) * invD + eps);
    __m512 vr = _mm512_set1_ps(rs);
#pragma GCC unroll 16
    for (int i = 0; i < NV; i++) {
      __mmask16 k = i < NV - 1 ? (__mmask16)0xFFFF : kt;
      __m512 h = _mm512_mul_ps(v[i], vr);
      if (w) h = _mm512_mul_ps(h, _mm512_maskz_loadu_ps(k, w + 16 * i));
      if (b) h = _mm512_add_ps(h, _mm512_maskz_loadu_ps(k, b + 16 * i));
      _mm512_mask_storeu_ps(yr + 16 * i, k, h);
    }
    if (mean) mean[r] = mu;
    if (rstd) rstd[r] = rs;
  }
}

// Backward rows for D <= 256 with x̂ kept in registers (x read once per row, g twice from L1);
// pw/pb (this thread's partial weight/bias gradients, L1-resident) as in bwd_512.
template <int NV>
AVX512 void bwd_rows_reg(int64_t r0, int64_t r1, int64_t D, const float* x, const float* w, const float* mean,
                         const float* rstd, const float* g, int rms, float* gx, float* pw, float* pb) {
  const __mmask16 kt = tail_mask(D - 16 * (NV - 1));
  const float invD = 1.f / (float)D;
  for (int64_t r = r0; r < r1; r++) {
    const float* xr = x + r * D;
    const float* gr = g + r * D;
    __m512 vm = _mm512_set1_ps(mean[r]), vr = _mm512_set1_ps(rstd[r]);
    __m512 xh[NV];
    __m512 sa0 = _mm512_setzero_ps(), sa1 = sa0, sb0 = sa0, sb1 = sa0;
#pragma GCC unroll 16
    for (int i = 0; i < NV; i++) {
      __mmask16 k = i < NV - 1 ? (__mmask16)0xFFFF : kt;
      __m512 gv = _mm512_maskz_loadu_ps(k, gr + 16 * i);
      xh[i] = _mm512_maskz_mul_ps(k, _mm512_sub_ps(_mm512_maskz_loadu_ps(k, xr + 16 * i), vm), vr);
      if (pw) _mm512_mask_storeu_ps(pw + 16 * i, k, _mm512_fmadd_ps(gv, xh[i], _mm512_maskz_loadu_ps(k, pw + 16 * i)));
      if (pb) _mm512_mask_storeu_ps(pb + 16 * i, k, _mm512_add_ps(gv, _mm512_maskz_loadu_ps(k, pb + 16 * i)));
      __m512 gh = w ? _mm512_mul_ps(gv, _mm512_maskz_loadu_ps(k, w + 16 * i)) : gv;
      if (i & 1) {
        sa1 = _mm512_add_ps(sa1, gh);
        sb1 = _mm512_fmadd_ps(gh, xh[i], sb1);
      } else {
        sa0 = _mm512_add_ps(sa0, gh);
        sb0 = _mm512_fmadd_ps(gh, xh[i], sb0);
      }
    }
    if (!gx) continue;
    __m512 a = _mm512_set1_ps(rms ? 0.f : _mm512_reduce_add_ps(_mm512_add_ps(sa0, sa1)) * invD);
    __m512 bb = _mm512_set1_ps(_mm512_reduce_add_ps(_mm512_add_ps(sb0, sb1)) * invD);
    float* gxr = gx + r * D;
#pragma GCC unroll 16
    for (int i = 0; i < NV; i++) {
      __mmask16 k = i < NV - 1 ? (__mmask16)0xFFFF : kt;
      __m512 gv = _mm512_maskz_loadu_ps(k, gr + 16 * i);
      __m512 gh = w ? _mm512_mul_ps(gv, _mm512_maskz_loadu_ps(k, w + 16 * i)) : gv;
      __m512 q = _mm512_fnmadd_ps(xh[i], bb, _mm512_sub_ps(gh, a));
      _mm512_mask_storeu_ps(gxr + 16 * i, k, _mm512_mul_ps(q, vr));
    }
  }
}

typedef void (*bwd_rows_fn)(int64_t, int64_t, int64_t, const float*, const float*, const float*, const float*,
                            const float*, int, float*, float*, float*);
template <int... I>
constexpr bwd_rows_fn bwd_table_at(int nv, std::integer_sequence<int, I...>) {
  constexpr bwd_rows_fn t[] = {bwd_rows_reg<I + 1>...};
  return t[nv - 1];
}
bwd_rows_fn bwd_rows_for(int64_t D) {
  if (D < 1 || D > 256) return nullptr;
  return bwd_table_at((int)((D + 15) / 16), std::make_integer_sequence<int, 16>{});
}

typedef void (*fwd_rows_fn)(int64_t, int64_t, int64_t, const float*, const float*, const float*, int, float, float*,
                            float*, float*);
template <int... I>
constexpr fwd_rows_fn fwd_table_at(int nv, std::integer_sequence<int, I...>) {
  constexpr fwd_rows_fn t[] = {fwd_rows_reg<I + 1>...};
  return t[nv - 1];
}
fwd_rows_fn fwd_rows_for(int64_t D) {
  if (D < 1 || D > 256) return nullptr;
  return fwd_table_at((int)((D + 15) / 16), std::make_integer_sequence<int, 16>{});
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
  fwd_rows_fn reg = use512() ? fwd_rows_for(D) : nullptr;
  run_chunked(
      rows, D >= 16384 ? 1 : 16384 / D, grain,
      [&](int64_t r0, int64_t r1, int) {
        if (reg) {
          reg(r0, r1, D, x, w, b, rms, eps, y, mean, rstd);
          return;
        }
        for (int64_t r = r0; r < r1; r++) {
          float mu, rs;
          const float* xr = x + r * D;
          if (use512()) {
            stats_512(D, xr, rms, eps, &mu, &rs);
            apply_512(D, xr, w, b, mu, rs, y + r * D);
          } else {
            stats_ref(D, xr, rms, eps, &mu, &rs);
            apply_ref(D, xr, w, b, mu, rs, y + r * D);
          }
          if (mean) mean[r] = mu;
          if (rstd) rstd[r] = rs;
        }
      });
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
  // weight/bias gradients: one partial sum per row piece, added in piece order, so the result
  // does not depend on which thread ran which piece (at most 64 pieces bound the buffer)
  int64_t chunk = D >= 16384 ? 1 : 16384 / D;
  if (chunk < (rows + 63) / 64) chunk = (rows + 63) / 64;
  int64_t nch = rows == 0 ? 0 : (rows + chunk - 1) / chunk;
  std::vector<float> part;
  try {
    if (gw || gb) part.assign((size_t)nch * 2 * D, 0.f);
  } catch (const std::bad_alloc&) {
    return FT_ENOMEM;
  }
  int64_t grain = D >= 4096 ? 1 : 4096 / D + 1;
  bwd_rows_fn breg = use512() ? bwd_rows_for(D) : nullptr;
  run_chunked(rows, chunk, grain, [&](int64_t r0, int64_t r1, int) {
    size_t c = (size_t)(r0 / chunk);
    float* pw = gw ? part.data() + c * 2 * D : nullptr;
    float* pb = gb ? part.data() + c * 2 * D + D : nullptr;
    if (breg) {
      breg(r0, r1, D, x, w, mean, rstd, g, rms, gx, pw, pb);
      return;
    }
    for (int64_t r = r0; r < r1; r++) {
      float* gxr = gx ? gx + r * D : nullptr;
      if (use512()) bwd_512(D, x + r * D, w, g + r * D, mean[r], rstd[r], rms, gxr, pw, pb);
      else bwd_ref(D, x + r * D, w, g + r * D, mean[r], rstd[r], rms, gxr, pw, pb);
    }
  });
  for (int k = 0; k < 2; k++) {
    float* out = k ? gb : gw;
    if (!out) continue;
    for (int64_t j = 0; j < D; j++) out[j] = 0.f;
    for (int64_t c = 0; c < nch; c++) {
      const float* pc = part.data() + (size_t)c * 2 * D + (size_t)k * D;
      for (int64_t j = 0; j < D; j++) out[j] += pc[j];
    }
  }
  return FT_OK;
}
