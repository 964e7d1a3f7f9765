/**
 * The allow-list of Python globals a torch checkpoint's pickle may name, and the references
 * they build. Each entry is implemented here in TypeScript; none runs Python. Why each is
 * allowed (the same set `torch.load(weights_only=True)` accepts, minus what we cannot hold):
 * - `torch._utils._rebuild_tensor_v2` / `_rebuild_tensor` (legacy): how every tensor is pickled;
 * - `torch._utils._rebuild_parameter` / `_rebuild_parameter_with_state`: `nn.Parameter`s;
 * - `torch._tensor._rebuild_from_type_v2`: tensors with a `__dict__`, only with type
 *   `torch.Tensor` or `torch.nn.parameter.Parameter`;
 * - `torch.<T>Storage`, `torch.UntypedStorage`: the dtype tag inside storage references;
 * - `collections.OrderedDict`: every `state_dict()`;
 * - `torch.Size`, `torch.device`, torch dtype objects: values inside optimizer/config state;
 * - `_codecs.encode`: how protocol 2 pickles Python 3 `bytes` (a latin-1 string to bytes);
 * - `builtins.set` / `frozenset` (and Python 2's `__builtin__`): plain sets in configs.
 * @module
 */
import type { AllowedGlobal, PyValue } from "./pickle.ts";
import { PyGlobal } from "./pickle.ts";
import { fmtShape } from "../tensor/shape.ts";

/** Dtypes of torch storages we read. */
export type TorchDType =
  | "float32"
  | "float64"
  | "float16"
  | "bfloat16"
  | "int64"
  | "int32"
  | "int16"
  | "int8"
  | "uint8"
  | "bool";

/** Bytes per element. */
export const TORCH_ITEMSIZE: Record<TorchDType, number> = {
  float32: 4,
  float64: 8,
  float16: 2,
  bfloat16: 2,
  int64: 8,
  int32: 4,
  int16: 2,
  int8: 1,
  uint8: 1,
  bool: 1,
};

const STORAGE_TYPES: Record<string, TorchDType> = {
  FloatStorage: "float32",
  DoubleStorage: "float64",
  HalfStorage: "float16",
  BFloat16Storage: "bfloat16",
  LongStorage: "int64",
  IntStorage: "int32",
  ShortStorage: "int16",
  CharStorage: "int8",
  ByteStorage: "uint8",
  BoolStorage: "bool",
  UntypedStorage: "uint8",
};

const UNSUPPORTED_STORAGES = [
  "ComplexFloatStorage",
  "ComplexDoubleStorage",
  "QInt8Storage",
  "QUInt8Storage",
  "QInt32Storage",
  "QUInt4x2Storage",
  "QUInt2x4Storage",
  "Float8_e4m3fnStorage",
  "Float8_e5m2Storage",
];

/** The dtype of a storage-type global (`torch.FloatStorage` ...) in a persistent id, or null. */
export function storageDtype(v: PyValue): TorchDType | null {
  if (!(v instanceof PyGlobal)) return null;
  if (v.qualname === "torch.storage.UntypedStorage") return "uint8";
  if (!v.qualname.startsWith("torch.")) return null;
  return STORAGE_TYPES[v.qualname.slice(6)] ?? null;
}

/** A storage record of the checkpoint (not loaded). */
export class StorageRef {
  /** Record key ("0", "1", ... in `data/<key>`). */
  readonly key: string;
  readonly dtype: TorchDType;
  /** Device it was saved from ("cpu", "cuda:0"); we load to our own device. */
  readonly location: string;
  /** Elements of the whole storage. */
  readonly numel: number;
  /** Element offset of a legacy storage view into its root storage (0 otherwise). */
  readonly viewOffset: number;
  /** Elements of a legacy view (= numel otherwise). */
  readonly viewSize: number;
  constructor(
    key: string,
    dtype: TorchDType,
    location: string,
    numel: number,
    viewOffset = 0,
    viewSize = -1,
  ) {
    this.key = key;
    this.dtype = dtype;
    this.location = location;
    this.numel = numel;
    this.viewOffset = viewOffset;
    this.viewSize = viewSize < 0 ? numel : viewSize;
  }
}

/** A tensor of the checkpoint: a strided view of a storage (not loaded). */
export class TensorRef {
  readonly storage: StorageRef;
  /** Element offset into the storage. */
  readonly offset: number;
  readonly shape: number[];
  readonly stride: number[];
  /** Whether it was saved with requires_grad (parameters). */
  requiresGrad: boolean;
  constructor(storage: StorageRef, offset: number, shape: number[], stride: number[], requiresGrad: boolean) {
    this.storage = storage;
    this.offset = offset;
    this.shape = shape;
    this.stride = stride;
    this.requiresGrad = requiresGrad;
  }
  /** The storage's dtype. */
  get dtype(): TorchDType {
    return this.storage.dtype;
  }
  /** Number of elements. */
  get numel(): number {
    return this.shape.reduce((a, b) => a * b, 1);
  }
  /** Largest storage index touched, relative to the view start (offset included). */
  maxIndex(): number {
    return this.shape.reduce((m, d, i) => m + (d - 1) * this.stride[i], this.offset) - this.offset;
  }
  /** Row-major contiguous (size-1 dims may have any stride). */
  get contiguous(): boolean {
    let want = 1;
    for (let i = this.shape.length - 1; i >= 0; i--) {
      if (this.shape[i] !== 1 && this.stride[i] !== want) return false;
      want *= this.shape[i];
    }
    return true;
  }
}

const isIntList = (v: PyValue): v is number[] =>
  Array.isArray(v) && v.every((x) => typeof x === "number" && Number.isSafeInteger(x) && x >= 0);

function rebuildTensor(args: PyValue[], requiresGrad: boolean): TensorRef {
  const [storage, offset, size, stride] = args;
  if (!(storage instanceof StorageRef)) throw new Error("_rebuild_tensor: first argument is not a storage");
  if (typeof offset !== "number" || !Number.isSafeInteger(offset) || offset < 0) {
    throw new Error(`_rebuild_tensor: bad storage offset ${String(offset)}`);
  }
  if (!isIntList(size) || !isIntList(stride) || size.length !== stride.length) {
    throw new Error(`_rebuild_tensor: bad size/stride ${JSON.stringify(size)} / ${JSON.stringify(stride)}`);
  }
  const t = new TensorRef(storage, offset, [...size], [...stride], requiresGrad);
  if (t.numel > 0 && storage.viewOffset + offset + t.maxIndex() >= storage.viewOffset + storage.viewSize) {
    throw new Error(
      `_rebuild_tensor: view ${fmtShape(size)} (offset ${offset}, stride ${fmtShape(stride)}) runs past ` +
        `storage '${storage.key}' of ${storage.viewSize} elements`,
    );
  }
  return t;
}

function asParameter(data: PyValue, requiresGrad: PyValue): TensorRef {
  if (!(data instanceof TensorRef)) throw new Error("_rebuild_parameter: data is not a tensor");
  data.requiresGrad = requiresGrad === true;
  return data;
}

const ignoreState = (obj: PyValue) => obj;

/** A fresh allow-list (module.name → TypeScript implementation). */
export function buildAllowList(): Map<string, AllowedGlobal> {
  const g = new Map<string, AllowedGlobal>();
  const tensorBuild = { build: ignoreState }; // tensor __dict__ state: not needed for weights
  g.set("torch._utils._rebuild_tensor_v2", { call: (a) => rebuildTensor(a, a[4] === true), ...tensorBuild });
  g.set("torch._utils._rebuild_tensor", { call: (a) => rebuildTensor(a, false), ...tensorBuild });
  g.set("torch._utils._rebuild_parameter", { call: (a) => asParameter(a[0], a[1]), ...tensorBuild });
  g.set("torch._utils._rebuild_parameter_with_state", {
    call: (a) => asParameter(a[0], a[1]),
    ...tensorBuild,
  });
  g.set("torch.Tensor", {});
  g.set("torch.nn.parameter.Parameter", {});
  g.set("torch._tensor._rebuild_from_type_v2", {
    call: ([fn, type, args]) => {
      if (
        !(type instanceof PyGlobal) ||
        !["torch.Tensor", "torch.nn.parameter.Parameter"].includes(type.qualname)
      ) {
        throw new Error("_rebuild_from_type_v2: only torch.Tensor / Parameter types are allowed");
      }
      if (!(fn instanceof PyGlobal) || !fn.def.call || !Array.isArray(args)) {
        throw new Error("_rebuild_from_type_v2: bad rebuild function");
      }
      return fn.def.call(args);
    },
    ...tensorBuild,
  });
  // referenced (never called) inside persistent ids; storageDtype() reads the dtype off the name
  for (const name of Object.keys(STORAGE_TYPES)) g.set(`torch.${name}`, {});
  g.set("torch.storage.UntypedStorage", {}); // torch 2.x spells the untyped storage's module in full
  // real storage types we cannot hold: allowed as names so the error says "unsupported storage
  // type" rather than treating an honest complex / quantized / float8 checkpoint as malicious
  for (const name of UNSUPPORTED_STORAGES) g.set(`torch.${name}`, {});
  g.set("collections.OrderedDict", {
    call: (a) => {
      const m = new Map<PyValue, PyValue>();
      if (a.length && Array.isArray(a[0])) {
        for (const kv of a[0]) if (Array.isArray(kv) && kv.length === 2) m.set(kv[0], kv[1]);
      }
      return m;
    },
    build: ignoreState, // `_metadata` (module versions), not needed to load weights
  });
  g.set("torch.Size", { call: (a) => (Array.isArray(a[0]) ? [...a[0]] : []) });
  g.set("torch.device", { call: (a) => a.map(String).join(":") });
  for (
    const dt of [
      "float32",
      "float64",
      "float16",
      "bfloat16",
      "int64",
      "int32",
      "int16",
      "int8",
      "uint8",
      "bool",
    ]
  ) {
    g.set(`torch.${dt}`, {});
  }
  g.set("_codecs.encode", {
    call: ([s, enc]) => {
      if (typeof s !== "string") throw new Error("_codecs.encode: not a string");
      if (enc === "latin1" || enc === "latin-1") return Uint8Array.from(s, (c) => c.charCodeAt(0) & 0xff);
      if (enc === "utf-8" || enc === "utf8") return new TextEncoder().encode(s);
      throw new Error(`_codecs.encode: encoding ${String(enc)} not allowed`);
    },
  });
  for (const m of ["builtins", "__builtin__"]) {
    for (const n of ["set", "frozenset"]) {
      g.set(`${m}.${n}`, { call: (a) => (Array.isArray(a[0]) ? [...a[0]] : []) });
    }
  }
  return g;
}
