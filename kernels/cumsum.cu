// Cumulative sum along one axis on CUDA (native/cumsum.cpp's ABI): one thread per (outer,
// inner) column walking the n positions in order (reverse = suffix sums, cumsum's backward),
// accumulating in double. Fine for the short axes of masks and positions; long single rows
// are sequential. Check: tests/cuda/new_ops_test.ts.
#include "common.cuh"

namespace {
__global__ void cumsum_k(int64_t outer, int64_t n, int64_t inner, int reverse, const float* __restrict__ x,
                         float* __restrict__ y) {
  for (int64_t col = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; col < outer * inner;
       col += (int64_t)gridDim.x * blockDim.x) {
    int64_t o = col / inner, c = col % inner;
    double acc = 0.0;
    for (int64_t s = 0; s < n; s++) {
      int64_t i = reverse ? n - 1 - s : s;
      int64_t e = (o * n + i) * inner + c;
      acc += x[e];
      y[e] = (float)acc;
    }
  }
}
}  // namespace

FT_API int ft_cumsum(int64_t outer, int64_t n, int64_t inner, int reverse, const float* x, float* y) {
  if (outer < 0 || n < 0 || inner < 0) return FT_EINVAL;
  if (outer * n * inner == 0) return FT_OK;
  int64_t cols = outer * inner;
  cumsum_k<<<ftc::blocks_for(cols, 128, (int64_t)ftc::sm_count() * 16), 128, 0, ftc::stream()>>>(outer, n, inner,
                                                                                                   reverse, x, y);
  return ftc::launched("ft_cumsum");
}
