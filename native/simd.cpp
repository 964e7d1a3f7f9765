// The CPU library's run-time ISA choice (native/simd.h) as C ABI: which level the kernels use
// and, for tests and benches, a way to lower it in-process (FT_NO_AVX512=1 does the same at
// load for a whole run). Test: deno test --allow-ffi --allow-read --allow-env tests/native/isa_test.ts
#include "ft.h"
#include "simd.h"

// level in effect: 2 AVX-512 (F/BW/DQ/VL + FMA), 1 AVX2 + FMA, 0 baseline x86-64
FT_API int ft_cpu_isa() { return ft::isa_level(); }

// Sets the level every kernel uses from the next call on, capped at what the CPU supports;
// -1 restores the load-time level (the CPU's, capped by FT_NO_AVX512). Returns the level now
// in effect, or -1 for a level outside -1..2. Not for use while kernels run on other threads.
FT_API int ft_cpu_set_isa(int level) {
  if (level < -1 || level > ft::kIsaAvx512) return -1;
  const int cpu = ft::cpu_isa();
  const int want = level == -1 ? ft::env_isa() : (level < cpu ? level : cpu);
  ft::isa_state().store(want, std::memory_order_relaxed);
  return want;
}
