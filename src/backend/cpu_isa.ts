/**
 * The CPU library's instruction-set level (native/simd.h, native/simd.cpp): every CPU kernel
 * with an AVX-512 path asks it per call. `FT_NO_AVX512=1` caps it at AVX2 for a whole run;
 * `setCpuIsa` lowers it in-process (tests compare the portable paths with the AVX-512 ones,
 * benches time both).
 * @module
 */
import { cpuKernels } from "./cpu.ts";

const lib = cpuKernels(
  {
    // () -> level in effect: 2 AVX-512, 1 AVX2+FMA, 0 baseline
    ft_cpu_isa: { parameters: [], result: "i32" },
    // (level: -1 restore | 0 | 1 | 2) -> level now in effect (capped by the CPU), -1 if invalid
    ft_cpu_set_isa: { parameters: ["i32"], result: "i32" },
  } satisfies Deno.ForeignLibraryInterface,
);

/** CPU instruction-set levels of the native kernels. */
export const CpuIsa = { base: 0, avx2: 1, avx512: 2 } as const;

/** The level the CPU kernels use now (0 baseline, 1 AVX2+FMA, 2 AVX-512). */
export function cpuIsa(): number {
  return lib.ft_cpu_isa();
}

/**
 * Sets the level for later kernel calls, capped at what the CPU supports; `null` restores the
 * load-time level (the CPU's, capped by FT_NO_AVX512). Returns the level now in effect.
 */
export function setCpuIsa(level: 0 | 1 | 2 | null): number {
  const r = lib.ft_cpu_set_isa(level ?? -1);
  if (r < 0) throw new Error(`setCpuIsa: level ${level}: expected 0, 1, 2 or null`);
  return r;
}

/** Runs fn with the CPU kernels at `level`, then restores the previous level. */
export function withCpuIsa<R>(level: 0 | 1 | 2, fn: () => R): R {
  const prev = cpuIsa();
  setCpuIsa(level);
  try {
    return fn();
  } finally {
    setCpuIsa(prev as 0 | 1 | 2);
  }
}
