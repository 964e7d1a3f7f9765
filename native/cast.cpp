// dtype casts and one-hot encoding:
//   ft_cast_f32_i32: int32(x) truncating toward zero (like torch); NaN and values outside the
//                    int32 range give INT32_MIN (what x86's cvttss2si, and so torch on CPU, gives);
//   ft_cast_i32_f32: float32(x) (round to nearest);
//   ft_one_hot:      out(n, classes) float32 = 1 at idx, 0 elsewhere; FT_EINVAL with
//                    bad = {position, index} for an index outside [0, classes).
// Test: deno test --allow-all tests/ops/cast_test.ts; bench: deno bench --allow-all bench/cast_bench.ts
#include <algorithm>
#include <cstdint>

#include "ft.h"
#include "threadpool.h"

FT_API int ft_cast_f32_i32(int64_t n, const float* x,   // (n)
                           int32_t* y) {                // (n)
  if (n < 0) return FT_EINVAL;
  ft::parallel_for(n, [&](int64_t i0, int64_t i1, int) {
    for (int64_t i = i0; i < i1; i++) {
      float v = x[i];
      y[i] = (v >= -2147483648.f && v < 2147483648.f) ? (int32_t)v : INT32_MIN;
    }
  }, 1 << 14);
  return FT_OK;
}

FT_API int ft_cast_i32_f32(int64_t n, const int32_t* x,  // (n)
                           float* y) {                   // (n)
  if (n < 0) return FT_EINVAL;
  ft::parallel_for(n, [&](int64_t i0, int64_t i1, int) {
    for (int64_t i = i0; i < i1; i++) y[i] = (float)x[i];
  }, 1 << 14);
  return FT_OK;
}

FT_API int ft_one_hot(int64_t n, int64_t classes,
                      const int32_t* idx,   // (n) in [0, classes)
                      float* out,           // (n, classes)
                      int32_t* bad) {       // (2) {position, index} on FT_EINVAL, or null
  if (n < 0 || classes < 0) return FT_EINVAL;
  for (int64_t i = 0; i < n; i++)
    if (idx[i] < 0 || idx[i] >= classes) {
      if (bad) {
        bad[0] = (int32_t)i;
        bad[1] = idx[i];
      }
      return FT_EINVAL;
    }
  ft::parallel_for(n, [&](int64_t i0, int64_t i1, int) {
    for (int64_t i = i0; i < i1; i++) {
      float* o = out + i * classes;
      std::fill(o, o + classes, 0.f);
      o[idx[i]] = 1.f;
    }
  }, std::max<int64_t>(1, 8192 / std::max<int64_t>(classes, 1)));
  return FT_OK;
}
