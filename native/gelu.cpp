// Fused GELU forward/backward over n elements, erf form (x·Φ(x)) and tanh form
// (x·σ(2u), u = √(2/π)(x + 0.044715x³)), with our own vectorised math:
//   Φ(-|x|) = t·Q(t)·exp(-x²/2), t = 1/(1 + 0.3|x|/√2), Q a degree-8 relative-minimax fit of
//   ½erfcx (so the negative tail keeps its relative accuracy), x² carried as an exact hi+lo pair
//   into exp; the derivative's pdf reuses that exp. σ via e = exp(-2|u|).
// Accuracy: erf form < 1e-6 relative (7e-7 measured over [-15, 15] while the result is a normal
// float); tanh form ~1e-6 for x >= -5 (below, float32 rounding of u dominates: relative error
// ~ 2|u|·6e-8). Threads take 16384-element pieces from a shared counter.
// AVX-512 (runtime-detected; FT_NO_AVX512=1 forces the portable double-precision path).
// Test: deno test --allow-ffi --allow-read --allow-env tests/ops/gelu_test.ts
// Bench: deno bench --allow-ffi --allow-read --allow-env bench/gelu_bench.ts
#include <immintrin.h>

#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstdlib>

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


AVX512 inline __m512 set(float v) { return _mm512_set1_ps(v); }

// exp(ah + al) for |al| small: ah is reduced exactly (Cody–Waite), al joins the remainder.
// Only used for arguments <= ~0 here; below ln(FLT_MIN) gives 0. Rounding and 2^n use the
// magic-number trick (plain FMA/integer ops that spread over both vector ports).
AVX512 inline __m512 exp_hl(__m512 ah, __m512 al) {
  const __m512 magic = set(12582912.f);  // 1.5 * 2^23
  __m512 a = _mm512_add_ps(ah, al);
  __mmask16 tiny = _mm512_cmp_ps_mask(a, set(-87.33f), _CMP_LT_OQ);
  __m512 nm = _mm512_fmadd_ps(a, set(1.44269504088896341f), magic);  // n + magic, n = round(a / ln2)
  __m512 n = _mm512_sub_ps(nm, magic);
  __m512 r = _mm512_fnmadd_ps(n, set(0.693359375f), ah);
  r = _mm512_fnmadd_ps(n, set(-2.12194440e-4f), r);
  r = _mm512_add_ps(r, al);
  __m512 p = set(1.9875691500e-4f);
  p = _mm512_fmadd_ps(p, r, set(1.3981999507e-3f));
  p = _mm512_fmadd_ps(p, r, set(8.3334519073e-3f));
  p = _mm512_fmadd_ps(p, r, set(4.1665795894e-2f));
  p = _mm512_fmadd_ps(p, r, set(1.6666665459e-1f));
  p = _mm512_fmadd_ps(p, r, set(5.0000001201e-1f));
  p = _mm512_fmadd_ps(p, _mm512_mul_ps(r, r), _mm512_add_ps(r, set(1.f)));
  // 2^n: the low bits of nm hold n; shift them into the exponent field and add the bias
  __m512i e = _mm512_add_epi32(_mm512_slli_epi32(_mm512_castps_si512(nm), 23), _mm512_set1_epi32(127 << 23));
  return _mm512_maskz_mul_ps((__mmask16)~tiny, p, _mm512_castsi512_ps(e));
}

// 1/d to ~1 ulp: rcp14 + one Newton step
AVX512 inline __m512 recip(__m512 d) {
  __m512 r = _mm512_rcp14_ps(d);
  return _mm512_mul_ps(r, _mm512_fnmadd_ps(d, r, set(2.f)));
}

// exp(-(sq + sl)/2) for sq = fl(x²) in [0, 225], sl = x² - sq exactly: n = round(-sq/(2ln2)),
// s = sq + 2n·ln2 (exact two-step Cody–Waite) + sl in [-ln2, ln2], exp(-s/2) by a degree-5
// relative-minimax polynomial (1.7e-7 in float32), then vscalefps for 2^n, which underflows
// gradually to denormals and to +0 below 2^-149.
AVX512 inline __m512 exp_neg_half(__m512 sq, __m512 sl) {
  __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(sq, set(-0.721347520444481703f)),
                                  _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fmadd_ps(n, set(1.38671875f), sq);  // 2·ln2 hi (9 bits): n·hi and the sum are exact
  r = _mm512_fmadd_ps(n, set(-4.24388880e-4f), r);      // 2·ln2 lo
  r = _mm512_add_ps(r, sl);
  __m512 p = set(-2.599329746e-04f);
  p = _mm512_fmadd_ps(p, r, set(2.618636470e-03f));
  p = _mm512_fmadd_ps(p, r, set(-2.083397843e-02f));
  p = _mm512_fmadd_ps(p, r, set(1.249978691e-01f));
  p = _mm512_fmadd_ps(p, r, set(-4.999999404e-01f));
  p = _mm512_fmadd_ps(p, r, set(1.f));
  return _mm512_scalef_ps(p, n);
}

// Φ(x) and (optionally) the normal pdf φ(x), 16 lanes, with one exp for both:
//   Φ(-|x|) = ½erfc(a) = t·Q(t)·exp(-a²),  a = |x|/√2,  t = 1/(1 + 0.3a),
// Q a degree-8 relative-minimax fit of ½erfcx(a)/t on a in [0, 10.75] (fit error 2e-8, 4e-7
// evaluated in float32), so the negative tail keeps its relative accuracy. |x| is clamped to
// 15: exp(-112.5) is +0 in float32, so Φ(-15..-inf) = 0 and Φ(15..inf) = 1 exactly, which keeps
// gelu(+inf) = inf, gives x·Φ(x) = -0 far left (NaN for -inf, like x·0), and min(NaN, 15) = 15
// leaves NaN inputs to propagate through the final x·Φ. x² is carried as an exact hi+lo pair.
AVX512 inline __m512 phi_cdf(__m512 x, __m512* pdf) {
  __m512 ax = _mm512_min_ps(set(15.f), _mm512_abs_ps(x));  // data second: NaN stays NaN
  __m512 t = recip(_mm512_fmadd_ps(ax, set(0.2121320366859436f), set(1.f)));  // 0.3/√2
  __m512 q = set(-6.481420249e-02f);
  q = _mm512_fmadd_ps(q, t, set(2.430642843e-01f));
  q = _mm512_fmadd_ps(q, t, set(-2.567864954e-01f));
  q = _mm512_fmadd_ps(q, t, set(2.746860087e-01f));
  q = _mm512_fmadd_ps(q, t, set(-4.796588421e-02f));
  q = _mm512_fmadd_ps(q, t, set(1.077714488e-01f));
  q = _mm512_fmadd_ps(q, t, set(7.407975197e-02f));
  q = _mm512_fmadd_ps(q, t, set(8.537205309e-02f));
  q = _mm512_fmadd_ps(q, t, set(8.459302783e-02f));
  __m512 sq = _mm512_mul_ps(ax, ax), sl = _mm512_fmsub_ps(ax, ax, sq);
  __m512 e = exp_neg_half(sq, sl);
  __m512 h = _mm512_mul_ps(_mm512_mul_ps(t, q), e);  // Φ(-|x|)
  if (pdf) *pdf = _mm512_mul_ps(e, set(0.3989422804014327f));
  // Φ(x) = 1 - Φ(-|x|) for x >= 0
  return _mm512_mask_sub_ps(h, _mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_GE_OQ), set(1.f), h);
}

// σ(2u) with u = √(2/π)(x + 0.044715x³), and du/dx
AVX512 inline __m512 tanh_gate(__m512 x, __m512* du) {
  __m512 x2 = _mm512_mul_ps(x, x);
  __m512 u = _mm512_mul_ps(_mm512_mul_ps(x, _mm512_fmadd_ps(x2, set(0.044715f), set(1.f))),
                           set(0.7978845608028654f));
  if (du) *du = _mm512_mul_ps(_mm512_fmadd_ps(x2, set(3.f * 0.044715f), set(1.f)), set(0.7978845608028654f));
  __m512 e = exp_hl(_mm512_mul_ps(_mm512_abs_ps(u), set(-2.f)), _mm512_setzero_ps());
  __m512 inv = recip(_mm512_add_ps(e, set(1.f)));
  __mmask16 neg = _mm512_cmp_ps_mask(u, _mm512_setzero_ps(), _CMP_LT_OQ);
  return _mm512_mask_mov_ps(inv, neg, _mm512_mul_ps(e, inv));
}

// One vector of forward / backward; the loops below run four independent vectors per step:
// each is a ~120-cycle dependency chain, too long for the out-of-order window alone.
AVX512 inline __m512 fwd16(__m512 v, int approx) {
  if (!approx) return _mm512_mul_ps(v, phi_cdf(v, nullptr));  // extremes: see phi_cdf
  __m512 y = _mm512_mul_ps(v, tanh_gate(v, nullptr));
  // the gate is exactly 1 in float32 above 10; this also keeps gelu(+inf) = +inf (the -z²
  // pair is inf - inf there), as PyTorch and the CUDA kernel give
  y = _mm512_mask_mov_ps(y, _mm512_cmp_ps_mask(v, set(10.f), _CMP_GT_OQ), v);
  // below -14 x·Φ(x) is under the smallest float32 denormal: -0 (NaN for -inf, like x·0)
  return _mm512_mask_mov_ps(y, _mm512_cmp_ps_mask(v, set(-14.f), _CMP_LT_OQ),
                            _mm512_mul_ps(v, _mm512_setzero_ps()));
}

AVX512 inline __m512 dgelu16(__m512 v, int approx) {
  if (approx) {
    __m512 du, s = tanh_gate(v, &du);
    // s + 2x·s(1-s)·du
    __m512 sp = _mm512_mul_ps(s, _mm512_sub_ps(set(1.f), s));
    return _mm512_fmadd_ps(_mm512_mul_ps(_mm512_add_ps(v, v), sp), du, s);
  }
  __m512 pdf, cdf = phi_cdf(v, &pdf);
  return _mm512_fmadd_ps(v, pdf, cdf);
}

template <int APPROX>
AVX512 void fwd512(int64_t n, const float* x, float* y) {
  int64_t i = 0;
  for (; i + 64 <= n; i += 64) {
    __m512 a = fwd16(_mm512_loadu_ps(x + i), APPROX), b = fwd16(_mm512_loadu_ps(x + i + 16), APPROX);
    __m512 c = fwd16(_mm512_loadu_ps(x + i + 32), APPROX), d = fwd16(_mm512_loadu_ps(x + i + 48), APPROX);
    _mm512_storeu_ps(y + i, a);
    _mm512_storeu_ps(y + i + 16, b);
    _mm512_storeu_ps(y + i + 32, c);
    _mm512_storeu_ps(y + i + 48, d);
  }
  for (; i < n; i += 16) {
    __mmask16 k = tail_mask(n - i);
    _mm512_mask_storeu_ps(y + i, k, fwd16(_mm512_maskz_loadu_ps(k, x + i), APPROX));
  }
}

template <int APPROX>
AVX512 void bwd512(int64_t n, const float* x, const float* gy, float* gx) {
  int64_t i = 0;
  for (; i + 64 <= n; i += 64) {
    __m512 a = dgelu16(_mm512_loadu_ps(x + i), APPROX), b = dgelu16(_mm512_loadu_ps(x + i + 16), APPROX);
    __m512 c = dgelu16(_mm512_loadu_ps(x + i + 32), APPROX), d = dgelu16(_mm512_loadu_ps(x + i + 48), APPROX);
    _mm512_storeu_ps(gx + i, _mm512_mul_ps(_mm512_loadu_ps(gy + i), a));
    _mm512_storeu_ps(gx + i + 16, _mm512_mul_ps(_mm512_loadu_ps(gy + i + 16), b));
    _mm512_storeu_ps(gx + i + 32, _mm512_mul_ps(_mm512_loadu_ps(gy + i + 32), c));
    _mm512_storeu_ps(gx + i + 48, _mm512_mul_ps(_mm512_loadu_ps(gy + i + 48), d));
  }
  for (; i < n; i += 16) {
    __mmask16 k = tail_mask(n - i);
    __m512 d = dgelu16(_mm512_maskz_loadu_ps(k, x + i), APPROX);
    _mm512_mask_storeu_ps(gx + i, k, _mm512_mul_ps(_mm512_maskz_loadu_ps(k, gy + i), d));
  }
}

// portable path: the same formulas in double precision (rounded once to float)
const double kC = 0.79788456080286535588;

void fwd_ref(int64_t n, const float* x, float* y, int approx) {
  for (int64_t i = 0; i < n; i++) {
    double v = x[i];
    if (approx) y[i] = (float)(v / (1.0 + std::exp(-2.0 * kC * (v + 0.044715 * v * v * v))));
    else y[i] = (float)(0.5 * v * std::erfc(-v * 0.70710678118654752));
  }
}

void bwd_ref(int64_t n, const float* x, const float* gy, float* gx, int approx) {
  for (int64_t i = 0; i < n; i++) {
    double v = x[i], d;
    if (approx) {
      double s = 1.0 / (1.0 + std::exp(-2.0 * kC * (v + 0.044715 * v * v * v)));
      d = s + 2.0 * v * s * (1.0 - s) * kC * (1.0 + 3.0 * 0.044715 * v * v);
    } else {
      d = 0.5 * std::erfc(-v * 0.70710678118654752) + v * 0.3989422804014327 * std::exp(-0.5 * v * v);
    }
    gx[i] = (float)(gy[i] * d);
  }
}


}  // namespace

// y(n) = gelu(x(n)); approx = 0: erf form, 1: tanh form
FT_API int ft_gelu_fwd(int64_t n,
                       const float* x,  // (n)
                       float* y,        // (n)
                       int approx) {
  if (n < 0 || (approx != 0 && approx != 1)) return FT_EINVAL;
  // 16384-float pieces (64-byte aligned starts), at least 32768 elements per thread
  run_chunked(
      n, 16384, 32768,
      [&](int64_t b, int64_t e, int) {
        if (use512() && approx) fwd512<1>(e - b, x + b, y + b);
        else if (use512()) fwd512<0>(e - b, x + b, y + b);
        else fwd_ref(e - b, x + b, y + b, approx);
      });
  return FT_OK;
}

// gx(n) = gy(n) * gelu'(x(n))
FT_API int ft_gelu_bwd(int64_t n,
                       const float* x,   // (n)
                       const float* gy,  // (n)
                       float* gx,        // (n)
                       int approx) {
  if (n < 0 || (approx != 0 && approx != 1)) return FT_EINVAL;
  run_chunked(
      n, 16384, 32768,
      [&](int64_t b, int64_t e, int) {
        if (use512() && approx) bwd512<1>(e - b, x + b, gy + b, gx + b);
        else if (use512()) bwd512<0>(e - b, x + b, gy + b, gx + b);
        else bwd_ref(e - b, x + b, gy + b, gx + b, approx);
      });
  return FT_OK;
}
