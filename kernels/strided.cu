// Strided copy (native/strided.cpp's ABI), the kernel behind permute/transpose, slice, concat,
// expand and their backward: dst[idx . dst_st] (=|+=) src[idx . src_st] over `shape` (<= 8
// dims, element strides, pointers already offset). Accumulation into a destination with a
// stride-0 axis (several idx hit one element) uses atomicAdd; otherwise plain stores.
// Check: tests/cuda/shape_test.ts; bench: bench/gpu_timings.ts "transpose".
#include "common.cuh"

namespace {
struct Dims {
  int nd;
  int64_t shape[ftc::kMaxDims], ss[ftc::kMaxDims], ds[ftc::kMaxDims];
};

// mode 0: copy, 1: +=, 2: atomic +=. The innermost dim maps to threadIdx.x so contiguous
// rows stay coalesced on whichever side has unit stride.
template <int MODE>
__global__ void strided_k(Dims d, int64_t n, const float* __restrict__ src, float* dst) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
    int64_t rem = i, os = 0, od = 0;
    for (int k = d.nd - 1; k >= 0; k--) {
      int64_t c = rem % d.shape[k];
      rem /= d.shape[k];
      os += c * d.ss[k];
      od += c * d.ds[k];
    }
    if (MODE == 0) dst[od] = src[os];
    else if (MODE == 1) dst[od] += src[os];
    else atomicAdd(dst + od, src[os]);
  }
}

// 2-D transpose through shared memory: dst(R, C) row-major, src read with strides (1, R)...
// generalised: shape (A, B) with src strides (sa0, 1) -> dst strides (1, db1) etc. Used for
// the common last-two-axes swap where one side reads with a large stride.
__global__ void transpose_tile(int64_t batch, int64_t R, int64_t C, const float* __restrict__ src,
                               int64_t sb, int64_t sr, float* __restrict__ dst, int64_t db, int64_t dc) {
  // logical element (b, r, c): src at b*sb + r*sr + c (c contiguous in src),
  // dst at b*db + r + c*dc (r contiguous in dst)
  __shared__ float tile[32][33];
  int64_t b = blockIdx.z;
  int64_t r0 = blockIdx.y * 32, c0 = blockIdx.x * 32;
  for (int j = threadIdx.y; j < 32; j += 8) {
    int64_t r = r0 + j, c = c0 + threadIdx.x;
    if (r < R && c < C) tile[j][threadIdx.x] = src[b * sb + r * sr + c];
  }
  __syncthreads();
  for (int j = threadIdx.y; j < 32; j += 8) {
    int64_t c = c0 + j, r = r0 + threadIdx.x;
    if (r < R && c < C) dst[b * db + c * dc + r] = tile[threadIdx.x][j];
  }
}
}  // namespace

// shape(nd); src with src_strides(nd); dst with dst_strides(nd); acc: dst += src
FT_API int ft_strided_copy(int nd, const int64_t* shape, const float* src, const int64_t* sst, float* dst,
                           const int64_t* dst_st, int acc) {
  if (nd < 1 || nd > ftc::kMaxDims) return FT_EINVAL;
  Dims d;
  d.nd = nd;
  int64_t n = 1;
  bool overlap = false;
  for (int k = 0; k < nd; k++) {
    if (shape[k] < 0) return FT_EINVAL;
    d.shape[k] = shape[k];
    d.ss[k] = sst[k];
    d.ds[k] = dst_st[k];
    n *= shape[k];
    if (dst_st[k] == 0 && shape[k] > 1) overlap = true;
  }
  if (n == 0) return FT_OK;
  cudaStream_t s = ftc::stream();
  // transpose of the last two axes (batch of (R, C) read row-wise, written column-wise)
  if (!acc && (nd == 2 || nd == 3)) {
    int o = nd - 2;
    int64_t R = d.shape[o], C = d.shape[o + 1];
    bool tr = d.ss[o + 1] == 1 && d.ds[o] == 1 && d.ds[o + 1] >= R && d.ss[o] >= C && R >= 8 && C >= 8;
    if (tr) {
      int64_t B = nd == 3 ? d.shape[0] : 1, sb = nd == 3 ? d.ss[0] : 0, db = nd == 3 ? d.ds[0] : 0;
      if (B <= 65535) {
        dim3 g((unsigned)((C + 31) / 32), (unsigned)((R + 31) / 32), (unsigned)B);
        if (g.y <= 65535) {
          transpose_tile<<<g, dim3(32, 8), 0, s>>>(B, R, C, src, sb, d.ss[o], dst, db, d.ds[o + 1]);
          return ftc::launched("ft_strided_copy (transpose)");
        }
      }
    }
  }
  if (!acc) strided_k<0><<<ftc::grid_for(strided_k<0>, 256, n), 256, 0, s>>>(d, n, src, dst);
  else if (!overlap) strided_k<1><<<ftc::grid_for(strided_k<1>, 256, n), 256, 0, s>>>(d, n, src, dst);
  else strided_k<2><<<ftc::grid_for(strided_k<2>, 256, n), 256, 0, s>>>(d, n, src, dst);
  return ftc::launched("ft_strided_copy");
}
