// Hopper GEMM (sm_90a): C(b, M, N) = alpha * A(b, M, Kp) · B(b, N, Kp)ᵀ + beta * C, bf16 K-major
// operands, fp32 accumulation, fp32 or bf16 output (the contract of ftc::gemm_tc).
// Warp-specialised: warpgroup 0 issues TMA bulk-tensor copies (128-byte swizzle) into a
// 4-stage ring guarded by mbarriers; warpgroups 1 and 2 each run wgmma.m64n256k16 on their
// 64 rows of a 128 x 256 tile (BK = 64), registers rebalanced with setmaxnreg.
// Check: tests/cuda/matmul_test.ts ("16-bit GEMM entry", impl 0 vs reference);
// bench: bench/gpu_timings.ts "gemm bf16" (variants ours / ours-mma.sync / cublas).
#include <cuda.h>
#include <cudaTypedefs.h>

#include "gemm.cuh"

namespace ftc {
namespace {

constexpr int BM = 128, BN = 256, BK = 64, STAGES = 4;
constexpr int A_BYTES = BM * BK * 2, B_BYTES = BN * BK * 2, STAGE_BYTES = A_BYTES + B_BYTES;
constexpr int SMEM = STAGES * STAGE_BYTES + 1024 /* alignment */ + 2 * STAGES * 8 /* barriers */;

#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900 && defined(__CUDA_ARCH_FEAT_SM90_ALL)
#define FT_SM90A 1
#endif

__device__ __forceinline__ uint32_t sa(const void* p) { return (uint32_t)__cvta_generic_to_shared(p); }

// wgmma shared-memory descriptor for a K-major tile written by TMA with 128-byte swizzle:
// start address >> 4, leading offset 1 (unused for swizzled K-major), stride 1024 B between
// 8-row groups, layout type 1 (128B swizzle) in bits 62-63
__device__ __forceinline__ uint64_t desc(const void* p) {
  uint64_t a = sa(p);
  return ((a & 0x3FFFF) >> 4) | (1ull << 16) | ((uint64_t)(1024 >> 4) << 32) | (1ull << 62);
}

__device__ __forceinline__ void mbar_init(uint64_t* b, int count) {
  asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;\n" ::"r"(sa(b)), "r"(count));
}
__device__ __forceinline__ void mbar_expect_tx(uint64_t* b, int bytes) {
  asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;\n" ::"r"(sa(b)), "r"(bytes));
}
__device__ __forceinline__ void mbar_arrive(uint64_t* b) {
  asm volatile("mbarrier.arrive.shared::cta.b64 _, [%0];\n" ::"r"(sa(b)));
}
__device__ __forceinline__ void mbar_wait(uint64_t* b, int parity) {
  asm volatile(
      "{\n.reg .pred P1;\nWAIT_%=:\n"
      "mbarrier.try_wait.parity.shared::cta.b64 P1, [%0], %1;\n"
      "@P1 bra.uni DONE_%=;\nbra.uni WAIT_%=;\nDONE_%=:\n}\n" ::"r"(sa(b)),
      "r"(parity));
}
// 3-D tile (k, row, batch) -> shared memory, completing `bytes` on the barrier
__device__ __forceinline__ void tma_load(void* dst, const CUtensorMap* map, uint64_t* bar, int k, int row, int z) {
  asm volatile(
      "cp.async.bulk.tensor.3d.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1, {%3, %4, %5}], [%2];\n" ::"r"(
          sa(dst)),
      "l"((uint64_t)map), "r"(sa(bar)), "r"(k), "r"(row), "r"(z)
      : "memory");
}

__device__ __forceinline__ void wg_arrive() { asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory"); }
__device__ __forceinline__ void wg_commit() { asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory"); }
__device__ __forceinline__ void wg_wait0() { asm volatile("wgmma.wait_group.sync.aligned 0;\n" ::: "memory"); }

#ifdef FT_SM90A
__device__ __forceinline__ void wgmma_m64n256k16(float* d, uint64_t da, uint64_t db, int scale_d) {
  asm volatile(
      "{\n.reg .pred p;\nsetp.ne.b32 p, %130, 0;\n"
      "wgmma.mma_async.sync.aligned.m64n256k16.f32.bf16.bf16 {%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, %32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, %48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63, %64, %65, %66, %67, %68, %69, %70, %71, %72, %73, %74, %75, %76, %77, %78, %79, %80, %81, %82, %83, %84, %85, %86, %87, %88, %89, %90, %91, %92, %93, %94, %95, %96, %97, %98, %99, %100, %101, %102, %103, %104, %105, %106, %107, %108, %109, %110, %111, %112, %113, %114, %115, %116, %117, %118, %119, %120, %121, %122, %123, %124, %125, %126, %127}, %128, %129, p, 1, 1, 0, 0;\n}\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]),
        "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]),
        "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]),
        "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31]),
        "+f"(d[32]), "+f"(d[33]), "+f"(d[34]), "+f"(d[35]), "+f"(d[36]), "+f"(d[37]), "+f"(d[38]), "+f"(d[39]),
        "+f"(d[40]), "+f"(d[41]), "+f"(d[42]), "+f"(d[43]), "+f"(d[44]), "+f"(d[45]), "+f"(d[46]), "+f"(d[47]),
        "+f"(d[48]), "+f"(d[49]), "+f"(d[50]), "+f"(d[51]), "+f"(d[52]), "+f"(d[53]), "+f"(d[54]), "+f"(d[55]),
        "+f"(d[56]), "+f"(d[57]), "+f"(d[58]), "+f"(d[59]), "+f"(d[60]), "+f"(d[61]), "+f"(d[62]), "+f"(d[63]),
        "+f"(d[64]), "+f"(d[65]), "+f"(d[66]), "+f"(d[67]), "+f"(d[68]), "+f"(d[69]), "+f"(d[70]), "+f"(d[71]),
        "+f"(d[72]), "+f"(d[73]), "+f"(d[74]), "+f"(d[75]), "+f"(d[76]), "+f"(d[77]), "+f"(d[78]), "+f"(d[79]),
        "+f"(d[80]), "+f"(d[81]), "+f"(d[82]), "+f"(d[83]), "+f"(d[84]), "+f"(d[85]), "+f"(d[86]), "+f"(d[87]),
        "+f"(d[88]), "+f"(d[89]), "+f"(d[90]), "+f"(d[91]), "+f"(d[92]), "+f"(d[93]), "+f"(d[94]), "+f"(d[95]),
        "+f"(d[96]), "+f"(d[97]), "+f"(d[98]), "+f"(d[99]), "+f"(d[100]), "+f"(d[101]), "+f"(d[102]), "+f"(d[103]),
        "+f"(d[104]), "+f"(d[105]), "+f"(d[106]), "+f"(d[107]), "+f"(d[108]), "+f"(d[109]), "+f"(d[110]), "+f"(d[111]),
        "+f"(d[112]), "+f"(d[113]), "+f"(d[114]), "+f"(d[115]), "+f"(d[116]), "+f"(d[117]), "+f"(d[118]), "+f"(d[119]),
        "+f"(d[120]), "+f"(d[121]), "+f"(d[122]), "+f"(d[123]), "+f"(d[124]), "+f"(d[125]), "+f"(d[126]), "+f"(d[127])
      : "l"(da), "l"(db), "r"(scale_d));
}
#endif

template <typename OutT>
__global__ __launch_bounds__(384, 1) void gemm_wgmma(int M, int N, int Kp, float alpha, float beta, OutT* __restrict__ C,
                                                    int64_t ldc, int64_t sC, int bcastA, int bcastB,
                                                    const float* __restrict__ bias,
                                                    const __grid_constant__ CUtensorMap mapA,
                                                    const __grid_constant__ CUtensorMap mapB) {
#ifdef FT_SM90A
  extern __shared__ uint8_t smem_raw[];
  uint8_t* smem = (uint8_t*)(((uintptr_t)smem_raw + 1023) & ~(uintptr_t)1023);
  uint64_t* full = reinterpret_cast<uint64_t*>(smem + STAGES * STAGE_BYTES);
  uint64_t* empty = full + STAGES;
  const int wg = threadIdx.x / 128, tid = threadIdx.x % 128;
  const int m0 = blockIdx.y * BM, n0 = blockIdx.x * BN, z = blockIdx.z;
  const int KT = Kp / BK;
  if (threadIdx.x == 0) {
    for (int s = 0; s < STAGES; s++) {
      mbar_init(&full[s], 1);
      mbar_init(&empty[s], 2);
    }
    asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");
  }
  __syncthreads();
  if (wg == 0) {
    // producer: one thread keeps the ring full
    asm volatile("setmaxnreg.dec.sync.aligned.u32 40;\n");
    if (tid == 0) {
      for (int kt = 0; kt < KT; kt++) {
        int s = kt % STAGES, r = kt / STAGES;
        mbar_wait(&empty[s], r & 1);
        uint8_t* st = smem + s * STAGE_BYTES;
        mbar_expect_tx(&full[s], STAGE_BYTES);
        tma_load(st, &mapA, &full[s], kt * BK, m0, bcastA ? 0 : z);
        tma_load(st + A_BYTES, &mapB, &full[s], kt * BK, n0, bcastB ? 0 : z);
      }
    }
  } else {
    asm volatile("setmaxnreg.inc.sync.aligned.u32 232;\n");
    const int cw = wg - 1;  // consumer 0: rows 0..63 of the tile, consumer 1: rows 64..127
    // every stage starts empty: release it once so the producer's first round passes
    if (tid == 0)
      for (int s = 0; s < STAGES; s++) mbar_arrive(&empty[s]);
    float d[128];
#pragma unroll
    for (int i = 0; i < 128; i++) d[i] = 0.f;
    for (int kt = 0; kt < KT; kt++) {
      int s = kt % STAGES, r = kt / STAGES;
      mbar_wait(&full[s], r & 1);
      const __nv_bfloat16* As = reinterpret_cast<const __nv_bfloat16*>(smem + s * STAGE_BYTES) + cw * 64 * BK;
      const __nv_bfloat16* Bs = reinterpret_cast<const __nv_bfloat16*>(smem + s * STAGE_BYTES + A_BYTES);
      wg_arrive();
#pragma unroll
      for (int k = 0; k < BK / 16; k++) wgmma_m64n256k16(d, desc(As + k * 16), desc(Bs + k * 16), 1);
      wg_commit();
      wg_wait0();
      if (tid == 0) mbar_arrive(&empty[s]);
    }
    // accumulator j*4+e: row 16*warp + lane/4 (+8 for e >= 2), column 8*j + 2*(lane%4) + (e & 1)
    const int warp = tid / 32, lane = tid % 32;
    OutT* Cz = C + (int64_t)z * sC;
#pragma unroll
    for (int j = 0; j < 32; j++)
#pragma unroll
      for (int h = 0; h < 2; h++) {
        int row = m0 + cw * 64 + 16 * warp + lane / 4 + 8 * h;
        int col = n0 + 8 * j + 2 * (lane % 4);
        if (row >= M) continue;
#pragma unroll
        for (int e = 0; e < 2; e++) {
          if (col + e >= N) continue;
          OutT* p = Cz + (int64_t)row * ldc + col + e;
          float v = alpha * d[j * 4 + 2 * h + e];
          if (beta != 0.f) v += beta * to_f32(*p);
          if (bias) v += bias[col + e];  // linear's bias, fused into the epilogue
          if constexpr (sizeof(OutT) == 4) *p = v;
          else *p = __float2bfloat16_rn(v);
        }
      }
  }
#endif
}

PFN_cuTensorMapEncodeTiled_v12000 encode_fn() {
  static PFN_cuTensorMapEncodeTiled_v12000 fn = nullptr;
  static bool tried = false;
  if (!tried) {
    tried = true;
    cudaDriverEntryPointQueryResult q;
    void* p = nullptr;
    if (cudaGetDriverEntryPointByVersion("cuTensorMapEncodeTiled", &p, 12000, cudaEnableDefault, &q) == cudaSuccess &&
        q == cudaDriverEntryPointSuccess)
      fn = (PFN_cuTensorMapEncodeTiled_v12000)p;
    cudaGetLastError();
  }
  return fn;
}

// (Kp, rows, batch) bf16 tensor, box (64, box_rows, 1), 128-byte swizzle, zeros out of range
bool make_map(CUtensorMap* map, const void* base, int Kp, int rows, int64_t batch, int64_t bstride, int box_rows) {
  auto fn = encode_fn();
  if (!fn) return false;
  cuuint64_t dims[3] = {(cuuint64_t)Kp, (cuuint64_t)rows, (cuuint64_t)(batch > 0 ? batch : 1)};
  cuuint64_t strides[2] = {(cuuint64_t)Kp * 2, (cuuint64_t)(bstride > 0 ? bstride : (int64_t)rows * Kp) * 2};
  cuuint32_t box[3] = {(cuuint32_t)BK, (cuuint32_t)box_rows, 1};
  cuuint32_t es[3] = {1, 1, 1};
  CUresult r = fn(map, CU_TENSOR_MAP_DATA_TYPE_BFLOAT16, 3, const_cast<void*>(base), dims, strides, box, es,
                  CU_TENSOR_MAP_INTERLEAVE_NONE, CU_TENSOR_MAP_SWIZZLE_128B, CU_TENSOR_MAP_L2_PROMOTION_L2_256B,
                  CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE);
  return r == CUDA_SUCCESS;
}

template <typename OutT>
int launch(int64_t batch, int M, int N, int Kp, float alpha, const __nv_bfloat16* A, int64_t sA,
           const __nv_bfloat16* B, int64_t sB, float beta, OutT* C, int64_t ldc, int64_t sC, const float* bias) {
  static bool attr = false;
  if (!attr) {
    int st = fail(cudaFuncSetAttribute(gemm_wgmma<OutT>, cudaFuncAttributeMaxDynamicSharedMemorySize, SMEM),
                  "gemm sm90: smem attribute");
    if (st) return st;
    attr = true;
  }
  CUtensorMap ma, mb;
  if (!make_map(&ma, A, Kp, M, sA ? batch : 1, sA, BM) || !make_map(&mb, B, Kp, N, sB ? batch : 1, sB, BN))
    return FT_EUNSUP;
  for (int64_t b0 = 0; b0 < batch; b0 += 65535) {
    unsigned nb = (unsigned)(batch - b0 < 65535 ? batch - b0 : 65535);
    if (b0 > 0) {  // z restarts at 0 in each launch: rebuild the maps from the shifted bases
      if (!make_map(&ma, A + (sA ? b0 * sA : 0), Kp, M, sA ? batch - b0 : 1, sA, BM) ||
          !make_map(&mb, B + (sB ? b0 * sB : 0), Kp, N, sB ? batch - b0 : 1, sB, BN))
        return FT_EUNSUP;
    }
    dim3 g((N + BN - 1) / BN, (M + BM - 1) / BM, nb);
    gemm_wgmma<OutT><<<g, 384, SMEM, stream()>>>(M, N, Kp, alpha, beta, C + b0 * sC, ldc, sC, sA == 0, sB == 0, bias,
                                                 ma, mb);
  }
  return launched("gemm (sm90 wgmma)");
}

}  // namespace

int gemm_sm90_bf16(int64_t batch, int M, int N, int Kp, float alpha, const __nv_bfloat16* A, int64_t sA,
                   const __nv_bfloat16* B, int64_t sB, float beta, void* C, int out_bf16, int64_t ldc, int64_t sC,
                   const float* bias) {
  if (cc_major() != 9 || Kp % BK != 0 || smem_optin() < (size_t)SMEM) return FT_EUNSUP;
  // TMA needs 16-byte aligned bases and row strides
  if (((uintptr_t)A | (uintptr_t)B) & 15) return FT_EUNSUP;
  if ((M + BM - 1) / BM > 65535) return FT_EUNSUP;  // grid y limit: the mma.sync kernel tiles rows
  if (out_bf16)
    return launch<__nv_bfloat16>(batch, M, N, Kp, alpha, A, sA, B, sB, beta, (__nv_bfloat16*)C, ldc, sC, bias);
  return launch<float>(batch, M, N, Kp, alpha, A, sA, B, sB, beta, (float*)C, ldc, sC, bias);
}

}  // namespace ftc
