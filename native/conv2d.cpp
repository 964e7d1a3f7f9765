// conv2d and CoordConv, forward and backward: y(B,Cout,Ho,Wo) = w(Cout,C/G,kh,kw) * x(B,Cin,H,W)
// + b(Cout), any stride / padding / dilation / groups. CoordConv (coord = 1) convolves
// [x, xx, yy] (C = Cin + 2; xx = row coordinate along H, yy = column coordinate along W, both
// linspace(-1, 1)) with the coordinate channels generated inside im2col, never materialised.
// Method: per (image, group, tile of output rows) im2col into a per-thread grow-only buffer, then
// a small-A AVX-512 GEMM (or ft_gemm_f32 when the weights are large); 1x1/s1/p0 skips im2col.
// Backward: dw = dy col^T (per-thread partials), dx = col2im(w^T dy), db = sum dy.
// Test: deno test --allow-ffi --allow-read --allow-env tests/ops/conv2d_test.ts
// Bench: deno bench --allow-ffi --allow-read --allow-env bench/conv2d_bench.ts
#include <immintrin.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "ft.h"
#include "simd.h"
#include "threadpool.h"

extern "C" int ft_gemm_f32(int transA, int transB, int64_t M, int64_t N, int64_t K, float alpha,
                           const float* A, int64_t lda, const float* B, int64_t ldb, float beta,
                           float* C, int64_t ldc);

namespace ft {

// Geometry of one convolution (shared with conv_transpose2d.cpp, which declares it identically).
struct ConvGeom {
  int64_t H, W, kh, kw, sh, sw, ph, pw, dh, dw, Ho, Wo;
};

// Grow-only 64-byte aligned scratch; one per thread and use (first touch costs ~3 ms/MiB).
struct Scratch {
  float* p = nullptr;
  size_t cap = 0;
  float* get(size_t n) {
    if (n > cap) {
      std::free(p);
      size_t bytes = ((n * 4 + 63) / 64) * 64;
      p = (float*)std::aligned_alloc(64, bytes);
      cap = p ? n : 0;
    }
    return p;
  }
  ~Scratch() { std::free(p); }
};

static bool has_avx512() { return use_avx512(); }  // simd.h: honours FT_NO_AVX512

// ---- small-A GEMM: C(M,N) (ldc) = A(M,K) (lda) @ B(K,N) (ldb) [+ bias(M) per row] [+ C] ----

// Microkernel: 12 rows of packed A (K, 12) times 32 (NW = 2) or 16 (NW = 1) columns of B, with
// the 24 accumulators in named registers (arrays of __m512 get spilled by GCC).
#define FT_ROWS(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11)
template <int MR, int NW>
__attribute__((target("avx512f,fma"))) static void mk_12xN(int64_t K, const float* ap, const float* B,
                                                            int64_t ldb, float* C, int64_t ldc, __mmask16 k0,
                                                            __mmask16 k1, const float* bias12, bool acc,
                                                            int mr) {
#define DECL(i)                                                               \
  __m512 a##i##0 = bias12 ? _mm512_set1_ps(bias12[i]) : _mm512_setzero_ps(); \
  __m512 a##i##1 = a##i##0;
  FT_ROWS(DECL)
#undef DECL
  for (int64_t k = 0; k < K; k++, ap += 12) {
    const float* b = B + k * ldb;
    const __m512 b0 = _mm512_maskz_loadu_ps(k0, b);
    const __m512 b1 = NW == 2 ? _mm512_maskz_loadu_ps(k1, b + 16) : b0;
#define FMA(i)                                      \
  if (i < MR) {                                     \
    const __m512 av = _mm512_set1_ps(ap[i]);        \
    a##i##0 = _mm512_fmadd_ps(av, b0, a##i##0);     \
    if (NW == 2) a##i##1 = _mm512_fmadd_ps(av, b1, a##i##1); \
  }
    FT_ROWS(FMA)
#undef FMA
  }
#define STORE(i)                                                                       \
  if (i < mr) {                                                                        \
    float* c = C + i * ldc;                                                            \
    if (acc) a##i##0 = _mm512_add_ps(a##i##0, _mm512_maskz_loadu_ps(k0, c));           \
    _mm512_mask_storeu_ps(c, k0, a##i##0);                                             \
    if (NW == 2) {                                                                     \
      if (acc) a##i##1 = _mm512_add_ps(a##i##1, _mm512_maskz_loadu_ps(k1, c + 16));    \
      _mm512_mask_storeu_ps(c + 16, k1, a##i##1);                                      \
    }                                                                                  \
  }
  FT_ROWS(STORE)
#undef STORE
}
#undef FT_ROWS

// A (M,K) row-major -> ceil(M/12) panels of (K, 12), zero-padded rows
static float* pack_a12(int64_t M, int64_t K, const float* A, int64_t lda) {
  static thread_local Scratch buf;
  const int64_t panels = (M + 11) / 12;
  float* p = buf.get((size_t)(panels * K * 12));
  if (!p) return nullptr;
  for (int64_t pi = 0; pi < panels; pi++) {
    float* d = p + pi * K * 12;
    for (int64_t i = 0; i < 12; i++) {
      const int64_t m = pi * 12 + i;
      if (m < M)
        for (int64_t k = 0; k < K; k++) d[k * 12 + i] = A[m * lda + k];
      else
        for (int64_t k = 0; k < K; k++) d[k * 12 + i] = 0.f;
    }
  }
  return p;
}

__attribute__((target("avx512f,fma"))) static bool gemm_ab_512(int64_t M, int64_t N, int64_t K,
                                                                const float* A, int64_t lda,
                                                                const float* B, int64_t ldb, float* C,
                                                                int64_t ldc, const float* bias,
                                                                bool acc) {
  const float* ap = pack_a12(M, K, A, lda);
  if (!ap) return false;
  const int64_t panels = (M + 11) / 12;
  float bias12[12];
  for (int64_t n0 = 0; n0 < N; n0 += 32) {
    const int64_t nr = std::min<int64_t>(32, N - n0);
    const __mmask16 k0 = (__mmask16)(nr >= 16 ? 0xFFFF : (1u << nr) - 1);
    const __mmask16 k1 = (__mmask16)(nr >= 32 ? 0xFFFF : nr > 16 ? (1u << (nr - 16)) - 1 : 0);
    for (int64_t pi = 0; pi < panels; pi++) {
      const int mr = (int)std::min<int64_t>(12, M - pi * 12);
      const float* bb = nullptr;
      if (bias) {
        for (int i = 0; i < 12; i++) bias12[i] = i < mr ? bias[pi * 12 + i] : 0.f;
        bb = bias12;
      }
      float* c = C + pi * 12 * ldc + n0;
      const float* a = ap + pi * K * 12;
      // rows computed: mr rounded up to 4, 8 or 12 (a short last panel costs less)
      if (nr > 16) {
        if (mr > 8) mk_12xN<12, 2>(K, a, B + n0, ldb, c, ldc, k0, k1, bb, acc, mr);
        else if (mr > 4) mk_12xN<8, 2>(K, a, B + n0, ldb, c, ldc, k0, k1, bb, acc, mr);
        else mk_12xN<4, 2>(K, a, B + n0, ldb, c, ldc, k0, k1, bb, acc, mr);
      } else {
        if (mr > 8) mk_12xN<12, 1>(K, a, B + n0, ldb, c, ldc, k0, k1, bb, acc, mr);
        else if (mr > 4) mk_12xN<8, 1>(K, a, B + n0, ldb, c, ldc, k0, k1, bb, acc, mr);
        else mk_12xN<4, 1>(K, a, B + n0, ldb, c, ldc, k0, k1, bb, acc, mr);
      }
    }
  }
  return true;
}

static void gemm_ab_ref(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* B,
                        int64_t ldb, float* C, int64_t ldc, const float* bias, bool acc) {
  for (int64_t m = 0; m < M; m++) {
    float* c = C + m * ldc;
    float b0 = bias ? bias[m] : 0.f;
    if (acc)
      for (int64_t n = 0; n < N; n++) c[n] += b0;
    else
      for (int64_t n = 0; n < N; n++) c[n] = b0;
    for (int64_t k = 0; k < K; k++) {
      float a = A[m * lda + k];
      const float* b = B + k * ldb;
      for (int64_t n = 0; n < N; n++) c[n] += a * b[n];
    }
  }
}

// Single-threaded C = A @ B (+bias) (+C); large weights go to the library GEMM (run inline here).
void conv_gemm_ab(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* B,
                  int64_t ldb, float* C, int64_t ldc, const float* bias, bool acc) {
  if (M <= 0 || N <= 0) return;
  if (M * K > 48 * 1024 || !has_avx512()) {
    if (bias) {
      for (int64_t m = 0; m < M; m++) {
        float* c = C + m * ldc;
        if (acc)
          for (int64_t n = 0; n < N; n++) c[n] += bias[m];
        else
          for (int64_t n = 0; n < N; n++) c[n] = bias[m];
      }
    }
    if (K > 0 && ft_gemm_f32(0, 0, M, N, K, 1.f, A, lda, B, ldb, (acc || bias) ? 1.f : 0.f, C, ldc) == FT_OK)
      return;
    if (K == 0 && (acc || bias)) return;
    if (K == 0) {
      for (int64_t m = 0; m < M; m++) std::memset(C + m * ldc, 0, (size_t)N * 4);
      return;
    }
    gemm_ab_ref(M, N, K, A, lda, B, ldb, C, ldc, bias, acc);
    return;
  }
  if (!gemm_ab_512(M, N, K, A, lda, B, ldb, C, ldc, bias, acc)) gemm_ab_ref(M, N, K, A, lda, B, ldb, C, ldc, bias, acc);
}

// ---- A @ B^T with a long inner axis: C(M,P) (ldc) += A(M,N) (lda) . B(P,N) (ldb) rows ----

__attribute__((target("avx512f,fma"))) static void gemm_abt_512(int64_t M, int64_t P, int64_t N,
                                                                 const float* A, int64_t lda,
                                                                 const float* B, int64_t ldb,
                                                                 float* C, int64_t ldc) {
#define FT_I4(X, j) X(0, j) X(1, j) X(2, j) X(3, j)
#define FT_IJ(X) FT_I4(X, 0) FT_I4(X, 1) FT_I4(X, 2) FT_I4(X, 3)
  for (int64_t m0 = 0; m0 < M; m0 += 4) {
    const int mr = (int)std::min<int64_t>(4, M - m0);
    for (int64_t p0 = 0; p0 < P; p0 += 4) {
      const int pr = (int)std::min<int64_t>(4, P - p0);
      const float* a0 = A + (m0 + std::min(0, mr - 1)) * lda;
      const float* a1 = A + (m0 + std::min(1, mr - 1)) * lda;
      const float* a2 = A + (m0 + std::min(2, mr - 1)) * lda;
      const float* a3 = A + (m0 + std::min(3, mr - 1)) * lda;
      const float* b0 = B + (p0 + std::min(0, pr - 1)) * ldb;
      const float* b1 = B + (p0 + std::min(1, pr - 1)) * ldb;
      const float* b2 = B + (p0 + std::min(2, pr - 1)) * ldb;
      const float* b3 = B + (p0 + std::min(3, pr - 1)) * ldb;
#define DECL(i, j) __m512 c##i##j = _mm512_setzero_ps();
      FT_IJ(DECL)
#undef DECL
      for (int64_t n = 0; n < N; n += 16) {
        const __mmask16 k = (__mmask16)(N - n >= 16 ? 0xFFFF : (1u << (N - n)) - 1);
        const __m512 v0 = _mm512_maskz_loadu_ps(k, b0 + n), v1 = _mm512_maskz_loadu_ps(k, b1 + n);
        const __m512 v2 = _mm512_maskz_loadu_ps(k, b2 + n), v3 = _mm512_maskz_loadu_ps(k, b3 + n);
#define ROW(i)                                            \
  {                                                       \
    const __m512 av = _mm512_maskz_loadu_ps(k, a##i + n); \
    c##i##0 = _mm512_fmadd_ps(av, v0, c##i##0);           \
    c##i##1 = _mm512_fmadd_ps(av, v1, c##i##1);           \
    c##i##2 = _mm512_fmadd_ps(av, v2, c##i##2);           \
    c##i##3 = _mm512_fmadd_ps(av, v3, c##i##3);           \
  }
        ROW(0) ROW(1) ROW(2) ROW(3)
#undef ROW
      }
      alignas(64) float t[16];
#define OUT(i, j)                                  \
  if (i < mr && j < pr) {                          \
    _mm512_store_ps(t, c##i##j);                   \
    float s = 0.f;                                 \
    for (int l = 0; l < 16; l++) s += t[l];        \
    C[(m0 + i) * ldc + p0 + j] += s;               \
  }
      FT_IJ(OUT)
#undef OUT
    }
  }
#undef FT_IJ
#undef FT_I4
}

void conv_gemm_abt(int64_t M, int64_t P, int64_t N, const float* A, int64_t lda, const float* B,
                   int64_t ldb, float* C, int64_t ldc) {
  if (M <= 0 || P <= 0 || N <= 0) return;
  if (has_avx512() && M * P <= 64 * 1024) {
    gemm_abt_512(M, P, N, A, lda, B, ldb, C, ldc);
    return;
  }
  if (ft_gemm_f32(0, 1, M, P, N, 1.f, A, lda, B, ldb, 1.f, C, ldc) == FT_OK) return;
  for (int64_t m = 0; m < M; m++)
    for (int64_t p = 0; p < P; p++) {
      float s = 0.f;
      for (int64_t n = 0; n < N; n++) s += A[m * lda + n] * B[p * ldb + n];
      C[m * ldc + p] += s;
    }
}

// ---- im2col / col2im over a range of output rows ----

// valid output columns [lo, hi) for kernel column offset `off` (= kj*dw - pw)
static inline void col_range(int64_t off, int64_t sw, int64_t W, int64_t Wo, int64_t& lo, int64_t& hi) {
  // ix = ox*sw + off in [0, W)
  lo = off >= 0 ? 0 : (-off + sw - 1) / sw;
  hi = W - off <= 0 ? 0 : (W - off + sw - 1) / sw;
  lo = std::min(lo, Wo);
  hi = std::max(lo, std::min(hi, Wo));
}

// dst[i] = src[2 i] for i < n, AVX-512: 16 outputs from two loads and one even-lane permute
// (the scalar strided loop costs ~4x more at stride 2, the FPN's and most downsampling convs).
// Reads src[0 .. 2n-2] only: the element after the last one used may lie past the row.
FT_TARGET_AVX512 static void gather_s2_avx512(float* dst, const float* src, int64_t n) {
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  for (int64_t i = 0; i < n; i += 16) {
    const int64_t m = std::min<int64_t>(16, n - i), need = 2 * m - 1;
    const __mmask16 lo = tail_mask(need), hi = need > 16 ? tail_mask(need - 16) : 0;
    const __m512 a = _mm512_maskz_loadu_ps(lo, src + 2 * i), b = _mm512_maskz_loadu_ps(hi, src + 2 * i + 16);
    _mm512_mask_storeu_ps(dst + i, tail_mask(m), _mm512_permutex2var_ps(a, even, b));
  }
}

static inline float coord_of(int64_t i, int64_t n) {
  return n > 1 ? (float)i * (2.f / (float)(n - 1)) - 1.f : -1.f;
}

// col(cg*kh*kw, (oy1-oy0)*Wo) from channels [c0, c0+cg) of the virtual input [x, xx, yy]:
// channels below Creal read x (Creal,H,W); channel Creal is xx (varies along H), Creal+1 is yy.
void conv_im2col(const float* x, int64_t Creal, const ConvGeom& g, int64_t c0, int64_t cg,
                 int64_t oy0, int64_t oy1, float* col) {
  const int64_t N = (oy1 - oy0) * g.Wo;
  const bool s2fast = g.sw == 2 && has_avx512();
  for (int64_t c = 0; c < cg; c++) {
    const int64_t ch = c0 + c;
    const float* xc = ch < Creal ? x + ch * g.H * g.W : nullptr;
    for (int64_t ki = 0; ki < g.kh; ki++)
      for (int64_t kj = 0; kj < g.kw; kj++) {
        float* dst = col + ((c * g.kh + ki) * g.kw + kj) * N;
        const int64_t offx = kj * g.dw - g.pw;
        int64_t lo, hi;
        col_range(offx, g.sw, g.W, g.Wo, lo, hi);
        for (int64_t oy = oy0; oy < oy1; oy++, dst += g.Wo) {
          const int64_t iy = oy * g.sh - g.ph + ki * g.dh;
          if (iy < 0 || iy >= g.H || lo >= hi) {
            std::memset(dst, 0, (size_t)g.Wo * 4);
            continue;
          }
          if (lo > 0) std::memset(dst, 0, (size_t)lo * 4);
          if (hi < g.Wo) std::memset(dst + hi, 0, (size_t)(g.Wo - hi) * 4);
          if (xc) {
            const float* src = xc + iy * g.W + lo * g.sw + offx;
            if (g.sw == 1)
              std::memcpy(dst + lo, src, (size_t)(hi - lo) * 4);
            else if (s2fast)
              gather_s2_avx512(dst + lo, src, hi - lo);
            else
              for (int64_t ox = lo; ox < hi; ox++) dst[ox] = src[(ox - lo) * g.sw];
          } else if (ch == Creal) {
            const float v = coord_of(iy, g.H);
            for (int64_t ox = lo; ox < hi; ox++) dst[ox] = v;
          } else {
            for (int64_t ox = lo; ox < hi; ox++) dst[ox] = coord_of(ox * g.sw + offx, g.W);
          }
        }
      }
  }
}

// dx(cg,H,W) += col2im(col(cg*kh*kw, (oy1-oy0)*Wo)) for the first cg channels (x = channel c0)
void conv_col2im(const float* col, const ConvGeom& g, int64_t cg, int64_t oy0, int64_t oy1, float* dx) {
  const int64_t N = (oy1 - oy0) * g.Wo;
  for (int64_t c = 0; c < cg; c++) {
    float* xc = dx + c * g.H * g.W;
    for (int64_t ki = 0; ki < g.kh; ki++)
      for (int64_t kj = 0; kj < g.kw; kj++) {
        const float* src = col + ((c * g.kh + ki) * g.kw + kj) * N;
        const int64_t offx = kj * g.dw - g.pw;
        int64_t lo, hi;
        col_range(offx, g.sw, g.W, g.Wo, lo, hi);
        if (lo >= hi) continue;
        for (int64_t oy = oy0; oy < oy1; oy++, src += g.Wo) {
          const int64_t iy = oy * g.sh - g.ph + ki * g.dh;
          if (iy < 0 || iy >= g.H) continue;
          float* d = xc + iy * g.W + lo * g.sw + offx;
          if (g.sw == 1)
            for (int64_t ox = lo; ox < hi; ox++) d[ox - lo] += src[ox];
          else
            for (int64_t ox = lo; ox < hi; ox++) d[(ox - lo) * g.sw] += src[ox];
        }
      }
  }
}

// sum of x(n), 16 partial sums (vectorises; a serial float sum is latency-bound)
FT_INLINE float row_sum_impl(const float* x, int64_t n) {
  float acc[16] = {0};
  int64_t i = 0;
  for (; i + 16 <= n; i += 16)
    for (int k = 0; k < 16; k++) acc[k] += x[i + k];
  float s = 0.f;
  for (int k = 0; k < 16; k++) s += acc[k];
  for (; i < n; i++) s += x[i];
  return s;
}
FT_MULTIVERSION(, , float, row_sum, (const float* x, int64_t n), (x, n))
float conv_row_sum(const float* x, int64_t n) { return row_sum(x, n); }

// output rows per tile so that one im2col tile (K x rows*Wo) stays in L2
int64_t conv_tile_rows(int64_t K, int64_t Ho, int64_t Wo) {
  int64_t target = std::max<int64_t>(256, std::min<int64_t>(4096, (128 * 1024) / std::max<int64_t>(K, 1)));
  int64_t r = std::max<int64_t>(1, target / std::max<int64_t>(Wo, 1));
  return std::min(r, std::max<int64_t>(Ho, 1));
}

// Few tiles per thread (batch 1 inference: B*G*tiles of 4 to 8): the threads take equal
// contiguous runs of tiles, so a short last tile or a count that the threads do not divide
// leaves one thread idle for a large part of the op (Ho 28 in rows of 9: 18 rows against 10).
// Then the rows are cut into a multiple of the thread count of equal tiles (never more rows
// per tile than before, so the im2col buffer still fits its budget).
void balance_tiles(int64_t BG, int64_t Ho, int64_t& R, int64_t& tiles) {
  const int64_t nt = ft::num_threads();
  if (nt <= 1 || BG * tiles >= 8 * nt) return;
  for (int64_t t = tiles; t <= Ho; t++) {
    if ((BG * t) % nt) continue;
    const int64_t r = (Ho + t - 1) / t;
    if ((Ho + r - 1) / r != t) continue;  // equal rows need exactly t tiles of r
    R = r;
    tiles = t;
    return;
  }
}

}  // namespace ft

using ft::ConvGeom;

static bool conv_geom(int64_t H, int64_t W, int64_t kh, int64_t kw, int64_t sh, int64_t sw, int64_t ph,
                      int64_t pw, int64_t dh, int64_t dw, ConvGeom& g) {
  if (H < 1 || W < 1 || kh < 1 || kw < 1 || sh < 1 || sw < 1 || ph < 0 || pw < 0 || dh < 1 || dw < 1)
    return false;
  g = {H, W, kh, kw, sh, sw, ph, pw, dh, dw, 0, 0};
  const int64_t eh = dh * (kh - 1) + 1, ew = dw * (kw - 1) + 1;
  if (H + 2 * ph < eh || W + 2 * pw < ew) return false;
  g.Ho = (H + 2 * ph - eh) / sh + 1;
  g.Wo = (W + 2 * pw - ew) / sw + 1;
  return true;
}

static bool is_pointwise(const ConvGeom& g) {
  return g.kh == 1 && g.kw == 1 && g.sh == 1 && g.sw == 1 && g.ph == 0 && g.pw == 0;
}

// y = conv2d([x, coords if coord], w) + bias
FT_API int ft_conv2d_fwd(int64_t B, int64_t Cin, int64_t H, int64_t W, int64_t Cout, int64_t kh,
                         int64_t kw, int64_t sh, int64_t sw, int64_t ph, int64_t pw, int64_t dh,
                         int64_t dw, int64_t groups, int coord,
                         const float* x,     // (B, Cin, H, W)
                         const float* w,     // (Cout, (Cin + 2*coord)/groups, kh, kw)
                         const float* bias,  // (Cout) or null
                         float* y) {         // (B, Cout, Ho, Wo)
  ConvGeom g;
  const int64_t C = Cin + (coord ? 2 : 0);
  if (B < 0 || Cin < 0 || Cout < 1 || groups < 1 || C < 1 || C % groups || Cout % groups) return FT_EINVAL;
  if (!conv_geom(H, W, kh, kw, sh, sw, ph, pw, dh, dw, g)) return FT_EINVAL;
  if (B == 0) return FT_OK;
  const int64_t G = groups, cg = C / G, og = Cout / G, K = cg * kh * kw, HWo = g.Ho * g.Wo;
  const bool pointwise = is_pointwise(g) && !coord;
  int64_t R = pointwise ? std::max<int64_t>(1, 4096 / W) : ft::conv_tile_rows(K, g.Ho, g.Wo);
  int64_t tiles = (g.Ho + R - 1) / R;
  ft::balance_tiles(B * G, g.Ho, R, tiles);
  // tiles from a shared counter: a worker that the shared machine runs late still takes a share
  ft::run_chunked(B * G * tiles, 1, 1, [&](int64_t t0, int64_t t1, int) {
    static thread_local ft::Scratch colbuf;
    for (int64_t t = t0; t < t1; t++) {
      const int64_t b = t / (G * tiles), gi = (t / tiles) % G, tile = t % tiles;
      const int64_t oy0 = tile * R, oy1 = std::min(g.Ho, oy0 + R), n = (oy1 - oy0) * g.Wo;
      const float* xb = x + b * Cin * H * W;
      float* yt = y + (b * Cout + gi * og) * HWo + oy0 * g.Wo;
      const float* wg = w + gi * og * K;
      const float* bg = bias ? bias + gi * og : nullptr;
      if (pointwise) {
        ft::conv_gemm_ab(og, n, K, wg, K, xb + gi * cg * H * W + oy0 * W, H * W, yt, HWo, bg, false);
      } else {
        float* col = colbuf.get((size_t)K * n);
        ft::conv_im2col(xb, Cin, g, gi * cg, cg, oy0, oy1, col);
        ft::conv_gemm_ab(og, n, K, wg, K, col, n, yt, HWo, bg, false);
      }
    }
  });
  return FT_OK;
}

// gx = dL/dx (real channels only), gw = dL/dw, gb = dL/db (each may be null; all overwritten)
FT_API int ft_conv2d_bwd(int64_t B, int64_t Cin, int64_t H, int64_t W, int64_t Cout, int64_t kh,
                         int64_t kw, int64_t sh, int64_t sw, int64_t ph, int64_t pw, int64_t dh,
                         int64_t dw, int64_t groups, int coord,
                         const float* x,   // (B, Cin, H, W)
                         const float* w,   // (Cout, (Cin + 2*coord)/groups, kh, kw)
                         const float* gy,  // (B, Cout, Ho, Wo)
                         float* gx,        // (B, Cin, H, W) or null
                         float* gw,        // (Cout, (Cin + 2*coord)/groups, kh, kw) or null
                         float* gb) {      // (Cout) or null
  ConvGeom g;
  const int64_t C = Cin + (coord ? 2 : 0);
  if (B < 0 || Cin < 0 || Cout < 1 || groups < 1 || C < 1 || C % groups || Cout % groups) return FT_EINVAL;
  if (!conv_geom(H, W, kh, kw, sh, sw, ph, pw, dh, dw, g)) return FT_EINVAL;
  const int64_t G = groups, cg = C / G, og = Cout / G, K = cg * kh * kw, HWo = g.Ho * g.Wo;
  const int64_t khw = kh * kw;
  const bool pointwise = is_pointwise(g) && !coord;
  const int nt = ft::num_threads();
  const int64_t wsize = Cout * K;
  // per-thread partial sums of gw and gb (caller-side grow-only scratch)
  static ft::Scratch partial, wt;
  float* part = nullptr;
  if (gw || gb) {
    part = partial.get((size_t)nt * (wsize + Cout));
    if (!part) return FT_ENOMEM;
    std::memset(part, 0, (size_t)nt * (wsize + Cout) * 4);
  }
  // w^T per group: (G, K, og), the A operand of dcol = w^T dy
  float* wT = nullptr;
  if (gx) {
    wT = wt.get((size_t)wsize);
    if (!wT) return FT_ENOMEM;
    for (int64_t gi = 0; gi < G; gi++)
      for (int64_t o = 0; o < og; o++)
        for (int64_t k = 0; k < K; k++) wT[gi * K * og + k * og + o] = w[(gi * og + o) * K + k];
  }
  const int64_t R = pointwise ? g.Ho : ft::conv_tile_rows(K, g.Ho, g.Wo);
  const int64_t tiles = (g.Ho + R - 1) / R;
  ft::parallel_for(B * G, [&](int64_t t0, int64_t t1, int tid) {
    static thread_local ft::Scratch colbuf, dcolbuf;
    float* pw_ = part ? part + tid * (wsize + Cout) : nullptr;
    float* pb_ = part ? pw_ + wsize : nullptr;
    for (int64_t t = t0; t < t1; t++) {
      const int64_t b = t / G, gi = t % G;
      const float* xb = x + b * Cin * H * W;
      const float* gyb = gy + (b * Cout + gi * og) * HWo;
      // real input channels of this group: [c0, c0 + creal)
      const int64_t c0 = gi * cg, creal = std::max<int64_t>(0, std::min(cg, Cin - c0));
      float* gxg = gx ? gx + (b * Cin + c0) * H * W : nullptr;
      if (gxg && creal) std::memset(gxg, 0, (size_t)creal * H * W * 4);
      if (gb)
        for (int64_t o = 0; o < og; o++) pb_[gi * og + o] += ft::conv_row_sum(gyb + o * HWo, HWo);
      for (int64_t tile = 0; tile < tiles; tile++) {
        const int64_t oy0 = tile * R, oy1 = std::min(g.Ho, oy0 + R), n = (oy1 - oy0) * g.Wo;
        const float* gyt = gyb + oy0 * g.Wo;
        if (gw) {
          const float* col;
          int64_t ldcol;
          if (pointwise) {
            col = xb + c0 * H * W + oy0 * W;
            ldcol = H * W;
          } else {
            float* cb = colbuf.get((size_t)K * n);
            ft::conv_im2col(xb, Cin, g, c0, cg, oy0, oy1, cb);
            col = cb;
            ldcol = n;
          }
          ft::conv_gemm_abt(og, K, n, gyt, HWo, col, ldcol, pw_ + gi * og * K, K);
        }
        if (gxg && creal) {
          const int64_t Kr = creal * khw;
          const float* wTg = wT + gi * K * og;
          if (pointwise) {
            ft::conv_gemm_ab(Kr, n, og, wTg, og, gyt, HWo, gxg + oy0 * W, H * W, nullptr, false);
          } else {
            float* dcol = dcolbuf.get((size_t)Kr * n);
            ft::conv_gemm_ab(Kr, n, og, wTg, og, gyt, HWo, dcol, n, nullptr, false);
            ft::conv_col2im(dcol, g, creal, oy0, oy1, gxg);
          }
        }
      }
    }
  });
  if (gw) {
    std::memcpy(gw, part, (size_t)wsize * 4);
    for (int t = 1; t < nt; t++)
      for (int64_t i = 0; i < wsize; i++) gw[i] += part[t * (wsize + Cout) + i];
  }
  if (gb) {
    for (int64_t o = 0; o < Cout; o++) {
      float s = 0.f;
      for (int t = 0; t < nt; t++) s += part[t * (wsize + Cout) + wsize + o];
      gb[o] = s;
    }
  }
  return FT_OK;
}
