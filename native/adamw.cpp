// Fused AdamW update over many parameter tensors in one call (multi-tensor apply): for each
// element, p <- p*(1 - lr*wd); m <- b1*m + (1-b1)*g*gs; v <- b2*v + (1-b2)*(g*gs)^2;
// p <- p - (lr/bc1) * m / (sqrt(v)/sqrt(bc2) + eps)   (PyTorch's AdamW, decoupled decay).
// bc1 = 1 - b1^t, bc2 = 1 - b2^t use each tensor's own step t (a parameter unfrozen late starts
// at t = 1, as in PyTorch), so they are per-tensor arrays like lr and wd.
// gs scales the gradient on the fly (grad clipping / loss-scale undo without an extra pass).
// Shapes: ntensors parameter tensors, tensor i has sizes[i] elements; p, g, m, v are arrays of
// ntensors pointers. Test: tests/train/adamw_test.ts (float64 reference).
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "ft.h"
#include "simd.h"
#include "threadpool.h"

// GCC 12 flags its own _mm512_undefined_ps() inside _mm512_sqrt_ps (a known false positive)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace {

struct Coef {
  float decay, b1, b2, c1, c2, gs, step, isb2, eps;  // isb2 = 1/sqrt(bc2)
};

void adamw_scalar(int64_t i, int64_t n, float* p, const float* g, float* m, float* v, const Coef& c) {
  for (; i < n; i++) {
    float gi = g[i] * c.gs;
    float mi = c.b1 * m[i] + c.c1 * gi;
    float vi = c.b2 * v[i] + c.c2 * gi * gi;
    m[i] = mi;
    v[i] = vi;
    p[i] = p[i] * c.decay - c.step * mi / (std::sqrt(vi) * c.isb2 + c.eps);
  }
}

// Explicit SIMD: with -fmath-errno (the project default) GCC will not vectorise sqrt.
__attribute__((target("avx512f"))) void adamw_avx512(int64_t n, float* p, const float* g, float* m,
                                                     float* v, const Coef& c) {
  const __m512 b1 = _mm512_set1_ps(c.b1), b2 = _mm512_set1_ps(c.b2), c1 = _mm512_set1_ps(c.c1),
               c2 = _mm512_set1_ps(c.c2), gs = _mm512_set1_ps(c.gs), dec = _mm512_set1_ps(c.decay),
               st = _mm512_set1_ps(c.step), isb2 = _mm512_set1_ps(c.isb2), eps = _mm512_set1_ps(c.eps);
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    __m512 gi = _mm512_mul_ps(_mm512_loadu_ps(g + i), gs);
    __m512 mi = _mm512_fmadd_ps(b1, _mm512_loadu_ps(m + i), _mm512_mul_ps(c1, gi));
    __m512 vi = _mm512_fmadd_ps(b2, _mm512_loadu_ps(v + i), _mm512_mul_ps(_mm512_mul_ps(c2, gi), gi));
    _mm512_storeu_ps(m + i, mi);
    _mm512_storeu_ps(v + i, vi);
    __m512 den = _mm512_fmadd_ps(_mm512_sqrt_ps(vi), isb2, eps);
    __m512 upd = _mm512_div_ps(_mm512_mul_ps(st, mi), den);
    _mm512_storeu_ps(p + i, _mm512_fmsub_ps(_mm512_loadu_ps(p + i), dec, upd));
  }
  adamw_scalar(i, n, p, g, m, v, c);
}

__attribute__((target("avx2,fma"))) void adamw_avx2(int64_t n, float* p, const float* g, float* m,
                                                    float* v, const Coef& c) {
  const __m256 b1 = _mm256_set1_ps(c.b1), b2 = _mm256_set1_ps(c.b2), c1 = _mm256_set1_ps(c.c1),
               c2 = _mm256_set1_ps(c.c2), gs = _mm256_set1_ps(c.gs), dec = _mm256_set1_ps(c.decay),
               st = _mm256_set1_ps(c.step), isb2 = _mm256_set1_ps(c.isb2), eps = _mm256_set1_ps(c.eps);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m256 gi = _mm256_mul_ps(_mm256_loadu_ps(g + i), gs);
    __m256 mi = _mm256_fmadd_ps(b1, _mm256_loadu_ps(m + i), _mm256_mul_ps(c1, gi));
    __m256 vi = _mm256_fmadd_ps(b2, _mm256_loadu_ps(v + i), _mm256_mul_ps(_mm256_mul_ps(c2, gi), gi));
    _mm256_storeu_ps(m + i, mi);
    _mm256_storeu_ps(v + i, vi);
    __m256 den = _mm256_fmadd_ps(_mm256_sqrt_ps(vi), isb2, eps);
    __m256 upd = _mm256_div_ps(_mm256_mul_ps(st, mi), den);
    _mm256_storeu_ps(p + i, _mm256_fmsub_ps(_mm256_loadu_ps(p + i), dec, upd));
  }
  adamw_scalar(i, n, p, g, m, v, c);
}

int simd_level() { return ft::isa_level(); }  // simd.h: 2 AVX-512, 1 AVX2+FMA, 0 baseline

void adamw_range(int64_t n, float* p, const float* g, float* m, float* v, const Coef& c) {
  switch (simd_level()) {
    case 2: adamw_avx512(n, p, g, m, v, c); break;
    case 1: adamw_avx2(n, p, g, m, v, c); break;
    default: adamw_scalar(0, n, p, g, m, v, c);
  }
}

}  // namespace

// p, g, m, v: (ntensors) pointers to tensors of sizes(ntensors) floats each;
// lr, wd: (ntensors) per-tensor learning rate and weight decay (parameter groups);
// bc1, bc2: (ntensors) per-tensor bias corrections 1 - b1^t, 1 - b2^t of each tensor's own
// step t (computed by the caller in float64).
FT_API int ft_adamw_step(int ntensors, const int64_t* sizes, float* const* p, const float* const* g,
                         float* const* m, float* const* v, const float* lr, const float* wd,
                         float b1, float b2, float eps, const float* bc1, const float* bc2, float gs) {
  if (ntensors < 0 || !(eps >= 0.f)) return FT_EINVAL;
  // prefix offsets so the flat element range splits evenly across threads
  std::vector<int64_t> off((size_t)ntensors + 1, 0);
  std::vector<float> isb2((size_t)ntensors);
  for (int i = 0; i < ntensors; i++) {
    if (sizes[i] < 0 || !(bc1[i] > 0.f) || !(bc2[i] > 0.f)) return FT_EINVAL;
    off[i + 1] = off[i] + sizes[i];
    isb2[i] = 1.f / std::sqrt(bc2[i]);
  }
  ft::parallel_for(
      off[ntensors],
      [&](int64_t b, int64_t e, int) {
        // first tensor overlapping [b, e)
        int t = (int)(std::upper_bound(off.begin(), off.end(), b) - off.begin()) - 1;
        for (; t < ntensors && off[t] < e; t++) {
          int64_t lo = b > off[t] ? b - off[t] : 0;
          int64_t hi = std::min(e, off[t + 1]) - off[t];
          if (hi <= lo) continue;
          Coef c{1.f - lr[t] * wd[t], b1, b2, 1.f - b1, 1.f - b2, gs, lr[t] / bc1[t], isb2[t], eps};
          adamw_range(hi - lo, p[t] + lo, g[t] + lo, m[t] + lo, v[t] + lo, c);
        }
      },
      16384);
  return FT_OK;
}
