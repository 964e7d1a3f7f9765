// Fused softmax / log-softmax over the last axis of x viewed as (rows, T), with an optional
// additive mask broadcast over the leading axes (e.g. (B,1,1,T) or (T,T) for x (B,H,T,T)).
// One pass for the max, one for exp+sum, one to normalise; the row stays in L1. A row whose
// every entry is -inf (fully masked) gives zeros (softmax) / -inf (log-softmax), never NaN.
// Backward: softmax gx = y * (g - <g, y>); log-softmax gx = g - exp(y) * sum(g).
// AVX-512 (runtime-detected; FT_NO_AVX512=1 forces the portable path) with a scalar fallback.
// Test: deno test --allow-ffi --allow-read --allow-env tests/ops/softmax_test.ts
// Bench: deno bench --allow-ffi --allow-read --allow-env bench/softmax_bench.ts
#include <immintrin.h>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <limits>

#include "ft.h"
#include "simd.h"
#include "threadpool.h"

// GCC 12 flags its own _mm512_reduce_* helpers (false positive)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"


namespace {
using ft::tail_mask;
using ft::exp16;

// asked per call (not cached at load) so ft_cpu_set_isa reaches this kernel too
inline bool use512() { return ft::use_avx512(); }
const float kNegInf = -std::numeric_limits<float>::infinity();

// exp(x) for 16 lanes: Cody–Waite reduction, Cephes degree-6 polynomial, scalef; ~1 ulp.
// x below ln(FLT_MIN) (and -inf) gives exactly 0; NaN propagates.


// x(T), m(T) or null -> y(T)
AVX512 void row_fwd_512(int64_t T, const float* x, const float* m, int log, float* y) {
  __m512 vmax = _mm512_set1_ps(kNegInf);
  __mmask16 nan = 0;  // max_ps drops a NaN that a later value in its lane meets: track NaN apart
  for (int64_t j = 0; j < T; j += 16) {
    __mmask16 k = tail_mask(T - j);
    __m512 v = _mm512_maskz_loadu_ps(k, x + j);
    if (m) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(k, m + j));
    vmax = _mm512_mask_max_ps(vmax, k, vmax, v);
    nan |= _mm512_mask_cmp_ps_mask(k, v, v, _CMP_UNORD_Q);
  }
  // a NaN row max makes every output NaN below (never the fully-masked zeros)
  float mx = nan ? std::numeric_limits<float>::quiet_NaN() : _mm512_reduce_max_ps(vmax);
  if (mx == kNegInf) {  // fully masked row
    __m512 fill = _mm512_set1_ps(log ? kNegInf : 0.f);
    for (int64_t j = 0; j < T; j += 16) _mm512_mask_storeu_ps(y + j, tail_mask(T - j), fill);
    return;
  }
  __m512 vm = _mm512_set1_ps(mx), vs = _mm512_setzero_ps();
  for (int64_t j = 0; j < T; j += 16) {
    __mmask16 k = tail_mask(T - j);
    __m512 v = _mm512_maskz_loadu_ps(k, x + j);
    if (m) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(k, m + j));
    __m512 e = _mm512_maskz_mov_ps(k, exp16(_mm512_sub_ps(v, vm)));
    vs = _mm512_add_ps(vs, e);
    if (!log) _mm512_mask_storeu_ps(y + j, k, e);
  }
  float s = _mm512_reduce_add_ps(vs);
  if (log) {
    __m512 off = _mm512_set1_ps(mx + std::log(s));
    for (int64_t j = 0; j < T; j += 16) {
      __mmask16 k = tail_mask(T - j);
      __m512 v = _mm512_maskz_loadu_ps(k, x + j);
      if (m) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(k, m + j));
      _mm512_mask_storeu_ps(y + j, k, _mm512_sub_ps(v, off));
    }
  } else {
    __m512 inv = _mm512_set1_ps(1.f / s);
    for (int64_t j = 0; j < T; j += 16) {
      __mmask16 k = tail_mask(T - j);
      _mm512_mask_storeu_ps(y + j, k, _mm512_mul_ps(_mm512_maskz_loadu_ps(k, y + j), inv));
    }
  }
}

void row_fwd_ref(int64_t T, const float* x, const float* m, int log, float* y) {
  float mx = kNegInf;
  for (int64_t j = 0; j < T; j++) {
    const float v = x[j] + (m ? m[j] : 0.f);
    mx = v > mx || v != v ? v : mx;  // NaN sticks (std::fmax would drop it)
  }
  if (mx == kNegInf) {
    for (int64_t j = 0; j < T; j++) y[j] = log ? kNegInf : 0.f;
    return;
  }
  float s = 0.f;
  for (int64_t j = 0; j < T; j++) {
    float e = std::exp(x[j] + (m ? m[j] : 0.f) - mx);
    s += e;
    if (!log) y[j] = e;
  }
  if (log) {
    float off = mx + std::log(s);
    for (int64_t j = 0; j < T; j++) y[j] = x[j] + (m ? m[j] : 0.f) - off;
  } else {
    float inv = 1.f / s;
    for (int64_t j = 0; j < T; j++) y[j] *= inv;
  }
}

// y(T), g(T) -> gx(T)
AVX512 void row_bwd_512(int64_t T, const float* y, const float* g, int log, float* gx) {
  __m512 acc = _mm512_setzero_ps();
  for (int64_t j = 0; j < T; j += 16) {
    __mmask16 k = tail_mask(T - j);
    __m512 gv = _mm512_maskz_loadu_ps(k, g + j);
    acc = log ? _mm512_add_ps(acc, gv) : _mm512_fmadd_ps(gv, _mm512_maskz_loadu_ps(k, y + j), acc);
  }
  __m512 d = _mm512_set1_ps(_mm512_reduce_add_ps(acc));
  for (int64_t j = 0; j < T; j += 16) {
    __mmask16 k = tail_mask(T - j);
    __m512 gv = _mm512_maskz_loadu_ps(k, g + j), yv = _mm512_maskz_loadu_ps(k, y + j);
    __m512 r = log ? _mm512_fnmadd_ps(exp16(yv), d, gv) : _mm512_mul_ps(yv, _mm512_sub_ps(gv, d));
    _mm512_mask_storeu_ps(gx + j, k, r);
  }
}

void row_bwd_ref(int64_t T, const float* y, const float* g, int log, float* gx) {
  float d = 0.f;
  for (int64_t j = 0; j < T; j++) d += log ? g[j] : g[j] * y[j];
  for (int64_t j = 0; j < T; j++) gx[j] = log ? g[j] - std::exp(y[j]) * d : y[j] * (g[j] - d);
}

}  // namespace

// y(rows, T) = (log_)softmax(x(rows, T) + mask) over T. The mask row of row r is at element
// offset sum_d idx_d(r) * mask_strides[d], where idx(r) are r's coordinates in lead_shape (nd
// axes, product = rows); mask may be null (then nd, lead_shape, mask_strides are ignored).
FT_API int ft_softmax_fwd(int64_t rows, int64_t T,
                          const float* x,               // (rows, T)
                          const float* mask,            // (..., T) broadcast, or null
                          int nd,
                          const int64_t* lead_shape,    // (nd)
                          const int64_t* mask_strides,  // (nd) element strides, 0 = broadcast
                          int log,
                          float* y) {                   // (rows, T)
  if (rows < 0 || T < 0 || (mask && (nd < 1 || nd > 8))) return FT_EINVAL;
  if (rows == 0 || T == 0) return FT_OK;
  if (mask) {
    int64_t p = 1;
    for (int d = 0; d < nd; d++) p *= lead_shape[d];
    if (p != rows) return FT_EINVAL;
  }
  int64_t grain = T >= 4096 ? 1 : 4096 / T + 1;
  ft::parallel_for(
      rows,
      [&](int64_t r0, int64_t r1, int) {
        for (int64_t r = r0; r < r1; r++) {
          const float* m = nullptr;
          if (mask) {
            int64_t off = 0, rem = r;
            for (int d = nd - 1; d >= 0; d--) {
              off += (rem % lead_shape[d]) * mask_strides[d];
              rem /= lead_shape[d];
            }
            m = mask + off;
          }
          if (use512()) row_fwd_512(T, x + r * T, m, log, y + r * T);
          else row_fwd_ref(T, x + r * T, m, log, y + r * T);
        }
      },
      grain);
  return FT_OK;
}

// gx(rows, T) from the forward output y(rows, T) and its gradient g(rows, T).
FT_API int ft_softmax_bwd(int64_t rows, int64_t T,
                          const float* y,   // (rows, T)
                          const float* g,   // (rows, T)
                          int log,
                          float* gx) {      // (rows, T)
  if (rows < 0 || T < 0) return FT_EINVAL;
  if (rows == 0 || T == 0) return FT_OK;
  int64_t grain = T >= 4096 ? 1 : 4096 / T + 1;
  ft::parallel_for(
      rows,
      [&](int64_t r0, int64_t r1, int) {
        for (int64_t r = r0; r < r1; r++) {
          if (use512()) row_bwd_512(T, y + r * T, g + r * T, log, gx + r * T);
          else row_bwd_ref(T, y + r * T, g + r * T, log, gx + r * T);
        }
      },
      grain);
  return FT_OK;
}
