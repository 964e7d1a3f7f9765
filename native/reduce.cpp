// Reductions over the middle axis of x viewed as (outer, R, inner): sum (scaled, so mean is
// free) and max with argmax, plus max's backward (scatter to the argmax). Any set of axes
// reduces as a sequence of these views (src/ops/reduce.ts). A long R over few slices (the
// linear bias gradient) splits R across threads. Test: tests/ops/reduce_test.ts;
// bench: bench/bias_grad_bench.ts.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "ft.h"
#include "simd.h"
#include "threadpool.h"


// y[0] = scale * sum of x(R): 16 partial sums for speed and accuracy
FT_INLINE void sum_contig(int64_t R, const float* x, float* y, float scale) {
  float acc[16] = {0};
  int64_t r = 0;
  for (; r + 16 <= R; r += 16)
    for (int k = 0; k < 16; k++) acc[k] += x[r + k];
  float s = 0.f;
  for (int k = 0; k < 16; k++) s += acc[k];
  for (; r < R; r++) s += x[r];
  y[0] = s * scale;
}

// y(rows) = scale * row sums of x(rows, R), each row as sum_contig (same bits): one call for
// many short rows (the FPN's group mean, R = 16, 37632 rows) instead of a dispatch per row,
// which also lets the CPU overlap the rows' serial final additions
FT_INLINE void sum_rows_impl(int64_t rows, int64_t R, const float* x, float* y, float scale) {
  for (int64_t o = 0; o < rows; o++) sum_contig(R, x + o * R, y + o, scale);
}
FT_MULTIVERSION(, , void, sum_rows, (int64_t rows, int64_t R, const float* x, float* y, float scale), (rows, R, x, y, scale))

FT_INLINE void sum_block_impl(int64_t R, int64_t inner, const float* x, float* y, float scale) {
  if (inner == 1) {
    sum_contig(R, x, y, scale);
    return;
  }
  for (int64_t i = 0; i < inner; i++) y[i] = 0.f;
  for (int64_t r = 0; r < R; r++) {
    const float* xr = x + r * inner;
    for (int64_t i = 0; i < inner; i++) y[i] += xr[i];
  }
  for (int64_t i = 0; i < inner; i++) y[i] *= scale;
}
FT_MULTIVERSION(, , void, sum_block, (int64_t R, int64_t inner, const float* x, float* y, float scale), (R, inner, x, y, scale))

// y(outer, inner) = scale * sum_r x(outer, R, inner)
FT_API int ft_reduce_sum(int64_t outer, int64_t R, int64_t inner, const float* x, float* y,
                         float scale) {
  if (outer < 0 || R < 0 || inner < 0) return FT_EINVAL;
  if (outer == 1 && inner == 1 && R > 65536) {
    // one long row: split across threads, then combine (double for the final sum)
    double parts[64] = {0};
    int nt = ft::num_threads();
    ft::parallel_for(nt, [&](int64_t b, int64_t e, int) {
      for (int64_t t = b; t < e; t++) {
        int64_t lo = R * t / nt, hi = R * (t + 1) / nt;
        float s;
        sum_block(hi - lo, 1, x + lo, &s, 1.f);
        parts[t] = s;
      }
    });
    double s = 0;
    for (int t = 0; t < nt; t++) s += parts[t];
    y[0] = (float)(s * scale);
    return FT_OK;
  }
  const int nt = ft::num_threads();
  if (outer < nt && R >= 128 && R * inner >= 65536) {
    // Few slices over a long R (the bias gradient: outer 1, R = rows, inner = features): one
    // thread per slice would leave the other cores idle. R is cut into nb <= 16 blocks summed
    // in parallel into partials, then added per column in block order. nb depends only on the
    // shape, so the result does not change with FT_NUM_THREADS. The partials live in a buffer
    // kept by the calling thread: fresh pages cost ~3 ms/MiB to fault in on our VMs.
    const int64_t nb = std::min<int64_t>(16, R / 64), RB = (R + nb - 1) / nb;
    thread_local std::vector<float> scratch;
    if (scratch.size() < (size_t)(outer * nb * inner)) scratch.resize((size_t)(outer * nb * inner));
    float* part = scratch.data();
    // blocks taken from a shared counter: a worker the busy machine preempts costs one block
    ft::run_chunked(outer * nb, 1, 1, [&](int64_t t0, int64_t t1, int) {
      for (int64_t t = t0; t < t1; t++) {
        const int64_t o = t / nb, r0 = (t % nb) * RB, rn = std::max<int64_t>(0, std::min(RB, R - r0));
        sum_block(rn, inner, x + (o * R + r0) * inner, part + t * inner, 1.f);
      }
    });
    ft::run_chunked(
        outer * inner, 2048, 2048,
        [&](int64_t c0, int64_t c1, int) {
          // contiguous column runs of one slice at a time, blocks in order (vectorises)
          for (int64_t c = c0; c < c1;) {
            const int64_t o = c / inner, i0 = c % inner, i1 = std::min(inner, i0 + (c1 - c));
            const float* po = part + o * nb * inner;
            float* yo = y + o * inner;
            for (int64_t i = i0; i < i1; i++) yo[i] = po[i];
            for (int64_t b = 1; b < nb; b++)
              for (int64_t i = i0; i < i1; i++) yo[i] += po[b * inner + i];
            for (int64_t i = i0; i < i1; i++) yo[i] *= scale;
            c += i1 - i0;
          }
        });
    return FT_OK;
  }
  int64_t grain = R * inner >= 16384 ? 1 : 16384 / (R * inner + 1) + 1;
  ft::parallel_for(
      outer,
      [&](int64_t o0, int64_t o1, int) {
        if (inner == 1) sum_rows(o1 - o0, R, x + o0 * R, y + o0, scale);
        else
          for (int64_t o = o0; o < o1; o++) sum_block(R, inner, x + o * R * inner, y + o * inner, scale);
      },
      grain);
  return FT_OK;
}

// y(outer, inner) = max_r x(outer, R, inner); idx(outer, inner) = argmax (first on ties; NaN wins)
FT_API int ft_reduce_max(int64_t outer, int64_t R, int64_t inner, const float* x, float* y,
                         int32_t* idx) {
  if (outer < 0 || R <= 0 || inner < 0) return FT_EINVAL;
  ft::parallel_for(outer, [&](int64_t o0, int64_t o1, int) {
    for (int64_t o = o0; o < o1; o++) {
      const float* xo = x + o * R * inner;
      for (int64_t i = 0; i < inner; i++) {
        float m = xo[i];
        int32_t a = 0;
        for (int64_t r = 1; r < R && m == m; r++) {
          float v = xo[r * inner + i];
          if (v > m || v != v) { m = v; a = (int32_t)r; }
        }
        y[o * inner + i] = m;
        if (idx) idx[o * inner + i] = a;
      }
    }
  });
  return FT_OK;
}

// gx(outer, R, inner) += scatter of gy(outer, inner) at idx(outer, inner)
FT_API int ft_reduce_max_bwd(int64_t outer, int64_t R, int64_t inner, const float* gy,
                             const int32_t* idx, float* gx) {
  if (outer < 0 || R <= 0 || inner < 0) return FT_EINVAL;
  for (int64_t o = 0; o < outer; o++)
    for (int64_t i = 0; i < inner; i++) {
      int32_t r = idx[o * inner + i];
      if (r < 0 || r >= R) return FT_EINVAL;
      gx[(o * R + r) * inner + i] += gy[o * inner + i];
    }
  return FT_OK;
}
