// Top-k along the last axis: values (rows,k) and int32 indices (rows,k) of the k largest (or
// smallest) of each row of x (rows,n), sorted best first; ties go to the lower index; NaN
// counts as larger than every number (as in PyTorch), so it comes first for largest and last
// for smallest. Each element becomes a unique 64-bit key (order-preserving float bits, then
// the inverted index), so selection is a plain integer comparison: a streaming sorted buffer
// for k <= 64 (beam search), nth_element + sort beyond; k = 1 (argmax) is a plain scan.
// Test: deno test --allow-all tests/ops/topk_test.ts; bench: deno bench --allow-all bench/topk_bench.ts
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <new>
#include <vector>

#include "ft.h"
#include "threadpool.h"

namespace {
constexpr int64_t kSmallK = 64;  // up to here: streaming insertion; beyond: nth_element + sort

// larger key = better; unique per element
inline uint64_t topk_key(float v, int64_t j, int largest) {
  uint32_t u;
  if (std::isnan(v)) {
    u = largest ? 0xFFFFFFFFu : 0u;
  } else {
    if (v == 0.f) v = 0.f;  // -0 ties with +0
    std::memcpy(&u, &v, 4);
    u = (u & 0x80000000u) ? ~u : (u | 0x80000000u);  // monotone in v
    if (!largest) u = ~u;
    u = std::min<uint32_t>(std::max<uint32_t>(u, 1u), 0xFFFFFFFEu);  // keep NaN's slots exclusive
  }
  return ((uint64_t)u << 32) | (uint64_t)(0xFFFFFFFFu - (uint32_t)j);
}
}  // namespace

// values(rows,k), indices(rows,k) = top-k of each row of x(rows,n); 0 <= k <= n < 2^31
FT_API int ft_topk(int64_t rows, int64_t n, int64_t k,
                   int largest,          // 1: largest first, 0: smallest first
                   const float* x,       // (rows, n)
                   float* values,        // (rows, k)
                   int32_t* indices) {   // (rows, k)
  if (rows < 0 || n < 0 || k < 0 || k > n || n >= (1LL << 31)) return FT_EINVAL;
  if (rows == 0 || k == 0) return FT_OK;
  int status = FT_OK;
  ft::parallel_for(rows, [&](int64_t r0, int64_t r1, int) {
    try {
      std::vector<uint64_t> keys((size_t)(k <= kSmallK ? k + 1 : n));
      for (int64_t r = r0; r < r1; r++) {
        const float* xr = x + r * n;
        int64_t cnt = k;
        if (k == 1) {  // argmax / argmin: a plain scan, same order as the keys
          int64_t best = 0;
          bool nan = std::isnan(xr[0]);
          float bv = xr[0];
          for (int64_t j = 1; j < n && !(largest && nan); j++) {
            const float v = xr[j];
            if (std::isnan(v)) {
              if (largest) best = j, nan = true;  // NaN is the largest: the first one wins
            } else if (nan || (largest ? v > bv : v < bv)) {  // for smallest, any number beats NaN
              best = j, bv = v, nan = false;
            }
          }
          keys[0] = topk_key(xr[best], best, largest);
        } else if (k <= kSmallK) {
          // streaming: a sorted (descending) buffer of the best k; most elements fail the first test
          cnt = 0;
          for (int64_t j = 0; j < n; j++) {
            const uint64_t key = topk_key(xr[j], j, largest);
            if (cnt == k && key <= keys[k - 1]) continue;
            int64_t p = cnt < k ? cnt++ : k - 1;
            while (p > 0 && keys[p - 1] < key) {
              keys[p] = keys[p - 1];
              p--;
            }
            keys[p] = key;
          }
        } else {
          for (int64_t j = 0; j < n; j++) keys[j] = topk_key(xr[j], j, largest);
          if (k < n) std::nth_element(keys.begin(), keys.begin() + (k - 1), keys.end(), std::greater<uint64_t>());
          std::sort(keys.begin(), keys.begin() + k, std::greater<uint64_t>());
        }
        for (int64_t t = 0; t < k; t++) {
          int64_t j = (int64_t)(0xFFFFFFFFu - (uint32_t)(keys[t] & 0xFFFFFFFFu));
          indices[r * k + t] = (int32_t)j;
          values[r * k + t] = xr[j];
        }
      }
    } catch (const std::bad_alloc&) {
      status = FT_ENOMEM;
    }
  });
  return status;
}
