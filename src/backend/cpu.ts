/**
 * The CPU backend: binds build/libft_cpu.so. Each op file declares the symbols it uses and
 * calls `cpuKernels(defs)` (one dlopen per op family, the OS shares the mapping), which keeps
 * an op's FFI signature beside its TypeScript (DESIGN §2: one op = one place).
 * @module
 */
import { openLibrary } from "./loader.ts";

/** Opens libft_cpu with the given symbol definitions. */
export function cpuKernels<S extends Deno.ForeignLibraryInterface>(
  defs: S,
): Deno.StaticForeignLibraryInterface<S> {
  return openLibrary("ft_cpu", defs).symbols;
}

/** FFI type shorthands used by the op files. */
export const T = {
  ptr: "pointer",
  buf: "buffer",
  i32: "i32",
  i64: "i64",
  f32: "f32",
  f64: "f64",
  void: "void",
} as const;

/** Memory and copy entry points (native/memory.cpp). */
export const mem = cpuKernels({
  ft_mem_alloc: { parameters: ["i64"], result: "pointer" },
  ft_mem_free: { parameters: ["pointer"], result: "void" },
  ft_mem_copy: { parameters: ["pointer", "pointer", "i64"], result: "i32" },
  ft_mem_zero: { parameters: ["pointer", "i64"], result: "i32" },
});
