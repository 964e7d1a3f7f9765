/**
 * Per-op kernel binding across backends. An op file declares its FFI symbols once; the same
 * `ft_*` names and signatures exist in libft_cpu.so and libft_cuda.so (pointers are host or
 * device memory), so `kernels(defs)(tensor.device)` picks the right library.
 * @module
 */
import type { Device } from "../tensor/storage.ts";
import { cpuKernels } from "./cpu.ts";

type Syms<S extends Deno.ForeignLibraryInterface> = Deno.StaticForeignLibraryInterface<S>;

let cudaOpener: (<S extends Deno.ForeignLibraryInterface>(defs: S) => Syms<S> | null) | null = null;

/** Installed by src/backend/cuda.ts when the CUDA library and a device are present. */
export function registerCudaOpener(
  open: <S extends Deno.ForeignLibraryInterface>(defs: S) => Syms<S> | null,
): void {
  cudaOpener = open;
}

/**
 * Returns a function giving the op's symbols on a device; libraries open lazily. A kernel the
 * CUDA library lacks is a function that throws an error naming it (never a bare TypeError on
 * null), except symbols declared `optional: true`, which stay null so the op can fall back.
 */
export function kernels<S extends Deno.ForeignLibraryInterface>(defs: S): (d: Device) => Syms<S> {
  let cpu: Syms<S> | null = null;
  let cuda: Syms<S> | null = null;
  return (d: Device) => {
    if (d === "cpu") return cpu ??= cpuKernels(defs);
    if (!cuda) {
      if (!cudaOpener) throw new Error("CUDA backend is not loaded (use --device cpu or auto)");
      const optional = Object.fromEntries(
        Object.entries(defs).map(([k, v]) => [k, { ...v, optional: true }]),
      ) as unknown as S;
      const opened = cudaOpener(optional);
      if (!opened) throw new Error("CUDA backend is not available");
      const syms: Record<string, unknown> = { ...opened };
      for (const [name, def] of Object.entries(defs)) {
        if (syms[name] == null && !(def as { optional?: boolean }).optional) {
          syms[name] = missing(name, "cuda");
        }
      }
      cuda = syms as Syms<S>;
    }
    return cuda;
  };
}

function missing(name: string, device: Device): () => never {
  return () => {
    throw new Error(
      `${name}: no kernel on device '${device}' (the ${device} library lacks this op; move the tensors to the cpu or rebuild the library)`,
    );
  };
}

/** Asserts that an optional symbol exists (optional symbols are null when a kernel is missing). */
export function need<F>(fn: F | null | undefined, name: string, device: Device): F {
  if (fn == null) missing(name, device)();
  return fn!;
}
