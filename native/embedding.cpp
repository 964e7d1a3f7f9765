// Embedding lookup: out (N, D) = weight (V, D) rows gathered at int32 ids (N); backward
// scatter-adds g (N, D) into gw (V, D). The backward is thread-safe without atomics: each
// thread owns a contiguous range of vocabulary rows and scans all ids, adding in id order
// (deterministic). Rows of id `pad` (padding_idx, -1 for none) get no gradient (PyTorch's
// padding_idx). An id outside [0, V) returns FT_EINVAL with bad = {position, id}.
// Test: deno test --allow-ffi --allow-read --allow-env tests/ops/embedding_test.ts
// Bench: deno bench --allow-ffi --allow-read --allow-env bench/embedding_bench.ts
#include <cstdint>
#include <cstring>

#include "ft.h"
#include "threadpool.h"

namespace {

int64_t first_bad(int64_t N, int64_t V, const int32_t* ids) {
  for (int64_t i = 0; i < N; i++)
    if (ids[i] < 0 || ids[i] >= V) return i;
  return -1;
}

int check_ids(int64_t N, int64_t V, const int32_t* ids, int32_t* bad) {
  int64_t b = first_bad(N, V, ids);
  if (b < 0) return FT_OK;
  if (bad) {
    bad[0] = (int32_t)b;
    bad[1] = ids[b];
  }
  return FT_EINVAL;
}

}  // namespace

// out(N, D) = weight(V, D)[ids(N)]
FT_API int ft_embedding_fwd(int64_t N, int64_t V, int64_t D,
                            const float* weight,   // (V, D)
                            const int32_t* ids,    // (N)
                            float* out,            // (N, D)
                            int32_t* bad) {        // (2) {position, id} on FT_EINVAL, or null
  if (N < 0 || V < 0 || D < 0) return FT_EINVAL;
  int st = check_ids(N, V, ids, bad);
  if (st != FT_OK) return st;
  if (D == 0) return FT_OK;
  int64_t grain = D >= 4096 ? 1 : 4096 / D + 1;
  ft::parallel_for(
      N,
      [&](int64_t i0, int64_t i1, int) {
        for (int64_t i = i0; i < i1; i++)
          std::memcpy(out + i * D, weight + (int64_t)ids[i] * D, (size_t)D * sizeof(float));
      },
      grain);
  return FT_OK;
}

// gw(V, D) (=|+=) scatter-add of g(N, D) at ids(N); accumulate = 0 overwrites gw first;
// positions whose id equals pad (padding_idx; -1: none) add nothing
FT_API int ft_embedding_bwd(int64_t N, int64_t V, int64_t D,
                            const int32_t* ids,    // (N)
                            const float* g,        // (N, D)
                            float* gw,             // (V, D)
                            int accumulate,
                            int64_t pad,
                            int32_t* bad) {        // (2) or null
  if (N < 0 || V < 0 || D < 0 || pad < -1 || pad >= V) return FT_EINVAL;
  int st = check_ids(N, V, ids, bad);
  if (st != FT_OK) return st;
  if (D == 0 || V == 0) return FT_OK;
  ft::parallel_for(
      V,
      [&](int64_t v0, int64_t v1, int) {
        if (!accumulate) std::memset(gw + v0 * D, 0, (size_t)((v1 - v0) * D) * sizeof(float));
        for (int64_t i = 0; i < N; i++) {
          int64_t v = ids[i];
          if (v < v0 || v >= v1 || v == pad) continue;
          float* dst = gw + v * D;
          const float* src = g + i * D;
          for (int64_t d = 0; d < D; d++) dst[d] += src[d];
        }
      },
      64);
  return FT_OK;
}
