// Internal GEMM interface shared by gemm.cu (front end, pack, mma.sync kernel), gemm_sm90.cu
// (Hopper wgmma kernel) and cublas.cu (run-time loaded cuBLAS). Not part of the C ABI.
#pragma once
#include "common.cuh"

namespace ftc {

// C(b, M, N) = alpha * A(b, M, Kp) · B(b, N, Kp)ᵀ + beta * C; A and B 16-bit (T = bf16 or
// fp16) and K-major, Kp a multiple of 64 with zeros past the true K; sA / sB are batch
// strides in elements (0 broadcasts one matrix); C fp32 or bf16 (out_bf16), row stride ldc.
// beta == 0 never reads C. bias (N) fp32, optional: added to every row in the epilogue (after
// alpha and beta), shared over the batch. Returns FT_OK or FT_E*.
template <typename T>
int gemm_tc(int64_t batch, int M, int N, int Kp, float alpha, const T* A, int64_t sA, const T* B, int64_t sB,
            float beta, void* C, int out_bf16, int64_t ldc, int64_t sC, const float* bias = nullptr);

// Hopper (sm_90a) wgmma + TMA kernel for bf16 with the same contract, batch via z. Returns
// FT_EUNSUP when the device or shape is not handled (the caller falls back to gemm_tc).
int gemm_sm90_bf16(int64_t batch, int M, int N, int Kp, float alpha, const __nv_bfloat16* A, int64_t sA,
                   const __nv_bfloat16* B, int64_t sB, float beta, void* C, int out_bf16, int64_t ldc, int64_t sC,
                   const float* bias = nullptr);

// cuBLAS (dlopen'd on first use). dtype: 0 fp32 operands in their original layout (row-major
// with transposes, like ft_gemm_batched_f32), 1 bf16 / 2 fp16 operands in the packed K-major
// layout above. Returns FT_EUNSUP when cuBLAS cannot be loaded (message in last_error).
int cublas_gemm(int dtype, int transA, int transB, int64_t batch, int M, int N, int K, float alpha, const void* A,
                int64_t lda, int64_t sA, const void* B, int64_t ldb, int64_t sB, float beta, void* C, int out_bf16,
                int64_t ldc, int64_t sC);
bool cublas_available();

// dst(b, rows, Kp) = T(src element (b, r, k) at src[b * sb + r * sr + k * sk]); zeros for k >= K.
template <typename T>
int pack_kmajor(const float* src, int64_t batch, int64_t sb, int64_t sr, int64_t sk, int rows, int K, int Kp, T* dst);

inline int round_up(int x, int m) { return (x + m - 1) / m * m; }

}  // namespace ftc
