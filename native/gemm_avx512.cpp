// Own AVX-512 SGEMM: C(M,N) = alpha * op(A)(M,K) @ op(B)(K,N) + beta * C, row-major, all four
// transpose combinations, any leading dims. Goto/BLIS-style blocking for one core's caches:
// B is packed per (KC x NC) block into 32-column panels that stay in L2 (1 MiB of 2 MiB);
// A is consumed per 14-row micro-panel (14 x KC = 14 KiB, stays in L1 of 48 KiB), read in
// place when not transposed, else packed by a plain copy; a 14x32 register-blocked microkernel
// (28 zmm accumulators, 2 B loads + 14 broadcast FMAs per k) sweeps the B panels. Threads
// split C's rows (or N panels when N > M); each keeps its packing buffers for the process's
// life. Front end, dispatch and check/bench: gemm.cpp
// (cmake --build build --target check_gemm && build/check_gemm); docs/gemm.md.
// GCC 12 flags _mm512_undefined_ps() inside AVX-512 shuffle intrinsics as maybe-uninitialized
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <sched.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>

#include "ft.h"
#include "gemm.h"
#include "simd.h"
#include "threadpool.h"

// Every function touching zmm registers carries this; the library baseline stays portable.
#define FT_AVX512 __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,fma")))

namespace ft {
namespace {

constexpr int MR = 14;        // C rows per microkernel: 14*2 accumulators + 2 B regs <= 32 zmm
constexpr int NR = 32;        // C cols per microkernel: two zmm
constexpr int64_t KC = 256;   // depth of a packed block (A micro-panel 14 KiB: L1-resident)
constexpr int64_t NC = 1024;  // width of a packed B block (KC*NC*4 = 1 MiB: L2-resident)

// Per-thread packing buffer, grown on demand and never shrunk: first-touching fresh memory
// costs ~3 ms/MiB on our VMs, so a malloc/free per call would cost more than the GEMM.
struct PackBuf {
  float* p = nullptr;
  size_t cap = 0;  // floats
  ~PackBuf() { std::free(p); }
  float* get(size_t n) {
    if (n <= cap) return p;
    size_t c = std::max(n, cap + cap / 2);
    float* q = (float*)std::aligned_alloc(64, (c * sizeof(float) + 63) / 64 * 64);
    if (!q) return nullptr;
    std::free(p);
    p = q;
    cap = c;
    return p;
  }
};
thread_local PackBuf tl_bpack, tl_apack;

struct Args {
  bool ta, tb;
  int64_t M, N, K;
  float alpha, beta;
  const float* A;  // (M,K) or (K,M) if ta
  int64_t lda;
  const float* B;  // (K,N) or (N,K) if tb
  int64_t ldb;
  float* C;  // (M,N)
  int64_t ldc;
};

FT_AVX512 inline __mmask16 lanes(int64_t n) {  // mask of the first n (clamped to 0..16) lanes
  return n >= 16 ? (__mmask16)0xFFFF : n <= 0 ? (__mmask16)0 : (__mmask16)((1u << n) - 1);
}

// In-register 16x16 transpose: r[i] holds row i on entry, column i on exit (64 shuffles).
FT_AVX512 inline void transpose16(__m512 r[16]) {
  __m512 t[16];
  for (int i = 0; i < 8; i++) {
    t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
  }
  // r[4i+j], 128-bit lane L: rows 4i..4i+3 of column 4L+j
  for (int i = 0; i < 4; i++) {
    r[4 * i + 0] = _mm512_shuffle_ps(t[4 * i], t[4 * i + 2], 0x44);
    r[4 * i + 1] = _mm512_shuffle_ps(t[4 * i], t[4 * i + 2], 0xEE);
    r[4 * i + 2] = _mm512_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0x44);
    r[4 * i + 3] = _mm512_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0xEE);
  }
  for (int j = 0; j < 4; j++) {
    t[j] = _mm512_shuffle_f32x4(r[j], r[4 + j], 0x88);           // lanes 0,2 of rows 0-7
    t[4 + j] = _mm512_shuffle_f32x4(r[j], r[4 + j], 0xDD);       // lanes 1,3 of rows 0-7
    t[8 + j] = _mm512_shuffle_f32x4(r[8 + j], r[12 + j], 0x88);  // lanes 0,2 of rows 8-15
    t[12 + j] = _mm512_shuffle_f32x4(r[8 + j], r[12 + j], 0xDD);
  }
  for (int j = 0; j < 4; j++) {
    r[j] = _mm512_shuffle_f32x4(t[j], t[8 + j], 0x88);
    r[8 + j] = _mm512_shuffle_f32x4(t[j], t[8 + j], 0xDD);
    r[4 + j] = _mm512_shuffle_f32x4(t[4 + j], t[12 + j], 0x88);
    r[12 + j] = _mm512_shuffle_f32x4(t[4 + j], t[12 + j], 0xDD);
  }
}

// Pack op(A)[m0:m0+mr, k0:k0+kc] (mr <= 14) into dst (kc, 14): dst[k*14 + i] = op(A)[m0+i][k0+k].
// Rows i >= mr are zero. Non-transposed A is read 16 k at a time and transposed in registers.
FT_AVX512 void pack_a(const Args& g, int64_t m0, int mr, int64_t k0, int64_t kc,
                      float* dst /* (kc, 14) */) {
  const __mmask16 m14 = 0x3FFF;
  if (g.ta) {  // A is (K,M): 14 consecutive floats of row k are already the packed layout
    const __mmask16 rm = lanes(mr);
    const float* src = g.A + k0 * g.lda + m0;
    for (int64_t k = 0; k < kc; k++)
      _mm512_mask_storeu_ps(dst + k * MR, m14, _mm512_maskz_loadu_ps(rm, src + k * g.lda));
    return;
  }
  const float* src = g.A + m0 * g.lda + k0;  // (mr, kc) with row stride lda
  for (int64_t kb = 0; kb < kc; kb += 16) {
    const int kk = (int)std::min<int64_t>(16, kc - kb);
    const __mmask16 km = lanes(kk);
    __m512 r[16];
    for (int i = 0; i < 16; i++)
      r[i] = i < mr ? _mm512_maskz_loadu_ps(km, src + i * g.lda + kb) : _mm512_setzero_ps();
    transpose16(r);
    for (int c = 0; c < kk; c++) _mm512_mask_storeu_ps(dst + (kb + c) * MR, m14, r[c]);
  }
}

// Transposed A (stored (K,M)): pack the rows m0..m0+rows (several 14-row panels) at once, panel j
// at dst + j*kc*14. Each k row of A is then read as one contiguous run of up to 8*56 bytes,
// instead of one 56-byte piece per panel: a k row lies lda*4 bytes from the next (12 KiB for
// M=3136), so per-panel packing paid a cache line and a TLB lookup per 14 floats.
FT_AVX512 void pack_a_t_block(const Args& g, int64_t m0, int64_t rows, int64_t k0, int64_t kc,
                              float* dst /* (ceil(rows/14), kc, 14) */) {
  const __mmask16 m14 = 0x3FFF;
  const int64_t np = (rows + MR - 1) / MR;
  for (int64_t k = 0; k < kc; k++) {
    const float* src = g.A + (k0 + k) * g.lda + m0;
    for (int64_t j = 0; j < np; j++)
      _mm512_mask_storeu_ps(dst + (j * kc + k) * MR, m14,
                            _mm512_maskz_loadu_ps(lanes(rows - j * MR), src + j * MR));
  }
}

// Pack op(B)[k0:k0+kc, n0:n0+nc] into 32-column panels: panel p is (kc, 32) at dst + p*kc*32,
// dst[p*kc*32 + k*32 + j] = op(B)[k0+k][n0+32p+j]; columns past nc are zero.
FT_AVX512 void pack_b(const Args& g, int64_t k0, int64_t kc, int64_t n0, int64_t nc,
                      float* dst /* (ceil(nc/32), kc, 32) */) {
  for (int64_t p = 0; p * NR < nc; p++) {
    const int64_t nn = std::min<int64_t>(NR, nc - p * NR);
    float* d = dst + p * kc * NR;
    if (!g.tb) {  // B is (K,N): each k row of the panel is 32 contiguous floats
      const __mmask16 c0 = lanes(nn), c1 = lanes(nn - 16);
      const float* src = g.B + k0 * g.ldb + n0 + p * NR;
      for (int64_t k = 0; k < kc; k++) {
        _mm512_store_ps(d + k * NR, _mm512_maskz_loadu_ps(c0, src + k * g.ldb));
        _mm512_store_ps(d + k * NR + 16, _mm512_maskz_loadu_ps(c1, src + k * g.ldb + 16));
      }
      continue;
    }
    // B is (N,K): 16 rows of B (= 16 columns of op(B)) x 16 k, transposed in registers
    for (int h = 0; h < 2; h++) {
      const int64_t rows = std::min<int64_t>(16, std::max<int64_t>(0, nn - 16 * h));
      const float* src = g.B + (n0 + p * NR + 16 * h) * g.ldb + k0;
      for (int64_t kb = 0; kb < kc; kb += 16) {
        const int kk = (int)std::min<int64_t>(16, kc - kb);
        const __mmask16 km = lanes(kk);
        __m512 r[16];
        for (int i = 0; i < 16; i++)
          r[i] = i < rows ? _mm512_maskz_loadu_ps(km, src + i * g.ldb + kb) : _mm512_setzero_ps();
        transpose16(r);
        for (int c = 0; c < kk; c++) _mm512_store_ps(d + (kb + c) * NR + 16 * h, r[c]);
      }
    }
  }
}

// Prefetch (into L2) slice `part` of `nparts` of the source lines of A micro-panel
// op(A)[m0:m0+mr, k0:k0+kc]. Issued between the microkernel calls of the previous panel, so a
// panel's rows arrive from L3/DRAM while the previous one computes instead of stalling the
// first kernel of its jr sweep (which, for N=192, is 1/6 of the work).
FT_AVX512 void prefetch_a(const Args& g, int64_t m0, int mr, int64_t k0, int64_t kc, int64_t part,
                          int64_t nparts) {
  if (!g.ta) {  // mr rows of kc floats
    for (int64_t r = mr * part / nparts; r < mr * (part + 1) / nparts; r++) {
      const float* p = g.A + (m0 + r) * g.lda + k0;
      for (int64_t x = 0; x < kc; x += 16) _mm_prefetch((const char*)(p + x), _MM_HINT_T1);
      _mm_prefetch((const char*)(p + kc - 1), _MM_HINT_T1);
    }
  } else {  // kc rows of mr floats
    for (int64_t k = kc * part / nparts; k < kc * (part + 1) / nparts; k++) {
      const float* p = g.A + (k0 + k) * g.lda + m0;
      _mm_prefetch((const char*)p, _MM_HINT_T1);
      _mm_prefetch((const char*)(p + mr - 1), _MM_HINT_T1);
    }
  }
}

// Microkernel: C[0:R, 0:16*NV] (masked to m0/m1 columns) = alpha * A Bp + beta * C.
// A is packed ap (kc, 14), or with DIRECT the unpacked rows of a non-transposed A: ap (R, lda)
// (saves the transposing pack when each A panel meets few B panels). bp: (kc, 32) packed B.
// beta == 0 never reads C (NaN-safe).
template <int R, int NV, bool DIRECT>
FT_AVX512 void kernel(int64_t kc, const float* __restrict ap, int64_t lda,
                      const float* __restrict bp, float* c /* (R, ldc) */, int64_t ldc,
                      float alpha, float beta, __mmask16 m0, __mmask16 m1) {
  __m512 acc[R][NV];
#pragma GCC unroll 14
  for (int r = 0; r < R; r++)
    for (int v = 0; v < NV; v++) acc[r][v] = _mm512_setzero_ps();
  // the C tile is needed right after the k loop: start fetching it now
#pragma GCC unroll 14
  for (int r = 0; r < R; r++) {
    _mm_prefetch((const char*)(c + r * ldc), _MM_HINT_T0);
    if (NV > 1) _mm_prefetch((const char*)(c + r * ldc + 16), _MM_HINT_T0);
  }
#pragma GCC unroll 2
  for (int64_t k = 0; k < kc; k++) {
    const __m512 b0 = _mm512_load_ps(bp + k * NR);
    const __m512 b1 = NV > 1 ? _mm512_load_ps(bp + k * NR + 16) : b0;
#pragma GCC unroll 14
    for (int r = 0; r < R; r++) {
      const __m512 a = _mm512_set1_ps(DIRECT ? ap[r * lda + k] : ap[k * MR + r]);
      acc[r][0] = _mm512_fmadd_ps(a, b0, acc[r][0]);
      if (NV > 1) acc[r][NV - 1] = _mm512_fmadd_ps(a, b1, acc[r][NV - 1]);
    }
  }
  const __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
#pragma GCC unroll 14
  for (int r = 0; r < R; r++) {
    for (int v = 0; v < NV; v++) {
      float* cp = c + r * ldc + 16 * v;
      const __mmask16 m = v == 0 ? m0 : m1;
      __m512 x = _mm512_mul_ps(acc[r][v], va);
      if (beta != 0.0f) x = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(m, cp), x);
      _mm512_mask_storeu_ps(cp, m, x);
    }
  }
}

using KernelFn = void (*)(int64_t, const float*, int64_t, const float*, float*, int64_t, float,
                          float, __mmask16, __mmask16);

template <int R>
struct KTab {
  static void fill(KernelFn (*t)[2][2]) {
    t[R - 1][0][0] = kernel<R, 1, false>;
    t[R - 1][1][0] = kernel<R, 2, false>;
    t[R - 1][0][1] = kernel<R, 1, true>;
    t[R - 1][1][1] = kernel<R, 2, true>;
    KTab<R - 1>::fill(t);
  }
};
template <>
struct KTab<0> {
  static void fill(KernelFn (*)[2][2]) {}
};
struct Kernels {
  KernelFn f[MR][2][2];  // f[rows-1][vectors-1][direct A]
  Kernels() { KTab<MR>::fill(f); }
};
const Kernels kKernels;

// The threads of one GEMM: they hand out 14-row panels from a shared counter (so a thread
// that the OS or a neighbour slows down simply takes fewer panels) and meet at a barrier after
// each (jc, pc) block, because the next K block accumulates into the same C tiles.
struct Team {
  int T = 1;
  std::atomic<int64_t> next[2] = {{0}, {0}};  // panel counters of even / odd blocks
  std::atomic<int> arrived{0};
  std::atomic<int> sense{0};
};

void team_barrier(Team& tm, int& local_sense) {
  local_sense ^= 1;
  if (tm.arrived.fetch_add(1, std::memory_order_acq_rel) == tm.T - 1) {
    tm.arrived.store(0, std::memory_order_relaxed);
    tm.sense.store(local_sense, std::memory_order_release);
  } else {
    // spin briefly (the other thread is normally a few microseconds behind), then yield so
    // that an oversubscribed machine can run the thread we wait for
    for (int spin = 0; tm.sense.load(std::memory_order_acquire) != local_sense; spin++) {
      if (spin < 4000) _mm_pause();
      else sched_yield();
    }
  }
}

// C[ir:ir+mr, jc:jc+nc] (+)= A panel (rows ir.., K block pc..) x packed B block.
// (nir, nmr): the panel this thread does next, whose A rows are prefetched meanwhile.
// ready: this panel's A already packed there (transposed A), else packed here into apack.
FT_AVX512 void run_panel(const Args& g, int64_t ir, int mr, int64_t nir, int nmr, int64_t pc,
                         int64_t kc, int64_t jc, int64_t nc, const float* bpack,
                         const float* ready, float* apack, bool direct, float beta) {
  const float* ap = direct ? g.A + ir * g.lda + pc : ready ? ready : apack;
  if (!direct && !ready) pack_a(g, ir, mr, pc, kc, apack);
  float* crow = g.C + ir * g.ldc + jc;
  const KernelFn* kf = kKernels.f[mr - 1][0] + direct;
  const int64_t njr = (nc + NR - 1) / NR;
  for (int64_t jr = 0; jr < nc; jr += NR) {
    const int64_t nr = std::min<int64_t>(NR, nc - jr);
    if (nmr > 0) prefetch_a(g, nir, nmr, pc, kc, jr / NR, njr);
    kf[(nr > 16) * 2](kc, ap, g.lda, bpack + jr * kc, crow + jr, g.ldc, g.alpha, beta, lanes(nr),
                      lanes(nr - 16));
  }
}

// Rows [ir0, ir1) (one or, for transposed A, several 14-row panels) over the K blocks
// [p0, p1) of a stage whose packed B blocks start at bpack; rows [nir0, nir1) come next
// (their A is prefetched while this runs, when read in place).
FT_AVX512 void stage_rows(const Args& g, int64_t ir0, int64_t ir1, int64_t nir0, int64_t nir1,
                          int64_t p0, int64_t p1, int64_t kcb, int64_t jc, int64_t nc,
                          int64_t ncr, const float* bpack, float* apack, bool direct) {
  for (int64_t pc = p0; pc < p1; pc += kcb) {
    const int64_t kc = std::min(kcb, g.K - pc);
    const float beta = pc == 0 ? g.beta : 1.0f;  // later K blocks accumulate
    if (g.ta) pack_a_t_block(g, ir0, ir1 - ir0, pc, kc, apack);
    for (int64_t ir = ir0, j = 0; ir < ir1; ir += MR, j++) {
      const int mr = (int)std::min<int64_t>(MR, ir1 - ir);
      const int64_t nir = ir + MR < ir1 ? ir + MR : nir0;
      const int nmr = direct ? (int)std::min<int64_t>(MR, (ir + MR < ir1 ? ir1 : nir1) - nir) : 0;
      run_panel(g, ir, mr, nir, nmr, pc, kc, jc, nc, bpack + (pc - p0) * ncr,
                g.ta ? apack + j * kc * MR : nullptr, apack, direct, beta);
    }
  }
}

// One thread's share: C[m_begin:m_end, n_begin:n_end], all its row panels in order (team ==
// nullptr), or, as member `tid` of a team, the row panels it claims. Work goes in stages: pack
// the B block(s) of a stage into L2, then run every row panel over them; loop order jc, pc
// (B block), ir (A micro-panel in L1), jr (microkernel streams B panels from L2).
FT_AVX512 int gemm_part(const Args& g, int64_t m_begin, int64_t m_end, int64_t n_begin,
                        int64_t n_end, Team* team = nullptr, int tid = 0) {
  const int64_t M = m_end - m_begin, N = n_end - n_begin, K = g.K;
  if (M <= 0 || N <= 0) return FT_OK;
  // even block sizes: K=576 -> 3x192 rather than 256+256+64 (short blocks waste C traffic)
  const int64_t nkb = (K + KC - 1) / KC, kcb = (K + nkb - 1) / nkb;
  const int64_t nnb = (N + NC - 1) / NC, ncb = ((N + nnb - 1) / nnb + NR - 1) / NR * NR;
  // When all of K for an N block fits in 1 MiB (half the L2), a stage packs every K block:
  // each C tile then gets its whole sum in one visit, and a team meets once per N block
  // instead of once per K block (512^3, (3136,192,576), attention shapes).
  const bool whole_k = K * ncb <= (int64_t)1 << 18;
  float* bpack = tl_bpack.get((size_t)(whole_k ? K : kcb) * ncb);
  // claim unit: 1 panel, or for transposed A up to 8 panels packed together (fewer when that
  // would leave under ~4 units per thread to balance)
  const int64_t npan = (M + MR - 1) / MR;
  const int64_t G =
      g.ta ? std::max<int64_t>(1, std::min<int64_t>(8, npan / (4 * (team ? team->T : 1)))) : 1;
  const int64_t nunits = (npan + G - 1) / G;
  float* apack = tl_apack.get((size_t)(G * kcb) * MR + 16);
  const bool ok = bpack && apack;  // a team member without buffers still keeps the barriers
  if (!ok && !team) return FT_ENOMEM;
  // Non-transposed A is read in place unless its rows are 4 KiB-strided (14 rows would then
  // share one L1 set and thrash the 12 ways); transposed A packs by cheap contiguous copies.
  const bool direct = !g.ta && g.lda % 1024 != 0;
  auto row0 = [&](int64_t u) { return std::min(m_end, m_begin + u * G * MR); };  // unit u
  int local_sense = 0;
  int64_t step = 0;
  for (int64_t jc = n_begin; jc < n_end; jc += ncb) {
    const int64_t nc = std::min(ncb, n_end - jc), ncr = (nc + NR - 1) / NR * NR;
    for (int64_t p0 = 0; p0 < K; p0 += whole_k ? K : kcb, step++) {
      const int64_t p1 = whole_k ? K : std::min(K, p0 + kcb);
      auto pack_stage = [&] {
        for (int64_t pc = p0; pc < p1; pc += kcb)
          pack_b(g, pc, std::min(kcb, K - pc), jc, nc, bpack + (pc - p0) * ncr);
      };
      if (!team) {
        pack_stage();
        for (int64_t u = 0; u < nunits; u++)
          stage_rows(g, row0(u), row0(u + 1), row0(u + 1), row0(u + 2), p0, p1, kcb, jc, nc, ncr,
                     bpack, apack, direct);
        continue;
      }
      std::atomic<int64_t>& ctr = team->next[step & 1];
      // nobody touches the other counter until everyone passed this stage's barrier
      if (tid == 0) team->next[(step + 1) & 1].store(0, std::memory_order_relaxed);
      if (ok) {
        int64_t u = ctr.fetch_add(1);
        if (u < nunits) pack_stage();  // a member that comes late finds no rows: no packing
        while (u < nunits) {
          const int64_t v = ctr.fetch_add(1);
          stage_rows(g, row0(u), row0(u + 1), row0(v), row0(v + 1), p0, p1, kcb, jc, nc, ncr,
                     bpack, apack, direct);
          u = v;
        }
      }
      // the next stage reuses C tiles / the counter; after the last one the pool's join is the
      // barrier, so a member the OS keeps off the cores holds nobody up (its chunk, if still
      // unclaimed, is run by the caller and finds every row done)
      if (jc + ncb < n_end || p1 < K) team_barrier(*team, local_sense);
    }
  }
  return ok ? FT_OK : FT_ENOMEM;
}

// C = beta * C over (M,N); beta == 0 writes zeros without reading C.
FT_AVX512 void scale_c(float* C, int64_t M, int64_t N, int64_t ldc, float beta) {
  const __m512 vb = _mm512_set1_ps(beta);
  for (int64_t i = 0; i < M; i++) {
    float* c = C + i * ldc;
    for (int64_t j = 0; j < N; j += 16) {
      const __mmask16 m = lanes(N - j);
      __m512 x = beta == 0.0f ? _mm512_setzero_ps() : _mm512_mul_ps(vb, _mm512_maskz_loadu_ps(m, c + j));
      _mm512_mask_storeu_ps(c + j, m, x);
    }
  }
}

// Small-M path (decoding: M = batch·beams rows, one token each). The blocked GEMM packs all of
// op(B) on every call, which for M = 1 costs as much as the product itself; here B is read in
// place once per m-block. op(A) rows are contiguous (copied when transA).
constexpr int64_t SMALL_M = 4;  // at 5+ rows (beam 5) the packed 14x32 kernel wins (A/B measured)
thread_local PackBuf tl_small_a;

// c = alpha * acc + beta * c (beta == 0 overwrites NaN/Inf in c), one lane-masked vector.
FT_AVX512 inline void store_scaled(float* c, __m512 acc, __mmask16 m, float alpha, float beta) {
  __m512 x = _mm512_mul_ps(_mm512_set1_ps(alpha), acc);
  if (beta != 0.0f) x = _mm512_fmadd_ps(_mm512_set1_ps(beta), _mm512_maskz_loadu_ps(m, c), x);
  _mm512_mask_storeu_ps(c, m, x);
}

// transB: B is (N,K); C[m, n0:n1] = dot(A row m, B row n). Four B rows share each A load.
FT_AVX512 void small_m_nt(const Args& g, const float* A, int64_t n0, int64_t n1) {
  const int64_t K = g.K;
  for (int64_t n = n0; n < n1; n += 4) {
    const int64_t nn = std::min<int64_t>(4, n1 - n);
    const float* b[4];
    for (int j = 0; j < 4; j++) b[j] = g.B + (n + std::min<int64_t>(j, nn - 1)) * g.ldb;
    for (int64_t m = 0; m < g.M; m++) {
      const float* a = A + m * K;
      __m512 acc[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(),
                       _mm512_setzero_ps()};
      for (int64_t k = 0; k < K; k += 16) {
        const __mmask16 mk = lanes(K - k);
        const __m512 va = _mm512_maskz_loadu_ps(mk, a + k);
        for (int j = 0; j < 4; j++)
          acc[j] = _mm512_fmadd_ps(va, _mm512_maskz_loadu_ps(mk, b[j] + k), acc[j]);
      }
      float* c = g.C + m * g.ldc + n;
      for (int j = 0; j < nn; j++) {
        const float d = g.alpha * _mm512_reduce_add_ps(acc[j]);
        c[j] = g.beta == 0.0f ? d : d + g.beta * c[j];
      }
    }
  }
}

// !transB: B is (K,N); C[m, n0:n1] = sum_k A[m,k] B[k, n0:n1], 64 columns at a time.
FT_AVX512 void small_m_nn(const Args& g, const float* A, int64_t n0, int64_t n1) {
  for (int64_t n = n0; n < n1; n += 64) {
    const int64_t nn = std::min<int64_t>(64, n1 - n);
    __mmask16 mk[4];
    for (int j = 0; j < 4; j++) mk[j] = nn > 16 * j ? lanes(nn - 16 * j) : (__mmask16)0;
    for (int64_t m = 0; m < g.M; m++) {
      const float* a = A + m * g.K;
      __m512 acc[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(),
                       _mm512_setzero_ps()};
      for (int64_t k = 0; k < g.K; k++) {
        const __m512 va = _mm512_set1_ps(a[k]);
        const float* b = g.B + k * g.ldb + n;
        for (int j = 0; j < 4; j++)
          acc[j] = _mm512_fmadd_ps(va, _mm512_maskz_loadu_ps(mk[j], b + 16 * j), acc[j]);
      }
      float* c = g.C + m * g.ldc + n;
      for (int j = 0; j < 4; j++)
        if (mk[j]) store_scaled(c + 16 * j, acc[j], mk[j], g.alpha, g.beta);
    }
  }
}

int gemm_small_m(const Args& g, int nthreads) {
  const float* A = g.A;
  if (g.ta || g.lda != g.K) {  // gather op(A) rows contiguously (M·K floats)
    float* p = tl_small_a.get((size_t)(g.M * g.K));
    if (!p) return FT_ENOMEM;
    for (int64_t m = 0; m < g.M; m++)
      for (int64_t k = 0; k < g.K; k++) p[m * g.K + k] = g.ta ? g.A[k * g.lda + m] : g.A[m * g.lda + k];
    A = p;
  }
  // memory-bound: threads pay off once B holds 2^16 multiply-adds (256 KiB of weights; a decode
  // step calls these back to back, so the pool workers are still spinning and wake at no cost)
  const int64_t step = g.tb ? 4 : 64, blocks = (g.N + step - 1) / step;
  const bool par = nthreads > 1 && (double)g.M * g.N * g.K >= (double)(1 << 16) && blocks >= 4;
  auto part = [&](int64_t b0, int64_t b1, int) {
    const int64_t n0 = b0 * step, n1 = std::min(g.N, b1 * step);
    if (g.tb) small_m_nt(g, A, n0, n1);
    else small_m_nn(g, A, n0, n1);
  };
  if (!par) part(0, blocks, 0);
  else run_chunked(blocks, std::max<int64_t>(1, blocks / 16), 1, part);
  return FT_OK;
}

}  // namespace

// F, BW, DQ, VL and FMA, and FT_NO_AVX512 not set (simd.h, asked per call)
bool gemm_avx512_supported() { return ft::use_avx512(); }

int gemm_avx512(bool transA, bool transB, int64_t M, int64_t N, int64_t K, float alpha,
                const float* A, int64_t lda, const float* B, int64_t ldb, float beta, float* C,
                int64_t ldc, int nthreads) {
  if (M <= 0 || N <= 0) return FT_OK;
  if (K == 0 || alpha == 0.0f) {
    if (beta != 1.0f) scale_c(C, M, N, ldc, beta);
    return FT_OK;
  }
  const Args g{transA, transB, M, N, K, alpha, beta, A, lda, B, ldb, C, ldc};
  if (M <= SMALL_M) return gemm_small_m(g, nthreads);
  // Waking a worker costs microseconds; below ~2^18 multiply-adds one core is as fast.
  int T = (double)M * N * K < (double)(1 << 18) ? 1 : std::max(1, nthreads);
  const int64_t mpanels = (M + MR - 1) / MR, npanels = (N + NR - 1) / NR;
  // Split rows: every thread packs all of B (T-1 redundant K*N copies); split 32-column
  // panels: every thread reads all of A (cheap: in place or a plain copy). So split the
  // longer side: M for tall activations, N for short-M weight gradients like (192,576,3136).
  const bool m_ok = mpanels >= 2 * T, n_ok = npanels >= 2 * T;
  enum { SPLIT_M, SPLIT_N } split = SPLIT_M;
  if (n_ok && (!m_ok || N > M)) split = SPLIT_N;
  else if (!m_ok) T = 1;
  if (T == 1) return gemm_part(g, 0, M, 0, N);
  std::atomic<int> status{FT_OK};
  Team team;
  team.T = T;
  // One chunk per thread; each keeps its own B block in its own L2. Rows are shared out
  // dynamically by the team; N panels statically.
  parallel_for(
      T,
      [&](int64_t b, int64_t e, int) {
        if (split == SPLIT_M && e - b == 1) {  // one of T concurrent chunks: join the team
          const int s = gemm_part(g, 0, M, 0, N, &team, (int)b);
          if (s != FT_OK) status.store(s);
          return;
        }
        for (int64_t t = b; t < e; t++) {  // (parallel_for ran everything inline)
          int s;
          if (split == SPLIT_M) {
            s = gemm_part(g, M * t / T, M * (t + 1) / T, 0, N);
          } else {
            s = gemm_part(g, 0, M, std::min(N, npanels * t / T * NR),
                          std::min(N, npanels * (t + 1) / T * NR));
          }
          if (s != FT_OK) status.store(s);
        }
      },
      1);
  return status.load();
}

}  // namespace ft
