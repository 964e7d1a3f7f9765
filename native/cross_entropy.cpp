// Fused cross-entropy over logits x (N, C) and int32 targets t (N), PyTorch semantics:
//   loss_i = (1-ε)(lse_i - x_i,t) + ε(lse_i - mean_j x_ij)   (0 where t_i == ignore_index)
//   reduction: none (N) | mean over non-ignored rows (NaN when all are ignored) | sum.
// One pass per row for the max, one for Σexp and Σx; lse (N) is saved so backward is one pass:
//   gx_ij = s_i (softmax_ij - ε/C - (1-ε)[j == t_i]).
// AVX-512 (runtime-detected; FT_NO_AVX512=1 forces the scalar path).
// Test: deno test --allow-ffi --allow-read --allow-env tests/ops/cross_entropy_test.ts
// Bench: deno bench --allow-ffi --allow-read --allow-env bench/cross_entropy_bench.ts
#include <immintrin.h>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <new>
#include <vector>

#include "ft.h"
#include "simd.h"
#include "threadpool.h"

#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"


namespace {
using ft::tail_mask;
using ft::exp16;

// asked per call (not cached at load) so ft_cpu_set_isa reaches this kernel too
inline bool use512() { return ft::use_avx512(); }
const float kNegInf = -std::numeric_limits<float>::infinity();

enum { R_NONE = 0, R_MEAN = 1, R_SUM = 2 };


// exp(x), 16 lanes (Cephes polynomial + scalef); below ln(FLT_MIN) gives 0; NaN propagates

// lse and Σx of one row x(C)
AVX512 void row_stats512(int64_t C, const float* x, float* lse, float* sumx) {
  __m512 vm = _mm512_set1_ps(kNegInf);
  for (int64_t j = 0; j < C; j += 16) {
    __mmask16 k = tail_mask(C - j);
    vm = _mm512_mask_max_ps(vm, k, vm, _mm512_maskz_loadu_ps(k, x + j));
  }
  float m = _mm512_reduce_max_ps(vm);
  __m512 vmm = _mm512_set1_ps(m), se = _mm512_setzero_ps(), sx = _mm512_setzero_ps();
  for (int64_t j = 0; j < C; j += 16) {
    __mmask16 k = tail_mask(C - j);
    __m512 v = _mm512_maskz_loadu_ps(k, x + j);
    se = _mm512_add_ps(se, _mm512_maskz_mov_ps(k, exp16(_mm512_sub_ps(v, vmm))));
    sx = _mm512_add_ps(sx, v);
  }
  *lse = m + std::log(_mm512_reduce_add_ps(se));
  *sumx = _mm512_reduce_add_ps(sx);
}

void row_stats_ref(int64_t C, const float* x, float* lse, float* sumx) {
  float m = kNegInf, se = 0.f, sx = 0.f;
  for (int64_t j = 0; j < C; j++) m = std::fmax(m, x[j]);
  for (int64_t j = 0; j < C; j++) {
    se += std::exp(x[j] - m);
    sx += x[j];
  }
  *lse = m + std::log(se);
  *sumx = sx;
}

// gx(C) = s * (exp(x - lse) - eps/C), then the target column gets -s(1-eps)
AVX512 void row_grad512(int64_t C, const float* x, float lse, float s, float eC, float* gx) {
  __m512 vl = _mm512_set1_ps(lse), vs = _mm512_set1_ps(s), ve = _mm512_set1_ps(eC);
  for (int64_t j = 0; j < C; j += 16) {
    __mmask16 k = tail_mask(C - j);
    __m512 p = exp16(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, x + j), vl));
    _mm512_mask_storeu_ps(gx + j, k, _mm512_mul_ps(vs, _mm512_sub_ps(p, ve)));
  }
}

void row_grad_ref(int64_t C, const float* x, float lse, float s, float eC, float* gx) {
  for (int64_t j = 0; j < C; j++) gx[j] = s * (std::exp(x[j] - lse) - eC);
}

// first target that is neither ignore_index nor in [0, C); -1 if none
int64_t first_bad(int64_t N, int64_t C, const int32_t* t, int32_t ignore) {
  for (int64_t i = 0; i < N; i++)
    if (t[i] != ignore && (t[i] < 0 || t[i] >= C)) return i;
  return -1;
}

}  // namespace

// out = cross-entropy of x(N,C) against t(N); reduction 0 none -> out (N), 1 mean / 2 sum ->
// out (1). lse (N) receives each row's logsumexp. On a target outside [0,C) that is not
// ignore_index: returns FT_EINVAL with bad = {row, target}.
FT_API int ft_cross_entropy_fwd(int64_t N, int64_t C,
                                const float* x,     // (N, C)
                                const int32_t* t,   // (N)
                                int32_t ignore_index, float smoothing, int reduction,
                                float* out,         // (N) if reduction == none else (1)
                                float* lse,         // (N)
                                int32_t* bad) {     // (2)
  if (N < 0 || C <= 0 || reduction < 0 || reduction > 2 || !(smoothing >= 0.f && smoothing <= 1.f))
    return FT_EINVAL;
  int64_t b = first_bad(N, C, t, ignore_index);
  if (b >= 0) {
    if (bad) {
      bad[0] = (int32_t)b;
      bad[1] = t[b];
    }
    return FT_EINVAL;
  }
  std::vector<float> rows;
  try {
    if (reduction != R_NONE) rows.resize((size_t)N);
  } catch (const std::bad_alloc&) {
    return FT_ENOMEM;
  }
  float* loss = reduction == R_NONE ? out : rows.data();
  const float eps = smoothing;
  int64_t grain = C >= 4096 ? 1 : 4096 / C + 1;
  ft::parallel_for(
      N,
      [&](int64_t i0, int64_t i1, int) {
        for (int64_t i = i0; i < i1; i++) {
          float l, sx;
          if (use512()) row_stats512(C, x + i * C, &l, &sx);
          else row_stats_ref(C, x + i * C, &l, &sx);
          lse[i] = l;
          loss[i] = t[i] == ignore_index ? 0.f
                                         : l - (1.f - eps) * x[i * C + t[i]] - (eps > 0.f ? eps * sx / (float)C : 0.f);
        }
      },
      grain);
  if (reduction != R_NONE) {
    double s = 0.0;
    int64_t count = 0;
    for (int64_t i = 0; i < N; i++) {
      s += loss[i];
      count += t[i] != ignore_index;
    }
    out[0] = reduction == R_SUM ? (float)s : (float)(s / (double)count);  // 0/0 = NaN like PyTorch
  }
  return FT_OK;
}

// gx(N,C) = d loss / d x given g = d L / d out ((N) for none, (1) otherwise) and the saved lse.
FT_API int ft_cross_entropy_bwd(int64_t N, int64_t C,
                                const float* x,     // (N, C)
                                const int32_t* t,   // (N)
                                const float* lse,   // (N)
                                const float* g,     // (N) if reduction == none else (1)
                                int32_t ignore_index, float smoothing, int reduction,
                                float* gx) {        // (N, C)
  if (N < 0 || C <= 0 || reduction < 0 || reduction > 2) return FT_EINVAL;
  if (first_bad(N, C, t, ignore_index) >= 0) return FT_EINVAL;
  int64_t count = 0;
  for (int64_t i = 0; i < N; i++) count += t[i] != ignore_index;
  const float eps = smoothing, eC = smoothing / (float)C;
  const float g0 = reduction == R_NONE ? 0.f : reduction == R_MEAN ? g[0] / (float)count : g[0];
  int64_t grain = C >= 4096 ? 1 : 4096 / C + 1;
  ft::parallel_for(
      N,
      [&](int64_t i0, int64_t i1, int) {
        for (int64_t i = i0; i < i1; i++) {
          float* gr = gx + i * C;
          if (t[i] == ignore_index) {
            for (int64_t j = 0; j < C; j++) gr[j] = 0.f;
            continue;
          }
          float s = reduction == R_NONE ? g[i] : g0;
          if (use512()) row_grad512(C, x + i * C, lse[i], s, eC, gr);
          else row_grad_ref(C, x + i * C, lse[i], s, eC, gr);
          gr[t[i]] -= s * (1.f - eps);
        }
      },
      grain);
  return FT_OK;
}
