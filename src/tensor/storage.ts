/**
 * Native memory behind tensors, with a caching allocator per device. Freed blocks go back to a
 * free list keyed by rounded size and are handed out again: on our VMs first-touching fresh
 * memory costs ~3 ms per MiB, so a malloc/free per op would dominate a training step.
 * Host sizes round up to 64 B below 4 KiB and to quarter powers of two above (≤ 25% slack).
 * Device pools are a `BlockPool` (block_pool.ts): best-fit reuse of cached blocks of any size,
 * split and merged, tagged with their stream, so varying shapes do not strand cached memory.
 * @module
 */
import { mem } from "../backend/cpu.ts";
import { MAX_TENSOR_BYTES } from "./shape.ts";
import { type Block, BlockPool } from "./block_pool.ts";

/** Where a buffer lives. */
export type Device = "cpu" | "cuda";

/** What a backend provides to manage raw memory on its device. */
export interface RawAllocator {
  alloc(bytes: number): Deno.PointerObject;
  free(ptr: Deno.PointerObject): void;
  /** Bytes the backend caches outside the pool (e.g. CUDA scratch workspaces). */
  extraBytes?(): number;
  /** Returns those bytes to the system (called by emptyCache and before an allocation retry). */
  releaseExtra?(): void;
  /** Device backends: the current stream (0n = the library's own); blocks are tagged with it. */
  stream?(): bigint;
  /** Device backends: stream `waiter` waits for the work queued on `signaller` (block reuse). */
  join?(waiter: bigint, signaller: bigint): void;
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

// Device (non-CPU) pools: segments carved into blocks; replaced when a backend registers.
const devicePools: Partial<Record<Device, BlockPool>> = {};

/**
 * Installs the raw allocator of a device backend (called by src/backend/cuda.ts). For a device
 * other than the CPU it replaces the block pool; blocks of the previous one are not freed.
 */
export function registerAllocator(device: Device, a: RawAllocator): void {
  rawAllocators[device] = a;
  if (device !== "cpu") devicePools[device] = new BlockPool(a);
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
  #block: Block | null;
  #version = 0;

  private constructor(
    ptr: Deno.PointerObject,
    bytes: number,
    capacity: number,
    device: Device,
    block: Block | null = null,
  ) {
    this.ptr = ptr;
    this.bytes = bytes;
    this.capacity = capacity;
    this.device = device;
    this.#block = block;
  }

  /** Write generation: bumped by in-place updates (optimizer steps, zero_, host writes). */
  get version(): number {
    return this.#version;
  }

  /** Marks the contents as changed (invalidates caches derived from them, e.g. packed weights). */
  markWritten(): void {
    this.#version++;
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
    const dp = devicePools[device];
    if (dp) {
      const b = dp.alloc(bytes); // best fit + split; retries after releasing idle segments
      return new Storage(b.ptr, bytes, b.size, device, b);
    }
    const cap = bucketSize(bytes);
    const pool = pools[device];
    let ptr = pool.free.get(cap)?.pop();
    if (ptr) pool.cachedBytes -= cap;
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
    pool.liveBytes += cap;
    pool.liveBlocks++;
    if (pool.liveBytes > pool.peakBytes) pool.peakBytes = pool.liveBytes;
    return new Storage(ptr, bytes, cap, device);
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
    if (this.#block) {
      devicePools[this.device]!.free(this.#block);
      this.#block = null;
      return;
    }
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

/**
 * Re-tags a device's blocks of stream `from` (about to be destroyed) as stream `to`; the caller
 * has made `to` wait for `from` on the device. No-op for pools without streams (the CPU).
 */
export function retagStream(device: Device, from: bigint, to: bigint): void {
  devicePools[device]?.retag(from, to);
}

/** Memory counters for one device. */
export interface MemoryStats {
  liveBytes: number;
  liveBlocks: number;
  cachedBytes: number;
  peakBytes: number;
  /** Backend scratch outside the pool (CUDA workspaces; 0 on the CPU); emptyCache frees it. */
  workspaceBytes: number;
  /** Device pools: raw segments held (cachedBytes counts their free parts). */
  segments?: number;
}

/** Live / cached / peak bytes of a device's pool; tests assert liveBytes returns to its start. */
export function memoryStats(device: Device = "cpu"): MemoryStats {
  const dp = devicePools[device];
  if (dp) {
    const s = dp.stats();
    return {
      liveBytes: s.allocatedBytes,
      liveBlocks: s.allocatedBlocks,
      cachedBytes: s.reservedBytes - s.allocatedBytes,
      peakBytes: s.peakBytes,
      workspaceBytes: rawAllocators[device]?.extraBytes?.() ?? 0,
      segments: s.segments,
    };
  }
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
  const dp = devicePools[device];
  if (dp) {
    raw.releaseExtra?.(); // first: it may hold pool blocks (packed weights)
    dp.release(); // segments still partly in use stay
    return;
  }
  for (const list of p.free.values()) for (const ptr of list) raw.free(ptr);
  p.free.clear();
  p.cachedBytes = 0;
  raw.releaseExtra?.();
}
