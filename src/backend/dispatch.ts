/**
 * Per-op kernel binding across backends, with ONE `Deno.dlopen` per library. An op file declares
 * its FFI symbols once (`satisfies Deno.ForeignLibraryInterface`, every argument named) and calls
 * `kernels(defs)`, which registers the table with both libraries; the same `ft_*` names and
 * signatures exist in libft_cpu.so and libft_cuda.so (pointers are host or device memory), so
 * `kernels(defs)(tensor.device)` picks the right library. A library opens lazily, on the first
 * symbol looked up, with the union of every table registered so far (a table registered after
 * that adds one more handle for its new names only). Two tables that declare one name with
 * different signatures are an error at registration. `registeredSymbols()` lists the union for
 * tests/ops/ffi_signature_test.ts, which checks it against the C sources of both libraries.
 * @module
 */
import type { Device } from "../tensor/storage.ts";
import { openLibrary } from "./loader.ts";

type Syms<S extends Deno.ForeignLibraryInterface> = Deno.StaticForeignLibraryInterface<S>;
type Def = Deno.ForeignFunction | Deno.ForeignStatic;

function sig(d: Def): string {
  return "parameters" in d
    ? `(${d.parameters.join(", ")}) -> ${String(d.result)}`
    : `static ${String(d.type)}`;
}

/** One native library shared by every op file: registered tables, one lazy open of their union. */
export class SharedLibrary {
  readonly name: string;
  readonly #defs = new Map<string, Def>();
  readonly #syms = new Map<string, unknown>();
  #open: ((defs: Deno.ForeignLibraryInterface) => Record<string, unknown>) | null;
  /** How many dlopen handles this library has taken (1 when every table registered before use). */
  opens = 0;

  constructor(name: string, open: ((defs: Deno.ForeignLibraryInterface) => Record<string, unknown>) | null) {
    this.name = name;
    this.#open = open;
    this.usable = open !== null;
  }

  /** Whether op tables may bind to it (the CUDA backend sets this once a device is usable). */
  usable: boolean;

  /** Sets how the library is opened (the CUDA backend does so once it found its file). */
  setOpener(open: (defs: Deno.ForeignLibraryInterface) => Record<string, unknown>): void {
    this.#open = open;
  }

  /** Adds a table; throws when a name is already registered with another signature. */
  register(defs: Deno.ForeignLibraryInterface): void {
    for (const [name, d] of Object.entries(defs)) {
      const prev = this.#defs.get(name);
      if (!prev) this.#defs.set(name, d);
      else if (sig(prev) !== sig(d)) {
        throw new Error(
          `FFI symbol ${name} declared twice with different signatures: ${sig(prev)} vs ${sig(d)}`,
        );
      }
    }
  }

  /** Every registered name and its definition. */
  registered(): ReadonlyMap<string, Def> {
    return this.#defs;
  }

  /** The function behind `name` (null when the library lacks it); opens pending names first. */
  lookup(name: string): unknown {
    if (!this.#syms.has(name)) this.#openPending();
    return this.#syms.get(name) ?? null;
  }

  #openPending(): void {
    if (!this.#open) throw new Error(`${this.name}: library is not loaded`);
    const pending: Record<string, Def> = {};
    for (const [name, d] of this.#defs) {
      // All optional: one table's CUDA-only names must not fail the CPU open; the op's own
      // non-optional names are checked by bind() below.
      if (!this.#syms.has(name)) pending[name] = { ...d, optional: true } as Def;
    }
    const got = this.#open(pending);
    this.opens++;
    for (const name of Object.keys(pending)) this.#syms.set(name, got[name] ?? null);
  }

  /**
   * The symbols of one table as an object whose properties resolve on first use (then become
   * plain values). A missing non-optional symbol is an error naming it and the library (cpu) or
   * a function that throws naming the op (cuda); optional ones stay null.
   */
  bind<S extends Deno.ForeignLibraryInterface>(defs: S, device: Device = "cpu"): Syms<S> {
    this.register(defs);
    const out = {} as Record<string, unknown>;
    for (const [name, d] of Object.entries(defs)) {
      Object.defineProperty(out, name, {
        configurable: true,
        enumerable: true,
        get: () => {
          let fn = this.lookup(name);
          if (fn === null && !(d as { optional?: boolean }).optional) {
            // CPU: every op has a kernel, so a missing one is a broken build. CUDA: some ops have
            // none; calling it is an error naming the op (never a bare TypeError on null).
            if (device === "cpu") throw new Error(`symbol ${name} not found in ${this.name}`);
            fn = missing(name, device);
          }
          Object.defineProperty(out, name, { value: fn, enumerable: true });
          return fn;
        },
      });
    }
    return out as Syms<S>;
  }
}

/** libft_cpu (native/). */
export const CPU_LIBRARY = new SharedLibrary(
  "libft_cpu",
  (defs) => openLibrary("ft_cpu", defs).symbols as unknown as Record<string, unknown>,
);
/** libft_cuda (kernels/); its opener is installed by src/backend/cuda.ts when a device is usable. */
export const CUDA_LIBRARY = new SharedLibrary("libft_cuda", null);

/**
 * Installs how libft_cuda is opened and marks it usable (a stand-in opener in tests; the real
 * backend, src/backend/cuda.ts, sets the opener before its probe and `usable` after it).
 */
export function registerCudaOpener(
  open: <S extends Deno.ForeignLibraryInterface>(defs: S) => Syms<S> | null,
): void {
  CUDA_LIBRARY.setOpener((defs) => (open(defs) ?? {}) as unknown as Record<string, unknown>);
  CUDA_LIBRARY.usable = true;
}

/** Every table registered with either library (for the ABI test), name -> definition. */
export function registeredSymbols(): Map<string, Def> {
  return new Map([...CUDA_LIBRARY.registered(), ...CPU_LIBRARY.registered()]);
}

/**
 * Returns a function giving the op's symbols on a device; libraries open lazily, once. A kernel the
 * CUDA library lacks is a function that throws an error naming it (never a bare TypeError on
 * null), except symbols declared `optional: true`, which stay null so the op can fall back.
 */
export function kernels<S extends Deno.ForeignLibraryInterface>(defs: S): (d: Device) => Syms<S> {
  CPU_LIBRARY.register(defs);
  CUDA_LIBRARY.register(defs);
  let cpu: Syms<S> | null = null;
  let cuda: Syms<S> | null = null;
  return (d: Device) => {
    if (d === "cpu") return cpu ??= CPU_LIBRARY.bind(defs);
    if (!cuda) {
      if (!CUDA_LIBRARY.usable) throw new Error("CUDA backend is not loaded (use --device cpu or auto)");
      cuda = CUDA_LIBRARY.bind(defs, "cuda");
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
