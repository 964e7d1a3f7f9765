/**
 * Checkpoints in the safetensors format (huggingface/safetensors), so our weights load in
 * PyTorch and HF weights load here:
 *   [u64 little-endian N][N bytes JSON header, space-padded to a multiple of 8][data]
 * The header maps each tensor name to {dtype, shape, data_offsets: [begin, end]} (offsets
 * relative to the data section; tensors tile it with no holes or overlaps) and may hold a
 * "__metadata__" string -> string map. We write F32 and I32; we read F32, I32 and, converting
 * to our dtypes, F16, BF16, F64 and I64 (the dtypes of HF checkpoints).
 * Writes go to a temp beside the file, are fsynced and renamed into place, so a crash never
 * leaves a torn checkpoint (DESIGN §7); see src/data/atomic.ts. Every validation error names the file and the tensor.
 * @module
 */
import type { DType, Tensor } from "../tensor/tensor.ts";
import { tensor } from "../tensor/create.ts";
import { fmtShape, numel } from "../tensor/shape.ts";
import type { LoadOptions, LoadResult, Module } from "../nn/module.ts";
import { sweepTempsOf, writeFileAtomicSync } from "../data/atomic.ts";

/** Bytes per element of each safetensors dtype we read. */
const ITEM: Record<string, number> = { F32: 4, I32: 4, F16: 2, BF16: 2, F64: 8, I64: 8 };
/** Header size limit (the reference implementation uses 100 MB). */
const MAX_HEADER = 100_000_000;

/** A decoded safetensors file. */
export interface SafetensorsData {
  /** Tensors by name, in file order (owned by the caller: dispose them). */
  tensors: Map<string, Tensor>;
  /** The "__metadata__" map ({} when absent). */
  metadata: Record<string, string>;
}

interface Entry {
  name: string;
  dtype: string;
  shape: number[];
  begin: number;
  end: number;
}

/** Options of `encodeSafetensors`. */
export interface EncodeOptions {
  /**
   * Store float32 tensors as F16 (IEEE half, round to nearest even): half the bytes, for
   * shipping weights. Readers widen them back to float32. A value outside the half range
   * (|x| > 65504) throws, naming the tensor, rather than turning into infinity. A function
   * chooses per tensor name (e.g. to keep counters exact).
   */
  float16?: boolean | ((name: string) => boolean);
}

/** Serialises tensors (+ string metadata) to safetensors bytes. Names are written sorted. */
export function encodeSafetensors(
  tensors: Map<string, Tensor> | Record<string, Tensor>,
  metadata: Record<string, string> = {},
  opts: EncodeOptions = {},
): Uint8Array {
  const list = [...(tensors instanceof Map ? tensors : Object.entries(tensors))]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length) {
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== "string") {
        throw new Error(`safetensors: metadata '${k}' must be a string, got ${typeof v}`);
      }
    }
    header.__metadata__ = metadata;
  }
  let off = 0;
  const f16 = opts.float16;
  const half = (name: string, t: Tensor) =>
    t.dtype !== "int32" && (typeof f16 === "function" ? f16(name) : !!f16);
  for (const [name, t] of list) {
    if (name === "__metadata__") {
      throw new Error("safetensors: '__metadata__' is reserved, not a tensor name");
    }
    const bytes = t.size * (half(name, t) ? 2 : 4);
    header[name] = {
      dtype: t.dtype === "int32" ? "I32" : half(name, t) ? "F16" : "F32",
      shape: [...t.shape],
      data_offsets: [off, off + bytes],
    };
    off += bytes;
  }
  let json = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil(json.length / 8) * 8;
  if (padded !== json.length) {
    const p = new Uint8Array(padded).fill(0x20); // spaces, as the spec asks
    p.set(json);
    json = p;
  }
  const out = new Uint8Array(8 + json.length + off);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  let pos = 8 + json.length;
  for (const [name, t] of list) {
    if (half(name, t)) {
      const h = Float16Array.from(t.data());
      for (let i = 0; i < h.length; i++) {
        if (!Number.isFinite(h[i]) && Number.isFinite(t.data()[i])) {
          throw new Error(`safetensors: '${name}' holds ${t.data()[i]}, outside the float16 range`);
        }
      }
      out.set(new Uint8Array(h.buffer), pos); // host is little-endian
      pos += t.size * 2;
      continue;
    }
    const src = t.dtype === "int32" ? t.dataI32() : t.data();
    out.set(new Uint8Array(src.buffer, src.byteOffset, t.size * 4), pos); // host is little-endian
    pos += t.size * 4;
  }
  return out;
}

/**
 * Parses safetensors bytes into tensors; `what` names the source in errors. `keep`, when given,
 * selects the tensors to create (the whole header is still validated).
 */
export function decodeSafetensors(
  bytes: Uint8Array,
  what = "<bytes>",
  keep?: (name: string) => boolean,
): SafetensorsData {
  const fail = (msg: string): never => {
    throw new Error(`safetensors '${what}': ${msg}`);
  };
  if (bytes.length < 8) fail(`file is ${bytes.length} bytes, shorter than the 8-byte header length`);
  const n = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
  if (n > BigInt(Math.min(MAX_HEADER, bytes.length - 8))) {
    fail(`header length ${n} exceeds the file (${bytes.length} bytes) or the ${MAX_HEADER}-byte limit`);
  }
  const hlen = Number(n);
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(8, 8 + hlen)));
  } catch (e) {
    fail(`header is not valid UTF-8 JSON (${(e as Error).message})`);
  }
  if (!header || typeof header !== "object" || Array.isArray(header)) fail("header is not a JSON object");
  const dataStart = 8 + hlen, dataLen = bytes.length - dataStart;
  const metadata: Record<string, string> = {};
  const entries: Entry[] = [];
  for (const [name, raw] of Object.entries(header as Record<string, unknown>)) {
    if (name === "__metadata__") {
      if (!raw || typeof raw !== "object" || Array.isArray(raw)) fail("__metadata__ is not an object");
      for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
        if (typeof v !== "string") fail(`__metadata__ '${k}' is not a string`);
        metadata[k] = v as string;
      }
      continue;
    }
    entries.push(parseEntry(name, raw, dataLen, fail));
  }
  // the data section must be exactly tiled by the tensors (spec: no holes, no overlaps)
  const sorted = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let pos = 0;
  for (const e of sorted) {
    if (e.begin !== pos) {
      fail(
        `tensor '${e.name}': data_offsets start at ${e.begin}, expected ${pos} (${
          e.begin < pos ? "overlap" : "hole"
        })`,
      );
    }
    pos = e.end;
  }
  if (pos !== dataLen) fail(`tensors cover ${pos} data bytes but the file holds ${dataLen}`);
  const tensors = new Map<string, Tensor>();
  try {
    for (const e of entries) {
      if (keep && !keep(e.name)) continue;
      tensors.set(e.name, toTensor(e, bytes.subarray(dataStart + e.begin, dataStart + e.end), fail));
    }
  } catch (err) {
    for (const t of tensors.values()) t.dispose();
    throw err;
  }
  return { tensors, metadata };
}

function parseEntry(name: string, raw: unknown, dataLen: number, fail: (m: string) => never): Entry {
  const bad = (m: string) => fail(`tensor '${name}': ${m}`);
  if (!raw || typeof raw !== "object") bad("entry is not an object");
  const o = raw as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
  if (typeof o.dtype !== "string") bad("missing dtype");
  const dtype = o.dtype as string;
  if (!(dtype in ITEM)) bad(`dtype ${dtype} is not supported (F32, I32, F16, BF16, F64, I64)`);
  if (!Array.isArray(o.shape) || !o.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    bad(`bad shape ${JSON.stringify(o.shape)}`);
  }
  const shape = o.shape as number[];
  const off = o.data_offsets;
  if (!Array.isArray(off) || off.length !== 2 || !off.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    bad(`bad data_offsets ${JSON.stringify(off)}`);
  }
  const [begin, end] = off as number[];
  if (end < begin || end > dataLen) {
    bad(`data_offsets [${begin}, ${end}] outside the ${dataLen}-byte data section`);
  }
  const want = numel(shape) * ITEM[dtype];
  if (end - begin !== want) {
    bad(`${dtype} ${fmtShape(shape)} needs ${want} bytes, data_offsets give ${end - begin}`);
  }
  return { name, dtype, shape, begin, end };
}

function toTensor(e: Entry, raw: Uint8Array, fail: (m: string) => never): Tensor {
  const count = numel(e.shape);
  // copy to a fresh aligned buffer: offsets in the file need not be 4- or 8-byte aligned
  const buf = raw.slice().buffer;
  const dtype: DType = e.dtype === "I32" || e.dtype === "I64" ? "int32" : "float32";
  let values: ArrayLike<number>;
  switch (e.dtype) {
    case "F32":
      values = new Float32Array(buf, 0, count);
      break;
    case "I32":
      values = new Int32Array(buf, 0, count);
      break;
    case "F64":
      values = Float32Array.from(new Float64Array(buf, 0, count));
      break;
    case "I64": {
      const src = new BigInt64Array(buf, 0, count);
      const v = new Int32Array(count);
      for (let i = 0; i < count; i++) {
        if (src[i] > 2147483647n || src[i] < -2147483648n) {
          fail(`tensor '${e.name}': I64 value ${src[i]} at [${i}] does not fit int32`);
        }
        v[i] = Number(src[i]);
      }
      values = v;
      break;
    }
    case "F16":
      values = Float32Array.from(new Uint16Array(buf, 0, count), halfToFloat);
      break;
    default: { // BF16: the high half of a float32
      const src = new Uint16Array(buf, 0, count);
      const bits = new Uint32Array(count);
      for (let i = 0; i < count; i++) bits[i] = src[i] << 16;
      values = new Float32Array(bits.buffer);
    }
  }
  return tensor(values, e.shape, { dtype });
}

function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1, e = (h >> 10) & 0x1f, f = h & 0x3ff;
  if (e === 0) return s * f * 2 ** -24;
  if (e === 31) return f ? NaN : s * Infinity;
  return s * (1 + f / 1024) * 2 ** (e - 15);
}

/**
 * Writes bytes to `path` atomically: a temp `<path>.ft-<pid>-<rand>.tmp`, fsync, rename over
 * `path`, folder sync. A failed write removes its temp; temps of this file left by a killed
 * run (no longer locked by a writer) are removed first, live ones are reported.
 */
export function writeAtomic(
  path: string,
  bytes: Uint8Array,
  log: (line: string) => void = console.warn,
): void {
  try {
    const swept = sweepTempsOf(path);
    for (const p of swept.removed) log(`checkpoint: removed '${p}' left by a killed run`);
    for (const p of swept.kept) log(`checkpoint: left '${p}' in place (its writer is still running)`);
  } catch { /* the sweep is housekeeping; the write below reports real problems */ }
  try {
    writeFileAtomicSync(path, bytes);
  } catch (e) {
    throw new Error(`checkpoint '${path}': write failed (${(e as Error).message})`);
  }
}

/** Saves tensors (+ metadata) to a safetensors file, atomically. */
export function saveSafetensors(
  path: string,
  tensors: Map<string, Tensor> | Record<string, Tensor>,
  metadata: Record<string, string> = {},
  opts: EncodeOptions = {},
): void {
  writeAtomic(path, encodeSafetensors(tensors, metadata, opts));
}

/** Reads a safetensors file (only the tensors `keep` selects, when given); the caller owns them. */
export function loadSafetensors(path: string, keep?: (name: string) => boolean): SafetensorsData {
  let bytes: Uint8Array;
  try {
    // Only regular files: reading a FIFO would block forever.
    if (!Deno.statSync(path).isFile) throw new Error("not a regular file");
    bytes = Deno.readFileSync(path);
  } catch (e) {
    throw new Error(`safetensors '${path}': cannot read (${(e as Error).message})`);
  }
  return decodeSafetensors(bytes, path, keep);
}

/** Saves a module's state dict (parameters + buffers) with optional metadata. */
export function saveModule(path: string, m: Module, metadata: Record<string, string> = {}): void {
  saveSafetensors(path, m.stateDict(), metadata);
}

/** Loads a safetensors file into a module (strict by default); frees the file's tensors after. */
export function loadModule(
  path: string,
  m: Module,
  opts: LoadOptions = {},
): LoadResult & { metadata: Record<string, string> } {
  const { tensors, metadata } = loadSafetensors(path);
  try {
    return { ...m.loadStateDict(tensors, { source: path, ...opts }), metadata };
  } finally {
    for (const t of tensors.values()) t.dispose();
  }
}
