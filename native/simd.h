// Shared AVX-512 helpers of the fused CPU kernels (softmax, attention, cross-entropy, norms,
// GELU): run-time feature detection with the FT_NO_AVX512 override, tail masks, and a vector
// exp. Code using them is compiled per function with the AVX512 target attribute, so the
// library's baseline stays portable x86-64.
#pragma once
#include <immintrin.h>

#include <cstdint>
#include <cstdlib>

#define AVX512 __attribute__((target("avx512f,fma")))

namespace ft {

// true when the CPU has AVX-512F and FT_NO_AVX512 is not set (it forces the portable paths)
inline bool detect_avx512() {
  const char* off = std::getenv("FT_NO_AVX512");
  if (off && off[0] && off[0] != '0') return false;
  return __builtin_cpu_supports("avx512f");
}

// lanes [0, min(n, 16)) set
inline __mmask16 tail_mask(int64_t n) { return n >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << n) - 1); }

// e^x for 16 lanes (Cody–Waite reduction + degree-6 polynomial, ~1 ulp). Below ln(FLT_MIN) the
// result is flushed to exactly 0: denormal results cost ~100-cycle microcode assists, and masked
// logits are -inf.
AVX512 inline __m512 exp16(__m512 x) {
  __mmask16 tiny = _mm512_cmp_ps_mask(x, _mm512_set1_ps(-87.33f), _CMP_LT_OQ);
  x = _mm512_max_ps(_mm512_set1_ps(-87.33f), x);
  x = _mm512_min_ps(_mm512_set1_ps(88.7228f), x);
  __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                  _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
  __m512 p = _mm512_set1_ps(1.9875691500e-4f);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
  p = _mm512_fmadd_ps(p, _mm512_mul_ps(r, r), _mm512_add_ps(r, _mm512_set1_ps(1.f)));
  return _mm512_maskz_mov_ps((__mmask16)~tiny, _mm512_scalef_ps(p, n));
}

}  // namespace ft
