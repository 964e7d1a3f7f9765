// Embedding lookup (native/embedding.cpp's ABI): out(N, D) = weight(V, D)[ids(N)]; backward
// scatter-adds g(N, D) into gw(V, D). ids are checked on the device; an id outside [0, V)
// returns FT_EINVAL with bad (2, host) = {position, id} (one small device->host copy per call).
// Backward uses fp32 atomicAdd (repeated ids sum in any order: last bits may vary); positions
// whose id equals pad (padding_idx, -1: none) add nothing.
// Check: tests/cuda/embedding_test.ts.
#include "common.cuh"

namespace {
__global__ void ids_check(int64_t N, int64_t V, const int32_t* __restrict__ ids, int32_t* first) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < N; i += (int64_t)gridDim.x * blockDim.x)
    if (ids[i] < 0 || ids[i] >= V) atomicMin(first, (int32_t)i);
}
__global__ void emb_fwd_k(int64_t N, int64_t D, const float* __restrict__ w, const int32_t* __restrict__ ids,
                          float* __restrict__ out) {
  int64_t n = N * D;
  for (int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; e < n; e += (int64_t)gridDim.x * blockDim.x) {
    int64_t i = e / D, d = e - i * D;
    out[e] = w[(int64_t)ids[i] * D + d];
  }
}
__global__ void emb_bwd_k(int64_t N, int64_t D, const int32_t* __restrict__ ids, const float* __restrict__ g,
                          float* __restrict__ gw, int64_t pad) {
  int64_t n = N * D;
  for (int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; e < n; e += (int64_t)gridDim.x * blockDim.x) {
    int64_t i = e / D, d = e - i * D;
    if (ids[i] == pad) continue;
    atomicAdd(gw + (int64_t)ids[i] * D + d, g[e]);
  }
}

// validates ids; returns FT_OK or FT_EINVAL (bad filled)
int check_ids(int64_t N, int64_t V, const int32_t* ids, int32_t* bad) {
  if (N == 0) return FT_OK;
  if (N > INT32_MAX) return FT_EUNSUP;
  cudaStream_t s = ftc::stream();
  int32_t* first = (int32_t*)ftc::workspace(4);
  if (!first) return FT_ENOMEM;
  int32_t init = INT32_MAX, h = 0;
  int st = ftc::fail(cudaMemcpyAsync(first, &init, 4, cudaMemcpyHostToDevice, s), "embedding");
  if (st) return st;
  ids_check<<<ftc::blocks_for(N, 256), 256, 0, s>>>(N, V, ids, first);
  st = ftc::fail(cudaMemcpyAsync(&h, first, 4, cudaMemcpyDeviceToHost, s), "embedding");
  if (!st) st = ftc::fail(cudaStreamSynchronize(s), "embedding (check)");
  if (st) return st;
  if (h == INT32_MAX) return FT_OK;
  if (bad) {
    int32_t id = 0;
    st = ftc::fail(cudaMemcpyAsync(&id, ids + h, 4, cudaMemcpyDeviceToHost, s), "embedding (bad id)");
    if (!st) st = ftc::fail(cudaStreamSynchronize(s), "embedding (bad id sync)");
    if (st) return st;  // a device error, not a bad id: report it as such
    bad[0] = h;
    bad[1] = id;
  }
  return FT_EINVAL;
}
}  // namespace

// out(N, D) = weight(V, D)[ids(N)]; bad (2, host) or null
FT_API int ft_embedding_fwd(int64_t N, int64_t V, int64_t D, const float* weight, const int32_t* ids, float* out,
                            int32_t* bad) {
  if (N < 0 || V < 0 || D < 0) return FT_EINVAL;
  int st = check_ids(N, V, ids, bad);
  if (st) return st;
  if (D == 0 || N == 0) return FT_OK;
  emb_fwd_k<<<ftc::blocks_for(N * D, 256), 256, 0, ftc::stream()>>>(N, D, weight, ids, out);
  return ftc::launched("ft_embedding_fwd");
}

// gw(V, D) (=|+=) scatter of g(N, D) at ids(N); ids equal to pad (-1: none) add nothing
FT_API int ft_embedding_bwd(int64_t N, int64_t V, int64_t D, const int32_t* ids, const float* g, float* gw,
                            int accumulate, int64_t pad, int32_t* bad) {
  if (N < 0 || V < 0 || D < 0 || pad < -1 || pad >= V) return FT_EINVAL;
  int st = check_ids(N, V, ids, bad);
  if (st) return st;
  if (D == 0 || V == 0) return FT_OK;
  cudaStream_t s = ftc::stream();
  if (!accumulate) cudaMemsetAsync(gw, 0, (size_t)(V * D) * 4, s);
  if (N > 0) emb_bwd_k<<<ftc::blocks_for(N * D, 256), 256, 0, s>>>(N, D, ids, g, gw, pad);
  return ftc::launched("ft_embedding_bwd");
}
