// Index gathers along one axis on CUDA (native/gather.cpp's ABI and semantics): gather
// (torch.gather over the index's shape, x through its strides) and indexSelect (1-D index),
// forward and backward (scatter-add with fp32 atomics, so the order of duplicate-index sums
// varies). Indices are validated first (one small device->host copy): FT_EINVAL with bad =
// {position, index}. Check: tests/cuda/new_ops_test.ts.
#include "common.cuh"

namespace {
constexpr int kMaxDims = 8;
struct Geo {
  int nd, axis;
  int64_t ishape[kMaxDims], xstride[kMaxDims];
};

__global__ void idx_check(int64_t n, int64_t lim, const int32_t* __restrict__ idx, int32_t* first) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
    if (idx[i] < 0 || idx[i] >= lim) atomicMin(first, (int32_t)i);
}

int check_idx(int64_t n, int64_t lim, const int32_t* idx, int32_t* bad) {
  if (n == 0) return FT_OK;
  if (n > INT32_MAX) return FT_EUNSUP;
  cudaStream_t s = ftc::stream();
  int32_t* first = (int32_t*)ftc::workspace(4);
  if (!first) return FT_ENOMEM;
  int32_t init = INT32_MAX, h = 0;
  int st = ftc::fail(cudaMemcpyAsync(first, &init, 4, cudaMemcpyHostToDevice, s), "gather");
  if (st) return st;
  idx_check<<<ftc::blocks_for(n, 256), 256, 0, s>>>(n, lim, idx, first);
  st = ftc::fail(cudaMemcpyAsync(&h, first, 4, cudaMemcpyDeviceToHost, s), "gather");
  if (!st) st = ftc::fail(cudaStreamSynchronize(s), "gather (index check)");
  if (st) return st;
  if (h == INT32_MAX) return FT_OK;
  if (bad) {
    int32_t v = 0;
    cudaMemcpy(&v, idx + h, 4, cudaMemcpyDeviceToHost);
    bad[0] = h;
    bad[1] = v;
  }
  return FT_EINVAL;
}

__device__ __forceinline__ int64_t base_off(int64_t e, const Geo& g) {
  int64_t off = 0;
  for (int d = g.nd - 1; d >= 0; d--) {
    int64_t c = e % g.ishape[d];
    e /= g.ishape[d];
    if (d != g.axis) off += c * g.xstride[d];
  }
  return off;
}

__global__ void gather_fwd_k(int64_t n, Geo g, const float* __restrict__ x, const int32_t* __restrict__ idx,
                             float* __restrict__ out) {
  for (int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; e < n; e += (int64_t)gridDim.x * blockDim.x)
    out[e] = x[base_off(e, g) + (int64_t)idx[e] * g.xstride[g.axis]];
}
__global__ void gather_bwd_k(int64_t n, Geo g, const int32_t* __restrict__ idx, const float* __restrict__ gy,
                             float* __restrict__ gx) {
  for (int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; e < n; e += (int64_t)gridDim.x * blockDim.x)
    atomicAdd(gx + base_off(e, g) + (int64_t)idx[e] * g.xstride[g.axis], gy[e]);
}
__global__ void isel_fwd_k(int64_t n, int64_t nx, int64_t ni, int64_t inner, const float* __restrict__ x,
                           const int32_t* __restrict__ idx, float* __restrict__ out) {
  for (int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; e < n; e += (int64_t)gridDim.x * blockDim.x) {
    int64_t c = e % inner, r = e / inner, i = r % ni, o = r / ni;
    out[e] = x[(o * nx + idx[i]) * inner + c];
  }
}
__global__ void isel_bwd_k(int64_t n, int64_t nx, int64_t ni, int64_t inner, const int32_t* __restrict__ idx,
                           const float* __restrict__ g, float* __restrict__ gx) {
  for (int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; e < n; e += (int64_t)gridDim.x * blockDim.x) {
    int64_t c = e % inner, r = e / inner, i = r % ni, o = r / ni;
    atomicAdd(gx + (o * nx + idx[i]) * inner + c, g[e]);
  }
}
unsigned grid(int64_t n) { return ftc::blocks_for(n, 256, (int64_t)ftc::sm_count() * 16); }

int make_geo(int nd, const int64_t* ishape, const int64_t* xstride, int axis, Geo* g, int64_t* n) {
  if (nd < 1 || nd > kMaxDims || axis < 0 || axis >= nd) return FT_EINVAL;
  g->nd = nd;
  g->axis = axis;
  *n = 1;
  for (int d = 0; d < nd; d++) {
    g->ishape[d] = ishape[d];
    g->xstride[d] = xstride[d];
    *n *= ishape[d];
  }
  return FT_OK;
}
}  // namespace

FT_API int ft_gather_fwd(int nd, const int64_t* ishape, const int64_t* xstride, int axis, int64_t axis_size,
                         const float* x, const int32_t* idx, float* out, int32_t* bad) {
  Geo g;
  int64_t n = 0;
  if (make_geo(nd, ishape, xstride, axis, &g, &n)) return FT_EINVAL;
  int st = check_idx(n, axis_size, idx, bad);
  if (st || n == 0) return st;
  gather_fwd_k<<<grid(n), 256, 0, ftc::stream()>>>(n, g, x, idx, out);
  return ftc::launched("ft_gather_fwd");
}

FT_API int ft_gather_bwd(int nd, const int64_t* ishape, const int64_t* xstride, int axis, int64_t axis_size,
                         const int32_t* idx, const float* g, float* gx, int32_t* bad) {
  Geo geo;
  int64_t n = 0;
  if (make_geo(nd, ishape, xstride, axis, &geo, &n)) return FT_EINVAL;
  int st = check_idx(n, axis_size, idx, bad);
  if (st || n == 0) return st;
  gather_bwd_k<<<grid(n), 256, 0, ftc::stream()>>>(n, geo, idx, g, gx);
  return ftc::launched("ft_gather_bwd");
}

FT_API int ft_index_select_fwd(int64_t outer, int64_t nx, int64_t ni, int64_t inner, const float* x,
                               const int32_t* idx, float* out, int32_t* bad) {
  if (outer < 0 || nx < 0 || ni < 0 || inner < 0) return FT_EINVAL;
  int st = check_idx(ni, nx, idx, bad);
  int64_t n = outer * ni * inner;
  if (st || n == 0) return st;
  isel_fwd_k<<<grid(n), 256, 0, ftc::stream()>>>(n, nx, ni, inner, x, idx, out);
  return ftc::launched("ft_index_select_fwd");
}

FT_API int ft_index_select_bwd(int64_t outer, int64_t nx, int64_t ni, int64_t inner, const int32_t* idx,
                               const float* g, float* gx, int32_t* bad) {
  if (outer < 0 || nx < 0 || ni < 0 || inner < 0) return FT_EINVAL;
  int st = check_idx(ni, nx, idx, bad);
  if (st) return st;
  cudaStream_t s = ftc::stream();
  if (outer * nx * inner) cudaMemsetAsync(gx, 0, (size_t)(outer * nx * inner) * 4, s);
  int64_t n = outer * ni * inner;
  if (n) isel_bwd_k<<<grid(n), 256, 0, s>>>(n, nx, ni, inner, idx, g, gx);
  return ftc::launched("ft_index_select_bwd");
}
