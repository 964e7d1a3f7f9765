/**
 * Cache of packed 16-bit copies of weight operands for CUDA autocast GEMMs, so a parameter is
 * rounded to bf16/fp16 and re-laid-out once per update instead of on every call. An entry is
 * keyed on the source Storage and a layout variant, and is valid while the source's write
 * generation (`Storage.version`, bumped by optimizer steps, zero_, set, loadStateDict, axpby /
 * addInto) equals the one it was packed at. Entries of freed sources are dropped on the next miss;
 * the cache is bounded (least recently used first out) and emptied by `emptyCache("cuda")`.
 * Pure host logic: tests/cuda/packed_weights_test.ts checks it on the CPU with a counting packer.
 * @module
 */
import type { Storage } from "../tensor/storage.ts";

interface Entry {
  version: number;
  packed: Storage;
  used: number;
}

/** Counters of a cache. */
export interface PackedCacheStats {
  entries: number;
  bytes: number;
  hits: number;
  misses: number;
}

/** Packed copies keyed on (source storage, variant), invalidated by the source's version. */
export class PackedWeightCache {
  readonly #alloc: (bytes: number) => Storage;
  readonly #limit: number;
  readonly #map = new Map<Storage, Map<string, Entry>>();
  #bytes = 0;
  #tick = 0;
  #hits = 0;
  #misses = 0;

  /** `alloc` gives a block for a packed copy; `limitBytes` bounds the total kept. */
  constructor(alloc: (bytes: number) => Storage, limitBytes: number) {
    this.#alloc = alloc;
    this.#limit = limitBytes;
  }

  /**
   * The packed copy of `src` in layout `variant` (e.g. "bf16 (out,in)") of `bytes`; `pack(dst)`
   * fills a fresh block when there is no current one. The result is owned by the cache: use it
   * only until the next call (a later miss may evict it).
   */
  get(src: Storage, variant: string, bytes: number, pack: (dst: Storage) => void): Storage {
    if (src.refs <= 0) throw new Error("PackedWeightCache.get: source storage was freed");
    let byVariant = this.#map.get(src);
    const e = byVariant?.get(variant);
    if (e && e.version === src.version && e.packed.bytes >= bytes) {
      this.#hits++;
      e.used = ++this.#tick;
      return e.packed;
    }
    this.#misses++;
    if (e) this.#drop(src, variant);
    this.#sweep();
    while (this.#bytes + bytes > this.#limit && this.#bytes > 0) this.#evictOldest();
    const packed = this.#alloc(bytes);
    try {
      pack(packed);
    } catch (err) {
      packed.release();
      throw err;
    }
    if (!byVariant || !this.#map.has(src)) this.#map.set(src, byVariant = new Map());
    byVariant.set(variant, { version: src.version, packed, used: ++this.#tick });
    this.#bytes += packed.bytes;
    return packed;
  }

  /** Releases every packed copy. */
  clear(): void {
    for (const [src, m] of this.#map) for (const v of [...m.keys()]) this.#drop(src, v);
  }

  /** Entries, bytes held, hits and misses so far. */
  stats(): PackedCacheStats {
    let entries = 0;
    for (const m of this.#map.values()) entries += m.size;
    return { entries, bytes: this.#bytes, hits: this.#hits, misses: this.#misses };
  }

  #drop(src: Storage, variant: string): void {
    const m = this.#map.get(src);
    const e = m?.get(variant);
    if (!m || !e) return;
    m.delete(variant);
    if (m.size === 0) this.#map.delete(src);
    this.#bytes -= e.packed.bytes;
    e.packed.release();
  }

  // Sources freed since (their Storage object is dead: a new tensor never reuses it).
  #sweep(): void {
    for (const [src, m] of this.#map) {
      if (src.refs <= 0) {
        for (const v of [...m.keys()]) this.#drop(src, v);
      }
    }
  }

  #evictOldest(): void {
    let best: [Storage, string] | null = null, t = Infinity;
    for (const [src, m] of this.#map) {
      for (const [v, e] of m) {
        if (e.used < t) {
          t = e.used;
          best = [src, v];
        }
      }
    }
    if (best) this.#drop(best[0], best[1]);
  }
}

let deviceCache: PackedWeightCache | null = null;

/** The CUDA device's cache (created on first use with `alloc`, bounded by `limitBytes`). */
export function packedWeights(alloc: (bytes: number) => Storage, limitBytes: number): PackedWeightCache {
  return deviceCache ??= new PackedWeightCache(alloc, limitBytes);
}

/** Frees the device cache's copies (emptyCache("cuda") and the out-of-memory retry call this). */
export function releasePackedWeights(): void {
  deviceCache?.clear();
}

/** The device cache if one was created (tests and memory reports read its stats). */
export function devicePackedWeights(): PackedWeightCache | null {
  return deviceCache;
}
