/**
 * The CUDA backend: binds build/libft_cuda.so (kernels/) through the shared library handle of
 * src/backend/dispatch.ts (one dlopen for the runtime table and every op table). Loading is
 * lazy and never throws: `cudaStatus()` says whether a device is usable and, if not, why
 * (library not built, no driver, no device). When one is, `loadCuda()` installs the device
 * allocator (pooled by the caching allocator in storage.ts; an allocation that fails empties
 * the cache and retries), host<->device transfers and the CUDA library for `kernels(defs)`.
 * Errors: every failing CUDA call records its message; `check()` (status.ts) appends it to the
 * op's error, and a fault that kills the context is marked sticky (`cudaErrorState()`).
 * Streams: `CudaStream.run` joins the new stream to the library stream on entry and back on
 * exit (device-side events), so memory freed or read afterwards is ordered after its work.
 * Env: FT_AUTOCAST=off|bf16|fp16 (GEMM/attention operand precision; fp32 accumulation and
 * fp32 master weights either way; an invalid value is ignored with a warning in the status),
 * FT_GEMM=own|cublas, FT_CUDA_DEVICE=<index>.
 * @module
 */
import { findLibrary, libraryFileName } from "./loader.ts";
import { CUDA_LIBRARY } from "./dispatch.ts";
import { registerStatusDetail } from "./status.ts";
import { registerAllocator, retagStream, type Storage } from "../tensor/storage.ts";
import { releasePackedWeights } from "./packed_weights.ts";
import { registerTransfer } from "../tensor/tensor.ts";

/** FFI signatures of the runtime wrappers (kernels/runtime.cu). */
export const CUDA_RUNTIME_SYMBOLS = {
  ft_cuda_device_count: { parameters: [], result: "i32" },
  ft_cuda_last_error: { parameters: [/* buf (n) */ "buffer", /* n */ "i32"], result: "i32" },
  ft_cuda_error_state: { parameters: [/* out (2) last, sticky cudaError_t */ "buffer"], result: "i32" },
  ft_cuda_init: { parameters: [/* device */ "i32"], result: "i32" },
  ft_cuda_device_info: {
    parameters: [/* name (n) */ "buffer", /* n */ "i32", /* info (8) */ "buffer"],
    result: "i32",
  },
  ft_cuda_mem_info: { parameters: [/* out (2) free, total */ "buffer"], result: "i32" },
  ft_cuda_malloc: { parameters: [/* bytes */ "i64"], result: "pointer" },
  ft_cuda_free: { parameters: [/* p */ "pointer"], result: "i32" },
  ft_cuda_memcpy_h2d: {
    parameters: [/* dst (bytes) device */ "pointer", /* src (bytes) host */ "buffer", /* bytes */ "i64"],
    result: "i32",
  },
  ft_cuda_memcpy_d2h: {
    parameters: [/* dst (bytes) host */ "buffer", /* src (bytes) device */ "pointer", /* bytes */ "i64"],
    result: "i32",
  },
  ft_cuda_memset: {
    parameters: [/* dst (bytes) device */ "pointer", /* value */ "i32", /* bytes */ "i64"],
    result: "i32",
  },
  ft_cuda_synchronize: { parameters: [], result: "i32" },
  ft_cuda_stream_join: { parameters: [/* waiter */ "pointer", /* signaller */ "pointer"], result: "i32" },
  ft_cuda_workspace_bytes: { parameters: [], result: "i64" },
  ft_cuda_workspace_release: { parameters: [], result: "i32" },
  ft_cuda_stream_create: { parameters: [], result: "pointer" },
  ft_cuda_stream_destroy: { parameters: [/* s */ "pointer"], result: "i32" },
  ft_cuda_set_stream: { parameters: [/* s */ "pointer"], result: "i32" },
  ft_cuda_get_stream: { parameters: [], result: "pointer" },
  ft_cuda_event_create: { parameters: [], result: "pointer" },
  ft_cuda_event_destroy: { parameters: [/* e */ "pointer"], result: "i32" },
  ft_cuda_event_record: { parameters: [/* e */ "pointer"], result: "i32" },
  ft_cuda_event_elapsed: {
    parameters: [/* a */ "pointer", /* b */ "pointer", /* ms (1) */ "buffer"],
    result: "i32",
  },
  ft_cuda_set_math: { parameters: [/* precision */ "i32", /* gemm */ "i32"], result: "i32" },
  ft_cuda_get_math: { parameters: [/* out (2) precision, gemm */ "buffer"], result: "i32" },
} as const satisfies Deno.ForeignLibraryInterface;

type Runtime = Deno.StaticForeignLibraryInterface<typeof CUDA_RUNTIME_SYMBOLS>;

/**
 * Raw 16-bit entry points that no op wraps (operands already bf16/fp16 in device memory); used
 * by the CUDA tests and the GPU benchmarks. dtype 1 = bf16, 2 = fp16. See kernels/gemm.cu and
 * kernels/attention.cu for the exact contracts.
 */
export const CUDA_HALF_SYMBOLS = {
  // (impl 0 ours | 1 cuBLAS | 2 ours without Hopper wgmma, dtype, batch, M, N, K, alpha, A, B, beta, C, outBf16)
  ft_cuda_gemm_16: {
    parameters: [
      /* impl */ "i32",
      /* dtype */ "i32",
      /* batch */ "i64",
      /* M */ "i64",
      /* N */ "i64",
      /* K */ "i64",
      /* alpha */ "f32",
      /* A (batch, M, K) 16-bit, 16-byte aligned or staged */ "pointer",
      /* B (batch, N, K) 16-bit */ "pointer",
      /* beta */ "f32",
      /* C (batch, M, N) fp32 or bf16 */ "pointer",
      /* out_bf16 */ "i32",
    ],
    result: "i32",
  },
  // (dtype, B, H, Tq, Tk, D = 64, scale, causal, q, k, v, o, lse)
  ft_cuda_attention_fwd_16: {
    parameters: [
      /* dtype */ "i32",
      /* B */ "i64",
      /* H */ "i64",
      /* Tq */ "i64",
      /* Tk */ "i64",
      /* D */ "i64",
      /* scale */ "f32",
      /* causal */ "i32",
      /* q (B,H,Tq,D) */ "pointer",
      /* k (B,H,Tk,D) */ "pointer",
      /* v (B,H,Tk,D) */ "pointer",
      /* o (B,H,Tq,D) */ "pointer",
      /* lse (B,H,Tq) fp32 */ "pointer",
    ],
    result: "i32",
  },
  // (dtype, B, H, Tq, Tk, D = 64, scale, causal, q, k, v, o, lse, go, gq, gk, gv)
  ft_cuda_attention_bwd_16: {
    parameters: [
      /* dtype */ "i32",
      /* B */ "i64",
      /* H */ "i64",
      /* Tq */ "i64",
      /* Tk */ "i64",
      /* D */ "i64",
      /* scale */ "f32",
      /* causal */ "i32",
      /* q (B,H,Tq,D) */ "pointer",
      /* k (B,H,Tk,D) */ "pointer",
      /* v (B,H,Tk,D) */ "pointer",
      /* o (B,H,Tq,D) */ "pointer",
      /* lse (B,H,Tq) fp32 */ "pointer",
      /* go (B,H,Tq,D) */ "pointer",
      /* gq (B,H,Tq,D) fp32 */ "pointer",
      /* gk (B,H,Tk,D) fp32 */ "pointer",
      /* gv (B,H,Tk,D) fp32 */ "pointer",
    ],
    result: "i32",
  },
} as const satisfies Deno.ForeignLibraryInterface;

/** What the CUDA backend found. */
export interface CudaStatus {
  /** A device is present and initialised; tensors may live on "cuda". */
  available: boolean;
  /** Why not (empty when available). */
  reason: string;
  /** Device name, compute capability, multiprocessors, memory (when available). */
  device?: { name: string; cc: string; sms: number; memoryMiB: number; l2Bytes: number };
  /** Path of the library that was opened (when found). */
  library?: string;
  /** Settings that were ignored (e.g. an invalid FT_AUTOCAST); the device is usable anyway. */
  warnings?: string[];
}

let state: CudaStatus | null = null;
let rt: Runtime | null = null;
let libPath = "";

function env(name: string): string | undefined {
  try {
    return Deno.env.get(name);
  } catch {
    return undefined; // no --allow-env: defaults apply
  }
}

function lastError(r: Runtime): string {
  const buf = new Uint8Array(512);
  const n = r.ft_cuda_last_error(buf, buf.length);
  const msg = new TextDecoder().decode(buf.subarray(0, n));
  // The static runtime reports a missing libcuda.so.1 as an old driver: say what it means.
  if (msg.includes("cudaErrorInsufficientDriver")) return `no NVIDIA driver (${msg})`;
  return msg || "unknown CUDA error";
}

function fail(reason: string): CudaStatus {
  return { available: false, reason, library: libPath || undefined };
}

function detect(): CudaStatus {
  const tried: string[] = [];
  const path = findLibrary("ft_cuda", tried);
  if (!path) {
    return fail(
      `${libraryFileName("ft_cuda")} not built (no nvcc at build time?); tried ${tried.join(", ")}`,
    );
  }
  libPath = path;
  // One handle for the runtime and every op table registered so far (dispatch.ts).
  CUDA_LIBRARY.setOpener((defs) => Deno.dlopen(path, defs).symbols as unknown as Record<string, unknown>);
  const r = CUDA_LIBRARY.bind(CUDA_RUNTIME_SYMBOLS);
  let count: number;
  try {
    count = r.ft_cuda_device_count();
  } catch (e) {
    return fail(`cannot load ${path}: ${(e as Error).message}`);
  }
  if (count <= 0) return fail(lastError(r));
  const want = Number(env("FT_CUDA_DEVICE") ?? "0");
  if (!Number.isInteger(want) || want < 0 || want >= count) {
    return fail(`FT_CUDA_DEVICE=${env("FT_CUDA_DEVICE")}: expected an index below ${count}`);
  }
  if (r.ft_cuda_init(want) !== 0) return fail(lastError(r));
  rt = r;
  const name = new Uint8Array(256), info = new Int32Array(8);
  r.ft_cuda_device_info(name, name.length, new Uint8Array(info.buffer));
  const nm = new TextDecoder().decode(name.subarray(0, name.indexOf(0) < 0 ? 256 : name.indexOf(0)));
  install(r);
  const warnings = applyEnv();
  return {
    available: true,
    reason: "",
    library: path,
    device: { name: nm, cc: `${info[0]}.${info[1]}`, sms: info[2], memoryMiB: info[5], l2Bytes: info[3] },
    ...(warnings.length ? { warnings } : {}),
  };
}

function install(r: Runtime): void {
  registerAllocator("cuda", {
    alloc(bytes) {
      const p = r.ft_cuda_malloc(BigInt(bytes));
      if (p === null) throw new Error(`out of device memory allocating ${bytes} bytes (${lastError(r)})`);
      return p;
    },
    free(p) {
      check(r, r.ft_cuda_free(p), "free");
    },
    extraBytes() {
      return Number(r.ft_cuda_workspace_bytes());
    },
    releaseExtra() {
      releasePackedWeights(); // packed autocast weights are pool blocks: back before segments go
      check(r, r.ft_cuda_workspace_release(), "workspace release");
    },
    stream: () => currentStreamTag,
    join(waiter, signaller) {
      const p = (v: bigint) => (v === 0n ? null : Deno.UnsafePointer.create(v));
      check(r, r.ft_cuda_stream_join(p(waiter), p(signaller)), "stream join (block reuse)");
    },
  });
  registerTransfer("cuda", {
    toHost(src: Storage, bytes: number, dst: ArrayBuffer) {
      check(r, r.ft_cuda_memcpy_d2h(new Uint8Array(dst, 0, bytes), src.ptr, BigInt(bytes)), "copy to host");
    },
    fromHost(src: ArrayBufferView, dst: Storage) {
      const view = new Uint8Array(src.buffer, src.byteOffset, src.byteLength);
      check(r, r.ft_cuda_memcpy_h2d(dst.ptr, view, BigInt(view.byteLength)), "copy to device");
    },
    zero(dst: Storage, bytes: number) {
      check(r, r.ft_cuda_memset(dst.ptr, 0, BigInt(bytes)), "zero");
    },
  });
  CUDA_LIBRARY.usable = true;
  // Any status from a CUDA kernel may carry a message: a CUDA error (status 4, or 2 when a
  // workspace could not be allocated) or a library note (e.g. a bad index); sticky faults say so.
  registerStatusDetail((st) => {
    const e = errorState(r);
    if (st === 4 || e.last !== 0 || e.sticky !== 0) return lastError(r);
    return undefined;
  });
}

function errorState(r: Runtime): { last: number; sticky: number } {
  const out = new Int32Array(2);
  r.ft_cuda_error_state(new Uint8Array(out.buffer));
  return { last: out[0], sticky: out[1] };
}

function check(r: Runtime, st: number, what: string): void {
  if (st !== 0) {
    errorState(r); // read: the message is reported here, not again by a later op
    throw new Error(`cuda ${what}: ${lastError(r)} (status ${st})`);
  }
}

/** Probes for the library and a device once; installs the backend when one is usable. */
export function loadCuda(): CudaStatus {
  return state ??= detect();
}

/** Same as loadCuda(): whether CUDA is usable here, and why not. Never throws. */
export function cudaStatus(): CudaStatus {
  return loadCuda();
}

function runtime(): Runtime {
  const s = loadCuda();
  if (!rt) throw new Error(`CUDA is not available: ${s.reason}`);
  return rt;
}

/** The last error message recorded by the CUDA library (for messages about status 4). */
export function cudaLastError(): string {
  return rt ? lastError(rt) : (state?.reason ?? "CUDA not loaded");
}

/**
 * The CUDA error state: `sticky` is the cudaError_t that made the context unusable (0: none;
 * once set, every later call fails and only a new process recovers), `message` the last one.
 */
export function cudaErrorState(): { sticky: number; message: string } {
  const r = runtime();
  return { sticky: errorState(r).sticky, message: lastError(r) };
}

/** Waits for all queued device work on every stream; throws with the device's message when a kernel failed. */
export function cudaSynchronize(): void {
  const r = runtime();
  check(r, r.ft_cuda_synchronize(), "synchronize");
}

/** Free and total device memory in bytes. */
export function cudaMemInfo(): { free: number; total: number } {
  const r = runtime();
  const out = new BigInt64Array(2);
  check(r, r.ft_cuda_mem_info(new Uint8Array(out.buffer)), "mem info");
  return { free: Number(out[0]), total: Number(out[1]) };
}

/** Operand precision of GEMM / attention on CUDA: fp32, or bf16 / fp16 autocast. */
export type Autocast = "off" | "bf16" | "fp16";
/** GEMM implementation on CUDA. */
export type GemmImpl = "own" | "cublas";
const AUTOCAST: Record<Autocast, number> = { off: 0, bf16: 1, fp16: 2 };
const GEMM: Record<GemmImpl, number> = { own: 0, cublas: 1 };
// Mirror of the library's autocast setting, so ops can record it on their autograd node for
// free (one FFI call per op would show in the dispatch overhead).
let autocastMirror: Autocast = "off";

/** The autocast mode now in force ("off" without a device). Ops record it at forward time. */
export function currentAutocast(): Autocast {
  return autocastMirror;
}

/**
 * `using _ = autocastScope(mode)` at the top of an op's backward: runs the rest of it under
 * the autocast mode recorded at forward time (nodeAutocast), restoring the current one on
 * exit, also when it throws. null (a CPU node) changes nothing.
 */
export function autocastScope(mode: Autocast | null): Disposable {
  if (mode === null || mode === autocastMirror || !rt) return { [Symbol.dispose]() {} };
  const prev = autocastMirror;
  setCudaMath({ autocast: mode });
  return {
    [Symbol.dispose]() {
      setCudaMath({ autocast: prev });
    },
  };
}

/** The autocast mode to record on an autograd node of an op on `device` (null off CUDA). */
export function nodeAutocast(device: string): Autocast | null {
  return device === "cuda" ? autocastMirror : null;
}

/**
 * Runs fn (a backward kernel call) under the autocast mode its forward recorded, so a forward
 * under bf16 followed by a backward outside it (or the reverse) keeps one precision per node.
 * null (a CPU node) runs fn as is.
 */
export function withAutocast<R>(mode: Autocast | null, fn: () => R): R {
  if (mode === null || mode === autocastMirror || !rt) return fn();
  const prev = autocastMirror;
  setCudaMath({ autocast: mode });
  try {
    return fn();
  } finally {
    setCudaMath({ autocast: prev });
  }
}

/**
 * Sets the CUDA math mode: `autocast` bf16/fp16 rounds GEMM and attention operands to 16 bits
 * (tensor cores, fp32 accumulation, fp32 outputs and master weights); `gemm` picks our kernels
 * or cuBLAS (loaded at run time; ours are used when it is absent).
 */
export function setCudaMath(opts: { autocast?: Autocast; gemm?: GemmImpl }): void {
  const r = runtime();
  if (opts.autocast !== undefined && !(opts.autocast in AUTOCAST)) {
    throw new Error(`autocast '${opts.autocast}': expected off, bf16 or fp16`);
  }
  if (opts.gemm !== undefined && !(opts.gemm in GEMM)) {
    throw new Error(`gemm '${opts.gemm}': expected own or cublas`);
  }
  const a = opts.autocast === undefined ? -1 : AUTOCAST[opts.autocast];
  const g = opts.gemm === undefined ? -1 : GEMM[opts.gemm];
  check(r, r.ft_cuda_set_math(a, g), "set math");
  if (opts.autocast !== undefined) autocastMirror = opts.autocast;
}

/** The current CUDA math mode. */
export function getCudaMath(): { autocast: Autocast; gemm: GemmImpl } {
  const r = runtime();
  const out = new Int32Array(2);
  r.ft_cuda_get_math(new Uint8Array(out.buffer));
  return {
    autocast: (Object.keys(AUTOCAST) as Autocast[])[out[0]],
    gemm: (Object.keys(GEMM) as GemmImpl[])[out[1]],
  };
}

/** Runs fn with another math mode, restoring the previous one afterwards. */
export function withCudaMath<R>(opts: { autocast?: Autocast; gemm?: GemmImpl }, fn: () => R): R {
  const prev = getCudaMath();
  setCudaMath(opts);
  try {
    return fn();
  } finally {
    setCudaMath(prev);
  }
}

// Applies FT_AUTOCAST / FT_GEMM; an invalid value is reported (returned and logged once) and
// ignored, never thrown: this runs inside the never-throwing device probe.
function applyEnv(): string[] {
  const warnings: string[] = [];
  for (const [name, key] of [["FT_AUTOCAST", "autocast"], ["FT_GEMM", "gemm"]] as const) {
    const v = env(name);
    if (!v) continue;
    try {
      setCudaMath({ [key]: v } as { autocast?: Autocast; gemm?: GemmImpl });
    } catch (e) {
      warnings.push(`${name}=${v} ignored: ${(e as Error).message}`);
    }
  }
  for (const w of warnings) console.error(`cuda: ${w}`);
  return warnings;
}

/** A CUDA event for timing device work (record on the library stream, then elapsed()). */
export class CudaEvent {
  readonly #ptr: Deno.PointerObject;
  constructor() {
    const r = runtime();
    const p = r.ft_cuda_event_create();
    if (p === null) throw new Error(`cuda event: ${lastError(r)}`);
    this.#ptr = p;
  }
  /** Queues the event on the library stream. */
  record(): this {
    const r = runtime();
    check(r, r.ft_cuda_event_record(this.#ptr), "event record");
    return this;
  }
  /** Milliseconds from `start` to this event (waits for this event). */
  elapsedSince(start: CudaEvent): number {
    const r = runtime();
    const ms = new Float32Array(1);
    check(r, r.ft_cuda_event_elapsed(start.#ptr, this.#ptr, new Uint8Array(ms.buffer)), "event elapsed");
    return ms[0];
  }
  /** Releases the event. */
  dispose(): void {
    runtime().ft_cuda_event_destroy(this.#ptr);
  }
}

// Stream the caching allocator tags blocks with (0n: the library's own stream); mirrors
// ft_cuda_set_stream so an allocation needs no FFI call to learn it.
let currentStreamTag = 0n;

/** A CUDA stream; `use()` makes it the stream of every later ft_* call (null: the default). */
export class CudaStream {
  readonly ptr: Deno.PointerObject;
  constructor() {
    const r = runtime();
    const p = r.ft_cuda_stream_create();
    if (p === null) throw new Error(`cuda stream: ${lastError(r)}`);
    this.ptr = p;
  }
  /**
   * Runs fn with this stream current, then restores the previous stream. On entry this stream
   * waits (on the device) for everything queued on the previous one, so fn sees its inputs;
   * on exit the previous stream waits for this one, so later work, host reads and the reuse of
   * blocks freed inside fn are ordered after fn's kernels (the caching allocator hands freed
   * blocks to whatever stream is current, so this join is what makes that reuse safe).
   */
  run<R>(fn: () => R): R {
    const r = runtime();
    const prev = r.ft_cuda_get_stream();
    const prevTag = currentStreamTag;
    check(r, r.ft_cuda_stream_join(this.ptr, prev), "stream join (enter)");
    check(r, r.ft_cuda_set_stream(this.ptr), "set stream");
    currentStreamTag = BigInt(Deno.UnsafePointer.value(this.ptr));
    try {
      return fn();
    } finally {
      currentStreamTag = prevTag;
      r.ft_cuda_set_stream(prev);
      check(r, r.ft_cuda_stream_join(prev, this.ptr), "stream join (exit)");
    }
  }
  /** Destroys the stream (frees its workspace after its queued work is done). */
  dispose(): void {
    const r = runtime();
    // blocks tagged with this stream move to the library stream, which first waits for it (a
    // later cross-stream reuse must never record an event on a destroyed stream)
    check(r, r.ft_cuda_stream_join(null, this.ptr), "stream join (dispose)");
    retagStream("cuda", BigInt(Deno.UnsafePointer.value(this.ptr)), 0n);
    check(r, r.ft_cuda_stream_destroy(this.ptr), "stream destroy");
  }
}

/** Raw device memory outside the caching allocator (tests' guard regions, benchmarks). */
export const cudaRaw = {
  /** Allocates `bytes` of device memory. */
  malloc(bytes: number): Deno.PointerObject {
    const r = runtime();
    const p = r.ft_cuda_malloc(BigInt(bytes));
    if (p === null) throw new Error(`cudaMalloc(${bytes}): ${lastError(r)}`);
    return p;
  },
  /** Frees device memory from malloc(). */
  free(p: Deno.PointerObject): void {
    runtime().ft_cuda_free(p);
  },
  /** Device <- host bytes. */
  upload(dst: Deno.PointerObject, src: ArrayBufferView): void {
    const r = runtime();
    check(
      r,
      r.ft_cuda_memcpy_h2d(
        dst,
        new Uint8Array(src.buffer, src.byteOffset, src.byteLength),
        BigInt(src.byteLength),
      ),
      "upload",
    );
  },
  /** Host <- device bytes (waits for queued work). */
  download(dst: ArrayBufferView, src: Deno.PointerObject): void {
    const r = runtime();
    check(
      r,
      r.ft_cuda_memcpy_d2h(
        new Uint8Array(dst.buffer, dst.byteOffset, dst.byteLength),
        src,
        BigInt(dst.byteLength),
      ),
      "download",
    );
  },
};
