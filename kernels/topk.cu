// Top-k along the last axis on CUDA (native/topk.cpp's ABI and semantics: sorted best first,
// ties to the lower index, NaN largest). One block per row; every element maps to a unique
// 64-bit key (order-preserving float bits, inverted index) and k rounds each take the block's
// largest key below the previous one: O(k·n/threads) per row, meant for beam search's small k
// over long rows (B, beams·vocab). Check: tests/cuda/new_ops_test.ts.
#include "common.cuh"

namespace {
constexpr int kThreads = 512;

__device__ __forceinline__ uint64_t topk_key(float v, int64_t j, int largest) {
  uint32_t u;
  if (isnan(v)) {
    u = largest ? 0xFFFFFFFFu : 0u;
  } else {
    if (v == 0.f) v = 0.f;
    u = __float_as_uint(v);
    u = (u & 0x80000000u) ? ~u : (u | 0x80000000u);
    if (!largest) u = ~u;
    u = min(max(u, 1u), 0xFFFFFFFEu);
  }
  return ((uint64_t)u << 32) | (uint64_t)(0xFFFFFFFFu - (uint32_t)j);
}

__global__ __launch_bounds__(kThreads) void topk_k(int64_t n, int64_t k, int largest, const float* __restrict__ x,
                                                   float* __restrict__ values, int32_t* __restrict__ indices) {
  __shared__ uint64_t red[kThreads / 32];
  __shared__ uint64_t prev_s;
  const float* xr = x + blockIdx.x * n;
  uint64_t prev = 0;  // the key taken last round (round 0 has no bound)
  for (int64_t t = 0; t < k; t++) {
    uint64_t best = 0;
    for (int64_t j = threadIdx.x; j < n; j += kThreads) {
      uint64_t key = topk_key(xr[j], j, largest);
      if ((t == 0 || key < prev) && key > best) best = key;
    }
    for (int o = 16; o > 0; o >>= 1) {
      uint64_t other = __shfl_xor_sync(0xffffffffu, best, o);
      best = other > best ? other : best;
    }
    if ((threadIdx.x & 31) == 0) red[threadIdx.x / 32] = best;
    __syncthreads();
    if (threadIdx.x == 0) {
      uint64_t b = red[0];
      for (int w = 1; w < kThreads / 32; w++) b = red[w] > b ? red[w] : b;
      prev_s = b;
      int64_t j = (int64_t)(0xFFFFFFFFu - (uint32_t)(b & 0xFFFFFFFFu));
      indices[blockIdx.x * k + t] = (int32_t)j;
      values[blockIdx.x * k + t] = xr[j];
    }
    __syncthreads();
    prev = prev_s;
  }
}
}  // namespace

FT_API int ft_topk(int64_t rows, int64_t n, int64_t k, int largest, const float* x, float* values, int32_t* indices) {
  if (rows < 0 || n < 0 || k < 0 || k > n || n >= (1LL << 31)) return FT_EINVAL;
  if (rows == 0 || k == 0) return FT_OK;
  if (rows > INT32_MAX) return FT_EUNSUP;
  topk_k<<<(unsigned)rows, kThreads, 0, ftc::stream()>>>(n, k, largest, x, values, indices);
  return ftc::launched("ft_topk");
}
