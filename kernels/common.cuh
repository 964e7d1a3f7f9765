// Shared helpers of the CUDA kernels (libft_cuda.so): the current stream, launch checks,
// a growable scratch workspace, the library-wide GEMM/attention precision setting, and small
// device utilities (warp/block reductions, bf16/fp16 conversions).
// Entry points mirror native/ (same ft_* names and signatures); pointers are device memory,
// except small host arrays of shapes/strides (FFI "buffer"), read here before the launch.
#pragma once
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cmath>
#include <cstdint>

#include "ft.h"

namespace ftc {

// The stream every ft_* kernel of this library is queued on (runtime.cu; set by ft_cuda_set_stream).
cudaStream_t stream();
// Records `e` with a place for ft_cuda_last_error; returns FT_OK when e == cudaSuccess.
int fail(cudaError_t e, const char* where);
// Status after a kernel launch: catches bad launch configurations right away (errors raised
// while the kernel runs surface at the next synchronising call).
int launched(const char* where);
// Scratch device memory of the current stream, valid until that stream's next workspace() call
// (stream-ordered use only). Each stream has its own block; null on failure, with the reason in
// ft_cuda_last_error (callers return FT_ENOMEM; TypeScript appends the CUDA message).
void* workspace(size_t bytes);
// Resident blocks per SM of `fn` at `threads` threads (cached per kernel; >= 1).
int occupancy(const void* fn, int threads, size_t smem);
// A 16-byte aligned view of device memory p(bytes): p itself when aligned, else a stream-ordered
// temporary (filled from p when copy_in). unstage() copies it back (copy_out) and frees it.
int stage_aligned(const void* p, size_t bytes, bool copy_in, void** out);
int unstage(const void* orig, void* staged, size_t bytes, bool copy_out);
// Records a library message for ft_cuda_last_error (no CUDA error behind it); returns `status`.
int note(int status, const char* fmt, ...);
// True when any pointer is not 16-byte aligned (cp.async / ldmatrix / TMA operands need it).
template <typename... P>
inline bool misaligned16(P... p) {
  return ((((uintptr_t)p) | ...) & 15) != 0;
}
// A zeroed device int in the current stream's workspace for kernels to flag bad input, and
// its read-back (waits for the stream): *bad <- the flag. Costs one stream synchronisation.
int* flag_begin();
int flag_read(const int* flag, int* bad);
// Properties of the current device, read once by ft_cuda_init.
int sm_count();
int cc_major();
int cc_minor();
size_t smem_optin();

// Precision used when fp32 tensors enter a GEMM or attention ("autocast"): fp32 runs on the
// CUDA cores (bit-for-bit comparable with the CPU up to summation order); bf16/fp16 round the
// operands once and multiply on the tensor cores with fp32 accumulation and fp32 outputs.
enum Precision { P_FP32 = 0, P_BF16 = 1, P_FP16 = 2 };
// GEMM implementation: our kernels, or cuBLAS loaded at run time.
enum GemmImpl { G_OWN = 0, G_CUBLAS = 1 };
int precision();
int gemm_impl();

constexpr int kMaxDims = 8;

inline unsigned blocks_for(int64_t n, int threads, int64_t cap = 65535LL * 32) {
  int64_t b = (n + threads - 1) / threads;
  if (b < 1) b = 1;
  return (unsigned)(b > cap ? cap : b);
}

// Blocks for a grid-stride kernel over n items: enough to fill the device exactly once at the
// kernel's occupancy (one full wave; a partial second wave left SMs idle), never more than needed.
template <typename K>
inline unsigned grid_for(K* fn, int threads, int64_t n) {
  int64_t cap = (int64_t)occupancy((const void*)fn, threads, 0) * sm_count();
  return blocks_for(n, threads, cap < 1 ? 1 : cap);
}

__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}
// max that propagates NaN (fmaxf returns the other operand, which let a NaN logit vanish from a
// row max, e.g. a NaN row beside -inf mask entries read as fully masked)
__device__ __forceinline__ float nan_max(float a, float b) { return (a > b || a != a) ? a : b; }
__device__ __forceinline__ float warp_max(float v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v = nan_max(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}
// Sum over the block (blockDim.x a multiple of 32, at most 1024); every thread gets the result.
// `sh` needs 32 floats. Safe to call repeatedly (it synchronises before reusing `sh`).
__device__ __forceinline__ float block_sum(float v, float* sh) {
  int lane = threadIdx.x & 31, w = threadIdx.x >> 5, nw = blockDim.x >> 5;
  v = warp_sum(v);
  __syncthreads();
  if (lane == 0) sh[w] = v;
  __syncthreads();
  v = lane < nw ? sh[lane] : 0.f;
  return warp_sum(v);
}
__device__ __forceinline__ float block_max(float v, float* sh) {
  int lane = threadIdx.x & 31, w = threadIdx.x >> 5, nw = blockDim.x >> 5;
  v = warp_max(v);
  __syncthreads();
  if (lane == 0) sh[w] = v;
  __syncthreads();
  v = lane < nw ? sh[lane] : -INFINITY;
  return warp_max(v);
}

// fp32 -> 16-bit storage types used by the tensor-core paths.
template <typename T> __device__ __forceinline__ T from_f32(float x);
template <> __device__ __forceinline__ __nv_bfloat16 from_f32<__nv_bfloat16>(float x) { return __float2bfloat16_rn(x); }
template <> __device__ __forceinline__ __half from_f32<__half>(float x) { return __float2half_rn(x); }
__device__ __forceinline__ float to_f32(__nv_bfloat16 x) { return __bfloat162float(x); }
__device__ __forceinline__ float to_f32(__half x) { return __half2float(x); }
__device__ __forceinline__ float to_f32(float x) { return x; }

// Packs two fp32 into one 32-bit register of two 16-bit values (low half = a).
template <typename T> __device__ __forceinline__ uint32_t pack2(float a, float b);
template <> __device__ __forceinline__ uint32_t pack2<__nv_bfloat16>(float a, float b) {
  __nv_bfloat162 v = __floats2bfloat162_rn(a, b);
  return *reinterpret_cast<uint32_t*>(&v);
}
template <> __device__ __forceinline__ uint32_t pack2<__half>(float a, float b) {
  __half2 v = __floats2half2_rn(a, b);
  return *reinterpret_cast<uint32_t*>(&v);
}

}  // namespace ftc

#define FTC_RETURN_IF(cond) \
  do {                      \
    if (cond) return FT_EINVAL; \
  } while (0)
