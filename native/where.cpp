// Element-wise select with broadcasting: out(shape) = cond ? a : b, where cond is float32
// (nonzero = true) or int32, and a / b are tensors read through broadcast element strides
// (0 on broadcast axes) or, when their pointer is null, scalars. maskedFill and where's
// backward (the gradient routed to one side, zeros to the other) are the same kernel.
// Test: deno test --allow-all tests/ops/where_test.ts; bench: deno bench --allow-all bench/where_bench.ts
#include <algorithm>
#include <cstdint>

#include "ft.h"
#include "threadpool.h"

namespace {
constexpr int kMaxDims = 8;
}

// out(shape) = cond ? a : b over nd <= 8 dims; strides in elements (0 = broadcast)
FT_API int ft_where(int nd, const int64_t* shape,   // (nd) output shape
                    const int64_t* cstride,         // (nd) cond strides
                    const int64_t* astride,         // (nd) a strides (ignored when a is null)
                    const int64_t* bstride,         // (nd) b strides (ignored when b is null)
                    const void* cond,               // float32 or int32 (cond_i32)
                    int cond_i32,
                    const float* a, float a_val,    // tensor or null (then the scalar a_val)
                    const float* b, float b_val,    // tensor or null (then the scalar b_val)
                    float* out) {                   // (shape) contiguous
  if (nd < 1 || nd > kMaxDims) return FT_EINVAL;
  int64_t rows = 1;
  for (int d = 0; d < nd - 1; d++) rows *= shape[d];
  const int64_t n = shape[nd - 1];
  if (rows * n == 0) return FT_OK;
  const int64_t cs = cstride[nd - 1], as = a ? astride[nd - 1] : 0, bs = b ? bstride[nd - 1] : 0;
  ft::parallel_for(rows, [&](int64_t r0, int64_t r1, int) {
    for (int64_t r = r0; r < r1; r++) {
      int64_t co = 0, ao = 0, bo = 0, t = r;
      for (int d = nd - 2; d >= 0; d--) {
        int64_t c = t % shape[d];
        t /= shape[d];
        co += c * cstride[d];
        if (a) ao += c * astride[d];
        if (b) bo += c * bstride[d];
      }
      float* o = out + r * n;
      if (cond_i32) {
        const int32_t* cp = (const int32_t*)cond + co;
        for (int64_t j = 0; j < n; j++)
          o[j] = cp[j * cs] != 0 ? (a ? a[ao + j * as] : a_val) : (b ? b[bo + j * bs] : b_val);
      } else {
        const float* cp = (const float*)cond + co;
        for (int64_t j = 0; j < n; j++)
          o[j] = cp[j * cs] != 0.f ? (a ? a[ao + j * as] : a_val) : (b ? b[bo + j * bs] : b_val);
      }
    }
  }, std::max<int64_t>(1, 8192 / n));
  return FT_OK;
}
