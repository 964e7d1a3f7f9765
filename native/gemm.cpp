// CPU SGEMM front end: C(M,N) = alpha * op(A)(M,K) @ op(B)(K,N) + beta * C, row-major, with
// op(X) = X or X^T, plus a batched form (strides may be 0 = broadcast). Validates arguments,
// then runs the own AVX-512 kernel (gemm_avx512.cpp) when the CPU has AVX-512, else OpenBLAS
// cblas_sgemm; env FT_GEMM=own|blas overrides (read on every call, see ft_gemm_impl).
// Check + bench (float64 reference on odd sizes / all transposes, then GFLOP/s own vs OpenBLAS):
//   cmake --build build --target check_gemm && build/check_gemm     # check, then bench
//   build/check_gemm check | build/check_gemm bench [rounds] [own|blas|both]
// Torch comparison: bench/gemm_torch.py; results and design notes: docs/gemm.md.
#include <cblas.h>

#include <climits>
#include <cstdlib>
#include <cstring>

#include "ft.h"
#include "gemm.h"
#include "threadpool.h"

namespace {

// 0 = OpenBLAS, 1 = own AVX-512 (2 = own AVX2 is reserved; not built).
int impl_now() {
  const char* e = std::getenv("FT_GEMM");
  if (e && std::strcmp(e, "blas") == 0) return 0;
  return ft::gemm_avx512_supported() ? 1 : 0;
}

bool valid(int ta, int tb, int64_t M, int64_t N, int64_t K, const float* A, int64_t lda,
           const float* B, int64_t ldb, const float* C, int64_t ldc) {
  if ((ta != 0 && ta != 1) || (tb != 0 && tb != 1)) return false;
  if (M < 0 || N < 0 || K < 0) return false;
  const int64_t acols = ta ? M : K, bcols = tb ? K : N;  // row-major: ld >= row length
  if (lda < (acols > 1 ? acols : 1) || ldb < (bcols > 1 ? bcols : 1) || ldc < (N > 1 ? N : 1))
    return false;
  if (M > 0 && N > 0 && !C) return false;
  if (M > 0 && N > 0 && K > 0 && (!A || !B)) return false;
  return true;
}

// OpenBLAS takes 32-bit ints here (Debian's build); larger problems go to the own kernel.
bool fits_blas(int64_t M, int64_t N, int64_t K, int64_t lda, int64_t ldb, int64_t ldc) {
  return M <= INT_MAX && N <= INT_MAX && K <= INT_MAX && lda <= INT_MAX && ldb <= INT_MAX &&
         ldc <= INT_MAX;
}

void blas(int ta, int tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
          int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  if (M == 0 || N == 0) return;
  if (beta == 0.0f) {
    // beta == 0 must overwrite NaN/Inf in C; clear it ourselves rather than rely on BLAS
    for (int64_t i = 0; i < M; i++) std::memset(C + i * ldc, 0, (size_t)N * sizeof(float));
  }
  if (K == 0 || alpha == 0.0f) {
    if (beta != 0.0f && beta != 1.0f)
      for (int64_t i = 0; i < M; i++)
        for (int64_t j = 0; j < N; j++) C[i * ldc + j] *= beta;
    return;
  }
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
              (int)M, (int)N, (int)K, alpha, A, (int)lda, B, (int)ldb, beta, C, (int)ldc);
}

}  // namespace

FT_API int ft_gemm_impl(void) { return impl_now(); }

FT_API int ft_gemm_f32(int transA, int transB, int64_t M, int64_t N, int64_t K, float alpha,
                       const float* A,  // (M,K) or (K,M) if transA
                       int64_t lda,
                       const float* B,  // (K,N) or (N,K) if transB
                       int64_t ldb, float beta,
                       float* C,  // (M,N)
                       int64_t ldc) {
  if (!valid(transA, transB, M, N, K, A, lda, B, ldb, C, ldc)) return FT_EINVAL;
  if (M == 0 || N == 0) return FT_OK;
  if (impl_now() == 0 && fits_blas(M, N, K, lda, ldb, ldc)) {
    blas(transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    return FT_OK;
  }
  if (!ft::gemm_avx512_supported()) return FT_EUNSUP;
  return ft::gemm_avx512(transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc,
                         ft::num_threads());
}

FT_API int ft_gemm_batched_f32(int transA, int transB, int64_t batch, int64_t M, int64_t N,
                               int64_t K, float alpha,
                               const float* A,  // batch x (M,K) or (K,M), i-th at A + i*strideA
                               int64_t lda, int64_t strideA,
                               const float* B,  // batch x (K,N) or (N,K), i-th at B + i*strideB
                               int64_t ldb, int64_t strideB, float beta,
                               float* C,  // batch x (M,N), i-th at C + i*strideC
                               int64_t ldc, int64_t strideC) {
  if (batch < 0 || !valid(transA, transB, M, N, K, A, lda, B, ldb, C, ldc)) return FT_EINVAL;
  if (batch == 0 || M == 0 || N == 0) return FT_OK;
  const bool own = !(impl_now() == 0 && fits_blas(M, N, K, lda, ldb, ldc));
  if (own && !ft::gemm_avx512_supported()) return FT_EUNSUP;
  auto one = [&](int64_t i, int nthreads) -> int {
    const float* a = A + i * strideA;
    const float* b = B + i * strideB;
    float* c = C + i * strideC;
    if (!own) {
      blas(transA, transB, M, N, K, alpha, a, lda, b, ldb, beta, c, ldc);
      return FT_OK;
    }
    return ft::gemm_avx512(transA, transB, M, N, K, alpha, a, lda, b, ldb, beta, c, ldc,
                           nthreads);
  };
  const int T = ft::num_threads();
  // Batch-parallel (one single-threaded GEMM per item, no per-GEMM thread sync) when the
  // batch splits evenly enough; C items must not overlap (strideC 0 = accumulate in order).
  const int64_t span = (M - 1) * ldc + N;
  const bool disjoint = strideC >= span || strideC <= -span;
  const double work = (double)batch * M * N * K;
  const bool batch_par =
      own && T > 1 && disjoint && batch >= T && (batch % T == 0 || batch >= 4 * T || work < 1e7);
  if (!batch_par || work < (double)(1 << 18)) {
    for (int64_t i = 0; i < batch; i++) {
      const int s = one(i, T);
      if (s != FT_OK) return s;
    }
    return FT_OK;
  }
  int status[64] = {0};  // per chunk, written by one thread each
  ft::parallel_for(
      batch,
      [&](int64_t b, int64_t e, int tid) {
        for (int64_t i = b; i < e && status[tid] == FT_OK; i++) status[tid] = one(i, 1);
      },
      1);
  for (int t = 0; t < 64; t++)
    if (status[t] != FT_OK) return status[t];
  return FT_OK;
}

#ifdef FT_KERNEL_MAIN_gemm
// ---------------------------------------------------------------------------------------
// check: own and OpenBLAS vs a float64 naive reference on odd sizes, all transposes, strided
// leading dims, alpha/beta, NaN in C with beta == 0, batched + broadcast, bad arguments.
// bench: GFLOP/s (median of rounds, own and OpenBLAS alternated) at the training shapes.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <random>
#include <string>
#include <thread>
#include <vector>

static double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// max over C of |c - ref| / (|alpha| sum_k |a||b| + |beta c0| + 1e-30)
static double check_case(int ta, int tb, int64_t M, int64_t N, int64_t K, float alpha, float beta,
                         int pad, int64_t batch, int64_t sa_mode, std::mt19937& rng) {
  std::uniform_real_distribution<float> U(-1.f, 1.f);
  const int64_t ar = ta ? K : M, ac = ta ? M : K, br = tb ? N : K, bc = tb ? K : N;
  const int64_t lda = std::max<int64_t>(ac, 1) + pad, ldb = std::max<int64_t>(bc, 1) + pad,
                ldc = std::max<int64_t>(N, 1) + pad;
  const int64_t sA = sa_mode ? ar * lda + 3 : 0, sB = br * ldb + 5, sC = M * ldc + 7;
  std::vector<float> A(std::max<int64_t>(1, sA * (batch - 1) + ar * lda)),
      B(std::max<int64_t>(1, sB * (batch - 1) + br * ldb)),
      C(std::max<int64_t>(1, sC * (batch - 1) + M * ldc));
  for (auto& x : A) x = U(rng);
  for (auto& x : B) x = U(rng);
  for (auto& x : C) x = beta == 0.f ? NAN : U(rng);
  std::vector<float> C0 = C;
  int s = batch == 1 ? ft_gemm_f32(ta, tb, M, N, K, alpha, A.data(), lda, B.data(), ldb, beta,
                                   C.data(), ldc)
                     : ft_gemm_batched_f32(ta, tb, batch, M, N, K, alpha, A.data(), lda, sA,
                                           B.data(), ldb, sB, beta, C.data(), ldc, sC);
  if (s != FT_OK) return 1e9;
  double worst = 0;
  for (int64_t bi = 0; bi < batch; bi++) {
    const float *a = A.data() + bi * sA, *b = B.data() + bi * sB;
    for (int64_t i = 0; i < M; i++)
      for (int64_t j = 0; j < N; j++) {
        double ref = 0, mag = 0;
        for (int64_t k = 0; k < K; k++) {
          const double x = ta ? a[k * lda + i] : a[i * lda + k];
          const double y = tb ? b[j * ldb + k] : b[k * ldb + j];
          ref += x * y;
          mag += std::fabs(x * y);
        }
        const double c0 = beta == 0.f ? 0.0 : C0[bi * sC + i * ldc + j];
        ref = alpha * ref + beta * c0;
        mag = std::fabs(alpha) * mag + std::fabs(beta * c0) + 1e-30;
        const double got = C[bi * sC + i * ldc + j];
        const double err = std::isfinite(got) ? std::fabs(got - ref) / mag : 1e9;
        worst = std::max(worst, err);
      }
    // padding between rows / items must be untouched
    for (int64_t i = 0; i < M; i++)
      for (int64_t j = N; j < ldc && i * ldc + j < (int64_t)C.size() - bi * sC; j++) {
        const float x = C[bi * sC + i * ldc + j], y = C0[bi * sC + i * ldc + j];
        if (!(x == y || (std::isnan(x) && std::isnan(y)))) worst = 1e9;
      }
  }
  return worst;
}

static int run_check() {
  std::mt19937 rng(1234);
  const int64_t sizes[][3] = {
      {1, 1, 1},     {0, 5, 3},     {5, 0, 3},      {5, 3, 0},      {1, 17, 33},   {13, 1, 7},
      {14, 32, 16},  {15, 33, 17},  {2, 48, 5},     {29, 65, 300},  {37, 100, 513}, {100, 37, 1},
      {197, 197, 64}, {64, 197, 197}, {3, 1030, 260}, {300, 20, 700}, {20, 300, 100},
      {150, 130, 70}, {31, 16, 1030}, {45, 2100, 9}, {30, 50, 1024}, {16, 70, 2048},
      {4, 2048, 300}, {3, 1100, 1000}, {1, 256, 256},  // small-M path, threaded (>= 2^16 multiply-adds)
      {600, 520, 530}};  // last: threads share rows and meet after each K block
  const struct { float alpha, beta; int pad; } ab[] = {{1.f, 0.f, 0}, {0.5f, -1.5f, 3}, {-2.f, 1.f, 1}};
  const char* impls[] = {"own", "blas"};
  double worst_all = 0;
  int fails = 0, cases = 0;
  for (const char* impl : impls) {
    setenv("FT_GEMM", impl, 1);
    if (std::strcmp(impl, "own") == 0 && ft_gemm_impl() != 1) {
      printf("check: own AVX-512 path not available on this CPU, skipping it\n");
      continue;
    }
    double worst = 0;
    for (auto& sz : sizes)
      for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++)
          for (auto& p : ab) {
            const double e = check_case(ta, tb, sz[0], sz[1], sz[2], p.alpha, p.beta, p.pad, 1, 0, rng);
            cases++;
            worst = std::max(worst, e);
            if (e > 1e-4) {
              fails++;
              printf("FAIL %s M=%lld N=%lld K=%lld ta=%d tb=%d alpha=%g beta=%g pad=%d: rel err %.3g\n",
                     impl, (long long)sz[0], (long long)sz[1], (long long)sz[2], ta, tb, p.alpha,
                     p.beta, p.pad, e);
            }
          }
    // batched: broadcast A (stride 0), odd batch (sequential path), even batch (parallel path)
    const int64_t bshapes[][4] = {{3, 33, 17, 20}, {48, 19, 23, 16}, {5, 61, 70, 90}, {4, 197, 197, 64}};
    for (auto& b : bshapes)
      for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++)
          for (int sa = 0; sa < 2; sa++) {
            const double e = check_case(ta, tb, b[1], b[2], b[3], 1.f, 0.f, 1, b[0], sa, rng);
            cases++;
            worst = std::max(worst, e);
            if (e > 1e-4) {
              fails++;
              printf("FAIL %s batched b=%lld M=%lld N=%lld K=%lld ta=%d tb=%d strideA=%s: %.3g\n",
                     impl, (long long)b[0], (long long)b[1], (long long)b[2], (long long)b[3], ta,
                     tb, sa ? "full" : "0", e);
            }
          }
    printf("check %-4s: max rel err %.3g\n", impl, worst);
    worst_all = std::max(worst_all, worst);
  }
  // bad arguments are refused, not crashed on
  float x[16] = {0};
  const int bad[] = {
      ft_gemm_f32(0, 0, -1, 2, 2, 1.f, x, 2, x, 2, 0.f, x, 2),  // negative M
      ft_gemm_f32(0, 0, 2, 2, 4, 1.f, x, 2, x, 2, 0.f, x, 2),   // lda < K
      ft_gemm_f32(0, 1, 2, 2, 4, 1.f, x, 4, x, 2, 0.f, x, 2),   // ldb < K for B^T
      ft_gemm_f32(0, 0, 2, 3, 1, 1.f, x, 1, x, 3, 0.f, x, 2),   // ldc < N
      ft_gemm_f32(2, 0, 1, 1, 1, 1.f, x, 1, x, 1, 0.f, x, 1),   // bad flag
      ft_gemm_f32(0, 0, 1, 1, 1, 1.f, nullptr, 1, x, 1, 0.f, x, 1),
      ft_gemm_batched_f32(0, 0, -1, 1, 1, 1, 1.f, x, 1, 1, x, 1, 1, 0.f, x, 1, 1)};
  for (int s : bad)
    if (s != FT_EINVAL) {
      fails++;
      printf("FAIL bad argument accepted (status %d)\n", s);
    }
  printf("check: %d cases, %d failures, max rel err %.3g (limit 1e-4)\n", cases, fails, worst_all);
  unsetenv("FT_GEMM");
  return fails ? 1 : 0;
}

struct BenchShape { int64_t batch, M, N, K; int ta, tb; const char* name; };

// seconds per call: median of `rounds` timings of `reps` calls
static double time_gemm(const BenchShape& s, std::vector<float>& A, std::vector<float>& B,
                        std::vector<float>& C, int reps) {
  const int64_t lda = s.ta ? s.M : s.K, ldb = s.tb ? s.K : s.N;
  const double t0 = now_s();
  for (int r = 0; r < reps; r++) {
    if (s.batch == 1)
      ft_gemm_f32(s.ta, s.tb, s.M, s.N, s.K, 1.f, A.data(), lda, B.data(), ldb, 0.f, C.data(), s.N);
    else
      ft_gemm_batched_f32(s.ta, s.tb, s.batch, s.M, s.N, s.K, 1.f, A.data(), lda, s.M * s.K,
                          B.data(), ldb, s.K * s.N, 0.f, C.data(), s.N, s.M * s.N);
  }
  return (now_s() - t0) / reps;
}

// impls: "own", "blas" or "both" (alternated in-process; OpenBLAS workers spin ~0.1 s after
// each call and would steal the cores from the next own run, so both waits 0.2 s after blas).
static void run_bench(int rounds, const std::string& which) {
  const char* ct = std::getenv("OPENBLAS_CORETYPE");
  printf("bench: threads=%d OPENBLAS_CORETYPE=%s, median/best of %d rounds, impls %s\n",
         ft::num_threads(), ct ? ct : "(unset)", rounds, which.c_str());
  std::vector<int> impls;
  if (which != "blas") impls.push_back(0);
  if (which != "own") impls.push_back(1);
  std::vector<BenchShape> shapes;
  const int64_t mnk[][3] = {{3136, 192, 576}, {3136, 768, 192}, {512, 512, 512}, {2048, 2048, 2048}};
  for (auto& d : mnk) {
    shapes.push_back({1, d[0], d[1], d[2], 0, 0, "NN"});
    shapes.push_back({1, d[0], d[1], d[2], 0, 1, "NT"});
    shapes.push_back({1, d[0], d[1], d[2], 1, 0, "TN"});
  }
  shapes.push_back({1, 192, 576, 3136, 1, 0, "TN"});  // weight grads g^T x of the shapes above
  shapes.push_back({1, 768, 192, 3136, 1, 0, "TN"});
  shapes.push_back({48, 197, 197, 64, 0, 1, "NT"});  // attention scores q k^T
  shapes.push_back({48, 197, 64, 197, 0, 0, "NN"});  // attention probs @ v
  printf("%5s %5s %5s %5s %3s %9s %9s %9s %9s %8s\n", "batch", "M", "N", "K", "op", "own med",
         "own best", "blas med", "blas best", "own/blas");
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> U(-1.f, 1.f);
  for (auto& s : shapes) {
    std::vector<float> A(s.batch * s.M * s.K), B(s.batch * s.K * s.N), C(s.batch * s.M * s.N);
    for (auto& x : A) x = U(rng);
    for (auto& x : B) x = U(rng);
    const double flops = 2.0 * s.batch * s.M * s.N * s.K;
    const int reps = std::max(1, (int)(0.04 * 250e9 / flops));  // ~40 ms per timing
    std::vector<double> t[2] = {{1e30}, {1e30}};  // placeholder for an impl not run
    const char* impl[2] = {"own", "blas"};
    for (int r = -1; r < rounds; r++)
      for (int i : impls) {
        setenv("FT_GEMM", impl[i], 1);
        if (i == 0 && impls.size() == 2)
          std::this_thread::sleep_for(std::chrono::milliseconds(200));
        time_gemm(s, A, B, C, 1);  // warm caches, buffers, threads
        const double dt = time_gemm(s, A, B, C, reps);
        if (r >= 0) {
          if (t[i].size() == 1 && t[i][0] == 1e30) t[i].clear();
          t[i].push_back(dt);
        }
      }
    double med[2], best[2];
    for (int i = 0; i < 2; i++) {
      std::sort(t[i].begin(), t[i].end());
      med[i] = t[i][t[i].size() / 2];
      best[i] = t[i][0];
    }
    // GFLOP/s; own/blas is the ratio of median times (> 1: own is faster)
    printf("%5lld %5lld %5lld %5lld %3s %9.1f %9.1f %9.1f %9.1f %8.2f\n", (long long)s.batch,
           (long long)s.M, (long long)s.N, (long long)s.K, s.name, flops / med[0] / 1e9,
           flops / best[0] / 1e9, flops / med[1] / 1e9, flops / best[1] / 1e9,
           impls.size() == 2 ? med[1] / med[0] : 0.0);
    fflush(stdout);
  }
  unsetenv("FT_GEMM");
}

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "all";
  int rc = 0;
  if (mode == "all" || mode == "check") rc = run_check();
  if (rc == 0 && (mode == "all" || mode == "bench"))
    run_bench(argc > 2 ? std::atoi(argv[2]) : 5, argc > 3 ? argv[3] : "both");
  return rc;
}
#endif  // FT_KERNEL_MAIN_gemm
