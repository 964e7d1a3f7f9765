// Triangular 0/1 masks: out(rows, cols) = 1 where col <= row + k (lower, tril) or
// col >= row + k (upper, triu), else 0 (float32), like torch.tril / torch.triu of ones.
// Test: deno test --allow-all tests/ops/masks_test.ts; bench: deno bench --allow-all bench/masks_bench.ts
#include <cstdint>

#include "ft.h"
#include "threadpool.h"

FT_API int ft_tri_mask(int64_t rows, int64_t cols,
                       int64_t k,        // diagonal offset
                       int upper,        // 0: tril, 1: triu
                       float* out) {     // (rows, cols)
  if (rows < 0 || cols < 0) return FT_EINVAL;
  ft::parallel_for(rows, [&](int64_t r0, int64_t r1, int) {
    for (int64_t i = r0; i < r1; i++)
      for (int64_t j = 0; j < cols; j++) out[i * cols + j] = (upper ? j >= i + k : j <= i + k) ? 1.f : 0.f;
  }, 64);
  return FT_OK;
}
