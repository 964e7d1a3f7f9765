// Internal interface between the GEMM front end (gemm.cpp: C ABI, dispatch, OpenBLAS
// fallback, check/bench) and the own AVX-512 implementation (gemm_avx512.cpp).
// Arguments are already validated; all matrices are row-major with the given leading dims.
#pragma once
#include <cstdint>

namespace ft {

// True when the CPU (and OS) support AVX-512 F/BW/DQ/VL + FMA, i.e. gemm_avx512 may run.
bool gemm_avx512_supported();

// C(M,N) = alpha * op(A)(M,K) @ op(B)(K,N) + beta * C. `nthreads` > 1 splits the work over
// ft::parallel_for; 1 runs on the calling thread only (used inside batch-parallel loops).
// Requires M, N >= 1; K == 0 or alpha == 0 scale C by beta (beta == 0 writes zeros).
// Returns FT_OK, or FT_ENOMEM when a packing buffer cannot be allocated.
int gemm_avx512(bool transA, bool transB, int64_t M, int64_t N, int64_t K, float alpha,
                 const float* A, int64_t lda,  // (M,K) or (K,M) if transA
                 const float* B, int64_t ldb,  // (K,N) or (N,K) if transB
                 float beta, float* C, int64_t ldc,  // (M,N)
                 int nthreads);

}  // namespace ft
