// CUDA runtime wrappers bound by src/backend/cuda.ts: device detection, memory, copies,
// streams, events, and the library-wide precision / GEMM-implementation switches.
// Detection never crashes: with no driver or no device ft_cuda_device_count returns 0 and
// ft_cuda_last_error says why (the runtime is linked statically and dlopens libcuda itself).
// Check: tests/cuda/runtime_test.ts (skipped without a device); bench: bench/gpu_timings.ts copy.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>

#include "common.cuh"

namespace {
char g_err[512] = "";
cudaStream_t g_stream = nullptr;  // null = legacy default stream until ft_cuda_init
int g_init = 0;
cudaDeviceProp g_prop;
int g_precision = ftc::P_FP32;
int g_gemm = ftc::G_OWN;
void* g_ws = nullptr;
size_t g_ws_bytes = 0;
}  // namespace

namespace ftc {
cudaStream_t stream() { return g_stream; }
int fail(cudaError_t e, const char* where) {
  if (e == cudaSuccess) return FT_OK;
  snprintf(g_err, sizeof g_err, "%s: %s (%s)", where, cudaGetErrorString(e), cudaGetErrorName(e));
  return FT_EDEVICE;
}
int launched(const char* where) { return fail(cudaGetLastError(), where); }
void* workspace(size_t bytes) {
  if (bytes <= g_ws_bytes) return g_ws;
  // Growing: earlier queued kernels may still read the old block, so wait before freeing it.
  if (g_ws) {
    cudaStreamSynchronize(g_stream);
    cudaFree(g_ws);
  }
  size_t want = bytes < (1u << 20) ? (1u << 20) : bytes + bytes / 4;
  if (cudaMalloc(&g_ws, want) != cudaSuccess) {
    g_ws = nullptr;
    g_ws_bytes = 0;
    cudaGetLastError();
    return nullptr;
  }
  g_ws_bytes = want;
  return g_ws;
}
int sm_count() { return g_init ? g_prop.multiProcessorCount : 1; }
int cc_major() { return g_init ? g_prop.major : 0; }
int cc_minor() { return g_init ? g_prop.minor : 0; }
size_t smem_optin() { return g_init ? g_prop.sharedMemPerBlockOptin : 48 * 1024; }
int precision() { return g_precision; }
int gemm_impl() { return g_gemm; }
}  // namespace ftc

// Number of usable devices; 0 when there is no driver or no device (reason in last_error).
FT_API int ft_cuda_device_count() {
  int n = 0;
  cudaError_t e = cudaGetDeviceCount(&n);
  if (e != cudaSuccess) {
    ftc::fail(e, "cudaGetDeviceCount");
    cudaGetLastError();
    return 0;
  }
  if (n == 0) snprintf(g_err, sizeof g_err, "cudaGetDeviceCount: no CUDA device");
  return n;
}

// Copies the last error message into buf(n); returns its length.
FT_API int ft_cuda_last_error(char* buf, int n) {
  if (n <= 0) return 0;
  snprintf(buf, (size_t)n, "%s", g_err);
  return (int)strlen(buf);
}

// Selects `device`, creates the library stream and reads the device properties.
FT_API int ft_cuda_init(int device) {
  if (g_init) return FT_OK;
  int st = ftc::fail(cudaSetDevice(device), "cudaSetDevice");
  if (st) return st;
  st = ftc::fail(cudaGetDeviceProperties(&g_prop, device), "cudaGetDeviceProperties");
  if (st) return st;
  st = ftc::fail(cudaStreamCreateWithFlags(&g_stream, cudaStreamNonBlocking), "cudaStreamCreate");
  if (st) return st;
  g_init = 1;
  return FT_OK;
}

// name(n) <- device name; info(8) <- cc major, cc minor, SMs, L2 bytes, smem/block opt-in,
// total memory MiB, memory clock kHz, bus width bits.
FT_API int ft_cuda_device_info(char* name, int n, int* info) {
  if (!g_init) return FT_EDEVICE;
  if (name && n > 0) snprintf(name, (size_t)n, "%s", g_prop.name);
  if (info) {
    int clk = 0, bus = 0;
    cudaDeviceGetAttribute(&clk, cudaDevAttrMemoryClockRate, 0);
    cudaDeviceGetAttribute(&bus, cudaDevAttrGlobalMemoryBusWidth, 0);
    int v[8] = {g_prop.major, g_prop.minor, g_prop.multiProcessorCount, g_prop.l2CacheSize,
                (int)g_prop.sharedMemPerBlockOptin, (int)(g_prop.totalGlobalMem >> 20), clk, bus};
    memcpy(info, v, sizeof v);
  }
  return FT_OK;
}

// Free and total device memory in bytes: out(2).
FT_API int ft_cuda_mem_info(int64_t* out) {
  size_t f = 0, t = 0;
  int st = ftc::fail(cudaMemGetInfo(&f, &t), "cudaMemGetInfo");
  out[0] = (int64_t)f;
  out[1] = (int64_t)t;
  return st;
}

// Device block of `bytes` (256-byte aligned) or null. Plain cudaMalloc: the caching happens
// in TypeScript (src/tensor/storage.ts), so this is off the hot path.
FT_API void* ft_cuda_malloc(int64_t bytes) {
  void* p = nullptr;
  if (bytes <= 0) bytes = 256;
  cudaError_t e = cudaMalloc(&p, (size_t)bytes);
  if (e != cudaSuccess) {
    ftc::fail(e, "cudaMalloc");
    cudaGetLastError();  // out-of-memory is not sticky: clear it
    return nullptr;
  }
  return p;
}

FT_API int ft_cuda_free(void* p) {
  if (!p) return FT_OK;
  // cudaFree waits for the device; kernels queued on our stream that use p are finished.
  return ftc::fail(cudaFree(p), "cudaFree");
}

// dst(bytes, device) <- src(bytes, host). Synchronous for the host: src may be reused at once.
FT_API int ft_cuda_memcpy_h2d(void* dst, const void* src, int64_t bytes) {
  if (bytes < 0) return FT_EINVAL;
  if (bytes == 0) return FT_OK;
  int st = ftc::fail(cudaMemcpyAsync(dst, src, (size_t)bytes, cudaMemcpyHostToDevice, g_stream), "memcpy h2d");
  if (st) return st;
  return ftc::fail(cudaStreamSynchronize(g_stream), "memcpy h2d (sync)");
}

// dst(bytes, host) <- src(bytes, device), after every kernel queued before it.
FT_API int ft_cuda_memcpy_d2h(void* dst, const void* src, int64_t bytes) {
  if (bytes < 0) return FT_EINVAL;
  if (bytes == 0) return ftc::fail(cudaStreamSynchronize(g_stream), "sync");
  int st = ftc::fail(cudaMemcpyAsync(dst, src, (size_t)bytes, cudaMemcpyDeviceToHost, g_stream), "memcpy d2h");
  if (st) return st;
  return ftc::fail(cudaStreamSynchronize(g_stream), "memcpy d2h (sync)");
}

// dst(bytes, device) <- byte value, queued on the stream.
FT_API int ft_cuda_memset(void* dst, int value, int64_t bytes) {
  if (bytes < 0) return FT_EINVAL;
  if (bytes == 0) return FT_OK;
  return ftc::fail(cudaMemsetAsync(dst, value, (size_t)bytes, g_stream), "memset");
}

// Waits for all work queued on the library stream; reports errors raised by kernels.
FT_API int ft_cuda_synchronize() {
  int st = ftc::fail(cudaStreamSynchronize(g_stream), "synchronize");
  if (st) return st;
  return ftc::launched("synchronize (last error)");
}

FT_API void* ft_cuda_stream_create() {
  cudaStream_t s = nullptr;
  if (ftc::fail(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking), "cudaStreamCreate")) return nullptr;
  return (void*)s;
}
FT_API int ft_cuda_stream_destroy(void* s) { return ftc::fail(cudaStreamDestroy((cudaStream_t)s), "cudaStreamDestroy"); }
// Makes `s` the stream of every later ft_* call (null: the library's own stream).
FT_API int ft_cuda_set_stream(void* s) {
  static cudaStream_t own = nullptr;
  if (!own) own = g_stream;
  g_stream = s ? (cudaStream_t)s : own;
  return FT_OK;
}
FT_API void* ft_cuda_get_stream() { return (void*)g_stream; }

FT_API void* ft_cuda_event_create() {
  cudaEvent_t e = nullptr;
  if (ftc::fail(cudaEventCreate(&e), "cudaEventCreate")) return nullptr;
  return (void*)e;
}
FT_API int ft_cuda_event_destroy(void* e) { return ftc::fail(cudaEventDestroy((cudaEvent_t)e), "cudaEventDestroy"); }
FT_API int ft_cuda_event_record(void* e) { return ftc::fail(cudaEventRecord((cudaEvent_t)e, g_stream), "cudaEventRecord"); }
// ms(1) <- time between two recorded events (waits for `b`).
FT_API int ft_cuda_event_elapsed(void* a, void* b, float* ms) {
  int st = ftc::fail(cudaEventSynchronize((cudaEvent_t)b), "cudaEventSynchronize");
  if (st) return st;
  return ftc::fail(cudaEventElapsedTime(ms, (cudaEvent_t)a, (cudaEvent_t)b), "cudaEventElapsedTime");
}

// precision: 0 fp32 (CUDA cores), 1 bf16 autocast, 2 fp16 autocast (tensor cores, fp32 accumulate);
// gemm: 0 our kernels, 1 cuBLAS (when it can be loaded). -1 leaves a setting unchanged.
FT_API int ft_cuda_set_math(int precision, int gemm) {
  if (precision < -1 || precision > 2 || gemm < -1 || gemm > 1) return FT_EINVAL;
  if (precision >= 0) g_precision = precision;
  if (gemm >= 0) g_gemm = gemm;
  return FT_OK;
}
// out(2) <- current precision and gemm implementation.
FT_API int ft_cuda_get_math(int* out) {
  out[0] = g_precision;
  out[1] = g_gemm;
  return FT_OK;
}
