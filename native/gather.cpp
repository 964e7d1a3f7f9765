// Index gathers along one axis, forward and backward (scatter-add):
//   gather:      out(I) = x[c with c[axis] = idx(c)] over the index's shape I (torch.gather;
//                I[d] <= X[d] off the axis), x addressed through its element strides;
//   indexSelect: out(outer, ni, inner) = x(outer, idx(i), inner), idx (ni,) int32.
// An index outside [0, X[axis]) returns FT_EINVAL with bad = {position, index}. Backward adds
// into a pre-zeroed gx; threads split an axis that duplicates cannot cross (race-free).
// Test: deno test --allow-all tests/ops/gather_test.ts; bench: deno bench --allow-all bench/gather_bench.ts
#include <algorithm>
#include <cstdint>

#include "ft.h"
#include "threadpool.h"

namespace {
constexpr int kMaxDims = 8;

int check_idx(int64_t n, int64_t lim, const int32_t* idx, int32_t* bad) {
  for (int64_t i = 0; i < n; i++)
    if (idx[i] < 0 || idx[i] >= lim) {
      if (bad) {
        bad[0] = (int32_t)i;
        bad[1] = idx[i];
      }
      return FT_EINVAL;
    }
  return FT_OK;
}

// x offset of element e (index-shape coordinates), without the axis term
inline int64_t base_off(int64_t e, int nd, const int64_t* ishape, const int64_t* xstride, int axis) {
  int64_t off = 0;
  for (int d = nd - 1; d >= 0; d--) {
    int64_t c = e % ishape[d];
    e /= ishape[d];
    if (d != axis) off += c * xstride[d];
  }
  return off;
}
}  // namespace

// out(I) = x[.. idx(c) on axis ..]; ishape (nd) the index/out shape, xstride (nd) x's element strides
FT_API int ft_gather_fwd(int nd, const int64_t* ishape,   // (nd) index / output shape
                         const int64_t* xstride,          // (nd) element strides of x
                         int axis, int64_t axis_size,     // gathered axis and x's extent on it
                         const float* x,                  // x
                         const int32_t* idx,              // (I) int32
                         float* out,                      // (I)
                         int32_t* bad) {                  // (2) {position, index} on FT_EINVAL, or null
  if (nd < 1 || nd > kMaxDims || axis < 0 || axis >= nd) return FT_EINVAL;
  int64_t n = 1;
  for (int d = 0; d < nd; d++) n *= ishape[d];
  if (check_idx(n, axis_size, idx, bad)) return FT_EINVAL;
  ft::parallel_for(n, [&](int64_t e0, int64_t e1, int) {
    for (int64_t e = e0; e < e1; e++) out[e] = x[base_off(e, nd, ishape, xstride, axis) + idx[e] * xstride[axis]];
  }, 4096);
  return FT_OK;
}

// gx (+)= scatter of g over the gather's positions; gx pre-zeroed, addressed through xstride
FT_API int ft_gather_bwd(int nd, const int64_t* ishape,   // (nd) index / gradient shape
                         const int64_t* xstride,          // (nd) element strides of gx
                         int axis, int64_t axis_size,     // gathered axis and gx's extent on it
                         const int32_t* idx,              // (I) int32
                         const float* g,                  // (I) dL/dout
                         float* gx,                       // like x, pre-zeroed
                         int32_t* bad) {                  // (2) or null
  if (nd < 1 || nd > kMaxDims || axis < 0 || axis >= nd) return FT_EINVAL;
  int64_t n = 1;
  for (int d = 0; d < nd; d++) n *= ishape[d];
  if (check_idx(n, axis_size, idx, bad)) return FT_EINVAL;
  if (n == 0) return FT_OK;
  // split the first non-gathered axis: different coordinates there never hit the same gx element
  int sd = axis == 0 ? 1 : 0;
  if (sd >= nd) {  // 1-D: sequential
    for (int64_t e = 0; e < n; e++) gx[idx[e] * xstride[axis]] += g[e];
    return FT_OK;
  }
  int64_t outer = 1, inner = 1;
  for (int d = 0; d < sd; d++) outer *= ishape[d];
  for (int d = sd + 1; d < nd; d++) inner *= ishape[d];
  const int64_t len = ishape[sd];
  ft::parallel_for(len, [&](int64_t c0, int64_t c1, int) {
    for (int64_t o = 0; o < outer; o++)
      for (int64_t c = c0; c < c1; c++)
        for (int64_t r = 0; r < inner; r++) {
          int64_t e = (o * len + c) * inner + r;
          gx[base_off(e, nd, ishape, xstride, axis) + idx[e] * xstride[axis]] += g[e];
        }
  });
  return FT_OK;
}

// out(outer, ni, inner) = x(outer, idx(i), inner), x (outer, nx, inner)
FT_API int ft_index_select_fwd(int64_t outer, int64_t nx, int64_t ni, int64_t inner,
                               const float* x,        // (outer, nx, inner)
                               const int32_t* idx,    // (ni) int32 in [0, nx)
                               float* out,            // (outer, ni, inner)
                               int32_t* bad) {        // (2) or null
  if (outer < 0 || nx < 0 || ni < 0 || inner < 0) return FT_EINVAL;
  if (check_idx(ni, nx, idx, bad)) return FT_EINVAL;
  ft::parallel_for(outer * ni, [&](int64_t r0, int64_t r1, int) {
    for (int64_t r = r0; r < r1; r++) {
      int64_t o = r / ni, i = r % ni;
      const float* src = x + (o * nx + idx[i]) * inner;
      float* dst = out + r * inner;
      for (int64_t c = 0; c < inner; c++) dst[c] = src[c];
    }
  }, std::max<int64_t>(1, 4096 / std::max<int64_t>(inner, 1)));
  return FT_OK;
}

// gx(outer, nx, inner) = Σ_i [idx(i) = row] g(outer, i, inner) (overwritten)
FT_API int ft_index_select_bwd(int64_t outer, int64_t nx, int64_t ni, int64_t inner,
                               const int32_t* idx,    // (ni)
                               const float* g,        // (outer, ni, inner)
                               float* gx,             // (outer, nx, inner)
                               int32_t* bad) {        // (2) or null
  if (outer < 0 || nx < 0 || ni < 0 || inner < 0) return FT_EINVAL;
  if (check_idx(ni, nx, idx, bad)) return FT_EINVAL;
  // threads own disjoint (outer slice, column range) blocks: duplicate indices only ever hit
  // one block, so the sums are race-free and run in index order (deterministic). With few outer
  // slices (indexSelect along axis 0) the columns are split instead.
  const int64_t nt = ft::num_threads();
  const int64_t csplit = outer >= nt ? 1 : std::max<int64_t>(1, std::min<int64_t>((nt + outer - 1) / outer, inner / 64));
  const int64_t cw = (inner + csplit - 1) / std::max<int64_t>(csplit, 1);
  ft::parallel_for(outer * csplit, [&](int64_t t0, int64_t t1, int) {
    for (int64_t t = t0; t < t1; t++) {
      const int64_t o = t / csplit, c0 = (t % csplit) * cw, c1 = std::min(inner, c0 + cw);
      float* dst = gx + o * nx * inner;
      for (int64_t r = 0; r < nx; r++)
        for (int64_t c = c0; c < c1; c++) dst[r * inner + c] = 0.f;
      for (int64_t i = 0; i < ni; i++) {
        const float* src = g + (o * ni + i) * inner;
        float* row = dst + (int64_t)idx[i] * inner;
        for (int64_t c = c0; c < c1; c++) row[c] += src[c];
      }
    }
  });
  return FT_OK;
}
