// cuBLAS loaded at run time (dlopen; no headers, no link): the reference GEMM that benchmarks
// compare ours against, and FT_GEMM=cublas. Looks in $FT_CUBLAS (a full path), then the
// loader's path for libcublas.so.13 / .12 / .so. Only the prototypes used are declared here.
// Check: tests/cuda/matmul_test.ts (cublas case, skipped when absent); bench: bench/gpu_timings.ts.
#include <dlfcn.h>

#include <cstdio>
#include <cstdlib>

#include "gemm.cuh"

namespace {
typedef void* Handle;
typedef int (*CreateFn)(Handle*);
typedef int (*SetStreamFn)(Handle, cudaStream_t);
typedef int (*GemmExFn)(Handle, int transa, int transb, int m, int n, int k, const void* alpha, const void* A,
                        int Atype, int lda, long long strideA, const void* B, int Btype, int ldb, long long strideB,
                        const void* beta, void* C, int Ctype, int ldc, long long strideC, int batch, int compute,
                        int algo);
enum { OP_N = 0, OP_T = 1 };
enum { R_32F = 0, R_16F = 2, R_16BF = 14 };           // cudaDataType values
enum { COMPUTE_32F = 68 };                             // cublasComputeType_t
enum { GEMM_DEFAULT = -1 };                            // cublasGemmAlgo_t

int g_state = 0;  // 0 untried, 1 loaded, -1 unavailable
Handle g_handle = nullptr;
SetStreamFn g_set_stream = nullptr;
GemmExFn g_gemm = nullptr;

bool load() {
  if (g_state) return g_state > 0;
  g_state = -1;
  const char* names[] = {getenv("FT_CUBLAS"), "libcublas.so.13", "libcublas.so.12", "libcublas.so"};
  void* lib = nullptr;
  for (const char* n : names)
    if (n && *n && (lib = dlopen(n, RTLD_NOW | RTLD_LOCAL))) break;
  if (!lib) {
    ftc::fail(cudaErrorSharedObjectInitFailed, "cuBLAS: dlopen(libcublas) failed (set FT_CUBLAS)");
    return false;
  }
  auto create = (CreateFn)dlsym(lib, "cublasCreate_v2");
  g_set_stream = (SetStreamFn)dlsym(lib, "cublasSetStream_v2");
  g_gemm = (GemmExFn)dlsym(lib, "cublasGemmStridedBatchedEx");
  if (!create || !g_set_stream || !g_gemm || create(&g_handle) != 0) {
    ftc::fail(cudaErrorSharedObjectInitFailed, "cuBLAS: symbols or cublasCreate failed");
    return false;
  }
  g_state = 1;
  return true;
}
}  // namespace

namespace ftc {
bool cublas_available() { return load(); }

int cublas_gemm(int dtype, int transA, int transB, int64_t batch, int M, int N, int K, float alpha, const void* A,
                int64_t lda, int64_t sA, const void* B, int64_t ldb, int64_t sB, float beta, void* C, int out_bf16,
                int64_t ldc, int64_t sC) {
  if (!load()) return FT_EUNSUP;
  if (batch > INT32_MAX) return FT_EUNSUP;
  g_set_stream(g_handle, stream());
  // Row-major C = op(A) op(B) is column-major Cᵀ = op(B)ᵀ op(A)ᵀ: swap the operands.
  int st;
  int ctype = out_bf16 ? R_16BF : R_32F;
  if (dtype == 0) {
    st = g_gemm(g_handle, transB ? OP_T : OP_N, transA ? OP_T : OP_N, N, M, K, &alpha, B, R_32F, (int)ldb, sB, A,
                R_32F, (int)lda, sA, &beta, C, ctype, (int)ldc, sC, (int)batch, COMPUTE_32F, GEMM_DEFAULT);
  } else {
    // packed K-major: B (N, K) row-major is column-major (K, N): transpose it; A (M, K) is (K, M): as is
    int t = dtype == 1 ? R_16BF : R_16F;
    st = g_gemm(g_handle, OP_T, OP_N, N, M, K, &alpha, B, t, (int)ldb, sB, A, t, (int)lda, sA, &beta, C, ctype,
                (int)ldc, sC, (int)batch, COMPUTE_32F, GEMM_DEFAULT);
  }
  if (st != 0) {
    char msg[96];
    snprintf(msg, sizeof msg, "cublasGemmStridedBatchedEx: status %d", st);
    return fail(cudaErrorUnknown, msg);
  }
  return launched("cublas gemm");
}
}  // namespace ftc
