// Strided copies: the one kernel behind permute/transpose, slice, concat, expand and their
// backward. dst[idx . dst_strides] (=|+=) src[idx . src_strides] for every idx in `shape`.
// Strides are in elements (4-byte elements); the caller passes pointers already offset.
#include <cstdint>
#include <cstring>

#include "ft.h"
#include "simd.h"
#include "threadpool.h"


FT_INLINE void row_copy_impl(int64_t n, const float* s, int64_t ss, float* d, int64_t ds, int acc) {
  if (ss == 1 && ds == 1) {
    if (acc)
      for (int64_t i = 0; i < n; i++) d[i] += s[i];
    else
      std::memcpy(d, s, (size_t)n * 4);
  } else if (acc) {
    for (int64_t i = 0; i < n; i++) d[i * ds] += s[i * ss];
  } else {
    for (int64_t i = 0; i < n; i++) d[i * ds] = s[i * ss];
  }
}
FT_MULTIVERSION(, , void, row_copy, (int64_t n, const float* s, int64_t ss, float* d, int64_t ds, int acc), (n, s, ss, d, ds, acc))

// shape(nd); src with src_strides(nd); dst with dst_strides(nd); acc: dst += src (float only)
FT_API int ft_strided_copy(int nd, const int64_t* shape, const float* src, const int64_t* sst,
                           float* dst, const int64_t* dst_st, int acc) {
  if (nd < 1 || nd > 8) return FT_EINVAL;
  for (int d = 0; d < nd; d++) {
    if (shape[d] < 0) return FT_EINVAL;
    if (shape[d] == 0) return FT_OK;
  }
  int64_t inner = shape[nd - 1], rows = 1;
  for (int d = 0; d < nd - 1; d++) rows *= shape[d];
  // accumulation into overlapping dst (stride 0) must not race: run it on one thread
  bool overlap = false;
  for (int d = 0; d < nd; d++)
    if (dst_st[d] == 0 && shape[d] > 1) overlap = true;
  int64_t grain = overlap ? rows : (inner >= 8192 ? 1 : 8192 / (inner ? inner : 1));
  ft::parallel_for(
      rows,
      [&](int64_t r0, int64_t r1, int) {
        for (int64_t r = r0; r < r1; r++) {
          int64_t os = 0, od = 0, rem = r;
          for (int d = nd - 2; d >= 0; d--) {
            int64_t i = rem % shape[d];
            rem /= shape[d];
            os += i * sst[d];
            od += i * dst_st[d];
          }
          row_copy(inner, src + os, sst[nd - 1], dst + od, dst_st[nd - 1], acc);
        }
      },
      grain);
  return FT_OK;
}
