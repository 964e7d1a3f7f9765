// Cumulative sum along one axis: y(outer, n, inner) = Σ_{t<=i} x(outer, t, inner), or the
// reverse sum Σ_{t>=i} (reverse = 1), which is also cumsum's backward. Accumulates in double.
// Threads split the (outer, inner) columns.
// Test: deno test --allow-all tests/ops/cumsum_test.ts; bench: deno bench --allow-all bench/cumsum_bench.ts
#include <algorithm>
#include <cstdint>
#include <vector>

#include "ft.h"
#include "threadpool.h"

FT_API int ft_cumsum(int64_t outer, int64_t n, int64_t inner,
                     int reverse,       // 0: prefix sums, 1: suffix sums
                     const float* x,    // (outer, n, inner)
                     float* y) {        // (outer, n, inner)
  if (outer < 0 || n < 0 || inner < 0) return FT_EINVAL;
  if (outer * n * inner == 0) return FT_OK;
  ft::parallel_for(outer, [&](int64_t o0, int64_t o1, int) {
    std::vector<double> acc((size_t)inner);
    for (int64_t o = o0; o < o1; o++) {
      std::fill(acc.begin(), acc.end(), 0.0);
      for (int64_t s = 0; s < n; s++) {
        int64_t i = reverse ? n - 1 - s : s;
        const float* xr = x + (o * n + i) * inner;
        float* yr = y + (o * n + i) * inner;
        for (int64_t c = 0; c < inner; c++) yr[c] = (float)(acc[c] += xr[c]);
      }
    }
  }, std::max<int64_t>(1, 4096 / std::max<int64_t>(n * inner, 1)));
  return FT_OK;
}
