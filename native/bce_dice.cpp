// Segmentation losses on logits, fused forward and backward (the FPN loss is ½(BCE + Dice)):
//  BCE:  loss_i = wp*y*softplus(-x) + wn*(1-y)*softplus(x)   (= -[wp y log σ(x) + wn (1-y) log(1-σ(x))],
//        stable: softplus(x) = max(x,0) + log1p(exp(-|x|))); dx = wp*y*(σ-1) + wn*(1-y)*σ.
//  Dice: p = σ(x) per sample s of S (L values each): 1 - (2Σpt + k)/(Σp + Σt + k), mean over S;
//        the forward saves (Σpt, Σp, Σt) per sample for the backward.
// x, y: (n) or (S, L) float32. exp/log1p are AVX-512 polynomials (rel. err ~1e-7) with a libm
// fallback. Test: deno test --allow-ffi --allow-read --allow-env tests/ops/bce_dice_test.ts
// Bench: deno bench --allow-ffi --allow-read --allow-env bench/bce_dice_bench.ts
// GCC's AVX-512 headers build masked intrinsics on _mm512_undefined_ps(), which -Wall flags.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "ft.h"
#include "simd.h"
#include "threadpool.h"

namespace {

bool avx512() { return ft::use_avx512(); }  // simd.h: honours FT_NO_AVX512

// ---- scalar reference math ----
struct SP {
  float e, lp, sig;  // exp(-|x|), log1p(e), sigmoid(x)
};
inline SP sp_scalar(float x) {
  const float e = std::exp(-std::fabs(x));
  const float lp = std::log1p(e);
  const float inv = 1.f / (1.f + e);
  return {e, lp, x >= 0.f ? inv : e * inv};
}

// ---- AVX-512 math: e = exp(-|x|), lp = log1p(e), sig = σ(x) for 16 lanes ----
#define T512 __attribute__((target("avx512f,avx512dq,fma")))

T512 inline void sp512(__m512 x, __m512& lp, __m512& sig) {
  const __m512 ax = _mm512_abs_ps(x);
  // max/min return their SECOND operand when either is NaN: the data goes second so a NaN
  // logit stays NaN all the way to the loss and the gradient (never max(x, c))
  __m512 z = _mm512_max_ps(_mm512_set1_ps(-103.f), _mm512_sub_ps(_mm512_setzero_ps(), ax));
  // exp(z) = 2^n * p(r), z = n ln2 + r
  const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(z, _mm512_set1_ps(1.4426950408889634f)),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693145751953125f), z);
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(1.428606765330187e-06f), r);
  __m512 p = _mm512_set1_ps(1.f / 5040.f);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.f / 720.f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.f / 120.f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.f / 24.f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.f / 6.f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.f));
  const __m512 e = _mm512_scalef_ps(p, n);
  // log1p(e), e in [0, 1]: m = 1 + e = 2^k f, f in [0.75, 1.5); log f = 2 atanh((f-1)/(f+1))
  const __m512 one = _mm512_set1_ps(1.f);
  const __m512 m = _mm512_add_ps(one, e);
  const __m512 corr = _mm512_div_ps(_mm512_sub_ps(e, _mm512_sub_ps(m, one)), m);  // rounding of 1+e
  const __m512 f = _mm512_getmant_ps(m, _MM_MANT_NORM_p75_1p5, _MM_MANT_SIGN_src);
  const __m512 kexp = _mm512_getexp_ps(_mm512_mul_ps(m, _mm512_set1_ps(1.f / 0.75f)));
  const __m512 t = _mm512_div_ps(_mm512_sub_ps(f, one), _mm512_add_ps(f, one));
  const __m512 t2 = _mm512_mul_ps(t, t);
  __m512 q = _mm512_set1_ps(2.f / 11.f);
  q = _mm512_fmadd_ps(q, t2, _mm512_set1_ps(2.f / 9.f));
  q = _mm512_fmadd_ps(q, t2, _mm512_set1_ps(2.f / 7.f));
  q = _mm512_fmadd_ps(q, t2, _mm512_set1_ps(2.f / 5.f));
  q = _mm512_fmadd_ps(q, t2, _mm512_set1_ps(2.f / 3.f));
  q = _mm512_fmadd_ps(q, t2, _mm512_set1_ps(2.f));
  lp = _mm512_fmadd_ps(kexp, _mm512_set1_ps(0.6931471805599453f), _mm512_fmadd_ps(q, t, corr));
  const __m512 inv = _mm512_div_ps(one, m);
  const __mmask16 pos = _mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_GE_OQ);
  sig = _mm512_mask_blend_ps(pos, _mm512_mul_ps(e, inv), inv);
}

inline __mmask16 tail_mask(int64_t left) { return (__mmask16)(left >= 16 ? 0xFFFF : (1u << left) - 1); }

T512 inline double hsum(__m512 v) {
  alignas(64) float t[16];
  _mm512_store_ps(t, v);
  double s = 0;
  for (int i = 0; i < 16; i++) s += t[i];
  return s;
}

// BCE range: returns sum of losses; writes per-element losses if out
T512 double bce_fwd_512(int64_t n, const float* x, const float* y, float wp, float wn, float* out) {
  __m512 acc = _mm512_setzero_ps();
  double total = 0;
  const __m512 vwp = _mm512_set1_ps(wp), vwn = _mm512_set1_ps(wn), one = _mm512_set1_ps(1.f), zero = _mm512_setzero_ps();
  int64_t blk = 0;
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 k = tail_mask(n - i);
    const __m512 xv = _mm512_maskz_loadu_ps(k, x + i), yv = _mm512_maskz_loadu_ps(k, y + i);
    __m512 lp, sig;
    sp512(xv, lp, sig);
    const __m512 spn = _mm512_add_ps(_mm512_max_ps(zero, _mm512_sub_ps(zero, xv)), lp);  // softplus(-x)
    const __m512 spp = _mm512_add_ps(_mm512_max_ps(zero, xv), lp);                        // softplus(x)
    const __m512 l = _mm512_fmadd_ps(_mm512_mul_ps(vwp, yv), spn, _mm512_mul_ps(_mm512_mul_ps(vwn, _mm512_sub_ps(one, yv)), spp));
    if (out) _mm512_mask_storeu_ps(out + i, k, l);
    acc = _mm512_add_ps(acc, _mm512_maskz_mov_ps(k, l));
    if (++blk == 256) {  // flush to double every 4096 values
      total += hsum(acc);
      acc = zero;
      blk = 0;
    }
  }
  return total + hsum(acc);
}

double bce_fwd_ref(int64_t n, const float* x, const float* y, float wp, float wn, float* out) {
  double total = 0;
  for (int64_t i = 0; i < n; i++) {
    const SP s = sp_scalar(x[i]);
    const float l = wp * y[i] * (std::max(-x[i], 0.f) + s.lp) + wn * (1.f - y[i]) * (std::max(x[i], 0.f) + s.lp);
    if (out) out[i] = l;
    total += l;
  }
  return total;
}

T512 void bce_bwd_512(int64_t n, const float* x, const float* y, float wp, float wn, const float* g, int gScalar,
                      float scale, float* gx, float* gy) {
  const __m512 vwp = _mm512_set1_ps(wp), vwn = _mm512_set1_ps(wn), one = _mm512_set1_ps(1.f), zero = _mm512_setzero_ps();
  const __m512 gs = _mm512_set1_ps(gScalar ? g[0] * scale : scale);
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 k = tail_mask(n - i);
    const __m512 xv = _mm512_maskz_loadu_ps(k, x + i), yv = _mm512_maskz_loadu_ps(k, y + i);
    const __m512 gv = gScalar ? gs : _mm512_mul_ps(gs, _mm512_maskz_loadu_ps(k, g + i));
    __m512 lp, sig;
    sp512(xv, lp, sig);
    const __m512 a = _mm512_mul_ps(vwp, yv), b = _mm512_mul_ps(vwn, _mm512_sub_ps(one, yv));
    if (gx) {
      const __m512 d = _mm512_fmadd_ps(a, _mm512_sub_ps(sig, one), _mm512_mul_ps(b, sig));
      _mm512_mask_storeu_ps(gx + i, k, _mm512_mul_ps(gv, d));
    }
    if (gy) {
      const __m512 spn = _mm512_add_ps(_mm512_max_ps(zero, _mm512_sub_ps(zero, xv)), lp);
      const __m512 spp = _mm512_add_ps(_mm512_max_ps(zero, xv), lp);
      const __m512 d = _mm512_fmsub_ps(vwp, spn, _mm512_mul_ps(vwn, spp));
      _mm512_mask_storeu_ps(gy + i, k, _mm512_mul_ps(gv, d));
    }
  }
}

void bce_bwd_ref(int64_t n, const float* x, const float* y, float wp, float wn, const float* g, int gScalar,
                 float scale, float* gx, float* gy) {
  for (int64_t i = 0; i < n; i++) {
    const SP s = sp_scalar(x[i]);
    const float gv = (gScalar ? g[0] : g[i]) * scale;
    const float a = wp * y[i], b = wn * (1.f - y[i]);
    if (gx) gx[i] = gv * (a * (s.sig - 1.f) + b * s.sig);
    if (gy) gy[i] = gv * (wp * (std::max(-x[i], 0.f) + s.lp) - wn * (std::max(x[i], 0.f) + s.lp));
  }
}

// Dice sums over a range: I += Σ σ t, P += Σ σ, T += Σ t
T512 void dice_sums_512(int64_t n, const float* x, const float* y, double* s3) {
  __m512 ai = _mm512_setzero_ps(), ap = ai, at = ai;
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 k = tail_mask(n - i);
    const __m512 xv = _mm512_maskz_loadu_ps(k, x + i), yv = _mm512_maskz_loadu_ps(k, y + i);
    __m512 lp, sig;
    sp512(xv, lp, sig);
    sig = _mm512_maskz_mov_ps(k, sig);
    ai = _mm512_fmadd_ps(sig, yv, ai);
    ap = _mm512_add_ps(ap, sig);
    at = _mm512_add_ps(at, yv);
  }
  s3[0] += hsum(ai);
  s3[1] += hsum(ap);
  s3[2] += hsum(at);
}

void dice_sums_ref(int64_t n, const float* x, const float* y, double* s3) {
  for (int64_t i = 0; i < n; i++) {
    const float p = sp_scalar(x[i]).sig;
    s3[0] += p * y[i];
    s3[1] += p;
    s3[2] += y[i];
  }
}

// gx = c1 * (2 t D - N) * σ(1-σ), gt = c1 * (2 σ D - N), c1 = -g/(S D²)
T512 void dice_bwd_512(int64_t n, const float* x, const float* y, float c1, float D, float Nn, float* gx, float* gy) {
  const __m512 vc = _mm512_set1_ps(c1), v2D = _mm512_set1_ps(2.f * D), vN = _mm512_set1_ps(Nn), one = _mm512_set1_ps(1.f);
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 k = tail_mask(n - i);
    const __m512 xv = _mm512_maskz_loadu_ps(k, x + i), yv = _mm512_maskz_loadu_ps(k, y + i);
    __m512 lp, sig;
    sp512(xv, lp, sig);
    if (gx) {
      const __m512 d = _mm512_mul_ps(_mm512_fmsub_ps(v2D, yv, vN), _mm512_mul_ps(sig, _mm512_sub_ps(one, sig)));
      _mm512_mask_storeu_ps(gx + i, k, _mm512_mul_ps(vc, d));
    }
    if (gy) _mm512_mask_storeu_ps(gy + i, k, _mm512_mul_ps(vc, _mm512_fmsub_ps(v2D, sig, vN)));
  }
}

void dice_bwd_ref(int64_t n, const float* x, const float* y, float c1, float D, float Nn, float* gx, float* gy) {
  for (int64_t i = 0; i < n; i++) {
    const float p = sp_scalar(x[i]).sig;
    if (gx) gx[i] = c1 * (2.f * D * y[i] - Nn) * p * (1.f - p);
    if (gy) gy[i] = c1 * (2.f * D * p - Nn);
  }
}

constexpr int64_t kChunk = 16384;

}  // namespace

// loss = scale * Σ_i loss_i (reduction mean/sum); out (n) gets loss_i when non-null (reduction none)
FT_API int ft_bce_logits_fwd(int64_t n, float wp, float wn, float scale,
                             const float* x,  // (n) logits
                             const float* y,  // (n) targets in [0, 1]
                             float* out,      // (n) or null
                             float* loss) {   // (1) or null
  if (n < 0) return FT_EINVAL;
  const int64_t chunks = (n + kChunk - 1) / kChunk;
  std::vector<double> part(std::max<int64_t>(chunks, 1), 0.0);
  const bool v = avx512();
  ft::parallel_for(chunks, [&](int64_t c0, int64_t c1, int) {
    for (int64_t c = c0; c < c1; c++) {
      const int64_t b = c * kChunk, m = std::min(kChunk, n - b);
      part[c] = v ? bce_fwd_512(m, x + b, y + b, wp, wn, out ? out + b : nullptr)
                  : bce_fwd_ref(m, x + b, y + b, wp, wn, out ? out + b : nullptr);
    }
  });
  double s = 0;
  for (double p : part) s += p;
  if (loss) loss[0] = (float)(s * scale);
  return FT_OK;
}

// gx, gy (nullable) = g_i * scale * d loss_i / d(x_i, y_i); g is (1) when gScalar else (n)
FT_API int ft_bce_logits_bwd(int64_t n, float wp, float wn, float scale, int gScalar,
                             const float* x,  // (n)
                             const float* y,  // (n)
                             const float* g,  // (1) or (n)
                             float* gx,       // (n) or null
                             float* gy) {     // (n) or null
  if (n < 0) return FT_EINVAL;
  const bool v = avx512();
  ft::parallel_for(
      n,
      [&](int64_t b, int64_t e, int) {
        const float* gb = gScalar ? g : g + b;
        if (v)
          bce_bwd_512(e - b, x + b, y + b, wp, wn, gb, gScalar, scale, gx ? gx + b : nullptr, gy ? gy + b : nullptr);
        else
          bce_bwd_ref(e - b, x + b, y + b, wp, wn, gb, gScalar, scale, gx ? gx + b : nullptr, gy ? gy + b : nullptr);
      },
      kChunk);
  return FT_OK;
}

// loss = mean_s (1 - (2 I_s + k)/(P_s + T_s + k)); sums (S,3) = (I, P, T) saved for the backward
FT_API int ft_soft_dice_fwd(int64_t S, int64_t L, float smooth,
                            const float* x,  // (S, L) logits
                            const float* y,  // (S, L) targets
                            float* sums,     // (S, 3)
                            float* loss) {   // (1)
  if (S < 1 || L < 0) return FT_EINVAL;
  const int64_t per = std::max<int64_t>(1, (L + kChunk - 1) / kChunk), tasks = S * per;
  std::vector<double> part((size_t)tasks * 3, 0.0);
  const bool v = avx512();
  ft::parallel_for(tasks, [&](int64_t t0, int64_t t1, int) {
    for (int64_t t = t0; t < t1; t++) {
      const int64_t s = t / per, c = t % per, b = c * kChunk, m = std::max<int64_t>(0, std::min(kChunk, L - b));
      const int64_t off = s * L + b;
      if (v)
        dice_sums_512(m, x + off, y + off, &part[t * 3]);
      else
        dice_sums_ref(m, x + off, y + off, &part[t * 3]);
    }
  });
  double total = 0;
  for (int64_t s = 0; s < S; s++) {
    double I = 0, P = 0, T = 0;
    for (int64_t c = 0; c < per; c++) {
      I += part[(s * per + c) * 3];
      P += part[(s * per + c) * 3 + 1];
      T += part[(s * per + c) * 3 + 2];
    }
    sums[s * 3] = (float)I;
    sums[s * 3 + 1] = (float)P;
    sums[s * 3 + 2] = (float)T;
    total += 1.0 - (2.0 * I + smooth) / (P + T + smooth);
  }
  loss[0] = (float)(total / S);
  return FT_OK;
}

// gx, gy (nullable) = g * d loss / d(x, y) using the forward's sums
FT_API int ft_soft_dice_bwd(int64_t S, int64_t L, float smooth,
                            const float* x,     // (S, L)
                            const float* y,     // (S, L)
                            const float* sums,  // (S, 3)
                            const float* g,     // (1)
                            float* gx,          // (S, L) or null
                            float* gy) {        // (S, L) or null
  if (S < 1 || L < 0) return FT_EINVAL;
  const int64_t per = std::max<int64_t>(1, (L + kChunk - 1) / kChunk), tasks = S * per;
  const bool v = avx512();
  const float gv = g[0];
  ft::parallel_for(tasks, [&](int64_t t0, int64_t t1, int) {
    for (int64_t t = t0; t < t1; t++) {
      const int64_t s = t / per, c = t % per, b = c * kChunk, m = std::max<int64_t>(0, std::min(kChunk, L - b));
      const int64_t off = s * L + b;
      const double D = (double)sums[s * 3 + 1] + sums[s * 3 + 2] + smooth, Nn = 2.0 * sums[s * 3] + smooth;
      const float c1 = (float)(-gv / (S * D * D));
      float* gxo = gx ? gx + off : nullptr;
      float* gyo = gy ? gy + off : nullptr;
      if (v)
        dice_bwd_512(m, x + off, y + off, c1, (float)D, (float)Nn, gxo, gyo);
      else
        dice_bwd_ref(m, x + off, y + off, c1, (float)D, (float)Nn, gxo, gyo);
    }
  });
  return FT_OK;
}
