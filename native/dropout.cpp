// Inverted dropout with a counter-based mask: element i of a call with seed s is dropped when
// the top 32 bits of splitmix64(s + (i + 1)·γ) are below p·2^32, else scaled by 1/(1-p).
// The mask is a pure function of (seed, i), so it is never stored: the backward applies the
// same call to the gradient, and kernels/dropout.cu computes the same bits on the GPU.
// y(n) = x(n) * m(n), m in {0, 1/(1-p)} (a multiply, so NaN in stays NaN even where dropped).
// Test: deno test --allow-ffi --allow-read --allow-env tests/ops/dropout_test.ts
// Bench: deno bench --allow-ffi --allow-read --allow-env bench/dropout_bench.ts
#include <cstdint>

#include "ft.h"
#include "simd.h"
#include "threadpool.h"

namespace {

// splitmix64 finaliser of the Weyl sequence seed + (i+1)·γ (Steele, Lea & Flood 2014)
FT_INLINE uint64_t mix(uint64_t seed, uint64_t i) {
  uint64_t z = seed + (i + 1) * 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// y[i] = x[i] * (drop(base + i) ? 0 : keep) for i in [0, n); vectorised per ISA (64-bit
// multiplies: AVX-512DQ vpmullq on the AVX-512 path)
FT_INLINE void apply_range_impl(int64_t n, uint64_t seed, uint64_t base, uint64_t thresh, float keep,
                                const float* x, float* y) {
  for (int64_t i = 0; i < n; i++) {
    const uint64_t u = mix(seed, base + (uint64_t)i) >> 32;
    y[i] = x[i] * (u < thresh ? 0.f : keep);
  }
}
FT_MULTIVERSION(, , void, apply_range,
                (int64_t n, uint64_t seed, uint64_t base, uint64_t thresh, float keep, const float* x, float* y),
                (n, seed, base, thresh, keep, x, y))

}  // namespace

// y(n) = x(n) * mask(seed, p): the forward (x = input) and the backward (x = upstream gradient)
// of dropout; p in [0, 1] (p = 1 zeroes everything); x and y may alias
FT_API int ft_dropout_apply(int64_t n, float p, uint64_t seed,
                            const float* x,  // (n)
                            float* y) {      // (n)
  if (n < 0 || !(p >= 0.f && p <= 1.f)) return FT_EINVAL;
  // drop when u32 < p·2^32 (p = 1: 2^32, every u32 is below it)
  const uint64_t thresh = (uint64_t)((double)p * 4294967296.0);
  const float keep = p < 1.f ? (float)(1.0 / (1.0 - (double)p)) : 0.f;
  ft::parallel_for(
      n, [&](int64_t b, int64_t e, int) { apply_range(e - b, seed, (uint64_t)b, thresh, keep, x + b, y + b); },
      32768);
  return FT_OK;
}
