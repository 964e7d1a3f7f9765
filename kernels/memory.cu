// Device-side ft_mem_copy / ft_mem_zero (native/memory.cpp's ABI): dst(bytes) <- src(bytes)
// or zeros, queued on the library stream. Used by copy(), clone() and gradient buffers.
// Check: tests/cuda/elementwise_test.ts (copy); bench: bench/gpu_timings.ts "copy".
#include "common.cuh"

// dst(bytes) <- src(bytes), both device memory
FT_API int ft_mem_copy(void* dst, const void* src, int64_t bytes) {
  if (bytes < 0) return FT_EINVAL;
  if (bytes == 0) return FT_OK;
  return ftc::fail(cudaMemcpyAsync(dst, src, (size_t)bytes, cudaMemcpyDeviceToDevice, ftc::stream()), "ft_mem_copy");
}

// dst(bytes) <- 0
FT_API int ft_mem_zero(void* dst, int64_t bytes) {
  if (bytes < 0) return FT_EINVAL;
  if (bytes == 0) return FT_OK;
  return ftc::fail(cudaMemsetAsync(dst, 0, (size_t)bytes, ftc::stream()), "ft_mem_zero");
}
