/**
 * The CPU backend: libft_cpu.so, opened once (src/backend/dispatch.ts) with the union of the
 * symbol tables every op file registers, so an op's FFI signature stays beside its TypeScript
 * (DESIGN §2: one op = one place) while the process holds one library handle.
 * @module
 */
import { CPU_LIBRARY } from "./dispatch.ts";

/** The CPU library's symbols for a table (registered with the shared handle; resolved lazily). */
export function cpuKernels<S extends Deno.ForeignLibraryInterface>(
  defs: S,
): Deno.StaticForeignLibraryInterface<S> {
  return CPU_LIBRARY.bind(defs);
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

/** FFI signatures of the host memory entry points (native/memory.cpp). */
export const MEM_SYMBOLS = {
  ft_mem_alloc: { parameters: [/* bytes */ "i64"], result: "pointer" },
  ft_mem_free: { parameters: [/* p */ "pointer"], result: "void" },
  ft_mem_copy: {
    parameters: [/* dst (bytes) */ "pointer", /* src (bytes) */ "pointer", /* bytes */ "i64"],
    result: "i32",
  },
  ft_mem_zero: { parameters: [/* dst (bytes) */ "pointer", /* bytes */ "i64"], result: "i32" },
} as const satisfies Deno.ForeignLibraryInterface;

/** Memory and copy entry points (native/memory.cpp). */
export const mem = cpuKernels(MEM_SYMBOLS);
