/**
 * The Tensor: a shape, a dtype and a reference-counted native Storage, plus the autograd
 * fields (requiresGrad, grad, the node that made it). Tensors are always contiguous row-major;
 * view-like ops (permute, slice, ...) copy with one native strided-copy kernel, reshape shares
 * storage. Memory has an owner: `dispose()` / `using`, or the enclosing `tidy` scope.
 * @module
 */
import { type Device, Storage } from "./storage.ts";
import { checkShape, fmtShape, numel, type Shape } from "./shape.ts";
import { track } from "./scope.ts";
import { mem } from "../backend/cpu.ts";

/** Element types: float32 for values, int32 for indices. */
export type DType = "float32" | "int32";

/** One recorded op on the autograd tape. */
export interface GradNode {
  /** Op name, for errors and debugging. */
  op: string;
  /** The op's tensor inputs, in order. */
  inputs: Tensor[];
  /** Gradients of the inputs given the output's gradient (null: no gradient flows). */
  backward: (grad: Tensor) => (Tensor | null)[];
  /** Tensors only the backward uses; freed when the graph is released (see autograd/tape.ts). */
  saved?: Tensor[];
  /** Set once a backward without retainGraph has run through this node. */
  released?: boolean;
  /**
   * Tensors whose data the backward reads (each holds one `readers` count for this node):
   * the declared inputs, the output if declared, and `saved`. Dropped when the node is released.
   */
  pinned?: Tensor[];
  /** Whether the op declared what its backward reads (else it pins every input and its output). */
  declared?: boolean;
}

/** Host <-> device transfer functions of a non-CPU backend. */
export interface DeviceTransfer {
  toHost(src: Storage, bytes: number, dst: ArrayBuffer): void;
  fromHost(src: ArrayBufferView, dst: Storage): void;
  zero(dst: Storage, bytes: number): void;
}

const transfers: Partial<Record<Device, DeviceTransfer>> = {};

/** Installs a device's transfer functions (src/backend/cuda.ts). */
export function registerTransfer(device: Device, t: DeviceTransfer): void {
  transfers[device] = t;
}

let defaultDevice: Device = "cpu";

/** Device new tensors go to when none is given. */
export function getDefaultDevice(): Device {
  return defaultDevice;
}

/** Sets the default device (see src/backend/device.ts for `auto`). */
export function setDefaultDevice(d: Device): void {
  defaultDevice = d;
}

let nextId = 1;

// Host views handed out by data() / dataI32(), one per CPU storage; detached when it is freed.
const hostViews = new WeakMap<Storage, ArrayBuffer>();

function detachHostView(s: Storage): void {
  const b = hostViews.get(s);
  if (!b) return;
  hostViews.delete(s);
  // transfer(0) detaches b (every typed array on it drops to length 0) without touching the memory
  b.transfer(0);
}

/** An n-dimensional array in native memory. */
export class Tensor {
  /** Unique id, increasing in creation order (debugging, tape bookkeeping). */
  readonly id = nextId++;
  readonly shape: readonly number[];
  readonly dtype: DType;
  /** Whether gradients flow to this tensor. */
  requiresGrad = false;
  /** Accumulated gradient (leaves only); owned by this tensor. */
  grad: Tensor | null = null;
  /** The op that produced this tensor (null for leaves and no-grad results). */
  node: GradNode | null = null;
  /** Optional name (parameters). */
  name?: string;
  /**
   * Recorded graph nodes whose backward still reads this tensor's data (see autograd/tape.ts
   * `record`); when 0 the graph needs only its shape.
   */
  readers = 0;
  /**
   * Set when a `graphTidy` scope handed this tensor to its parent only because the graph reads
   * it: no user code refers to it, so the backward frees it once its last reader has run.
   */
  graphOwned = false;
  #storage: Storage | null;
  #hollow = false;
  readonly #device: Device;

  /** Wraps a storage (takes one reference). Prefer the factory functions. */
  constructor(storage: Storage, shape: Shape, dtype: DType = "float32") {
    checkShape(shape);
    if (numel(shape) * 4 > storage.bytes) {
      throw new Error(`tensor ${fmtShape(shape)} does not fit its storage (${storage.bytes} bytes)`);
    }
    this.#storage = storage;
    this.#device = storage.device;
    this.shape = Object.freeze([...shape]);
    this.dtype = dtype;
    track(this);
  }

  /** Uninitialised tensor from the caching allocator. */
  static empty(shape: Shape, dtype: DType = "float32", device: Device = defaultDevice): Tensor {
    checkShape(shape, "empty");
    return new Tensor(Storage.alloc(numel(shape) * 4, device), shape, dtype);
  }

  /** The id the next tensor will get (ids only grow: tensors made later have ids >= this). */
  static nextId(): number {
    return nextId;
  }

  /** Number of elements. */
  get size(): number {
    return numel(this.shape);
  }
  /** Number of axes. */
  get ndim(): number {
    return this.shape.length;
  }
  /** Where the data lives. */
  get device(): Device {
    return this.#device;
  }
  /** Whether the memory was released. */
  get disposed(): boolean {
    return this.#storage === null;
  }
  /**
   * Whether the memory was released by a `graphTidy` scope while the tensor stays a node of
   * the autograd graph (no backward reads its data; gradients still flow through it).
   */
  get hollow(): boolean {
    return this.#hollow;
  }
  /** The storage; throws if disposed. */
  get storage(): Storage {
    if (!this.#storage) {
      throw new Error(
        `tensor #${this.id} ${fmtShape(this.shape)} used after dispose()` +
          (this.#hollow
            ? ` (its data was freed by graphTidy because no recorded backward declared reading it; ` +
              `the op '${this.node?.op}' or a consumer's record() under-declares its reads)`
            : ""),
      );
    }
    return this.#storage;
  }
  /** Native pointer to the first element (valid for one native call). */
  get ptr(): Deno.PointerObject {
    return this.storage.ptr;
  }

  /**
   * Host view of a float32 tensor: on the CPU no copy (writes go to the tensor), on other
   * devices a copy. The view is valid while the memory lives: when the last tensor sharing it
   * is disposed (directly or by its `tidy` scope) the view is detached (length 0, indexed reads
   * give undefined, writes are dropped, iteration throws a TypeError naming the detached buffer), so a view that escapes can never read or write memory
   * another tensor owns now, even after `emptyCache`.
   */
  data(): Float32Array {
    if (this.dtype !== "float32") throw new Error(`data(): tensor is ${this.dtype}; use dataI32()`);
    return new Float32Array(this.hostBuffer(), 0, this.size);
  }
  /** Host view of an int32 tensor (same lifetime rules as `data()`). */
  dataI32(): Int32Array {
    if (this.dtype !== "int32") throw new Error(`dataI32(): tensor is ${this.dtype}`);
    return new Int32Array(this.hostBuffer(), 0, this.size);
  }
  private hostBuffer(): ArrayBuffer {
    const s = this.storage;
    if (s.device === "cpu") {
      // one buffer per storage, owned here so release can detach it (see dispose)
      let b = hostViews.get(s);
      if (!b) hostViews.set(s, b = Deno.UnsafePointerView.getArrayBuffer(s.ptr, s.bytes));
      return b;
    }
    const t = transfers[s.device];
    if (!t) throw new Error(`no transfer for device ${s.device}`);
    const buf = new ArrayBuffer(this.size * 4);
    t.toHost(s, this.size * 4, buf);
    return buf;
  }

  /** Copy of the values as a plain array (any device). */
  toArray(): number[] {
    return Array.from(this.dtype === "int32" ? this.dataI32() : this.data());
  }
  /** The single value of a one-element tensor. */
  item(): number {
    if (this.size !== 1) throw new Error(`item(): tensor ${fmtShape(this.shape)} has ${this.size} elements`);
    return this.dtype === "int32" ? this.dataI32()[0] : this.data()[0];
  }

  /** Overwrites the contents from a host array of the same size. */
  set(values: ArrayLike<number>): this {
    if (values.length !== this.size) {
      throw new Error(`set(): ${values.length} values for tensor ${fmtShape(this.shape)}`);
    }
    const s = this.storage;
    s.markWritten();
    if (s.device === "cpu") {
      if (this.dtype === "int32") new Int32Array(s.hostBuffer(), 0, this.size).set(values);
      else new Float32Array(s.hostBuffer(), 0, this.size).set(values);
    } else {
      const host = this.dtype === "int32" ? Int32Array.from(values) : Float32Array.from(values);
      transfers[s.device]!.fromHost(host, s);
    }
    return this;
  }

  /** Sets every element to 0. */
  zero_(): this {
    const s = this.storage;
    s.markWritten();
    if (s.device === "cpu") mem.ft_mem_zero(s.ptr, BigInt(this.size * 4));
    else transfers[s.device]!.zero(s, this.size * 4);
    return this;
  }

  /**
   * Releases the memory (idempotent). Also drops the gradient. The autograd node stays, so a
   * later backward that reaches this tensor fails naming it and its op (it is not a leaf).
   */
  dispose(): void {
    const s = this.#storage;
    if (s) {
      s.release();
      this.#storage = null;
      if (s.refs === 0) detachHostView(s);
    }
    if (this.grad) {
      this.grad.dispose();
      this.grad = null;
    }
  }
  [Symbol.dispose](): void {
    this.dispose();
  }

  /**
   * Frees the memory but keeps the tensor as a node of the autograd graph (gradients still flow
   * through it; its data may not be read any more). Used by `graphTidy` for activations no
   * backward reads.
   */
  hollowOut(): void {
    if (this.#storage === null) return;
    this.#hollow = true;
    this.dispose();
  }

  /** Marks this leaf as needing gradients; returns it. */
  requireGrad(on = true): this {
    this.requiresGrad = on;
    return this;
  }

  /** A new tensor sharing this storage with another shape (same element count). */
  viewAs(shape: Shape): Tensor {
    if (numel(shape) !== this.size) {
      throw new Error(`reshape: cannot view ${fmtShape(this.shape)} as ${fmtShape(shape)}`);
    }
    return new Tensor(this.storage.retain(), shape, this.dtype);
  }

  /** Short description for messages. */
  toString(): string {
    return `Tensor${fmtShape(this.shape)} ${this.dtype} ${this.disposed ? "(disposed)" : this.device}`;
  }
}

/** Copies `src` into a fresh tensor on `device` (same dtype and shape). */
export function toDevice(src: Tensor, device: Device): Tensor {
  if (src.device === device) return src;
  const out = Tensor.empty(src.shape, src.dtype, device);
  if (device === "cpu") {
    transfers[src.device]!.toHost(src.storage, src.size * 4, out.storage.hostBuffer());
  } else if (src.device === "cpu") {
    const view = new Uint8Array(src.storage.hostBuffer(), 0, src.size * 4);
    transfers[device]!.fromHost(view, out.storage);
  } else {
    throw new Error(`toDevice: ${src.device} -> ${device} is not supported`);
  }
  return out;
}
