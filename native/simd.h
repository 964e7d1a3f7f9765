// Shared SIMD helpers of the CPU kernels: the one run-time ISA choice (with the FT_NO_AVX512
// override), per-call multiversioned loops (FT_MULTIVERSION), tail masks and a vector exp. Code using them is compiled per function with the AVX512 target attribute, so the
// library's baseline stays portable x86-64.
#pragma once
#include <immintrin.h>

#include <atomic>
#include <cstdint>
#include <cstdlib>

#define AVX512 __attribute__((target("avx512f,fma")))
#define FT_TARGET_AVX512 __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,fma")))
#define FT_TARGET_AVX2 __attribute__((target("avx2,fma")))
#define FT_INLINE static inline __attribute__((always_inline))

// Multiversioned loop: `name` params dispatches, per call, on isa_level() to three compilations
// of `FT_INLINE ret name##_impl params` (defined before the macro): AVX-512, AVX2+FMA and
// baseline, vectorised by the compiler for each. It replaces GCC's target_clones, whose
// load-time choice honours neither FT_NO_AVX512 nor ft_cpu_set_isa. For a template, pass the
// template head as TPL and its arguments as TARGS (e.g. `template <int OP>`, `<OP>`); else
// leave both empty.
#define FT_MULTIVERSION(TPL, TARGS, ret, name, params, args)                                          \
  TPL FT_TARGET_AVX512 static ret name##_avx512 params { return name##_impl TARGS args; }          \
  TPL FT_TARGET_AVX2 static ret name##_avx2 params { return name##_impl TARGS args; }              \
  TPL static ret name##_base params { return name##_impl TARGS args; }                             \
  TPL static inline ret name params {                                                              \
    const int level_ = ::ft::isa_level();                                                          \
    if (level_ >= ::ft::kIsaAvx512) return name##_avx512 TARGS args;                               \
    if (level_ == ::ft::kIsaAvx2) return name##_avx2 TARGS args;                                   \
    return name##_base TARGS args;                                                                 \
  }

namespace ft {

// ---- the one run-time ISA choice of the CPU library ----
// Levels: 2 = AVX-512 (F, BW, DQ, VL with FMA: what every AVX-512 kernel here may use),
// 1 = AVX2 + FMA, 0 = baseline x86-64. Every kernel with an AVX-512 path asks use_avx512() /
// isa_level() at call time (tests/native/isa_test.ts checks no kernel detects on its own), so
// FT_NO_AVX512=1 (read once, at load) and ft_cpu_set_isa (tests, benches) reach all of them.
enum : int { kIsaBase = 0, kIsaAvx2 = 1, kIsaAvx512 = 2 };

// what the CPU supports
inline int cpu_isa() {
  static const int level = [] {
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("fma"))
      return (int)kIsaAvx512;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return (int)kIsaAvx2;
    return (int)kIsaBase;
  }();
  return level;
}

// the CPU's level, capped at AVX2 when FT_NO_AVX512 is set to anything but "" or "0"
inline int env_isa() {
  const char* off = std::getenv("FT_NO_AVX512");
  const int cpu = cpu_isa();
  return off && off[0] && off[0] != '0' && cpu > kIsaAvx2 ? (int)kIsaAvx2 : cpu;
}

// the level in effect (one shared variable: an inline function's static is one object per program)
inline std::atomic<int>& isa_state() {
  static std::atomic<int> level{env_isa()};
  return level;
}
inline int isa_level() { return isa_state().load(std::memory_order_relaxed); }
inline bool use_avx512() { return isa_level() >= kIsaAvx512; }
// former name, kept for the files that cache it at load (it honours FT_NO_AVX512 there too)
inline bool detect_avx512() { return use_avx512(); }

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
