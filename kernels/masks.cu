// Triangular 0/1 masks on CUDA (native/masks.cpp's ABI): out(rows, cols) = [col <= row + k]
// (tril) or [col >= row + k] (triu). Check: tests/cuda/new_ops_test.ts.
#include "common.cuh"

namespace {
__global__ void tri_k(int64_t rows, int64_t cols, int64_t k, int upper, float* __restrict__ out) {
  for (int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; e < rows * cols; e += (int64_t)gridDim.x * blockDim.x) {
    int64_t i = e / cols, j = e % cols;
    out[e] = (upper ? j >= i + k : j <= i + k) ? 1.f : 0.f;
  }
}
}  // namespace

FT_API int ft_tri_mask(int64_t rows, int64_t cols, int64_t k, int upper, float* out) {
  if (rows < 0 || cols < 0) return FT_EINVAL;
  if (rows * cols == 0) return FT_OK;
  tri_k<<<ftc::blocks_for(rows * cols, 256, (int64_t)ftc::sm_count() * 16), 256, 0, ftc::stream()>>>(rows, cols, k,
                                                                                                       upper, out);
  return ftc::launched("ft_tri_mask");
}
