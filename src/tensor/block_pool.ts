/**
 * Host-only bookkeeping of the device caching allocator (the CUDA pool of storage.ts): segments
 * obtained from the raw allocator are carved into blocks, a request takes the best-fitting free
 * block of any size and splits off the rest, a freed block merges with free neighbours of the
 * same stream, and a segment that is wholly free goes back on `release()` (emptyCache). Blocks
 * carry the stream they were last used on; handing one to another stream first calls `join`,
 * which makes the new stream wait (on the device) for the old one. A failed raw allocation
 * releases the idle segments (and the backend's extra caches) and retries. No device calls here:
 * tests/cuda/block_pool_test.ts drives it with a simulated raw allocator on the CPU.
 * @module
 */

/** What the pool needs from a backend: raw segments, the current stream and cross-stream joins. */
export interface SegmentSource {
  /** A raw segment of exactly `bytes` (throws when the device is out of memory). */
  alloc(bytes: number): Deno.PointerObject;
  /** Returns a raw segment. */
  free(ptr: Deno.PointerObject): void;
  /** The current stream (0n: the library's own stream); blocks are tagged with it. */
  stream?(): bigint;
  /** Makes stream `waiter` wait for the work queued so far on `signaller`. */
  join?(waiter: bigint, signaller: bigint): void;
  /** Frees caches outside the pool (workspaces, packed weights) before a retry. */
  releaseExtra?(): void;
}

/** Requests up to this size come from 2 MiB segments shared with other small blocks. */
export const SMALL_REQUEST = 1 << 20;
/** Segment size of the small pool. */
export const SMALL_SEGMENT = 2 << 20;
/** Requests below this (and above SMALL_REQUEST) get a 20 MiB segment to split. */
export const MEDIUM_REQUEST = 10 << 20;
/** Segment size for medium requests. */
export const MEDIUM_SEGMENT = 20 << 20;
/** Block sizes are multiples of this (device pointers stay 512-byte aligned). */
export const BLOCK_ALIGN = 512;

interface Segment {
  ptr: Deno.PointerObject;
  bytes: number;
  small: boolean;
}

/** A carved piece of a segment; handed out by `alloc`, returned by `free`. */
export interface Block {
  /** Device pointer (segment base + offset). */
  readonly ptr: Deno.PointerObject;
  /** Bytes of the block (>= the request, multiple of BLOCK_ALIGN). */
  readonly size: number;
}

class Node implements Block {
  ptr: Deno.PointerObject;
  constructor(
    readonly seg: Segment,
    readonly offset: number,
    public size: number,
    public stream: bigint,
    public prev: Node | null,
    public next: Node | null,
    public free: boolean,
  ) {
    this.ptr = offset === 0
      ? seg.ptr
      : Deno.UnsafePointer.create(Deno.UnsafePointer.value(seg.ptr) + BigInt(offset))!;
  }
}

/** Counters of one pool (bytes). */
export interface PoolStats {
  /** Bytes of blocks handed out. */
  allocatedBytes: number;
  /** Blocks handed out. */
  allocatedBlocks: number;
  /** Bytes of all segments held from the raw allocator. */
  reservedBytes: number;
  /** Segments held. */
  segments: number;
  /** Highest allocatedBytes seen. */
  peakBytes: number;
  /** Free blocks (fragments) in the pool. */
  freeBlocks: number;
}

/** Rounds a request up to a block size (multiple of BLOCK_ALIGN, at least one). */
export function blockSize(bytes: number): number {
  return Math.max(BLOCK_ALIGN, Math.ceil(bytes / BLOCK_ALIGN) * BLOCK_ALIGN);
}

/** Segment size for a block of `size` bytes (the rest of the segment is split off for reuse). */
export function segmentSize(size: number): number {
  if (size <= SMALL_REQUEST) return SMALL_SEGMENT;
  if (size < MEDIUM_REQUEST) return MEDIUM_SEGMENT;
  return Math.ceil(size / SMALL_SEGMENT) * SMALL_SEGMENT;
}

/** The caching device pool (one per device). */
export class BlockPool {
  readonly #src: SegmentSource;
  // free blocks sorted by (size, address order of creation): small and large pools kept apart
  // so small tensors do not fragment the large segments
  readonly #free: [Node[], Node[]] = [[], []];
  readonly #segments = new Set<Segment>();
  readonly #live = new Set<Node>();
  #allocated = 0;
  #reserved = 0;
  #peak = 0;

  constructor(src: SegmentSource) {
    this.#src = src;
  }

  /** A block of at least `bytes` on the current stream. */
  alloc(bytes: number): Block {
    const size = blockSize(bytes);
    const small = size <= SMALL_REQUEST;
    const stream = this.#src.stream?.() ?? 0n;
    let node = this.#takeFree(size, small, stream);
    if (!node) node = this.#newSegment(size, small, stream);
    else if (node.stream !== stream) {
      // freed on another stream: its kernels may still use it until this stream waits for them
      this.#src.join?.(stream, node.stream);
      node.stream = stream;
    }
    this.#split(node, size, small);
    node.free = false;
    this.#live.add(node);
    this.#allocated += node.size;
    if (this.#allocated > this.#peak) this.#peak = this.#allocated;
    return node;
  }

  /** Returns a block (merged with free neighbours of the same stream; memory stays cached). */
  free(block: Block): void {
    if (!(block instanceof Node) || !this.#live.has(block)) {
      throw new Error("BlockPool.free: block is not live in this pool (double free?)");
    }
    const node = block;
    this.#live.delete(node);
    this.#allocated -= node.size;
    node.free = true;
    let n = node;
    const prev = n.prev, next = n.next;
    if (prev && prev.free && prev.stream === n.stream) {
      this.#unlist(prev);
      prev.size += n.size;
      prev.next = n.next;
      if (n.next) n.next.prev = prev;
      n = prev;
    }
    if (next && next.free && next.stream === n.stream) {
      this.#unlist(next);
      n.size += next.size;
      n.next = next.next;
      if (next.next) next.next.prev = n;
    }
    this.#list(n);
  }

  /**
   * Moves every block tagged `from` to stream `to` (a stream about to be destroyed: the caller
   * first makes `to` wait for it), merging free neighbours that now share a tag.
   */
  retag(from: bigint, to: bigint): void {
    if (from === to) return;
    for (const n of this.#live) if (n.stream === from) n.stream = to;
    const moved: Node[] = [];
    for (const list of this.#free) {
      for (let i = list.length - 1; i >= 0; i--) {
        if (list[i].stream === from) moved.push(...list.splice(i, 1));
      }
    }
    for (const n of moved) n.stream = to;
    const gone = new Set<Node>();
    for (let n of moved) {
      if (gone.has(n)) continue;
      while (n.prev && n.prev.free && n.prev.stream === to) n = n.prev; // leftmost of the run
      if (!moved.includes(n)) this.#unlist(n);
      while (n.next && n.next.free && n.next.stream === to) {
        const m = n.next;
        if (moved.includes(m)) gone.add(m);
        else this.#unlist(m);
        n.size += m.size;
        n.next = m.next;
        if (m.next) m.next.prev = n;
      }
      gone.add(n);
      this.#list(n);
    }
  }

  /** Gives every wholly free segment back to the raw allocator; returns the bytes released. */
  release(): number {
    let out = 0;
    for (const list of this.#free) {
      for (let i = list.length - 1; i >= 0; i--) {
        const n = list[i];
        if (n.prev || n.next) continue; // part of a segment still in use
        list.splice(i, 1);
        this.#segments.delete(n.seg);
        this.#reserved -= n.seg.bytes;
        out += n.seg.bytes;
        this.#src.free(n.seg.ptr);
      }
    }
    return out;
  }

  /** Current counters. */
  stats(): PoolStats {
    return {
      allocatedBytes: this.#allocated,
      allocatedBlocks: this.#live.size,
      reservedBytes: this.#reserved,
      segments: this.#segments.size,
      peakBytes: this.#peak,
      freeBlocks: this.#free[0].length + this.#free[1].length,
    };
  }

  // Best fit: the smallest free block >= size; among equal sizes one of the current stream.
  #takeFree(size: number, small: boolean, stream: bigint): Node | null {
    const list = this.#free[small ? 0 : 1];
    let i = lowerBound(list, size);
    if (i >= list.length) return null;
    const best = list[i].size;
    for (let j = i; j < list.length && list[j].size === best; j++) {
      if (list[j].stream === stream) {
        i = j;
        break;
      }
    }
    // a large block much bigger than the request is still split (below), so any fit will do
    return list.splice(i, 1)[0];
  }

  #newSegment(size: number, small: boolean, stream: bigint): Node {
    const want = segmentSize(size);
    let bytes = want, ptr: Deno.PointerObject;
    try {
      ptr = this.#src.alloc(bytes);
    } catch (first) {
      // out of memory: give back idle segments and the backend's extra caches, then retry,
      // finally with the smallest segment that holds the request
      this.#src.releaseExtra?.(); // first: extras may hold pool blocks (packed weights)
      const freed = this.release();
      try {
        ptr = this.#src.alloc(bytes);
      } catch (e) {
        const min = small ? SMALL_SEGMENT : Math.ceil(size / SMALL_SEGMENT) * SMALL_SEGMENT;
        if (min >= want) throw freed ? e : first;
        bytes = min;
        ptr = this.#src.alloc(bytes);
      }
    }
    const seg: Segment = { ptr, bytes, small };
    this.#segments.add(seg);
    this.#reserved += bytes;
    return new Node(seg, 0, bytes, stream, null, null, true);
  }

  // Cuts `node` to `size`, listing the remainder as a free block when it is worth keeping
  // (small pool: any 512 B; large pool: over 1 MiB, so large blocks do not splinter).
  #split(node: Node, size: number, small: boolean): void {
    const rest = node.size - size;
    if (rest < (small ? BLOCK_ALIGN : SMALL_REQUEST + 1)) return;
    const tail = new Node(node.seg, node.offset + size, rest, node.stream, node, node.next, true);
    if (node.next) node.next.prev = tail;
    node.next = tail;
    node.size = size;
    this.#list(tail);
  }

  #list(n: Node): void {
    const list = this.#free[n.seg.small ? 0 : 1];
    list.splice(lowerBound(list, n.size), 0, n);
  }

  #unlist(n: Node): void {
    const list = this.#free[n.seg.small ? 0 : 1];
    for (let i = lowerBound(list, n.size); i < list.length; i++) {
      if (list[i] === n) {
        list.splice(i, 1);
        return;
      }
    }
    throw new Error("BlockPool: free block missing from its list (pool corrupted)");
  }
}

function lowerBound(list: Node[], size: number): number {
  let lo = 0, hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (list[mid].size < size) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
