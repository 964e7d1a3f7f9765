/**
 * Native memory behind tensors, with a caching allocator per device. Freed blocks go back to a
 * free list keyed by rounded size and are handed out again: on our VMs first-touching fresh
 * memory costs ~3 ms per MiB, so a malloc/free per op would dominate a training step.
 * Sizes round up to 64 B below 4 KiB and to quarter powers of two above (≤ 25% slack).
 * @module
 */
import { mem } from "../backend/cpu.ts";
import { MAX_TENSOR_BYTES } from "./shape.ts";

/** Where a buffer lives. */
export type Device = "cpu" | "cuda";

/** What a backend provides to manage raw memory on its device. */
export interface RawAllocator {
  alloc(bytes: number): Deno.PointerObject;
  free(ptr: Deno.PointerObject): void;
  /** Bytes the backend caches outside the pool (e.g. CUDA scratch workspaces). */
  extraBytes?(): number;
  /** Returns those bytes to the system (called by emptyCache). */
  releaseExtra?(): void;
}

const cpuRaw: RawAllocator = {
  alloc(bytes) {
    const p = mem.ft_mem_alloc(BigInt(bytes));
    if (p === null) throw new Error(`out of host memory allocating ${bytes} bytes`);
    return p;
  },
  free(p) {
    mem.ft_mem_free(p);
  },
};

const rawAllocators: Record<Device, RawAllocator | null> = { cpu: cpuRaw, cuda: null };

/** Installs the raw allocator of a device backend (called by src/backend/cuda.ts). */
export function registerAllocator(device: Device, a: RawAllocator): void {
  rawAllocators[device] = a;
}

/** Rounds a request to its size bucket. */
export function bucketSize(bytes: number): number {
  if (bytes <= 0) return 64;
  if (bytes <= 4096) return Math.ceil(bytes / 64) * 64;
  const p = 2 ** Math.floor(Math.log2(bytes));
  const q = p / 4;
  return Math.ceil(bytes / q) * q;
}

interface Pool {
  free: Map<number, Deno.PointerObject[]>;
  liveBytes: number;
  liveBlocks: number;
  cachedBytes: number;
  peakBytes: number;
}

const pools: Record<Device, Pool> = {
  cpu: { free: new Map(), liveBytes: 0, liveBlocks: 0, cachedBytes: 0, peakBytes: 0 },
  cuda: { free: new Map(), liveBytes: 0, liveBlocks: 0, cachedBytes: 0, peakBytes: 0 },
};

/** A reference-counted block of device memory. Views (reshape) share one Storage. */
export class Storage {
  /** Native pointer (host or device memory). */
  readonly ptr: Deno.PointerObject;
  /** Usable bytes (the bucket may be larger). */
  readonly bytes: number;
  /** Bucket capacity, the key it returns to. */
  readonly capacity: number;
  readonly device: Device;
  #refs = 1;
  #buffer: ArrayBuffer | null = null;

  private constructor(ptr: Deno.PointerObject, bytes: number, capacity: number, device: Device) {
    this.ptr = ptr;
    this.bytes = bytes;
    this.capacity = capacity;
    this.device = device;
  }

  /** Takes a block of at least `bytes` from the device's pool (contents undefined). */
  static alloc(bytes: number, device: Device = "cpu"): Storage {
    if (!Number.isSafeInteger(bytes) || bytes < 0 || bytes > MAX_TENSOR_BYTES) {
      // checked here too: a wrapped or fractional count must never reach ft_mem_alloc's int64
      throw new Error(
        `Storage.alloc: ${bytes} bytes: expected an integer in [0, 2^47] (the tensor size limit)`,
      );
    }
    const raw = rawAllocators[device];
    if (!raw) throw new Error(`device '${device}' has no allocator (backend not loaded)`);
    const cap = bucketSize(bytes);
    const pool = pools[device];
    let block = cap;
    let ptr = pool.free.get(cap)?.pop();
    // Device pools: a miss may take the smallest cached block up to 2x the size (shapes that
    // vary, e.g. sequence lengths, would otherwise leave every other bucket dead weight).
    if (!ptr && device !== "cpu") {
      for (const [size, list] of pool.free) {
        if (size > cap && size <= 2 * cap && list.length > 0 && (block === cap || size < block)) block = size;
      }
      if (block !== cap) ptr = pool.free.get(block)!.pop();
    }
    if (ptr) pool.cachedBytes -= block;
    else {
      try {
        ptr = raw.alloc(cap);
      } catch (e) {
        // Out of memory: give every cached block back and try once more before failing.
        if (pool.cachedBytes === 0 && !raw.extraBytes?.()) throw e;
        emptyCache(device);
        ptr = raw.alloc(cap);
      }
    }
    pool.liveBytes += block;
    pool.liveBlocks++;
    if (pool.liveBytes > pool.peakBytes) pool.peakBytes = pool.liveBytes;
    return new Storage(ptr, bytes, block, device);
  }

  /** Live references (tensors sharing this block). */
  get refs(): number {
    return this.#refs;
  }

  /** Adds a reference (a view). */
  retain(): this {
    if (this.#refs <= 0) throw new Error("storage used after it was freed");
    this.#refs++;
    return this;
  }

  /** Drops a reference; the last one returns the block to its pool. */
  release(): void {
    if (this.#refs <= 0) return;
    if (--this.#refs > 0) return;
    const pool = pools[this.device];
    let list = pool.free.get(this.capacity);
    if (!list) pool.free.set(this.capacity, list = []);
    list.push(this.ptr);
    pool.liveBytes -= this.capacity;
    pool.liveBlocks--;
    pool.cachedBytes += this.capacity;
    this.#buffer = null;
  }

  /** Host memory as an ArrayBuffer (cpu only; valid while the storage lives). */
  hostBuffer(): ArrayBuffer {
    if (this.device !== "cpu") throw new Error(`storage on '${this.device}' has no host view`);
    if (this.#refs <= 0) throw new Error("storage used after it was freed");
    if (!this.#buffer) {
      this.#buffer = Deno.UnsafePointerView.getArrayBuffer(this.ptr, this.capacity);
    }
    return this.#buffer;
  }
}

/** Memory counters for one device. */
export interface MemoryStats {
  liveBytes: number;
  liveBlocks: number;
  cachedBytes: number;
  peakBytes: number;
  /** Backend scratch outside the pool (CUDA workspaces; 0 on the CPU); emptyCache frees it. */
  workspaceBytes: number;
}

/** Live / cached / peak bytes of a device's pool; tests assert liveBytes returns to its start. */
export function memoryStats(device: Device = "cpu"): MemoryStats {
  const p = pools[device];
  return {
    liveBytes: p.liveBytes,
    liveBlocks: p.liveBlocks,
    cachedBytes: p.cachedBytes,
    peakBytes: p.peakBytes,
    workspaceBytes: rawAllocators[device]?.extraBytes?.() ?? 0,
  };
}

/** Returns every cached (free) block of a device to the system. */
export function emptyCache(device: Device = "cpu"): void {
  const p = pools[device];
  const raw = rawAllocators[device];
  if (!raw) return;
  for (const list of p.free.values()) for (const ptr of list) raw.free(ptr);
  p.free.clear();
  p.cachedBytes = 0;
  raw.releaseExtra?.();
}
