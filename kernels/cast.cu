// dtype casts and one-hot on CUDA (native/cast.cpp's ABI and semantics: float -> int32
// truncates toward zero, NaN / out of range -> INT32_MIN; one-hot validates indices first with
// one small device->host copy). Check: tests/cuda/new_ops_test.ts.
#include "common.cuh"

namespace {
__global__ void f2i_k(int64_t n, const float* __restrict__ x, int32_t* __restrict__ y) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
    float v = x[i];
    y[i] = (v >= -2147483648.f && v < 2147483648.f) ? (int32_t)v : INT32_MIN;
  }
}
__global__ void i2f_k(int64_t n, const int32_t* __restrict__ x, float* __restrict__ y) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
    y[i] = (float)x[i];
}
__global__ void one_hot_k(int64_t n, int64_t classes, const int32_t* __restrict__ idx, float* __restrict__ out,
                          int32_t* first) {
  for (int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; e < n * classes; e += (int64_t)gridDim.x * blockDim.x) {
    int64_t i = e / classes, c = e % classes;
    int32_t v = idx[i];
    out[e] = v == c ? 1.f : 0.f;
    if (c == 0 && (v < 0 || v >= classes)) atomicMin(first, (int32_t)i);
  }
}
unsigned grid(int64_t n) { return ftc::blocks_for(n, 256, (int64_t)ftc::sm_count() * 16); }
}  // namespace

FT_API int ft_cast_f32_i32(int64_t n, const float* x, int32_t* y) {
  if (n < 0) return FT_EINVAL;
  if (n) f2i_k<<<grid(n), 256, 0, ftc::stream()>>>(n, x, y);
  return ftc::launched("ft_cast_f32_i32");
}

FT_API int ft_cast_i32_f32(int64_t n, const int32_t* x, float* y) {
  if (n < 0) return FT_EINVAL;
  if (n) i2f_k<<<grid(n), 256, 0, ftc::stream()>>>(n, x, y);
  return ftc::launched("ft_cast_i32_f32");
}

FT_API int ft_one_hot(int64_t n, int64_t classes, const int32_t* idx, float* out, int32_t* bad) {
  if (n < 0 || classes < 0 || n > INT32_MAX) return FT_EINVAL;
  if (n == 0) return FT_OK;
  cudaStream_t s = ftc::stream();
  int32_t* first = (int32_t*)ftc::workspace(4);
  if (!first) return FT_ENOMEM;
  int32_t init = INT32_MAX, h = 0;
  int st = ftc::fail(cudaMemcpyAsync(first, &init, 4, cudaMemcpyHostToDevice, s), "one_hot");
  if (st) return st;
  if (classes == 0) {  // every index is out of range
    h = 0;
  } else {
    one_hot_k<<<grid(n * classes), 256, 0, s>>>(n, classes, idx, out, first);
    st = ftc::fail(cudaMemcpyAsync(&h, first, 4, cudaMemcpyDeviceToHost, s), "one_hot");
    if (!st) st = ftc::fail(cudaStreamSynchronize(s), "one_hot (index check)");
    if (st) return st;
    if (h == INT32_MAX) return FT_OK;
  }
  if (bad) {
    int32_t v = 0;
    cudaMemcpy(&v, idx + h, 4, cudaMemcpyDeviceToHost);
    bad[0] = h;
    bad[1] = v;
  }
  return FT_EINVAL;
}
