// CUDA runtime wrappers bound by src/backend/cuda.ts: device detection, memory, copies,
// streams (event joins between them), events, per-stream scratch workspaces, occupancy-based
// grid sizing, error codes (sticky faults flagged) and the precision / GEMM-implementation switches.
// Detection never crashes: with no driver or no device ft_cuda_device_count returns 0 and
// ft_cuda_last_error says why (the runtime is linked statically and dlopens libcuda itself).
// Check: tests/cuda/runtime_test.ts (skipped without a device); bench: bench/gpu_timings.ts copy.
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <vector>

#include "common.cuh"

namespace {
char g_err[512] = "";
int g_err_code = 0;     // cudaError_t of the last failure, 0 once read by ft_cuda_error_state
int g_sticky = 0;       // first sticky (context-killing) cudaError_t seen; never cleared
cudaStream_t g_stream = nullptr;  // current stream (null = legacy default stream until ft_cuda_init)
cudaStream_t g_own = nullptr;     // the library's own stream
int g_init = 0;
int g_device = 0;
cudaDeviceProp g_prop;
int g_precision = ftc::P_FP32;
int g_gemm = ftc::G_OWN;
std::mutex g_mu;  // guards the workspace table and the occupancy cache

// Scratch memory per stream: two streams never share a block, and growing one only waits for
// the stream that used it.
struct Workspace {
  cudaStream_t stream;
  void* ptr;
  size_t bytes;
};
std::vector<Workspace> g_ws;

// Errors after which the context is unusable: every later call fails the same way.
bool is_sticky(cudaError_t e) {
  switch (e) {
    case cudaErrorIllegalAddress:
    case cudaErrorLaunchFailure:
    case cudaErrorIllegalInstruction:
    case cudaErrorMisalignedAddress:
    case cudaErrorInvalidAddressSpace:
    case cudaErrorInvalidPc:
    case cudaErrorHardwareStackError:
    case cudaErrorAssert:
    case cudaErrorLaunchTimeout:
    case cudaErrorECCUncorrectable:
    case cudaErrorContextIsDestroyed:
      return true;
    default:
      return false;
  }
}

// Frees the workspace of `s` (all streams when s is null), waiting for the stream that used it.
int release_workspaces(cudaStream_t s, bool all) {
  int st = FT_OK;
  for (size_t i = 0; i < g_ws.size();) {
    if (!all && g_ws[i].stream != s) {
      i++;
      continue;
    }
    int e = ftc::fail(cudaStreamSynchronize(g_ws[i].stream), "workspace release (sync)");
    if (!e) e = ftc::fail(cudaFree(g_ws[i].ptr), "workspace release (cudaFree)");
    if (e && !st) st = e;
    g_ws.erase(g_ws.begin() + (long)i);
  }
  return st;
}
}  // namespace

namespace ftc {
cudaStream_t stream() { return g_stream; }
int fail(cudaError_t e, const char* where) {
  if (e == cudaSuccess) return FT_OK;
  if (is_sticky(e) && !g_sticky) g_sticky = (int)e;
  snprintf(g_err, sizeof g_err, "%s: %s (%s)%s", where, cudaGetErrorString(e), cudaGetErrorName(e),
           g_sticky ? " [sticky: the CUDA context is unusable, restart the process]" : "");
  g_err_code = (int)e;
  return FT_EDEVICE;
}
int launched(const char* where) { return fail(cudaGetLastError(), where); }
void* workspace(size_t bytes) {
  std::lock_guard<std::mutex> lock(g_mu);
  Workspace* w = nullptr;
  for (auto& x : g_ws)
    if (x.stream == g_stream) w = &x;
  if (w && bytes <= w->bytes) return w->ptr;
  if (w) {
    // Growing: kernels queued earlier on this stream may still read the old block.
    if (fail(cudaStreamSynchronize(g_stream), "workspace grow (sync)")) return nullptr;
    if (fail(cudaFree(w->ptr), "workspace grow (cudaFree)")) return nullptr;
    w->ptr = nullptr;
    w->bytes = 0;
  } else {
    g_ws.push_back({g_stream, nullptr, 0});
    w = &g_ws.back();
  }
  // Small requests round to 1 MiB; larger ones get 25% headroom up to 64 MiB of it, so a
  // growing sequence length does not regrow on every step; emptyCache() gives it all back.
  size_t head = bytes / 4 < ((size_t)64 << 20) ? bytes / 4 : ((size_t)64 << 20);
  size_t want = bytes < ((size_t)1 << 20) ? ((size_t)1 << 20) : bytes + head;
  cudaError_t e = cudaMalloc(&w->ptr, want);
  if (e == cudaErrorMemoryAllocation) {
    cudaGetLastError();
    // Out of memory: give back the other streams' workspaces and try the exact size.
    for (auto& x : g_ws)
      if (x.stream != g_stream && x.ptr) {
        cudaStreamSynchronize(x.stream);
        cudaFree(x.ptr);
        x.ptr = nullptr;
        x.bytes = 0;
      }
    want = bytes;
    e = cudaMalloc(&w->ptr, want);
  }
  if (e != cudaSuccess) {
    fail(e, "workspace (cudaMalloc)");
    if (!is_sticky(e)) cudaGetLastError();
    w->ptr = nullptr;
    return nullptr;
  }
  w->bytes = want;
  return w->ptr;
}
int occupancy(const void* fn, int threads, size_t smem) {
  static std::vector<std::pair<const void*, int>> cache;  // (kernel, blocks per SM) at 256 threads
  std::lock_guard<std::mutex> lock(g_mu);
  for (auto& c : cache)
    if (c.first == fn) return c.second;
  int b = 0;
  if (cudaOccupancyMaxActiveBlocksPerMultiprocessor(&b, fn, threads, smem) != cudaSuccess || b < 1) {
    cudaGetLastError();
    b = 1;
  }
  cache.push_back({fn, b});
  return b;
}
int stage_aligned(const void* p, size_t bytes, bool copy_in, void** out) {
  *out = const_cast<void*>(p);
  if (((uintptr_t)p & 15) == 0 || bytes == 0) return FT_OK;
  void* q = nullptr;
  int st = fail(cudaMallocAsync(&q, bytes, g_stream), "aligned staging (cudaMallocAsync)");
  if (st) return st;
  if (copy_in) {
    st = fail(cudaMemcpyAsync(q, p, bytes, cudaMemcpyDeviceToDevice, g_stream), "aligned staging (copy in)");
    if (st) {
      cudaFreeAsync(q, g_stream);
      return st;
    }
  }
  *out = q;
  return FT_OK;
}
int unstage(const void* orig, void* staged, size_t bytes, bool copy_out) {
  if (staged == orig) return FT_OK;
  int st = FT_OK;
  if (copy_out)
    st = fail(cudaMemcpyAsync(const_cast<void*>(orig), staged, bytes, cudaMemcpyDeviceToDevice, g_stream),
              "aligned staging (copy out)");
  int st2 = fail(cudaFreeAsync(staged, g_stream), "aligned staging (cudaFreeAsync)");
  return st ? st : st2;
}
int note(int status, const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(g_err, sizeof g_err, fmt, ap);
  va_end(ap);
  g_err_code = -1;
  return status;
}
int* flag_begin() {
  int* f = (int*)workspace(sizeof(int));
  if (f && fail(cudaMemsetAsync(f, 0, sizeof(int), g_stream), "flag (memset)")) return nullptr;
  return f;
}
int flag_read(const int* flag, int* bad) {
  int st = fail(cudaMemcpyAsync(bad, flag, sizeof(int), cudaMemcpyDeviceToHost, g_stream), "flag (read back)");
  if (!st) st = fail(cudaStreamSynchronize(g_stream), "flag (sync)");
  return st;
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

// out(2) <- cudaError_t of the last failure not yet read (0: none since the last call), and the
// sticky cudaError_t that made the context unusable (0: none). Reading clears the first.
FT_API int ft_cuda_error_state(int* out) {
  out[0] = g_err_code;
  out[1] = g_sticky;
  g_err_code = 0;
  return FT_OK;
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
  g_own = g_stream;
  g_device = device;
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
    // the selected device's clocks, not device 0's
    cudaDeviceGetAttribute(&clk, cudaDevAttrMemoryClockRate, g_device);
    cudaDeviceGetAttribute(&bus, cudaDevAttrGlobalMemoryBusWidth, g_device);
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
    cudaGetLastError();  // out-of-memory is not sticky: clear it (a sticky error stays recorded)
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

// Waits for all work queued on every stream of the device; reports errors raised by kernels.
FT_API int ft_cuda_synchronize() {
  int st = ftc::fail(cudaDeviceSynchronize(), "synchronize");
  if (st) return st;
  return ftc::launched("synchronize (last error)");
}

// Makes `waiter` wait (on the device, not the host) for everything queued so far on
// `signaller`; null names the library's own stream. Used when work moves between streams.
FT_API int ft_cuda_stream_join(void* waiter, void* signaller) {
  cudaStream_t w = waiter ? (cudaStream_t)waiter : g_own, s = signaller ? (cudaStream_t)signaller : g_own;
  if (w == s) return FT_OK;
  cudaEvent_t e = nullptr;
  int st = ftc::fail(cudaEventCreateWithFlags(&e, cudaEventDisableTiming), "stream join (event create)");
  if (st) return st;
  st = ftc::fail(cudaEventRecord(e, s), "stream join (record)");
  if (!st) st = ftc::fail(cudaStreamWaitEvent(w, e, 0), "stream join (wait)");
  // destroying a recorded event is safe: its resources go once the wait is satisfied
  int st2 = ftc::fail(cudaEventDestroy(e), "stream join (event destroy)");
  return st ? st : st2;
}

// Bytes held by the per-stream scratch workspaces (attention, autocast GEMM packing, reductions).
FT_API int64_t ft_cuda_workspace_bytes() {
  std::lock_guard<std::mutex> lock(g_mu);
  int64_t n = 0;
  for (auto& w : g_ws) n += (int64_t)w.bytes;
  return n;
}

// Frees every workspace (after the streams that used them finish); they regrow on demand.
FT_API int ft_cuda_workspace_release() {
  std::lock_guard<std::mutex> lock(g_mu);
  return release_workspaces(nullptr, true);
}

FT_API void* ft_cuda_stream_create() {
  cudaStream_t s = nullptr;
  if (ftc::fail(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking), "cudaStreamCreate")) return nullptr;
  return (void*)s;
}
// Destroys `s` after freeing its workspace (which waits for its queued work).
FT_API int ft_cuda_stream_destroy(void* s) {
  if (!s || (cudaStream_t)s == g_own) return FT_EINVAL;
  int st;
  {
    std::lock_guard<std::mutex> lock(g_mu);
    st = release_workspaces((cudaStream_t)s, false);
  }
  if (g_stream == (cudaStream_t)s) g_stream = g_own;
  int st2 = ftc::fail(cudaStreamDestroy((cudaStream_t)s), "cudaStreamDestroy");
  return st ? st : st2;
}
// Makes `s` the stream of every later ft_* call (null: the library's own stream).
FT_API int ft_cuda_set_stream(void* s) {
  if (!g_init) return FT_EDEVICE;
  g_stream = s ? (cudaStream_t)s : g_own;
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
