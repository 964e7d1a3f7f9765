/**
 * PyTorch checkpoints (`.pth`, `.pt`, HF `.bin`) read without running Python code:
 * - the zip format of `torch.save` ≥ 1.6 (`<dir>/data.pkl`, `<dir>/data/<key>`, `version`,
 *   `byteorder`; ZIP64 past 4 GiB) and the legacy pre-1.6 stream (magic, protocol, sys_info,
 *   the object pickle, the storage-key list, then each storage as [u64 numel][bytes]);
 * - the object pickle goes through the restricted interpreter in ./pickle.ts with the allow-list
 *   below (tensor/parameter rebuild functions, storage types, OrderedDict and a few harmless
 *   value constructors); any other global is refused naming it and the file;
 * - tensor bytes stream from their record straight into engine memory in 16 MiB chunks (no
 *   whole-file buffer), converted on the way: float64/float16/bfloat16 → float32 and
 *   int64/int16/int8/uint8/bool → int32 (the engine's two dtypes; int64 values must fit).
 * Storage offsets and strides are honoured (non-contiguous views are gathered); tensors that
 * are the same view of the same storage (tied weights) come back sharing one engine Storage.
 * @module
 */
import { describe, PickleTruncated, PyGlobal, type PyValue, unpickle } from "./pickle.ts";
import {
  buildAllowList,
  storageDtype,
  StorageRef,
  TensorRef,
  TORCH_ITEMSIZE,
  type TorchDType,
} from "./torch_globals.ts";
import { crc32, hex, readFully, ZipReader } from "./zip.ts";
import { Tensor, toDevice } from "../tensor/tensor.ts";
import type { Device } from "../tensor/storage.ts";
import { fmtShape } from "../tensor/shape.ts";

export { StorageRef, TensorRef, type TorchDType } from "./torch_globals.ts";

/** One tensor of a checkpoint, described without loading it. */
export interface CheckpointEntry {
  /** Dotted path through the containers ("model.encoder.layer.0.weight"). */
  name: string;
  /** Shape. */
  shape: number[];
  /** Dtype in the file (torch names: float32, bfloat16, int64, ...). */
  dtype: TorchDType;
  /** Bytes of the tensor's elements in the file's dtype. */
  bytes: number;
  /** Storage record key (torch) or null (safetensors). */
  storage: string | null;
  /** Element offset into the storage. */
  offset: number;
  /** Element strides. */
  stride: number[];
  /** Whether the elements are contiguous row-major. */
  contiguous: boolean;
  /** Name of the first earlier tensor on the same storage (tied / shared weights). */
  sharedWith?: string;
}

/** Formats recognised by {@link listCheckpoint}. */
export type CheckpointFormat = "torch-zip" | "torch-legacy" | "safetensors";

/** Where a storage's bytes live. */
interface Records {
  /** Byte size of a storage record; throws naming the key if absent. */
  size(key: string): number;
  /** Reads `dst.length` bytes from `pos` inside record `key`. */
  read(key: string, pos: number, dst: Uint8Array): void;
  /** Expected CRC-32 of the record, or null when the format has none. */
  crc(key: string): number | null;
  close(): void;
}

/** A parsed checkpoint whose tensors are not loaded yet. */
export interface TorchCheckpointIndex {
  path: string;
  format: "torch-zip" | "torch-legacy";
  /** The unpickled object tree with {@link TensorRef} leaves. */
  root: PyValue;
  /** Every tensor, in pickle order. */
  entries: CheckpointEntry[];
  /** TensorRef of each entry, by name. */
  refs: Map<string, TensorRef>;
  /** Whether multi-byte values are stored big-endian. */
  bigEndian: boolean;
  records: Records;
}

const ZIP_MAGIC = 0x04034b50;
const CHUNK = 16 << 20;

/** Sniffs a file's format from its first bytes. */
export function checkpointFormat(path: string): CheckpointFormat {
  const f = Deno.openSync(path, { read: true });
  try {
    const head = new Uint8Array(16);
    const n = f.readSync(head) ?? 0;
    const dv = new DataView(head.buffer);
    if (n >= 4 && dv.getUint32(0, true) === ZIP_MAGIC) return "torch-zip";
    if (n >= 3 && head[0] === 0x80 && head[1] === 0x02 && head[2] === 0x8a) return "torch-legacy";
    if (n >= 9 && head[8] === 0x7b) return "safetensors"; // u64 header length, then '{'
    throw new Error(
      `checkpoint '${path}': not a torch zip, legacy torch pickle or safetensors file ` +
        `(first bytes ${[...head.subarray(0, Math.min(n, 8))].map((b) => b.toString(16)).join(" ")})`,
    );
  } finally {
    f.close();
  }
}

/** Parses a torch checkpoint's object pickle (no tensor data is read). Close `records` after. */
export function openTorchCheckpoint(path: string): TorchCheckpointIndex {
  const fmt = checkpointFormat(path);
  if (fmt === "safetensors") throw new Error(`checkpoint '${path}': safetensors, not a torch checkpoint`);
  return fmt === "torch-zip" ? openZip(path) : openLegacy(path);
}

function openZip(path: string): TorchCheckpointIndex {
  const zip = new ZipReader(path);
  try {
    const pkl = [...zip.entries.keys()].find((n) => n === "data.pkl" || /^[^/]+\/data\.pkl$/.test(n));
    if (!pkl) {
      throw new Error(`checkpoint '${path}': zip has no '<dir>/data.pkl' (not written by torch.save)`);
    }
    const prefix = pkl.slice(0, pkl.length - "data.pkl".length);
    let bigEndian = false;
    if (zip.entries.has(prefix + "byteorder")) {
      const bo = new TextDecoder().decode(zip.readEntry(prefix + "byteorder")).trim();
      if (bo !== "little" && bo !== "big") throw new Error(`checkpoint '${path}': byteorder '${bo}'`);
      bigEndian = bo === "big";
    }
    const storages = new Map<string, StorageRef>();
    const globals = buildAllowList();
    const { value } = unpickle(zip.readEntry(pkl), {
      what: `${path}:${pkl}`,
      globals,
      persistentLoad: (pid) => storageFromPid(pid, storages, `${path}:${pkl}`),
    });
    const recName = (key: string) => `${prefix}data/${key}`;
    const records: Records = {
      size: (key) => {
        const e = zip.entries.get(recName(key));
        if (!e) throw new Error(`checkpoint '${path}': storage '${key}' has no record '${recName(key)}'`);
        return e.size;
      },
      read: (key, pos, dst) => zip.readRange(zip.entry(recName(key)), pos, dst),
      crc: (key) => zip.entry(recName(key)).crc32,
      close: () => zip.close(),
    };
    return finishIndex(path, "torch-zip", value, storages, records, bigEndian);
  } catch (e) {
    zip.close();
    throw e;
  }
}

/** Legacy (pre-1.6) stream: a run of pickles followed by the raw storages. */
function openLegacy(path: string): TorchCheckpointIndex {
  const file = Deno.openSync(path, { read: true });
  try {
    const fileSize = file.statSync().size;
    const storages = new Map<string, StorageRef>();
    const what = path;
    let want = Math.min(fileSize, 1 << 20);
    for (;;) {
      const head = new Uint8Array(want);
      readFully(file, 0, head, `checkpoint '${path}'`);
      try {
        const globals = buildAllowList();
        const opts = { what, globals };
        const magic = unpickle(head, opts);
        if (magic.value !== 0x1950a86a20f9469cfc6cn) {
          throw new Error(`checkpoint '${path}': legacy magic number mismatch`);
        }
        const proto = unpickle(head, opts, magic.end);
        if (proto.value !== 1001) {
          throw new Error(`checkpoint '${path}': legacy protocol ${proto.value} != 1001`);
        }
        const info = unpickle(head, opts, proto.end);
        const le = info.value instanceof Map ? info.value.get("little_endian") : true;
        const main = unpickle(head, {
          what,
          globals,
          persistentLoad: (pid) => storageFromPid(pid, storages, what),
        }, info.end);
        const keys = unpickle(head, opts, main.end);
        if (!Array.isArray(keys.value) || !keys.value.every((k) => typeof k === "string")) {
          throw new Error(`checkpoint '${path}': legacy storage key list is not a list of strings`);
        }
        // each storage: [i64 numel][numel × itemsize bytes], in key-list order
        const where = new Map<string, { pos: number; bytes: number }>();
        let pos = keys.end;
        const n8 = new Uint8Array(8);
        for (const key of keys.value as string[]) {
          const s = storages.get(key);
          if (!s) throw new Error(`checkpoint '${path}': legacy key '${key}' was never referenced`);
          if (pos + 8 > fileSize) throw new Error(`checkpoint '${path}': truncated before storage '${key}'`);
          readFully(file, pos, n8, `checkpoint '${path}'`);
          const numel = Number(new DataView(n8.buffer).getBigInt64(0, le !== false));
          const bytes = numel * TORCH_ITEMSIZE[s.dtype];
          if (pos + 8 + bytes > fileSize) {
            throw new Error(
              `checkpoint '${path}': storage '${key}' (${bytes} bytes) runs past the end (truncated?)`,
            );
          }
          where.set(key, { pos: pos + 8, bytes });
          pos += 8 + bytes;
        }
        const records: Records = {
          size: (key) => {
            const w = where.get(key);
            if (!w) throw new Error(`checkpoint '${path}': storage '${key}' has no data`);
            return w.bytes;
          },
          read: (key, p, dst) => {
            const w = where.get(key)!;
            if (p < 0 || p + dst.length > w.bytes) {
              throw new Error(`checkpoint '${path}': storage '${key}': range outside its ${w.bytes} bytes`);
            }
            readFully(file, w.pos + p, dst, `checkpoint '${path}' storage '${key}'`);
          },
          crc: () => null,
          close: () => file.close(),
        };
        return finishIndex(path, "torch-legacy", main.value, storages, records, le === false);
      } catch (e) {
        if (e instanceof PickleTruncated && want < fileSize) {
          want = Math.min(fileSize, want * 4);
          continue;
        }
        if (e instanceof PickleTruncated) throw new Error(`checkpoint '${path}': truncated (${e.message})`);
        throw e;
      }
    }
  } catch (e) {
    file.close();
    throw e;
  }
}

/** Torch's persistent id for a storage: ('storage', StorageType, key, location, numel[, view]). */
function storageFromPid(pid: PyValue, storages: Map<string, StorageRef>, what: string): StorageRef {
  if (!Array.isArray(pid) || pid[0] !== "storage" || pid.length < 5) {
    throw new Error(`pickle '${what}': persistent id is not a torch storage reference`);
  }
  const [, type, key, location, numel] = pid;
  const dtype = storageDtype(type);
  if (!dtype) {
    const name = type instanceof PyGlobal ? type.qualname : describe(type);
    throw new Error(
      `pickle '${what}': storage '${String(key)}' has unsupported storage type '${name}' ` +
        `(readable: float32/64, float16, bfloat16, int64/32/16/8, uint8, bool)`,
    );
  }
  if (typeof key !== "string" || typeof numel !== "number" || numel < 0) {
    throw new Error(`pickle '${what}': malformed storage reference for '${String(key)}'`);
  }
  let s = storages.get(key);
  if (!s) {
    s = new StorageRef(key, dtype, String(location), numel);
    storages.set(key, s);
  }
  if (pid.length > 5 && pid[5] !== null) {
    // legacy storage views: (view_key, offset, view_size) into the root storage
    const v = pid[5];
    if (!Array.isArray(v) || typeof v[1] !== "number" || typeof v[2] !== "number") {
      throw new Error(`pickle '${what}': malformed storage view of '${key}'`);
    }
    return new StorageRef(key, dtype, String(location), numel, v[1], v[2]);
  }
  return s;
}

function finishIndex(
  path: string,
  format: "torch-zip" | "torch-legacy",
  root: PyValue,
  storages: Map<string, StorageRef>,
  records: Records,
  bigEndian: boolean,
): TorchCheckpointIndex {
  checkTree(root, path);
  const refs = new Map<string, TensorRef>();
  const entries: CheckpointEntry[] = [];
  const firstOnStorage = new Map<string, string>();
  walk(root, "", (name, ref) => {
    if (refs.has(name)) return;
    const key = ref.storage.key;
    const itemsize = TORCH_ITEMSIZE[ref.dtype];
    // the record must hold every element the view touches
    const rec = records.size(key);
    const viewStart = ref.storage.viewOffset;
    const span = ref.numel === 0 ? 0 : ref.maxIndex() + 1;
    if ((viewStart + span) * itemsize > rec) {
      throw new Error(
        `checkpoint '${path}': tensor '${name}' ${fmtShape(ref.shape)} (offset ${ref.offset}, stride ` +
          `${fmtShape(ref.stride)}) needs ${(viewStart + span) * itemsize} bytes of storage '${key}', ` +
          `which has ${rec}`,
      );
    }
    refs.set(name, ref);
    const shared = firstOnStorage.get(key);
    if (shared === undefined) firstOnStorage.set(key, name);
    entries.push({
      name,
      shape: [...ref.shape],
      dtype: ref.dtype,
      bytes: ref.numel * itemsize,
      storage: key,
      offset: ref.offset,
      stride: [...ref.stride],
      contiguous: ref.contiguous,
      ...(shared !== undefined ? { sharedWith: shared } : {}),
    });
  });
  void storages;
  return { path, format, root, entries, refs, bigEndian, records };
}

const MAX_NODES = 5_000_000, MAX_DEPTH = 1000;

/**
 * Guards the recursive walks below against hostile trees: a container inside itself (a cycle),
 * nesting deeper than MAX_DEPTH, or shared containers that expand past MAX_NODES visits
 * (a "billion laughs" of lists holding the same list twice). Iterative, so it cannot overflow.
 */
function checkTree(root: PyValue, what: string): void {
  const onPath = new Set<object>();
  const stack: { v: PyValue; depth: number; exit?: boolean }[] = [{ v: root, depth: 0 }];
  let visits = 0;
  while (stack.length) {
    const { v, depth, exit } = stack.pop()!;
    if (exit) {
      onPath.delete(v as object);
      continue;
    }
    if (!(v instanceof Map) && !Array.isArray(v)) continue;
    if (++visits > MAX_NODES) {
      throw new Error(`checkpoint '${what}': object tree expands past ${MAX_NODES} nodes`);
    }
    if (depth > MAX_DEPTH) {
      throw new Error(`checkpoint '${what}': containers nested deeper than ${MAX_DEPTH}`);
    }
    if (onPath.has(v)) throw new Error(`checkpoint '${what}': a container contains itself (cycle)`);
    onPath.add(v);
    stack.push({ v, depth, exit: true });
    const kids = v instanceof Map ? [...v.values()] : v;
    for (const x of kids) stack.push({ v: x, depth: depth + 1 });
  }
}

/** Visits every TensorRef in a value tree with its dotted name. */
function walk(v: PyValue, name: string, visit: (name: string, ref: TensorRef) => void): void {
  if (v instanceof TensorRef) visit(name, v);
  else if (v instanceof Map) {
    for (const [k, x] of v) walk(x, name ? `${name}.${keyName(k)}` : keyName(k), visit);
  } else if (Array.isArray(v)) v.forEach((x, i) => walk(x, name ? `${name}.${i}` : String(i), visit));
}

function keyName(k: PyValue): string {
  if (typeof k === "string" || typeof k === "number" || typeof k === "bigint") return String(k);
  if (typeof k === "boolean") return k ? "True" : "False";
  if (k === null) return "None";
  return JSON.stringify(k);
}

/** Lists a checkpoint's tensors (torch zip, legacy torch or safetensors) without loading data. */
export function listCheckpoint(path: string): CheckpointEntry[] {
  if (checkpointFormat(path) === "safetensors") return listSafetensors(path);
  const idx = openTorchCheckpoint(path);
  idx.records.close();
  return idx.entries;
}

const ST_DTYPES: Record<string, TorchDType> = {
  F64: "float64",
  F32: "float32",
  F16: "float16",
  BF16: "bfloat16",
  I64: "int64",
  I32: "int32",
  I16: "int16",
  I8: "int8",
  U8: "uint8",
  BOOL: "bool",
};

/** The safetensors dtype name of a torch dtype. */
export function safetensorsDtype(d: TorchDType): string {
  return Object.entries(ST_DTYPES).find(([, t]) => t === d)![0];
}

/** Reads only a safetensors header (8 + header bytes) and lists its tensors. */
export function listSafetensors(path: string): CheckpointEntry[] {
  const f = Deno.openSync(path, { read: true });
  try {
    const size = f.statSync().size;
    const n8 = new Uint8Array(8);
    readFully(f, 0, n8, `safetensors '${path}'`);
    const n = Number(new DataView(n8.buffer).getBigUint64(0, true));
    if (n > 100_000_000 || 8 + n > size) {
      throw new Error(`safetensors '${path}': header length ${n} is invalid`);
    }
    const hb = new Uint8Array(n);
    readFully(f, 8, hb, `safetensors '${path}'`);
    const header = JSON.parse(new TextDecoder().decode(hb)) as Record<string, unknown>;
    const out: CheckpointEntry[] = [];
    for (const [name, raw] of Object.entries(header)) {
      if (name === "__metadata__") continue;
      const e = raw as { dtype: string; shape: number[]; data_offsets: [number, number] };
      const dtype = ST_DTYPES[e.dtype];
      if (!dtype) throw new Error(`safetensors '${path}': tensor '${name}' has unsupported dtype ${e.dtype}`);
      const stride: number[] = [];
      let s = 1;
      for (let i = e.shape.length - 1; i >= 0; i--) {
        stride[i] = s;
        s *= e.shape[i];
      }
      const bytes = e.data_offsets[1] - e.data_offsets[0];
      if (bytes !== s * TORCH_ITEMSIZE[dtype] || 8 + n + e.data_offsets[1] > size) {
        throw new Error(`safetensors '${path}': tensor '${name}' data_offsets do not match its shape/file`);
      }
      out.push({ name, shape: e.shape, dtype, bytes, storage: null, offset: 0, stride, contiguous: true });
    }
    return out;
  } finally {
    f.close();
  }
}

/** Options of {@link loadTorchCheckpoint}. */
export interface TorchLoadOptions {
  /** Load only the tensors whose dotted name passes (the rest stay TensorRef in `root`). */
  filter?: (name: string) => boolean;
  /** Device of the returned tensors (default cpu; cuda copies after the CPU conversion). */
  device?: Device;
  /** Check CRC-32 of every record read (default true; zip format only). */
  verify?: boolean;
  /** Called after each chunk with bytes read so far and the total to read. */
  onProgress?: (done: number, total: number) => void;
}

/** A loaded checkpoint; `dispose()` frees its tensors. */
export interface TorchCheckpoint {
  path: string;
  format: "torch-zip" | "torch-legacy";
  /** The object tree with loaded tensors in place of their references. */
  root: PyValue;
  /** Loaded tensors by dotted name (tied views share one Storage). */
  tensors: Map<string, Tensor>;
  /** All tensors of the file (also the ones the filter skipped). */
  entries: CheckpointEntry[];
  /** Frees every loaded tensor. */
  dispose(): void;
}

/** Loads a torch checkpoint's tensors into engine memory (see the module notes for dtypes). */
export function loadTorchCheckpoint(path: string, opts: TorchLoadOptions = {}): TorchCheckpoint {
  const idx = openTorchCheckpoint(path);
  const tensors = new Map<string, Tensor>();
  try {
    const chosen = idx.entries.filter((e) => !opts.filter || opts.filter(e.name));
    const total = chosen.reduce((s, e) => s + e.bytes, 0);
    let done = 0;
    const progress = (n: number) => {
      done += n;
      opts.onProgress?.(done, total);
    };
    const reader = new TensorReader(idx, opts.verify ?? true);
    const byView = new Map<string, Tensor>();
    for (const e of chosen) {
      const ref = idx.refs.get(e.name)!;
      const viewKey = `${ref.storage.key}|${ref.storage.viewOffset + ref.offset}|${ref.shape}|${ref.stride}`;
      const same = byView.get(viewKey);
      let t: Tensor;
      if (same) {
        t = same.viewAs(ref.shape); // tied weights: one Storage, two names
        progress(e.bytes);
      } else {
        t = reader.load(e.name, ref, progress);
        if (opts.device && opts.device !== "cpu") {
          const d = toDevice(t, opts.device);
          t.dispose();
          t = d;
        }
        byView.set(viewKey, t);
      }
      t.requiresGrad = false;
      tensors.set(e.name, t);
    }
    reader.finish();
    const root = replaceRefs(idx.root, "", tensors);
    return {
      path,
      format: idx.format,
      root,
      tensors,
      entries: idx.entries,
      dispose() {
        for (const t of tensors.values()) t.dispose();
      },
    };
  } catch (e) {
    for (const t of tensors.values()) t.dispose();
    throw e;
  } finally {
    idx.records.close();
  }
}

/**
 * Loads the state dict under `key` (dotted, e.g. "model" for LAVIS checkpoints; "" = the whole
 * file) with names relative to it. Returns the tensors; the caller disposes them.
 */
export function loadTorchStateDict(
  path: string,
  key = "",
  opts: Omit<TorchLoadOptions, "filter"> = {},
): Map<string, Tensor> {
  const pre = key ? key + "." : "";
  const ck = loadTorchCheckpoint(path, { ...opts, filter: (n) => n.startsWith(pre) });
  const out = new Map<string, Tensor>();
  for (const [n, t] of ck.tensors) out.set(n.slice(pre.length), t);
  if (key && !out.size) {
    throw new Error(`checkpoint '${path}': no tensors under '${key}' (top-level: ${topKeys(ck.root)})`);
  }
  return out;
}

function topKeys(v: PyValue): string {
  return v instanceof Map ? [...v.keys()].map(keyName).join(", ") : "not a dict";
}

function replaceRefs(v: PyValue, name: string, tensors: Map<string, Tensor>): PyValue {
  if (v instanceof TensorRef) return tensors.get(name) ?? v;
  if (v instanceof Map) {
    const m = new Map<PyValue, PyValue>();
    for (const [k, x] of v) m.set(k, replaceRefs(x, name ? `${name}.${keyName(k)}` : keyName(k), tensors));
    return m;
  }
  if (Array.isArray(v)) return v.map((x, i) => replaceRefs(x, name ? `${name}.${i}` : String(i), tensors));
  return v;
}

/** Reads tensors out of storage records, chunk by chunk, converting dtypes. */
class TensorReader {
  #idx: TorchCheckpointIndex;
  #verify: boolean;
  #scratch = new Uint8Array(0);
  /** Records whose CRC was checked (or that need a separate pass). */
  #checked = new Set<string>();
  #partial = new Set<string>();

  constructor(idx: TorchCheckpointIndex, verify: boolean) {
    this.#idx = idx;
    this.#verify = verify;
  }

  #buf(n: number): Uint8Array {
    if (this.#scratch.length < n) this.#scratch = new Uint8Array(n);
    return this.#scratch.subarray(0, n);
  }

  /** One tensor into a fresh CPU engine tensor. */
  load(name: string, ref: TensorRef, progress: (n: number) => void): Tensor {
    const { records, bigEndian } = this.#idx;
    const key = ref.storage.key, dtype = ref.dtype, size = TORCH_ITEMSIZE[dtype];
    const engine = isFloat(dtype) ? "float32" : "int32";
    const out = Tensor.empty(ref.shape, engine, "cpu");
    try {
      const n = ref.numel;
      if (n === 0) return out;
      const dstBuf = out.storage.hostBuffer();
      const dst = engine === "float32" ? new Float32Array(dstBuf, 0, n) : new Int32Array(dstBuf, 0, n);
      const base = (ref.storage.viewOffset + ref.offset) * size;
      const recBytes = records.size(key);
      if (ref.contiguous) {
        const whole = base === 0 && n * size === recBytes;
        const wantCrc = whole && this.#verify ? records.crc(key) : null;
        let crc = 0;
        const per = Math.floor(CHUNK / 8);
        for (let i = 0; i < n; i += per) {
          const m = Math.min(per, n - i);
          const direct = size === 4 && !bigEndian;
          const chunk = direct ? new Uint8Array(dstBuf, i * 4, m * 4) : this.#buf(m * size);
          records.read(key, base + i * size, chunk);
          if (wantCrc !== null) crc = crc32(chunk, crc);
          if (!direct) convert(dtype, chunk, m, dst, i, bigEndian, name);
          progress(m * size);
        }
        if (wantCrc !== null) {
          if (crc !== wantCrc) {
            throw new Error(
              `checkpoint '${this.#idx.path}': storage '${key}' (tensor '${name}') CRC-32 ${hex(crc)} != ` +
                `${hex(wantCrc)} (corrupt)`,
            );
          }
          this.#checked.add(key);
        } else this.#partial.add(key);
      } else {
        // strided view: read the span it touches once, convert, then gather
        const span = ref.maxIndex() + 1;
        const raw = this.#buf(span * size);
        records.read(key, base, raw);
        const flat = engine === "float32" ? new Float32Array(span) : new Int32Array(span);
        convert(dtype, raw, span, flat, 0, bigEndian, name);
        gather(flat, ref.shape, ref.stride, dst);
        this.#partial.add(key);
        progress(n * size);
      }
      return out;
    } catch (e) {
      out.dispose();
      throw e;
    }
  }

  /** CRC pass over records only read in part (strided or partial views). */
  finish(): void {
    if (!this.#verify) return;
    const { records, path } = this.#idx;
    for (const key of this.#partial) {
      if (this.#checked.has(key)) continue;
      const want = records.crc(key);
      if (want === null) continue;
      const size = records.size(key);
      let crc = 0;
      for (let p = 0; p < size; p += CHUNK) {
        const b = this.#buf(Math.min(CHUNK, size - p));
        records.read(key, p, b);
        crc = crc32(b, crc);
      }
      if (crc !== want) {
        throw new Error(
          `checkpoint '${path}': storage '${key}' CRC-32 ${hex(crc)} != ${hex(want)} (corrupt)`,
        );
      }
      this.#checked.add(key);
    }
  }

  /** Raw element bytes of a tensor (file dtype, little-endian, row-major), chunk by chunk. */
  rawBytes(ref: TensorRef, sink: (b: Uint8Array) => void): void {
    const { records, bigEndian } = this.#idx;
    const size = TORCH_ITEMSIZE[ref.dtype], n = ref.numel;
    if (!n) return;
    const base = (ref.storage.viewOffset + ref.offset) * size;
    if (ref.contiguous) {
      for (let p = 0; p < n * size; p += CHUNK) {
        const b = this.#buf(Math.min(CHUNK, n * size - p));
        records.read(ref.storage.key, base + p, b);
        if (bigEndian) swapBytes(b, size);
        sink(b);
      }
      return;
    }
    const span = ref.maxIndex() + 1;
    const raw = new Uint8Array(span * size);
    records.read(ref.storage.key, base, raw);
    if (bigEndian) swapBytes(raw, size);
    const out = new Uint8Array(n * size);
    let o = 0;
    forEachIndex(ref.shape, ref.stride, (src) => {
      out.set(raw.subarray(src * size, src * size + size), o);
      o += size;
    });
    sink(out);
  }
}

function isFloat(d: TorchDType): boolean {
  return d === "float32" || d === "float64" || d === "float16" || d === "bfloat16";
}

/** Visits storage indices of a strided view in row-major order. */
function forEachIndex(shape: readonly number[], stride: readonly number[], f: (src: number) => void): void {
  const nd = shape.length;
  if (nd === 0) return f(0);
  const idx = new Array(nd).fill(0);
  let src = 0;
  for (;;) {
    f(src);
    let d = nd - 1;
    while (d >= 0) {
      idx[d]++;
      src += stride[d];
      if (idx[d] < shape[d]) break;
      src -= stride[d] * shape[d];
      idx[d] = 0;
      d--;
    }
    if (d < 0) return;
  }
}

function gather(
  flat: Float32Array | Int32Array,
  shape: readonly number[],
  stride: readonly number[],
  dst: Float32Array | Int32Array,
): void {
  let o = 0;
  forEachIndex(shape, stride, (src) => {
    dst[o++] = flat[src];
  });
}

function swapBytes(b: Uint8Array, size: number): void {
  if (size === 1) return;
  for (let i = 0; i < b.length; i += size) {
    for (let a = i, z = i + size - 1; a < z; a++, z--) {
      const t = b[a];
      b[a] = b[z];
      b[z] = t;
    }
  }
}

const HALF = (() => {
  const t = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const s = h & 0x8000 ? -1 : 1, e = (h >> 10) & 0x1f, f = h & 0x3ff;
    t[h] = e === 0
      ? s * f * 2 ** -24
      : e === 31
      ? (f ? NaN : s * Infinity)
      : s * (1 + f / 1024) * 2 ** (e - 15);
  }
  return t;
})();

/** Converts `count` elements of `dtype` (in `src`, offset 0) into `dst[at..]`. */
function convert(
  dtype: TorchDType,
  src: Uint8Array,
  count: number,
  dst: Float32Array | Int32Array,
  at: number,
  bigEndian: boolean,
  name: string,
): void {
  if (bigEndian) swapBytes(src, TORCH_ITEMSIZE[dtype]);
  // src comes from our scratch buffer (offset 0), so typed views are aligned
  const buf = src.buffer, off = src.byteOffset;
  switch (dtype) {
    case "float32":
      dst.set(new Float32Array(buf, off, count), at);
      break;
    case "int32":
      dst.set(new Int32Array(buf, off, count), at);
      break;
    case "float64":
      dst.set(new Float64Array(buf, off, count), at);
      break;
    case "float16": {
      const h = new Uint16Array(buf, off, count);
      for (let i = 0; i < count; i++) dst[at + i] = HALF[h[i]];
      break;
    }
    case "bfloat16": {
      const h = new Uint16Array(buf, off, count);
      const bits = new Uint32Array(dst.buffer, dst.byteOffset + at * 4, count);
      for (let i = 0; i < count; i++) bits[i] = h[i] << 16;
      break;
    }
    case "int64": {
      const w = new Int32Array(buf, off, count * 2);
      for (let i = 0; i < count; i++) {
        const lo = w[2 * i], hi = w[2 * i + 1];
        if (hi !== lo >> 31) {
          const v = (BigInt(hi) << 32n) | BigInt(lo >>> 0);
          throw new Error(
            `tensor '${name}': int64 value ${v} at [${at + i}] does not fit the engine's int32`,
          );
        }
        dst[at + i] = lo;
      }
      break;
    }
    case "int16":
      dst.set(new Int16Array(buf, off, count), at);
      break;
    case "int8":
      dst.set(new Int8Array(buf, off, count), at);
      break;
    case "uint8":
    case "bool":
      dst.set(new Uint8Array(buf, off, count), at);
      break;
  }
}

/** Options of {@link convertToSafetensors}. */
export interface ConvertOptions {
  /** "keep" writes the file's dtypes (default); "engine" writes float32 / int32. */
  dtype?: "keep" | "engine";
  /** Only the tensors under this dotted key, names relative to it ("model" for LAVIS files). */
  key?: string;
  /** Progress in bytes written. */
  onProgress?: (done: number, total: number) => void;
}

/**
 * Converts a torch checkpoint to safetensors, streaming one tensor at a time into
 * `<out>.tmp-<pid>`, renamed over `out` only when complete. Non-tensor values go to
 * `__metadata__` only when they are strings (safetensors' rule); returns the tensor count.
 */
export function convertToSafetensors(input: string, out: string, opts: ConvertOptions = {}): number {
  const idx = openTorchCheckpoint(input);
  const tmp = `${out}.tmp-${Deno.pid}`;
  let file: Deno.FsFile | null = null;
  try {
    const pre = opts.key ? opts.key + "." : "";
    const chosen = idx.entries.filter((e) => e.name.startsWith(pre));
    if (opts.key && !chosen.length) throw new Error(`checkpoint '${input}': no tensors under '${opts.key}'`);
    const engine = opts.dtype === "engine";
    const header: Record<string, unknown> = { __metadata__: { format: "pt", source: "torch checkpoint" } };
    let off = 0;
    const sorted = [...chosen].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of sorted) {
      const n = e.shape.reduce((a, b) => a * b, 1);
      const dt = engine ? (isFloat(e.dtype) ? "F32" : "I32") : safetensorsDtype(e.dtype);
      const bytes = engine ? n * 4 : e.bytes;
      header[e.name.slice(pre.length)] = { dtype: dt, shape: e.shape, data_offsets: [off, off + bytes] };
      off += bytes;
    }
    let json = new TextEncoder().encode(JSON.stringify(header));
    const padded = Math.ceil(json.length / 8) * 8;
    if (padded !== json.length) {
      const p = new Uint8Array(padded).fill(0x20);
      p.set(json);
      json = p;
    }
    file = Deno.openSync(tmp, { write: true, create: true, truncate: true });
    const write = (b: Uint8Array) => {
      let o = 0;
      while (o < b.length) o += file!.writeSync(b.subarray(o));
    };
    const len = new Uint8Array(8);
    new DataView(len.buffer).setBigUint64(0, BigInt(json.length), true);
    write(len);
    write(json);
    const reader = new TensorReader(idx, true);
    let done = 0;
    for (const e of sorted) {
      const ref = idx.refs.get(e.name)!;
      if (engine) {
        const t = reader.load(e.name, ref, () => {});
        try {
          if (t.size) write(new Uint8Array(t.storage.hostBuffer(), 0, t.size * 4));
          done += t.size * 4;
        } finally {
          t.dispose();
        }
      } else {
        reader.rawBytes(ref, (b) => {
          write(b);
          done += b.length;
        });
      }
      opts.onProgress?.(done, off);
    }
    reader.finish();
    file.close();
    file = null;
    Deno.renameSync(tmp, out);
    return sorted.length;
  } catch (e) {
    try {
      file?.close();
    } catch { /* closed */ }
    try {
      Deno.removeSync(tmp);
    } catch { /* never created */ }
    throw e;
  } finally {
    idx.records.close();
  }
}
