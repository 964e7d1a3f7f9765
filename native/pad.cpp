// Constant padding / cropping (F.pad's constant mode): out(oshape) where out[c] = x[c - lo]
// when every coordinate lands inside x, else `value`; lo (per axis) may be negative (crop).
// Its backward is the same kernel with negated pads and value 0 (it crops the gradient back).
// Test: deno test --allow-all tests/ops/pad_test.ts; bench: deno bench --allow-all bench/pad_bench.ts
#include <algorithm>
#include <cstdint>

#include "ft.h"
#include "threadpool.h"

namespace {
constexpr int kMaxDims = 8;
}

FT_API int ft_pad(int nd,
                  const int64_t* xshape,   // (nd) input shape
                  const int64_t* oshape,   // (nd) output shape
                  const int64_t* lo,       // (nd) leading pad per axis (negative = crop)
                  float value,
                  const float* x,          // (xshape)
                  float* out) {            // (oshape)
  if (nd < 1 || nd > kMaxDims) return FT_EINVAL;
  int64_t rows = 1, xs[kMaxDims];
  xs[nd - 1] = 1;
  for (int d = nd - 2; d >= 0; d--) xs[d] = xs[d + 1] * xshape[d + 1];
  for (int d = 0; d < nd - 1; d++) rows *= oshape[d];
  const int64_t n = oshape[nd - 1], xn = xshape[nd - 1], l = lo[nd - 1];
  if (rows * n == 0) return FT_OK;
  // columns of the last axis that read x: [j0, j1)
  const int64_t j0 = std::min(n, std::max<int64_t>(0, l)), j1 = std::max(j0, std::min(n, xn + l));
  ft::parallel_for(rows, [&](int64_t r0, int64_t r1, int) {
    for (int64_t r = r0; r < r1; r++) {
      float* o = out + r * n;
      int64_t off = 0, t = r;
      bool inside = true;
      for (int d = nd - 2; d >= 0; d--) {
        int64_t c = t % oshape[d] - lo[d];
        t /= oshape[d];
        if (c < 0 || c >= xshape[d]) inside = false;
        off += c * xs[d];
      }
      if (!inside) {
        std::fill(o, o + n, value);
        continue;
      }
      std::fill(o, o + j0, value);
      const float* xr = x + off - l;
      for (int64_t j = j0; j < j1; j++) o[j] = xr[j];
      std::fill(o + j1, o + n, value);
    }
  }, std::max<int64_t>(1, 8192 / std::max<int64_t>(n, 1)));
  return FT_OK;
}
