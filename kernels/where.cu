// Element-wise select with broadcasting on CUDA (native/where.cpp's ABI): out = cond ? a : b,
// cond float32 (nonzero) or int32, a / b broadcast through element strides or scalars when
// null. One thread per output element, shapes and strides passed by value (<= 8 dims).
// Check: tests/cuda/new_ops_test.ts.
#include "common.cuh"

namespace {
constexpr int kMaxDims = 8;
struct Geo {
  int nd;
  int64_t shape[kMaxDims], cs[kMaxDims], as[kMaxDims], bs[kMaxDims];
};

__global__ void where_k(int64_t n, Geo g, const void* __restrict__ cond, int cond_i32, const float* __restrict__ a,
                        float a_val, const float* __restrict__ b, float b_val, float* __restrict__ out) {
  for (int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; e < n; e += (int64_t)gridDim.x * blockDim.x) {
    int64_t t = e, co = 0, ao = 0, bo = 0;
    for (int d = g.nd - 1; d >= 0; d--) {
      int64_t c = t % g.shape[d];
      t /= g.shape[d];
      co += c * g.cs[d];
      ao += c * g.as[d];
      bo += c * g.bs[d];
    }
    bool take = cond_i32 ? ((const int32_t*)cond)[co] != 0 : ((const float*)cond)[co] != 0.f;
    out[e] = take ? (a ? a[ao] : a_val) : (b ? b[bo] : b_val);
  }
}
}  // namespace

FT_API int ft_where(int nd, const int64_t* shape, const int64_t* cstride, const int64_t* astride,
                    const int64_t* bstride, const void* cond, int cond_i32, const float* a, float a_val,
                    const float* b, float b_val, float* out) {
  if (nd < 1 || nd > kMaxDims) return FT_EINVAL;
  Geo g;
  g.nd = nd;
  int64_t n = 1;
  for (int d = 0; d < nd; d++) {
    g.shape[d] = shape[d];
    g.cs[d] = cstride[d];
    g.as[d] = a ? astride[d] : 0;
    g.bs[d] = b ? bstride[d] : 0;
    n *= shape[d];
  }
  if (n == 0) return FT_OK;
  where_k<<<ftc::blocks_for(n, 256, (int64_t)ftc::sm_count() * 16), 256, 0, ftc::stream()>>>(n, g, cond, cond_i32, a,
                                                                                                a_val, b, b_val, out);
  return ftc::launched("ft_where");
}
