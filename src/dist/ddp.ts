/**
 * Data-parallel helpers on a `ProcessGroup`: copy rank 0's parameters to every rank, average
 * gradients over ranks in flat buckets (one all-reduce per bucket instead of one per tensor),
 * and `DistributedSampler`, which gives each rank a disjoint, seed-deterministic slice of every
 * epoch's permutation. Test: .tools/deno test --allow-all tests/dist/
 * @module
 */
import { Tensor } from "../tensor/tensor.ts";
import type { ProcessGroup } from "./process_group.ts";

/** Overwrites every parameter with rank 0's values (call once before training). */
export function broadcastParameters(params: Tensor[], pg: ProcessGroup): void {
  if (pg.worldSize === 1) return;
  for (const p of params) pg.broadcast(p, 0);
}

/** Default bucket size in float32 elements (25 MB, PyTorch DDP's default). */
export const DEFAULT_BUCKET_ELEMENTS = (25 * 1024 * 1024) / 4;

/**
 * Replaces each `p.grad` by its mean over ranks. Grads are packed into flat buckets of at most
 * `bucketElements` floats (a tensor larger than that gets its own bucket). A parameter without a
 * gradient contributes zeros, so every rank issues the same all-reduces in the same order;
 * afterwards such a parameter gets a gradient only if some rank had one.
 */
export function allReduceGradients(
  params: Tensor[],
  pg: ProcessGroup,
  bucketElements = DEFAULT_BUCKET_ELEMENTS,
): void {
  if (pg.worldSize === 1) return;
  // flags: which params have a gradient on any rank (rank-local presence can differ)
  const has = new Float32Array(params.length);
  params.forEach((p, i) => has[i] = p.grad ? 1 : 0);
  pg.allReduceSum(has);
  const inv = 1 / pg.worldSize;
  let bucket: number[] = [];
  let fill = 0;
  const flush = () => {
    if (bucket.length === 0) return;
    const flat = new Float32Array(fill);
    let off = 0;
    for (const i of bucket) {
      const g = params[i].grad;
      if (g) flat.set(g.data(), off);
      off += params[i].size;
    }
    pg.allReduceSum(flat);
    off = 0;
    for (const i of bucket) {
      const p = params[i];
      const view = flat.subarray(off, off + p.size);
      for (let j = 0; j < view.length; j++) view[j] *= inv;
      if (!p.grad) p.grad = Tensor.empty(p.shape, "float32", p.device);
      p.grad.set(view);
      off += p.size;
    }
    bucket = [];
    fill = 0;
  };
  params.forEach((p, i) => {
    if (has[i] === 0) return;
    if (fill > 0 && fill + p.size > bucketElements) flush();
    bucket.push(i);
    fill += p.size;
  });
  flush();
}

/** Options of `DistributedSampler`. */
export interface SamplerOptions {
  /** Shuffle each epoch (default true). */
  shuffle?: boolean;
  /** Base seed; epoch e uses seed + e (default 0). */
  seed?: number;
  /** Drop the tail so every rank gets the same count (default false: pad by wrapping, like PyTorch). */
  dropLast?: boolean;
}

/**
 * Which dataset indices rank `rank` of `worldSize` visits in an epoch. Without dropLast the epoch is
 * padded by repeating its first indices, so every rank takes the same number of steps.
 */
export class DistributedSampler {
  private readonly shuffle: boolean;
  private readonly seed: number;
  private readonly dropLast: boolean;

  /** `length`: dataset size. */
  constructor(
    readonly length: number,
    readonly rank: number,
    readonly worldSize: number,
    opts: SamplerOptions = {},
  ) {
    if (!Number.isInteger(length) || length < 0) {
      throw new Error(`DistributedSampler: length ${length} must be >= 0`);
    }
    if (!(worldSize >= 1) || !(rank >= 0 && rank < worldSize)) {
      throw new Error(`DistributedSampler: need 0 <= rank (${rank}) < worldSize (${worldSize})`);
    }
    this.shuffle = opts.shuffle ?? true;
    this.seed = opts.seed ?? 0;
    this.dropLast = opts.dropLast ?? false;
  }

  /** Samples per rank per epoch. */
  get perRank(): number {
    return this.dropLast ? Math.floor(this.length / this.worldSize) : Math.ceil(this.length / this.worldSize);
  }

  /** This rank's indices for `epoch`, starting after `skip` already-consumed ones (resume). */
  indices(epoch: number, skip = 0): number[] {
    const order = Array.from({ length: this.length }, (_, i) => i);
    if (this.shuffle) {
      // Fisher–Yates with a mulberry32 stream seeded by (seed, epoch): same order on every rank
      let s = (this.seed * 0x9e3779b1 + epoch * 0x85ebca6b + 1) >>> 0;
      const next = () => {
        s = (s + 0x6d2b79f5) >>> 0;
        let t = s;
        t = Math.imul(t ^ (t >>> 15), t | 1);
        t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
        return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
      };
      for (let i = order.length - 1; i > 0; i--) {
        const j = Math.floor(next() * (i + 1));
        [order[i], order[j]] = [order[j], order[i]];
      }
    }
    const total = this.perRank * this.worldSize;
    const padded = total <= order.length ? order.slice(0, total) : order.concat(
      Array.from({ length: total - order.length }, (_, i) => order[i % Math.max(order.length, 1)]),
    );
    const mine: number[] = [];
    for (let i = this.rank; i < padded.length; i += this.worldSize) mine.push(padded[i]);
    return mine.slice(skip);
  }
}

/**
 * Rank `rank`'s share of `items` for data-parallel training: the first floor(n / worldSize) *
 * worldSize items dealt round-robin, so shards are disjoint and equally long (every rank takes the
 * same number of steps; at most worldSize - 1 items are left out).
 */
export function shardForRank<T>(items: T[], rank: number, worldSize: number): T[] {
  if (!(rank >= 0 && rank < worldSize)) {
    throw new Error(`shardForRank: need 0 <= rank (${rank}) < worldSize (${worldSize})`);
  }
  const per = Math.floor(items.length / worldSize);
  if (per < 1) throw new Error(`shardForRank: ${items.length} items cannot be split over ${worldSize} ranks`);
  const out: T[] = [];
  for (let i = 0; i < per; i++) out.push(items[i * worldSize + rank]);
  return out;
}
