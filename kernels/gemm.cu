// GEMM (native/gemm.cpp's ABI ft_gemm_batched_f32 / ft_gemm_f32, plus ft_cuda_gemm_16 for
// 16-bit operands): C(b, M, N) = alpha * op(A) @ op(B) + beta * C, row-major, fp32 in/out.
// Precision (ft_cuda_set_math / FT_PRECISION): fp32 = CUDA-core SIMT kernel; bf16 / fp16 =
// operands packed once to K-major 16-bit (the transposes are folded into the pack), then our
// tensor-core kernel (mma.sync m16n8k16, 128x128x32 tiles, 4-stage cp.async pipeline, swizzled
// ldmatrix) or on sm_90 the wgmma kernel of gemm_sm90.cu; FT_GEMM=cublas uses cuBLAS instead.
// ft_cuda_gemm_ex adds a bias (N) in every kernel's epilogue and takes a prepacked 16-bit B
// (ft_cuda_pack_16; linear caches its weights' packings). Check: tests/cuda/matmul_test.ts,
// tests/cuda/linear_fused_test.ts; bench: bench/gpu_timings.ts "gemm" vs bench/gpu_torch.py.
#include "gemm.cuh"
#include "mma.cuh"

namespace ftc {
namespace {

// ---- operand packing: fp32 (any layout) -> 16-bit K-major, zero padded to Kp ----
template <typename T>
__global__ void pack_k(const float* __restrict__ src, int64_t sb, int64_t sr, int64_t sk, int rows, int K, int Kp,
                       T* __restrict__ dst, int64_t dsb, int kfast) {
  __shared__ float t[32][33];
  int64_t b = blockIdx.z;
  int r0 = blockIdx.y * 32, k0 = blockIdx.x * 32;
  const float* s = src + b * sb;
  // read with threadIdx.x along the unit-stride side so global loads coalesce
  for (int j = threadIdx.y; j < 32; j += 8) {
    int r = kfast ? r0 + j : r0 + threadIdx.x;
    int k = kfast ? k0 + threadIdx.x : k0 + j;
    float v = (r < rows && k < K) ? s[(int64_t)r * sr + (int64_t)k * sk] : 0.f;
    if (kfast) t[j][threadIdx.x] = v;
    else t[threadIdx.x][j] = v;
  }
  __syncthreads();
  for (int j = threadIdx.y; j < 32; j += 8) {
    int r = r0 + j, k = k0 + threadIdx.x;
    if (r < rows && k < Kp) dst[b * dsb + (int64_t)r * Kp + k] = from_f32<T>(t[j][threadIdx.x]);
  }
}

// ---- fp32 SIMT kernel: 64x64 tile, BK 16, 256 threads, 4x4 outputs per thread ----
// element (m, k) of op(A) at A[m * sam + k * sak]; (k, n) of op(B) at B[k * sbk + n * sbn]
__global__ __launch_bounds__(256) void sgemm_simt(int M, int N, int K, float alpha, const float* __restrict__ A,
                                                  int64_t sam, int64_t sak, int64_t sAb, const float* __restrict__ B,
                                                  int64_t sbk, int64_t sbn, int64_t sBb, float beta,
                                                  float* __restrict__ C, int64_t ldc, int64_t sCb,
                                                  const float* __restrict__ bias) {
  __shared__ float As[16][68], Bs[16][68];
  int64_t bz = blockIdx.z;
  A += bz * sAb;
  B += bz * sBb;
  C += bz * sCb;
  int m0 = blockIdx.y * 64, n0 = blockIdx.x * 64;
  int tx = threadIdx.x % 16, ty = threadIdx.x / 16;
  float acc[4][4] = {};
  for (int k0 = 0; k0 < K; k0 += 16) {
#pragma unroll
    for (int i = 0; i < 4; i++) {
      int e = threadIdx.x + i * 256;
      int m, k;
      if (sak == 1) { m = e / 16; k = e % 16; } else { m = e % 64; k = e / 64; }
      int gm = m0 + m, gk = k0 + k;
      As[k][m] = (gm < M && gk < K) ? A[gm * sam + gk * sak] : 0.f;
      int n, kb;
      if (sbn == 1) { kb = e / 64; n = e % 64; } else { n = e / 16; kb = e % 16; }
      int gn = n0 + n, gkb = k0 + kb;
      Bs[kb][n] = (gn < N && gkb < K) ? B[gkb * sbk + gn * sbn] : 0.f;
    }
    __syncthreads();
#pragma unroll
    for (int k = 0; k < 16; k++) {
      float a[4], b[4];
#pragma unroll
      for (int i = 0; i < 4; i++) a[i] = As[k][ty + 16 * i];
#pragma unroll
      for (int j = 0; j < 4; j++) b[j] = Bs[k][tx + 16 * j];
#pragma unroll
      for (int i = 0; i < 4; i++)
#pragma unroll
        for (int j = 0; j < 4; j++) acc[i][j] = fmaf(a[i], b[j], acc[i][j]);
    }
    __syncthreads();
  }
#pragma unroll
  for (int i = 0; i < 4; i++) {
    int m = m0 + ty + 16 * i;
    if (m >= M) continue;
#pragma unroll
    for (int j = 0; j < 4; j++) {
      int n = n0 + tx + 16 * j;
      if (n >= N) continue;
      float v = alpha * acc[i][j];
      if (beta != 0.f) v += beta * C[m * ldc + n];
      if (bias) v += bias[n];  // linear's bias, fused (no broadcast copy, no re-read of C)
      C[m * ldc + n] = v;
    }
  }
}

// C(b, M, N) = beta * C + bias[n] (K == 0 or alpha == 0, or after a cuBLAS GEMM with beta 1 and
// bias); beta == 0 writes without reading C; bias (N) optional
__global__ void scale_c(int64_t batch, int M, int N, float beta, float* C, int64_t ldc, int64_t sC,
                        const float* __restrict__ bias) {
  int64_t n = batch * M * (int64_t)N;
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
    int64_t b = i / ((int64_t)M * N), r = (i / N) % M, c = i % N;
    float* p = C + b * sC + r * ldc + c;
    float v = beta == 0.f ? 0.f : beta == 1.f ? *p : beta * *p;
    *p = bias ? v + bias[c] : v;
  }
}

// ---- tensor-core kernel (sm_80+): mma.sync m16n8k16, fp32 accumulators ----
constexpr int BM = 128, BN = 128, BK = 32, STAGES = 4, THREADS = 256;
constexpr int SMEM_BYTES = STAGES * (BM + BN) * BK * 2;

// 16-byte chunk index of (row, chunk) in a [rows][BK] tile; the XOR spreads the 8 rows an
// ldmatrix reads over all 32 banks (rows are 64 B, so rows r and r+2 would collide)
__device__ __forceinline__ int swz(int row, int ch) { return row * 4 + (ch ^ ((row >> 1) & 3)); }

// A(b, M, Kp), B(b, N, Kp) K-major 16-bit; C(b, M, N) fp32 or bf16 with row stride ldc.
// 8 warps as 2 (M) x 4 (N); each warp owns 64x32 outputs = 4x4 mma tiles.
template <typename T, typename OutT>
__global__ __launch_bounds__(THREADS) void gemm_mma(int M, int N, int Kp, float alpha, const T* __restrict__ A,
                                                     int64_t sA, const T* __restrict__ B, int64_t sB, float beta,
                                                     OutT* __restrict__ C, int64_t ldc, int64_t sC,
                                                     const float* __restrict__ bias) {
  extern __shared__ uint4 smem[];
  int64_t bz = blockIdx.z;
  A += bz * sA;
  B += bz * sB;
  C += bz * sC;
  const int m0 = blockIdx.y * BM, n0 = blockIdx.x * BN;
  const int tid = threadIdx.x, warp = tid / 32, lane = tid % 32;
  const int wm = warp / 4, wn = warp % 4;
  const int KT = Kp / BK;

  auto load_stage = [&](int stage, int kt) {
    uint4* sa = smem + stage * (BM + BN) * 4;
    uint4* sb = sa + BM * 4;
#pragma unroll
    for (int i = 0; i < 2; i++) {
      int c = tid + i * THREADS, row = c / 4, ch = c % 4;
      int gm = m0 + row, gn = n0 + row;
      const T* pa = A + (int64_t)(gm < M ? gm : 0) * Kp + kt * BK + ch * 8;
      const T* pb = B + (int64_t)(gn < N ? gn : 0) * Kp + kt * BK + ch * 8;
      cp_async16(sa + swz(row, ch), pa, gm < M ? 16 : 0);  // rows past M/N are zero-filled
      cp_async16(sb + swz(row, ch), pb, gn < N ? 16 : 0);
    }
  };

#pragma unroll
  for (int s = 0; s < STAGES - 1; s++) {
    if (s < KT) load_stage(s, s);
    cp_async_commit();
  }
  float acc[4][4][4];
#pragma unroll
  for (int i = 0; i < 4; i++)
#pragma unroll
    for (int j = 0; j < 4; j++)
#pragma unroll
      for (int e = 0; e < 4; e++) acc[i][j][e] = 0.f;

  for (int kt = 0; kt < KT; kt++) {
    cp_async_wait<STAGES - 2>();
    __syncthreads();  // stage kt landed for everyone; stage kt-1 is free for the prefetch
    int nk = kt + STAGES - 1;
    if (nk < KT) load_stage(nk % STAGES, nk);
    cp_async_commit();
    const uint4* sa = smem + (kt % STAGES) * (BM + BN) * 4;
    const uint4* sb = sa + BM * 4;
#pragma unroll
    for (int kk = 0; kk < 2; kk++) {
      uint32_t af[4][4], bf[4][2];
#pragma unroll
      for (int mi = 0; mi < 4; mi++) ldsm_x4(af[mi], sa + swz(wm * 64 + mi * 16 + (lane % 16), kk * 2 + lane / 16));
#pragma unroll
      for (int nj = 0; nj < 2; nj++) {
        int j = lane / 8;
        uint32_t r[4];
        ldsm_x4(r, sb + swz(wn * 32 + nj * 16 + (lane % 8) + 8 * (j / 2), kk * 2 + (j % 2)));
        bf[2 * nj][0] = r[0];
        bf[2 * nj][1] = r[1];
        bf[2 * nj + 1][0] = r[2];
        bf[2 * nj + 1][1] = r[3];
      }
#pragma unroll
      for (int mi = 0; mi < 4; mi++)
#pragma unroll
        for (int ni = 0; ni < 4; ni++) mma16816<T>(acc[mi][ni], af[mi], bf[ni]);
    }
  }
  cp_async_wait<0>();

  // accumulator (mi, ni, e): row lane/4 (+8 for e >= 2), columns 2*(lane%4) + {0, 1}
#pragma unroll
  for (int mi = 0; mi < 4; mi++)
#pragma unroll
    for (int ni = 0; ni < 4; ni++)
#pragma unroll
      for (int h = 0; h < 2; h++) {
        int r = m0 + wm * 64 + mi * 16 + lane / 4 + 8 * h;
        int c = n0 + wn * 32 + ni * 8 + 2 * (lane % 4);
        if (r >= M) continue;
#pragma unroll
        for (int e = 0; e < 2; e++) {
          if (c + e >= N) continue;
          OutT* p = C + (int64_t)r * ldc + c + e;
          float v = alpha * acc[mi][ni][2 * h + e];
          if (beta != 0.f) v += beta * to_f32(*p);
          if (bias) v += bias[c + e];
          if constexpr (sizeof(OutT) == 4) *p = v;
          else *p = __float2bfloat16_rn(v);
        }
      }
}

template <typename T, typename OutT>
int launch_mma(int64_t batch, int M, int N, int Kp, float alpha, const T* A, int64_t sA, const T* B, int64_t sB,
               float beta, OutT* C, int64_t ldc, int64_t sC, const float* bias) {
  static bool attr = false;
  if (!attr) {
    int st = fail(cudaFuncSetAttribute(gemm_mma<T, OutT>, cudaFuncAttributeMaxDynamicSharedMemorySize, SMEM_BYTES),
                  "gemm: smem attribute");
    if (st) return st;
    attr = true;
  }
  // grid y and z stop at 65535: launch row blocks of 65535 * BM rows and batches of 65535
  constexpr int64_t kRows = 65535LL * BM;
  for (int64_t b0 = 0; b0 < batch; b0 += 65535) {
    unsigned nb = (unsigned)(batch - b0 < 65535 ? batch - b0 : 65535);
    for (int64_t m0 = 0; m0 < M; m0 += kRows) {
      int mc = (int)(M - m0 < kRows ? M - m0 : kRows);
      dim3 g((N + BN - 1) / BN, (mc + BM - 1) / BM, nb);
      gemm_mma<T, OutT><<<g, THREADS, SMEM_BYTES, stream()>>>(mc, N, Kp, alpha, A + b0 * sA + m0 * Kp, sA,
                                                            B + b0 * sB, sB, beta, C + b0 * sC + m0 * ldc, ldc, sC,
                                                            bias);
    }
  }
  return launched("gemm (mma.sync)");
}

int g_force_mma = 0;  // set by ft_cuda_gemm_16(impl 2) to time the mma.sync kernel on Hopper

// Picks the Hopper kernel when present (FT_GEMM_SM90=0 turns it off), else mma.sync.
bool use_sm90() {
  static int v = -1;
  if (v < 0) {
    const char* e = getenv("FT_GEMM_SM90");
    v = (e && e[0] == '0') ? 0 : 1;
  }
  return v && !g_force_mma && cc_major() == 9;
}

}  // namespace

template <typename T>
int pack_kmajor(const float* src, int64_t batch, int64_t sb, int64_t sr, int64_t sk, int rows, int K, int Kp, T* dst) {
  // grid y and z stop at 65535: pack in blocks of 65535 * 32 rows and 65535 batches
  constexpr int64_t kRows = 65535LL * 32;
  int64_t dsb = (int64_t)rows * Kp;
  for (int64_t b0 = 0; b0 < batch; b0 += 65535) {
    unsigned nb = (unsigned)(batch - b0 < 65535 ? batch - b0 : 65535);
    for (int64_t r0 = 0; r0 < rows; r0 += kRows) {
      int rc = (int)(rows - r0 < kRows ? rows - r0 : kRows);
      dim3 g((Kp + 31) / 32, (rc + 31) / 32, nb);
      pack_k<T><<<g, dim3(32, 8), 0, stream()>>>(src + b0 * sb + r0 * sr, sb, sr, sk, rc, K, Kp,
                                                 dst + b0 * dsb + r0 * Kp, dsb, sk == 1 ? 1 : 0);
    }
  }
  return launched("gemm: pack");
}
template int pack_kmajor<__nv_bfloat16>(const float*, int64_t, int64_t, int64_t, int64_t, int, int, int,
                                        __nv_bfloat16*);
template int pack_kmajor<__half>(const float*, int64_t, int64_t, int64_t, int64_t, int, int, int, __half*);

template <typename T>
int gemm_tc(int64_t batch, int M, int N, int Kp, float alpha, const T* A, int64_t sA, const T* B, int64_t sB,
            float beta, void* C, int out_bf16, int64_t ldc, int64_t sC, const float* bias) {
  if (Kp % 64 != 0) return FT_EINVAL;
  if constexpr (sizeof(T) == 2 && std::is_same<T, __nv_bfloat16>::value) {
    if (use_sm90()) {
      int st = gemm_sm90_bf16(batch, M, N, Kp, alpha, A, sA, B, sB, beta, C, out_bf16, ldc, sC, bias);
      if (st != FT_EUNSUP) return st;
    }
  }
  if (out_bf16)
    return launch_mma<T, __nv_bfloat16>(batch, M, N, Kp, alpha, A, sA, B, sB, beta, (__nv_bfloat16*)C, ldc, sC, bias);
  return launch_mma<T, float>(batch, M, N, Kp, alpha, A, sA, B, sB, beta, (float*)C, ldc, sC, bias);
}
template int gemm_tc<__nv_bfloat16>(int64_t, int, int, int, float, const __nv_bfloat16*, int64_t,
                                    const __nv_bfloat16*, int64_t, float, void*, int, int64_t, int64_t, const float*);
template int gemm_tc<__half>(int64_t, int, int, int, float, const __half*, int64_t, const __half*, int64_t, float,
                             void*, int, int64_t, int64_t, const float*);

}  // namespace ftc

namespace {
// cuBLAS has no bias epilogue here: C += bias in one more pass (only on FT_GEMM=cublas).
int cublas_bias(int64_t batch, int M, int N, float* C, int64_t ldc, int64_t sC, const float* bias) {
  if (!bias) return FT_OK;
  ftc::scale_c<<<ftc::blocks_for(batch * M * (int64_t)N, 256), 256, 0, ftc::stream()>>>(batch, M, N, 1.f, C, ldc,
                                                                                        sC, bias);
  return ftc::launched("gemm (cuBLAS bias)");
}

// Autocast: op(A) packed to 16-bit K-major per call; op(B) too unless Bp, its packing made
// earlier by ft_cuda_pack_16 (a cached weight), is given.
template <typename T>
int gemm_autocast(int transA, int transB, int64_t batch, int M, int N, int K, float alpha, const float* A, int64_t lda,
                  int64_t sA, const float* B, int64_t ldb, int64_t sB, const void* Bp, const float* bias, float beta,
                  float* C, int64_t ldc, int64_t sC, int dtype) {
  int Kp = ftc::round_up(K, 64);
  int64_t bA = sA ? batch : 1, bB = sB ? batch : 1;
  size_t na = (size_t)bA * M * Kp, nb = Bp ? 0 : (size_t)bB * N * Kp;
  T* ws = (T*)ftc::workspace((na + nb) * sizeof(T));
  if (!ws) return FT_ENOMEM;
  T* pa = ws;
  const T* pb = Bp ? (const T*)Bp : ws + na;
  // op(A)(m, k): A[m * lda + k] or, transposed, A[k * lda + m]; op(B)(k, n) packed as (n, k)
  int st = ftc::pack_kmajor<T>(A, bA, sA, transA ? 1 : lda, transA ? lda : 1, M, K, Kp, pa);
  if (!st && !Bp) st = ftc::pack_kmajor<T>(B, bB, sB, transB ? ldb : 1, transB ? 1 : ldb, N, K, Kp, ws + na);
  if (st) return st;
  int64_t spa = sA ? (int64_t)M * Kp : 0, spb = sB && !Bp ? (int64_t)N * Kp : 0;
  if (ftc::gemm_impl() == ftc::G_CUBLAS && ftc::cublas_available()) {
    st = ftc::cublas_gemm(dtype, 0, 0, batch, M, N, Kp, alpha, pa, Kp, spa, pb, Kp, spb, beta, C, 0, ldc, sC);
    return st ? st : cublas_bias(batch, M, N, C, ldc, sC, bias);
  }
  return ftc::gemm_tc<T>(batch, M, N, Kp, alpha, pa, spa, pb, spb, beta, C, 0, ldc, sC, bias);
}

int gemm_f32(int transA, int transB, int64_t batch, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
             int64_t lda, int64_t strideA, const float* B, int64_t ldb, int64_t strideB, const void* Bp,
             const float* bias, float beta, float* C, int64_t ldc, int64_t strideC) {
  if (batch < 0 || M < 0 || N < 0 || K < 0) return FT_EINVAL;
  if (M > INT32_MAX || N > INT32_MAX || K > INT32_MAX) return FT_EUNSUP;
  if (batch == 0 || M == 0 || N == 0) return FT_OK;
  cudaStream_t s = ftc::stream();
  if (K == 0 || alpha == 0.f) {
    ftc::scale_c<<<ftc::blocks_for(batch * M * N, 256), 256, 0, s>>>(batch, (int)M, (int)N, beta, C, ldc, strideC,
                                                                     bias);
    return ftc::launched("gemm (scale)");
  }
  int prec = ftc::precision();
  if (Bp && (strideB != 0 || prec == ftc::P_FP32))
    return ftc::note(FT_EINVAL, "gemm: a packed B needs autocast on and strideB 0 (one matrix for the batch)");
  if (prec == ftc::P_BF16)
    return gemm_autocast<__nv_bfloat16>(transA, transB, batch, (int)M, (int)N, (int)K, alpha, A, lda, strideA, B, ldb,
                                        strideB, Bp, bias, beta, C, ldc, strideC, 1);
  if (prec == ftc::P_FP16)
    return gemm_autocast<__half>(transA, transB, batch, (int)M, (int)N, (int)K, alpha, A, lda, strideA, B, ldb,
                                 strideB, Bp, bias, beta, C, ldc, strideC, 2);
  if (ftc::gemm_impl() == ftc::G_CUBLAS && ftc::cublas_available()) {
    int st = ftc::cublas_gemm(0, transA, transB, batch, (int)M, (int)N, (int)K, alpha, A, lda, strideA, B, ldb,
                              strideB, beta, C, 0, ldc, strideC);
    return st ? st : cublas_bias(batch, (int)M, (int)N, C, ldc, strideC, bias);
  }
  int64_t sam = transA ? 1 : lda, sak = transA ? lda : 1;
  int64_t sbk = transB ? 1 : ldb, sbn = transB ? ldb : 1;
  // grid y and z stop at 65535: blocks of 65535 * 64 rows and 65535 batches
  constexpr int64_t kRows = 65535LL * 64;
  for (int64_t b0 = 0; b0 < batch; b0 += 65535) {
    unsigned nb = (unsigned)(batch - b0 < 65535 ? batch - b0 : 65535);
    for (int64_t m0 = 0; m0 < M; m0 += kRows) {
      int64_t mc = M - m0 < kRows ? M - m0 : kRows;
      dim3 g((unsigned)((N + 63) / 64), (unsigned)((mc + 63) / 64), nb);
      ftc::sgemm_simt<<<g, 256, 0, s>>>((int)mc, (int)N, (int)K, alpha, A + b0 * strideA + m0 * sam, sam, sak, strideA,
                                        B + b0 * strideB, sbk, sbn, strideB, beta, C + b0 * strideC + m0 * ldc, ldc,
                                        strideC, bias);
    }
  }
  return ftc::launched("gemm (fp32)");
}
}  // namespace

// C(batch, M, N) = alpha * op(A) @ op(B) + beta * C; op(A) (M, K) read from A (M, K) or, with
// transA, (K, M), row stride lda, batch stride strideA (0 = shared); likewise B; C row stride ldc.
FT_API int ft_gemm_batched_f32(int transA, int transB, int64_t batch, int64_t M, int64_t N, int64_t K, float alpha,
                               const float* A, int64_t lda, int64_t strideA, const float* B, int64_t ldb,
                               int64_t strideB, float beta, float* C, int64_t ldc, int64_t strideC) {
  return gemm_f32(transA, transB, batch, M, N, K, alpha, A, lda, strideA, B, ldb, strideB, nullptr, nullptr, beta, C,
                  ldc, strideC);
}

// ft_gemm_batched_f32 plus two options (CUDA only): C = alpha * op(A) @ op(B) + beta * C + bias[n]
// with bias (N) fused into the epilogue (null: none); under autocast Bp (null: pack B per call) is
// op(B) already packed by ft_cuda_pack_16 as (N, round_up(K, 64)) in the autocast dtype, shared
// by the batch (strideB must be 0); B is not read then.
FT_API int ft_cuda_gemm_ex(int transA, int transB, int64_t batch, int64_t M, int64_t N, int64_t K, float alpha,
                           const float* A, int64_t lda, int64_t strideA, const float* B, int64_t ldb, int64_t strideB,
                           const void* Bp, const float* bias, float beta, float* C, int64_t ldc, int64_t strideC) {
  return gemm_f32(transA, transB, batch, M, N, K, alpha, A, lda, strideA, B, ldb, strideB, Bp, bias, beta, C, ldc,
                  strideC);
}

// dst(rows, round_up(K, 64)) 16-bit (dtype 1 bf16, 2 fp16) <- src element (r, k) at
// src[r * sr + k * sk] (fp32), zeros past K: the packed operand ft_cuda_gemm_ex takes as Bp
// (for op(B) = Wᵀ of a linear weight W (N, K): sr = K, sk = 1; for op(B) = W (K, N): sr = 1, sk = N).
FT_API int ft_cuda_pack_16(int dtype, int64_t rows, int64_t K, const float* src, int64_t sr, int64_t sk, void* dst) {
  if (rows < 0 || K < 0 || (dtype != 1 && dtype != 2)) return FT_EINVAL;
  if (rows > INT32_MAX || K > INT32_MAX - 64) return FT_EUNSUP;
  if (rows == 0 || K == 0) return FT_OK;
  int Kp = ftc::round_up((int)K, 64);
  if (dtype == 1) return ftc::pack_kmajor<__nv_bfloat16>(src, 1, 0, sr, sk, (int)rows, (int)K, Kp, (__nv_bfloat16*)dst);
  return ftc::pack_kmajor<__half>(src, 1, 0, sr, sk, (int)rows, (int)K, Kp, (__half*)dst);
}

// 16-bit operands already on the device, for benchmarks and bf16 pipelines:
// C(batch, M, N) = alpha * A(batch, M, K) @ B(batch, N, K)ᵀ + beta * C with A, B K-major bf16
// (dtype 1) or fp16 (dtype 2), K % 64 == 0, batch strides M*K and N*K; C fp32 or bf16 (out_bf16).
// impl: 0 ours, 1 cuBLAS, 2 ours without the Hopper kernel. Operands that are not 16-byte aligned
// (cp.async / TMA need it; a misaligned cp.async kills the context) are staged through aligned
// stream-ordered copies first, and C copied back.
namespace {
int gemm_16(int impl, int dtype, int64_t batch, int64_t M, int64_t N, int64_t K, float alpha, const void* A,
            const void* B, float beta, void* C, int out_bf16);
}
FT_API int ft_cuda_gemm_16(int impl, int dtype, int64_t batch, int64_t M, int64_t N, int64_t K, float alpha,
                           const void* A, const void* B, float beta, void* C, int out_bf16) {
  if (batch <= 0 || M <= 0 || N <= 0 || K <= 0 || K % 64 || (dtype != 1 && dtype != 2)) return FT_EINVAL;
  if (M > INT32_MAX || N > INT32_MAX || K > INT32_MAX) return FT_EUNSUP;
  size_t na = (size_t)(batch * M * K) * 2, nb = (size_t)(batch * N * K) * 2;
  size_t nc = (size_t)(batch * M * N) * (out_bf16 ? 2 : 4);
  void *a = nullptr, *b = nullptr, *c = nullptr;
  int st = ftc::stage_aligned(A, na, true, &a);
  if (!st) st = ftc::stage_aligned(B, nb, true, &b);
  if (!st) st = ftc::stage_aligned(C, nc, beta != 0.f, &c);
  if (!st) st = gemm_16(impl, dtype, batch, M, N, K, alpha, a, b, beta, c ? c : C, out_bf16);
  int u1 = a ? ftc::unstage(A, a, na, false) : FT_OK, u2 = b ? ftc::unstage(B, b, nb, false) : FT_OK;
  int u3 = c ? ftc::unstage(C, c, nc, st == FT_OK) : FT_OK;
  return st ? st : u1 ? u1 : u2 ? u2 : u3;
}

namespace {
int gemm_16(int impl, int dtype, int64_t batch, int64_t M, int64_t N, int64_t K, float alpha, const void* A,
            const void* B, float beta, void* C, int out_bf16) {
  if (impl == 1) {
    if (!ftc::cublas_available()) return FT_EUNSUP;
    return ftc::cublas_gemm(dtype, 0, 0, batch, (int)M, (int)N, (int)K, alpha, A, K, M * K, B, K, N * K, beta, C,
                            out_bf16, N, M * N);
  }
  if (dtype == 2)
    return ftc::gemm_tc<__half>(batch, (int)M, (int)N, (int)K, alpha, (const __half*)A, M * K, (const __half*)B,
                                N * K, beta, C, out_bf16, N, M * N);
  ftc::g_force_mma = impl == 2;
  int st = ftc::gemm_tc<__nv_bfloat16>(batch, (int)M, (int)N, (int)K, alpha, (const __nv_bfloat16*)A, M * K,
                                       (const __nv_bfloat16*)B, N * K, beta, C, out_bf16, N, M * N);
  ftc::g_force_mma = 0;
  return st;
}
}  // namespace
