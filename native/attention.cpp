// Fused multi-head scaled-dot-product attention core, forward and backward:
//   o = softmax(scale * q kᵀ + mask) v,  q (B,H,Tq,D), k/v (B,H,Tk,D), o (B,H,Tq,D)
// with an optional key padding mask (B,Tk) (nonzero = keep) and a causal mask (key j visible
// to query i iff j <= i, top-left aligned like torch's is_causal). Per (b,h) and block of
// queries: S = Q Kᵀ tile (Kᵀ packed once per (b,h)), row softmax in cache, O = P V; the
// logsumexp of every row is saved (B,H,Tq) so backward recomputes P (FlashAttention-2 style:
// dV += Pᵀ dO, dP = dO Vᵀ, dS = P (dP - rowsum(dO∘O)), dQ = dS K, dK += dSᵀ Q). Rows with
// every key masked give zeros (lse = -inf) and zero gradients. Products use an 8x32 AVX-512
// register-tile microkernel (runtime-detected; FT_NO_AVX512=1 forces the scalar fallback).
// Test: deno test --allow-ffi --allow-read --allow-env tests/ops/attention_test.ts
// Bench: deno bench --allow-ffi --allow-read --allow-env bench/attention_bench.ts
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <new>
#include <vector>

#include "ft.h"
#include "simd.h"
#include "threadpool.h"

#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"


namespace {
using ft::detect_avx512;
using ft::tail_mask;
using ft::exp16;

const bool kUse512 = detect_avx512();
const float kNegInf = -std::numeric_limits<float>::infinity();



// ---- small GEMM: C(M,N) (=|+=) alpha * A(M,K) B(K,N); A read as A[i*sai + k*sak] (so a
// transposed A is free), B row-major with leading dim ldb, C with ldc. Register tile MR x 32.

// (accumulators are named variables, not an array: GCC spills arrays of vectors every step)
#define FT_ROWS(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7)
template <int MR, int NV>
AVX512 void tile512(int64_t K, const float* A, int64_t sai, int64_t sak, const float* B, int64_t ldb, float* C,
                    int64_t ldc, __mmask16 ml, float alpha, int acc) {
#define DECL(r) __m512 a##r##0 = _mm512_setzero_ps(), a##r##1 = _mm512_setzero_ps();
  FT_ROWS(DECL)
#undef DECL
  const __mmask16 m0 = NV == 1 ? ml : (__mmask16)0xFFFF;
  const float* a = A;
  const float* b = B;
  for (int64_t k = 0; k < K; k++, a += sak, b += ldb) {
    __m512 b0 = NV == 1 ? _mm512_maskz_loadu_ps(m0, b) : _mm512_loadu_ps(b);
    __m512 b1 = NV == 2 ? _mm512_maskz_loadu_ps(ml, b + 16) : _mm512_setzero_ps();
#define STEP(r)                                              \
    if (MR > r) {                                            \
      __m512 av = _mm512_set1_ps(a[r * sai]);                \
      a##r##0 = _mm512_fmadd_ps(av, b0, a##r##0);            \
      if (NV == 2) a##r##1 = _mm512_fmadd_ps(av, b1, a##r##1); \
    }
    FT_ROWS(STEP)
#undef STEP
  }
  __m512 va = _mm512_set1_ps(alpha);
#define STORE(r)                                                                                         \
  if (MR > r) {                                                                                          \
    float* cr = C + r * ldc;                                                                             \
    __m512 x0 = acc ? _mm512_fmadd_ps(a##r##0, va, _mm512_maskz_loadu_ps(m0, cr)) : _mm512_mul_ps(a##r##0, va); \
    _mm512_mask_storeu_ps(cr, m0, x0);                                                                   \
    if (NV == 2) {                                                                                       \
      __m512 x1 = acc ? _mm512_fmadd_ps(a##r##1, va, _mm512_maskz_loadu_ps(ml, cr + 16))                  \
                      : _mm512_mul_ps(a##r##1, va);                                                      \
      _mm512_mask_storeu_ps(cr + 16, ml, x1);                                                            \
    }                                                                                                    \
  }
  FT_ROWS(STORE)
#undef STORE
}

template <int NV>
AVX512 void rows512(int64_t M, int64_t K, const float* A, int64_t sai, int64_t sak, const float* B, int64_t ldb,
                    float* C, int64_t ldc, __mmask16 ml, float alpha, int acc) {
  int64_t i = 0;
  for (; i + 8 <= M; i += 8) tile512<8, NV>(K, A + i * sai, sai, sak, B, ldb, C + i * ldc, ldc, ml, alpha, acc);
  const float* a = A + i * sai;
  float* c = C + i * ldc;
  switch (M - i) {
    case 7: tile512<7, NV>(K, a, sai, sak, B, ldb, c, ldc, ml, alpha, acc); break;
    case 6: tile512<6, NV>(K, a, sai, sak, B, ldb, c, ldc, ml, alpha, acc); break;
    case 5: tile512<5, NV>(K, a, sai, sak, B, ldb, c, ldc, ml, alpha, acc); break;
    case 4: tile512<4, NV>(K, a, sai, sak, B, ldb, c, ldc, ml, alpha, acc); break;
    case 3: tile512<3, NV>(K, a, sai, sak, B, ldb, c, ldc, ml, alpha, acc); break;
    case 2: tile512<2, NV>(K, a, sai, sak, B, ldb, c, ldc, ml, alpha, acc); break;
    case 1: tile512<1, NV>(K, a, sai, sak, B, ldb, c, ldc, ml, alpha, acc); break;
    default: break;
  }
}

AVX512 void mm512(int64_t M, int64_t N, int64_t K, const float* A, int64_t sai, int64_t sak, const float* B,
                  int64_t ldb, float* C, int64_t ldc, float alpha, int acc) {
  for (int64_t j = 0; j < N; j += 32) {
    int64_t nj = std::min<int64_t>(32, N - j);
    if (nj > 16) rows512<2>(M, K, A, sai, sak, B + j, ldb, C + j, ldc, tail_mask(nj - 16), alpha, acc);
    else rows512<1>(M, K, A, sai, sak, B + j, ldb, C + j, ldc, tail_mask(nj), alpha, acc);
  }
}

void mm_ref(int64_t M, int64_t N, int64_t K, const float* A, int64_t sai, int64_t sak, const float* B,
            int64_t ldb, float* C, int64_t ldc, float alpha, int acc) {
  for (int64_t i = 0; i < M; i++)
    for (int64_t j = 0; j < N; j++) {
      float s = 0.f;
      for (int64_t k = 0; k < K; k++) s += A[i * sai + k * sak] * B[k * ldb + j];
      C[i * ldc + j] = acc ? C[i * ldc + j] + alpha * s : alpha * s;
    }
}

inline void mm(int64_t M, int64_t N, int64_t K, const float* A, int64_t sai, int64_t sak, const float* B,
               int64_t ldb, float* C, int64_t ldc, float alpha, int acc) {
  if (M <= 0 || N <= 0) return;
  if (kUse512) mm512(M, N, K, A, sai, sak, B, ldb, C, ldc, alpha, acc);
  else mm_ref(M, N, K, A, sai, sak, B, ldb, C, ldc, alpha, acc);
}

// ---- row softmax pieces over n (multiple of 16) padded columns of S

// s(n) += bias(n), causal-masked beyond column ci (ci >= n: none; ci < 0: every column);
// s <- exp(s - max).
// Returns lse (-inf for a fully masked row, then s = 0) and sets *inv = 1/sum (0 if masked).
AVX512 float row_softmax512(int64_t n, float* s, const float* bias, int64_t ci, float* inv) {
  const __m512i iota = _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
  const __m512 ninf = _mm512_set1_ps(kNegInf);
  __m512 vmax = ninf;
  for (int64_t j = 0; j < n; j += 16) {
    __m512 v = _mm512_add_ps(_mm512_loadu_ps(s + j), _mm512_loadu_ps(bias + j));
    if (ci < j + 15) {
      __mmask16 hide = _mm512_cmpgt_epi32_mask(_mm512_add_epi32(iota, _mm512_set1_epi32((int)j)),
                                               _mm512_set1_epi32((int)ci));
      v = _mm512_mask_mov_ps(v, hide, ninf);
    }
    _mm512_storeu_ps(s + j, v);
    vmax = _mm512_max_ps(vmax, v);
  }
  float m = _mm512_reduce_max_ps(vmax);
  if (m == kNegInf) {
    for (int64_t j = 0; j < n; j += 16) _mm512_storeu_ps(s + j, _mm512_setzero_ps());
    *inv = 0.f;
    return kNegInf;
  }
  __m512 vm = _mm512_set1_ps(m), sum = _mm512_setzero_ps();
  for (int64_t j = 0; j < n; j += 16) {
    __m512 e = exp16(_mm512_sub_ps(_mm512_loadu_ps(s + j), vm));
    _mm512_storeu_ps(s + j, e);
    sum = _mm512_add_ps(sum, e);
  }
  float t = _mm512_reduce_add_ps(sum);
  *inv = 1.f / t;
  return m + std::log(t);
}

float row_softmax_ref(int64_t n, float* s, const float* bias, int64_t ci, float* inv) {
  float m = kNegInf;
  for (int64_t j = 0; j < n; j++) {
    s[j] = j > ci ? kNegInf : s[j] + bias[j];
    m = std::fmax(m, s[j]);
  }
  if (m == kNegInf) {
    for (int64_t j = 0; j < n; j++) s[j] = 0.f;
    *inv = 0.f;
    return kNegInf;
  }
  float t = 0.f;
  for (int64_t j = 0; j < n; j++) t += (s[j] = std::exp(s[j] - m));
  *inv = 1.f / t;
  return m + std::log(t);
}

// s(n) <- exp(s + bias - lse) with the causal mask beyond ci; zeros when lse = -inf
AVX512 void row_p512(int64_t n, float* s, const float* bias, int64_t ci, float lse) {
  if (lse == kNegInf) {
    for (int64_t j = 0; j < n; j += 16) _mm512_storeu_ps(s + j, _mm512_setzero_ps());
    return;
  }
  const __m512i iota = _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
  __m512 vl = _mm512_set1_ps(lse);
  for (int64_t j = 0; j < n; j += 16) {
    __m512 v = _mm512_sub_ps(_mm512_add_ps(_mm512_loadu_ps(s + j), _mm512_loadu_ps(bias + j)), vl);
    __m512 e = exp16(v);
    if (ci < j + 15) {
      __mmask16 keep = _mm512_cmple_epi32_mask(_mm512_add_epi32(iota, _mm512_set1_epi32((int)j)),
                                               _mm512_set1_epi32((int)ci));
      e = _mm512_maskz_mov_ps(keep, e);
    }
    _mm512_storeu_ps(s + j, e);
  }
}

void row_p_ref(int64_t n, float* s, const float* bias, int64_t ci, float lse) {
  for (int64_t j = 0; j < n; j++)
    s[j] = (lse == kNegInf || j > ci) ? 0.f : std::exp(s[j] + bias[j] - lse);
}

// dp(n) <- p(n) * (dp(n) - d)
AVX512 void row_ds512(int64_t n, const float* p, float* dp, float d) {
  __m512 vd = _mm512_set1_ps(d);
  for (int64_t j = 0; j < n; j += 16)
    _mm512_storeu_ps(dp + j, _mm512_mul_ps(_mm512_loadu_ps(p + j), _mm512_sub_ps(_mm512_loadu_ps(dp + j), vd)));
}

// full 16-row blocks of x (Tk,D) -> xt (D,Tkp) with one gather per output vector; returns
// the first row not done
AVX512 int64_t pack512(int64_t Tk, int64_t Tkp, int64_t D, const float* x, float* xt) {
  const __m512i idx = _mm512_mullo_epi32(_mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
                                         _mm512_set1_epi32((int)D));
  int64_t j0 = 0;
  for (; j0 + 16 <= Tk; j0 += 16)
    for (int64_t d = 0; d < D; d++)
      _mm512_storeu_ps(xt + d * Tkp + j0, _mm512_i32gather_ps(idx, x + j0 * D + d, 4));
  return j0;
}

// Flush denormals to zero (FTZ/DAZ) for the scope of a task; restores the caller's MXCSR.
struct FlushDenormals {
  unsigned old;
  FlushDenormals() : old(_mm_getcsr()) { _mm_setcsr(old | 0x8040); }
  ~FlushDenormals() { _mm_setcsr(old); }
};

// Per-(b,h) state: Kᵀ (and Vᵀ) packed as (D, Tkp), the additive key bias (Tkp).
struct Head {
  int64_t Tk, Tkp, D;
  std::vector<float> kt, vt, bias;
  Head(int64_t Tk_, int64_t D_, bool withV) : Tk(Tk_), Tkp((Tk_ + 15) / 16 * 16), D(D_) {
    kt.assign((size_t)(D * Tkp + 16), 0.f);
    if (withV) vt.assign((size_t)(D * Tkp + 16), 0.f);
    bias.assign((size_t)Tkp, kNegInf);
  }
  static void pack(int64_t Tk, int64_t Tkp, int64_t D, const float* x, float* xt) {  // x (Tk,D) -> xt (D,Tkp)
    int64_t j0 = 0;
    if (kUse512 && D < (1 << 26)) j0 = pack512(Tk, Tkp, D, x, xt);
    for (; j0 < Tk; j0 += 16) {
      int64_t j1 = std::min(Tk, j0 + 16);
      for (int64_t d = 0; d < D; d++)
        for (int64_t j = j0; j < j1; j++) xt[d * Tkp + j] = x[j * D + d];
    }
  }
  // k, v: this head's first Tk key rows; kmask row b has stride ldm
  void load(const float* k, const float* v, const void* kmask, int kmask_i32, int64_t ldm, int64_t b) {
    pack(Tk, Tkp, D, k, kt.data());
    if (!vt.empty()) pack(Tk, Tkp, D, v, vt.data());
    for (int64_t j = 0; j < Tk; j++) {
      bool keep = true;
      if (kmask) keep = kmask_i32 ? ((const int32_t*)kmask)[b * ldm + j] != 0 : ((const float*)kmask)[b * ldm + j] != 0.f;
      bias[j] = keep ? 0.f : kNegInf;
    }
  }
};

bool valid_dims(int64_t B, int64_t H, int64_t Tq, int64_t Tk, int64_t D, int64_t ldk) {
  return B >= 0 && H >= 0 && Tq >= 0 && Tk >= 0 && D >= 0 && Tk < (1LL << 30) && Tq < (1LL << 30) && ldk >= Tk;
}

// query rows per block: S (rows, Tkp) stays within ~256 KiB; causal uses smaller blocks so
// whole key tiles above the diagonal are skipped
int64_t block_rows(int64_t Tq, int64_t Tkp, int causal) {
  int64_t cap = std::max<int64_t>(8, std::min<int64_t>(causal ? 32 : 64, 65536 / std::max<int64_t>(Tkp, 1)));
  int64_t nb = (Tq + cap - 1) / cap;
  int64_t rows = nb ? (Tq + nb - 1) / nb : 1;
  return std::min(cap, (rows + 7) / 8 * 8);  // whole 8-row register tiles
}

// Causal geometry: query i sees keys j <= i + off (off = 0 top-left, Tk - Tq bottom-right).
struct Causal {
  int mode;     // 0 none, 1 top-left, 2 bottom-right
  int64_t off;  // diagonal offset
  int64_t Tk;
  Causal(int mode_, int64_t Tq, int64_t Tk_) : mode(mode_), off(mode_ == 2 ? Tk_ - Tq : 0), Tk(Tk_) {}
  // last visible key column of query i (clamped to [-1, 2^30]; >= Tk means unmasked)
  int64_t ci(int64_t i) const { return mode ? std::max<int64_t>(-1, std::min<int64_t>(i + off, 1LL << 30)) : (1LL << 30); }
  // keys any of queries [.., i1) can see
  int64_t kend(int64_t i1) const { return mode ? std::max<int64_t>(0, std::min(Tk, i1 + off)) : Tk; }
};

// s(0..n) += bias(0..n)
inline void add_row(int64_t n, float* s, const float* b) {
  for (int64_t j = 0; j < n; j++) s[j] += b[j];
}

}  // namespace

// o(B,H,Tq,D) = softmax(scale * q kᵀ + bias + masks) v; lse(B,H,Tq) = row logsumexp (may be null).
// k, v hold ldk >= Tk key rows per (b,h) (a KV cache's capacity); only the first Tk take part.
FT_API int ft_attention_fwd(int64_t B, int64_t H, int64_t Tq, int64_t Tk, int64_t D,
                            int64_t ldk,          // key rows per (b,h) in k and v (>= Tk)
                            float scale,
                            int causal,           // 0 none, 1 top-left (j <= i), 2 bottom-right (j <= i + Tk - Tq)
                            const float* q,       // (B,H,Tq,D)
                            const float* k,       // (B,H,ldk,D)
                            const float* v,       // (B,H,ldk,D)
                            const void* kmask,    // (B,ldm) float32 or int32 (kmask_i32), nonzero = keep; or null
                            int kmask_i32,
                            int64_t ldm,          // mask row stride (>= Tk)
                            const float* bias,    // (B|1,H|1,Tq,Tk) additive logit bias or null
                            int64_t bias_sb,      // bias element stride between batches (0 = broadcast)
                            int64_t bias_sh,      // bias element stride between heads (0 = broadcast)
                            float* o,             // (B,H,Tq,D)
                            float* lse) {         // (B,H,Tq) or null
  if (!valid_dims(B, H, Tq, Tk, D, ldk) || (kmask && ldm < Tk) || causal < 0 || causal > 2) return FT_EINVAL;
  const int64_t BH = B * H, Tkp = (Tk + 15) / 16 * 16, BQ = block_rows(Tq, Tkp, causal);
  const int64_t nblk = (Tq + BQ - 1) / BQ;
  if (BH == 0 || Tq == 0) return FT_OK;
  const Causal cz(causal, Tq, Tk);
  int status = FT_OK;
  ft::parallel_for(BH * nblk, [&](int64_t t0, int64_t t1, int) {
    FlushDenormals ftz;
    try {
      Head hd(Tk, D, false);
      std::vector<float> S((size_t)(BQ * Tkp + 16));
      int64_t cur = -1;
      for (int64_t t = t0; t < t1; t++) {
        int64_t bh = t / nblk, i0 = (t % nblk) * BQ, i1 = std::min(Tq, i0 + BQ), bq = i1 - i0;
        const float* kp = k + bh * ldk * D;
        const float* vp = v + bh * ldk * D;
        if (bh != cur) {
          hd.load(kp, vp, kmask, kmask_i32, ldm, bh / H);
          cur = bh;
        }
        const float* qb = q + (bh * Tq + i0) * D;
        float* ob = o + (bh * Tq + i0) * D;
        const float* ab = bias ? bias + (bh / H) * bias_sb + (bh % H) * bias_sh + i0 * Tk : nullptr;
        const int64_t kend = cz.kend(i1), kendp = (kend + 15) / 16 * 16;
        mm(bq, kendp, D, qb, D, 1, hd.kt.data(), Tkp, S.data(), Tkp, scale, 0);
        float inv[64];
        for (int64_t r = 0; r < bq; r++) {
          float* s = S.data() + r * Tkp;
          if (ab) add_row(kend, s, ab + r * Tk);
          int64_t ci = cz.ci(i0 + r);
          float l = kUse512 ? row_softmax512(kendp, s, hd.bias.data(), ci, &inv[r])
                            : row_softmax_ref(kendp, s, hd.bias.data(), ci, &inv[r]);
          if (lse) lse[bh * Tq + i0 + r] = l;
        }
        if (kend > 0) mm(bq, D, kend, S.data(), Tkp, 1, vp, D, ob, D, 1.f, 0);
        for (int64_t r = 0; r < bq; r++)
          for (int64_t d = 0; d < D; d++) ob[r * D + d] = kend > 0 ? ob[r * D + d] * inv[r] : 0.f;
      }
    } catch (const std::bad_alloc&) {
      status = FT_ENOMEM;
    }
  });
  return status;
}

// Gradients of ft_attention_fwd: gq (B,H,Tq,D), gk, gv (B,H,ldk,D) (rows >= Tk zero), all
// overwritten; gbias (B,H,Tq,Tk) = dL/dlogits per (b,h) (the caller sums broadcast dims), or null.
// Parallel over (b,h) x query chunks: when B·H alone leaves threads idle, each chunk accumulates
// its dK/dV in a private buffer and a second pass sums the chunks.
FT_API int ft_attention_bwd(int64_t B, int64_t H, int64_t Tq, int64_t Tk, int64_t D,
                            int64_t ldk,          // key rows per (b,h) in k, v, gk, gv (>= Tk)
                            float scale,
                            int causal,           // as in forward
                            const float* q,       // (B,H,Tq,D)
                            const float* k,       // (B,H,ldk,D)
                            const float* v,       // (B,H,ldk,D)
                            const void* kmask,    // (B,ldm) or null (as in forward)
                            int kmask_i32,
                            int64_t ldm,          // mask row stride
                            const float* bias,    // (B|1,H|1,Tq,Tk) or null (as in forward)
                            int64_t bias_sb,      // bias batch stride (0 = broadcast)
                            int64_t bias_sh,      // bias head stride (0 = broadcast)
                            const float* o,       // (B,H,Tq,D) forward output
                            const float* lse,     // (B,H,Tq) forward logsumexp
                            const float* go,      // (B,H,Tq,D) dL/do
                            float* gq,            // (B,H,Tq,D)
                            float* gk,            // (B,H,ldk,D)
                            float* gv,            // (B,H,ldk,D)
                            float* gbias) {       // (B,H,Tq,Tk) or null
  if (!valid_dims(B, H, Tq, Tk, D, ldk) || (kmask && ldm < Tk) || causal < 0 || causal > 2) return FT_EINVAL;
  const int64_t BH = B * H, Tkp = (Tk + 15) / 16 * 16, BQ = block_rows(Tq, Tkp, causal);
  if (BH == 0) return FT_OK;
  const Causal cz(causal, Tq, Tk);
  const int64_t nblk = std::max<int64_t>(1, (Tq + BQ - 1) / BQ), nt = ft::num_threads();
  // query chunks per head: enough tasks for ~4 per thread, private dK/dV capped at 256 MiB
  int64_t nsplit = 1;
  if (BH < 4 * nt && nblk > 1) {
    nsplit = std::min(nblk, (4 * nt + BH - 1) / BH);
    const int64_t per = 2 * Tk * D * 4;
    while (nsplit > 1 && BH * nsplit * per > (256LL << 20)) nsplit--;
  }
  const int64_t bpc = (nblk + nsplit - 1) / nsplit;  // query blocks per chunk
  nsplit = (nblk + bpc - 1) / bpc;
  std::vector<float> part;
  try {
    if (nsplit > 1) part.resize((size_t)(BH * nsplit * 2 * Tk * D));
  } catch (const std::bad_alloc&) {
    return FT_ENOMEM;
  }
  int status = FT_OK;
  ft::parallel_for(BH * nsplit, [&](int64_t t0, int64_t t1, int) {
    FlushDenormals ftz;
    try {
      Head hd(Tk, D, true);
      std::vector<float> P((size_t)(BQ * Tkp + 16)), dP((size_t)(BQ * Tkp + 16)), Dv((size_t)BQ + 1);
      int64_t cur = -1;
      for (int64_t t = t0; t < t1; t++) {
        const int64_t bh = t / nsplit, sp = t % nsplit;
        const float* kp = k + bh * ldk * D;
        const float* vp = v + bh * ldk * D;
        const float* qp = q + bh * Tq * D;
        const float* gop = go + bh * Tq * D;
        float* gkp = nsplit > 1 ? part.data() + (bh * nsplit + sp) * 2 * Tk * D : gk + bh * ldk * D;
        float* gvp = nsplit > 1 ? gkp + Tk * D : gv + bh * ldk * D;
        for (int64_t i = 0; i < Tk * D; i++) gkp[i] = gvp[i] = 0.f;
        if (nsplit == 1)
          for (int64_t i = Tk * D; i < ldk * D; i++) gkp[i] = gvp[i] = 0.f;
        if (bh != cur) {
          hd.load(kp, vp, kmask, kmask_i32, ldm, bh / H);
          cur = bh;
        }
        const float* ab = bias ? bias + (bh / H) * bias_sb + (bh % H) * bias_sh : nullptr;
        const int64_t ib0 = sp * bpc * BQ, ib1 = std::min(Tq, (sp + 1) * bpc * BQ);
        for (int64_t i0 = ib0; i0 < ib1; i0 += BQ) {
          const int64_t i1 = std::min(Tq, i0 + BQ), bq = i1 - i0;
          const int64_t kend = cz.kend(i1), kendp = (kend + 15) / 16 * 16;
          const float* qb = qp + i0 * D;
          const float* gob = gop + i0 * D;
          float* gqb = gq + (bh * Tq + i0) * D;
          if (kend == 0) {
            for (int64_t i = 0; i < bq * D; i++) gqb[i] = 0.f;
            if (gbias)
              for (int64_t i = 0; i < bq * Tk; i++) gbias[(bh * Tq + i0) * Tk + i] = 0.f;
            continue;
          }
          for (int64_t r = 0; r < bq; r++) {
            const float* a = gob + r * D;
            const float* b = o + (bh * Tq + i0 + r) * D;
            float s = 0.f;
            for (int64_t d = 0; d < D; d++) s += a[d] * b[d];
            Dv[r] = s;
          }
          mm(bq, kendp, D, qb, D, 1, hd.kt.data(), Tkp, P.data(), Tkp, scale, 0);
          for (int64_t r = 0; r < bq; r++) {
            float* pr = P.data() + r * Tkp;
            if (ab) add_row(kend, pr, ab + (i0 + r) * Tk);
            int64_t ci = cz.ci(i0 + r);
            float l = lse[bh * Tq + i0 + r];
            if (kUse512) row_p512(kendp, pr, hd.bias.data(), ci, l);
            else row_p_ref(kendp, pr, hd.bias.data(), ci, l);
          }
          mm(kend, D, bq, P.data(), 1, Tkp, gob, D, gvp, D, 1.f, 1);                    // dV += Pᵀ dO
          mm(bq, kendp, D, gob, D, 1, hd.vt.data(), Tkp, dP.data(), Tkp, 1.f, 0);        // dP = dO Vᵀ
          for (int64_t r = 0; r < bq; r++) {
            float* dp = dP.data() + r * Tkp;
            const float* p = P.data() + r * Tkp;
            if (kUse512) row_ds512(kendp, p, dp, Dv[r]);
            else
              for (int64_t j = 0; j < kendp; j++) dp[j] = p[j] * (dp[j] - Dv[r]);
            if (gbias) {  // dL/dbias = dS (the bias enters the logits unscaled)
              float* gb = gbias + (bh * Tq + i0 + r) * Tk;
              for (int64_t j = 0; j < kend; j++) gb[j] = dp[j];
              for (int64_t j = kend; j < Tk; j++) gb[j] = 0.f;
            }
          }
          mm(bq, D, kend, dP.data(), Tkp, 1, kp, D, gqb, D, scale, 0);                   // dQ = dS K
          mm(kend, D, bq, dP.data(), 1, Tkp, qb, D, gkp, D, scale, 1);                   // dK += dSᵀ Q
        }
      }
    } catch (const std::bad_alloc&) {
      status = FT_ENOMEM;
    }
  });
  if (status != FT_OK || nsplit == 1) return status;
  ft::parallel_for(BH, [&](int64_t h0, int64_t h1, int) {
    for (int64_t bh = h0; bh < h1; bh++) {
      float* gkp = gk + bh * ldk * D;
      float* gvp = gv + bh * ldk * D;
      for (int64_t i = 0; i < ldk * D; i++) gkp[i] = gvp[i] = 0.f;
      for (int64_t sp = 0; sp < nsplit; sp++) {
        const float* pk = part.data() + (bh * nsplit + sp) * 2 * Tk * D;
        const float* pv = pk + Tk * D;
        for (int64_t i = 0; i < Tk * D; i++) {
          gkp[i] += pk[i];
          gvp[i] += pv[i];
        }
      }
    }
  });
  return FT_OK;
}
