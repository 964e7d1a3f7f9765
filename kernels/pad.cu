// Constant padding / cropping on CUDA (native/pad.cpp's ABI): one thread per output element,
// out[c] = x[c - lo] inside x, else value. Check: tests/cuda/new_ops_test.ts.
#include "common.cuh"

namespace {
constexpr int kMaxDims = 8;
struct Geo {
  int nd;
  int64_t xshape[kMaxDims], oshape[kMaxDims], lo[kMaxDims];
};
__global__ void pad_k(int64_t n, Geo g, float value, const float* __restrict__ x, float* __restrict__ out) {
  for (int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; e < n; e += (int64_t)gridDim.x * blockDim.x) {
    int64_t t = e, off = 0, stride = 1;
    bool inside = true;
    for (int d = g.nd - 1; d >= 0; d--) {
      int64_t c = t % g.oshape[d] - g.lo[d];
      t /= g.oshape[d];
      if (c < 0 || c >= g.xshape[d]) inside = false;
      off += c * stride;
      stride *= g.xshape[d];
    }
    out[e] = inside ? x[off] : value;
  }
}
}  // namespace

FT_API int ft_pad(int nd, const int64_t* xshape, const int64_t* oshape, const int64_t* lo, float value, const float* x,
                  float* out) {
  if (nd < 1 || nd > kMaxDims) return FT_EINVAL;
  Geo g;
  g.nd = nd;
  int64_t n = 1;
  for (int d = 0; d < nd; d++) {
    g.xshape[d] = xshape[d];
    g.oshape[d] = oshape[d];
    g.lo[d] = lo[d];
    n *= oshape[d];
  }
  if (n == 0) return FT_OK;
  pad_k<<<ftc::blocks_for(n, 256, (int64_t)ftc::sm_count() * 16), 256, 0, ftc::stream()>>>(n, g, value, x, out);
  return ftc::launched("ft_pad");
}
