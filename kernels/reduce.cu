// Reductions over the middle axis of x viewed as (outer, R, inner) (native/reduce.cpp's ABI):
// scaled sum, max with argmax (first on ties, NaN wins), and max's backward (scatter-add).
// inner == 1: a block per row (split over blocks + a second pass when rows are few and long);
// inner > 1: a thread per output column, reading rows coalesced along `inner`.
// Check: tests/cuda/reduce_test.ts; bench: bench/gpu_timings.ts "sum".
#include "common.cuh"

namespace {

// y[row] = scale * sum over x[row * R + r] for r in [r0, r1); rows = gridDim.x, split in gridDim.y
__global__ void sum_rows(int64_t R, int64_t chunk, const float* __restrict__ x, float* __restrict__ y, float scale) {
  __shared__ float sh[32];
  int64_t row = blockIdx.x;
  int64_t r0 = blockIdx.y * chunk, r1 = min(R, r0 + chunk);
  const float* xr = x + row * R;
  float acc = 0.f;
  for (int64_t r = r0 + threadIdx.x; r < r1; r += blockDim.x) acc += xr[r];
  acc = ftc::block_sum(acc, sh);
  if (threadIdx.x == 0) y[row * gridDim.y + blockIdx.y] = acc * scale;
}

// y(outer, inner) = scale * sum_r x(outer, R, inner) for inner > 1
__global__ void sum_cols(int64_t outer, int64_t R, int64_t inner, const float* __restrict__ x, float* __restrict__ y,
                         float scale) {
  int64_t n = outer * inner;
  for (int64_t t = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; t < n; t += (int64_t)gridDim.x * blockDim.x) {
    int64_t o = t / inner, i = t - o * inner;
    const float* p = x + o * R * inner + i;
    float a0 = 0.f, a1 = 0.f, a2 = 0.f, a3 = 0.f;
    int64_t r = 0;
    for (; r + 4 <= R; r += 4) {
      a0 += p[r * inner];
      a1 += p[(r + 1) * inner];
      a2 += p[(r + 2) * inner];
      a3 += p[(r + 3) * inner];
    }
    for (; r < R; r++) a0 += p[r * inner];
    y[t] = ((a0 + a1) + (a2 + a3)) * scale;
  }
}

// Split-R column sums for few long columns: partial(split, outer*inner)
__global__ void sum_cols_split(int64_t outer, int64_t R, int64_t inner, int64_t chunk, const float* __restrict__ x,
                               float* __restrict__ part) {
  int64_t n = outer * inner;
  int64_t r0 = blockIdx.y * chunk, r1 = min(R, r0 + chunk);
  for (int64_t t = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; t < n; t += (int64_t)gridDim.x * blockDim.x) {
    int64_t o = t / inner, i = t - o * inner;
    const float* p = x + o * R * inner + i;
    float a = 0.f;
    for (int64_t r = r0; r < r1; r++) a += p[r * inner];
    part[blockIdx.y * n + t] = a;
  }
}

struct MaxIdx {
  float v;
  int32_t i;
};
// true when (va, ia) should win over (vb, ib): NaN first, then larger, then lower index
__device__ __forceinline__ bool better(float va, int32_t ia, float vb, int32_t ib) {
  bool na = va != va, nb = vb != vb;
  if (na != nb) return na;
  if (na) return ia < ib;
  if (va != vb) return va > vb;
  return ia < ib;
}

// one block per row (inner == 1)
__global__ void max_rows(int64_t R, const float* __restrict__ x, float* __restrict__ y, int32_t* __restrict__ idx) {
  __shared__ float sv[32];
  __shared__ int32_t si[32];
  const float* xr = x + blockIdx.x * R;
  float bv = -INFINITY;
  int32_t bi = INT32_MAX;
  for (int64_t r = threadIdx.x; r < R; r += blockDim.x) {
    float v = xr[r];
    if (better(v, (int32_t)r, bv, bi)) { bv = v; bi = (int32_t)r; }
  }
  for (int o = 16; o > 0; o >>= 1) {
    float ov = __shfl_xor_sync(0xffffffffu, bv, o);
    int32_t oi = __shfl_xor_sync(0xffffffffu, bi, o);
    if (better(ov, oi, bv, bi)) { bv = ov; bi = oi; }
  }
  int lane = threadIdx.x & 31, w = threadIdx.x >> 5;
  if (lane == 0) { sv[w] = bv; si[w] = bi; }
  __syncthreads();
  if (w == 0) {
    int nw = blockDim.x >> 5;
    bv = lane < nw ? sv[lane] : -INFINITY;
    bi = lane < nw ? si[lane] : INT32_MAX;
    for (int o = 16; o > 0; o >>= 1) {
      float ov = __shfl_xor_sync(0xffffffffu, bv, o);
      int32_t oi = __shfl_xor_sync(0xffffffffu, bi, o);
      if (better(ov, oi, bv, bi)) { bv = ov; bi = oi; }
    }
    if (lane == 0) {
      y[blockIdx.x] = bv;
      if (idx) idx[blockIdx.x] = bi;
    }
  }
}

// thread per (outer, inner) column, sequential over R (same order as the CPU)
__global__ void max_cols(int64_t outer, int64_t R, int64_t inner, const float* __restrict__ x, float* __restrict__ y,
                         int32_t* __restrict__ idx) {
  int64_t n = outer * inner;
  for (int64_t t = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; t < n; t += (int64_t)gridDim.x * blockDim.x) {
    int64_t o = t / inner, i = t - o * inner;
    const float* p = x + o * R * inner + i;
    float m = p[0];
    int32_t a = 0;
    for (int64_t r = 1; r < R && m == m; r++) {
      float v = p[r * inner];
      if (v > m || v != v) { m = v; a = (int32_t)r; }
    }
    y[t] = m;
    if (idx) idx[t] = a;
  }
}

__global__ void max_bwd_k(int64_t outer, int64_t R, int64_t inner, const float* __restrict__ gy,
                          const int32_t* __restrict__ idx, float* __restrict__ gx, int* bad) {
  int64_t n = outer * inner;
  for (int64_t t = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; t < n; t += (int64_t)gridDim.x * blockDim.x) {
    int64_t o = t / inner, i = t - o * inner;
    int32_t r = idx[t];
    if (r < 0 || r >= R) {  // flagged: the entry point returns FT_EINVAL like the CPU
      *bad = 1;
      continue;
    }
    gx[(o * R + r) * inner + i] += gy[t];
  }
}

}  // namespace

// y(outer, inner) = scale * sum_r x(outer, R, inner)
FT_API int ft_reduce_sum(int64_t outer, int64_t R, int64_t inner, const float* x, float* y, float scale) {
  if (outer < 0 || R < 0 || inner < 0) return FT_EINVAL;
  int64_t n = outer * inner;
  if (n == 0) return FT_OK;
  cudaStream_t s = ftc::stream();
  if (R == 0) return ftc::fail(cudaMemsetAsync(y, 0, (size_t)n * 4, s), "ft_reduce_sum");
  int64_t target = (int64_t)ftc::sm_count() * 8;  // blocks wanted to fill the device
  if (inner == 1) {
    if (outer >= target || R <= 4096 || outer > 65535) {
      int th = R >= 1024 ? 512 : R >= 256 ? 256 : 128;
      if (outer <= INT32_MAX) {
        sum_rows<<<dim3((unsigned)outer, 1), th, 0, s>>>(R, R, x, y, scale);
        return ftc::launched("ft_reduce_sum");
      }
    }
    // few long rows: split each row over `sp` blocks, then sum the partials (fixed order)
    int64_t sp = (target + outer - 1) / outer;
    if (sp > 1024) sp = 1024;
    int64_t chunk = (R + sp - 1) / sp;
    sp = (R + chunk - 1) / chunk;
    float* part = (float*)ftc::workspace((size_t)(outer * sp) * 4);
    if (!part) return FT_ENOMEM;
    sum_rows<<<dim3((unsigned)outer, (unsigned)sp), 512, 0, s>>>(R, chunk, x, part, 1.f);
    sum_rows<<<dim3((unsigned)outer, 1), 256, 0, s>>>(sp, sp, part, y, scale);
    return ftc::launched("ft_reduce_sum (split)");
  }
  if (n >= target * 256 || R <= 64) {
    sum_cols<<<ftc::blocks_for(n, 256), 256, 0, s>>>(outer, R, inner, x, y, scale);
    return ftc::launched("ft_reduce_sum (cols)");
  }
  int64_t sp = (target * 256 + n - 1) / n;
  if (sp > R / 16) sp = R / 16 > 0 ? R / 16 : 1;
  if (sp > 4096) sp = 4096;
  int64_t chunk = (R + sp - 1) / sp;
  sp = (R + chunk - 1) / chunk;
  float* part = (float*)ftc::workspace((size_t)(n * sp) * 4);
  if (!part) return FT_ENOMEM;
  sum_cols_split<<<dim3(ftc::blocks_for(n, 256), (unsigned)sp), 256, 0, s>>>(outer, R, inner, chunk, x, part);
  // partials are (sp, n): a column sum with outer = 1, R = sp, inner = n
  sum_cols<<<ftc::blocks_for(n, 256), 256, 0, s>>>(1, sp, n, part, y, scale);
  return ftc::launched("ft_reduce_sum (cols split)");
}

// y(outer, inner) = max_r x(outer, R, inner); idx(outer, inner) = argmax (first on ties; NaN wins)
FT_API int ft_reduce_max(int64_t outer, int64_t R, int64_t inner, const float* x, float* y, int32_t* idx) {
  if (outer < 0 || R <= 0 || inner < 0) return FT_EINVAL;
  int64_t n = outer * inner;
  if (n == 0) return FT_OK;
  cudaStream_t s = ftc::stream();
  if (inner == 1 && outer <= INT32_MAX && (R >= 256 || outer < (int64_t)ftc::sm_count() * 64)) {
    max_rows<<<(unsigned)outer, R >= 1024 ? 512 : 128, 0, s>>>(R, x, y, idx);
  } else {
    max_cols<<<ftc::blocks_for(n, 256), 256, 0, s>>>(outer, R, inner, x, y, idx);
  }
  return ftc::launched("ft_reduce_max");
}

// gx(outer, R, inner) += scatter of gy(outer, inner) at idx(outer, inner)
FT_API int ft_reduce_max_bwd(int64_t outer, int64_t R, int64_t inner, const float* gy, const int32_t* idx, float* gx) {
  if (outer < 0 || R <= 0 || inner < 0) return FT_EINVAL;
  int64_t n = outer * inner;
  if (n == 0) return FT_OK;
  int* flag = ftc::flag_begin();
  if (!flag) return FT_ENOMEM;
  max_bwd_k<<<ftc::grid_for(max_bwd_k, 256, n), 256, 0, ftc::stream()>>>(outer, R, inner, gy, idx, gx, flag);
  int st = ftc::launched("ft_reduce_max_bwd");
  int bad = 0;
  if (!st) st = ftc::flag_read(flag, &bad);
  if (!st && bad) return ftc::note(FT_EINVAL, "ft_reduce_max_bwd: an index is outside [0, R = %lld)", (long long)R);
  return st;
}
