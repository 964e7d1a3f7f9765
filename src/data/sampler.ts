/**
 * Distributed sampling (PyTorch `DistributedSampler` semantics): every epoch has one seeded
 * permutation of the whole data set, the same on every rank; rank r of W takes the positions
 * r, r + W, r + 2W, ... of it, and the epoch is padded by wrapping to the front so every rank gets
 * ceil(n / W) samples (or cut to floor(n / W) with dropLast). Consecutive global steps of
 * b samples per rank consume consecutive blocks of b·W positions, so a run resumes at a *global*
 * position in the epoch and may change W on resume. Test: .tools/deno test --allow-all tests/data/sampler_test.ts
 * @module
 */
import { Rng } from "./rng.ts";

/** Options of `DistributedSampler`. */
export interface SamplerOptions {
  /** Shuffle each epoch (default true). */
  shuffle?: boolean;
  /** Base seed; the permutation of epoch e is a function of (seed, e) only (default 0). */
  seed?: number;
  /** Cut the tail so every rank gets floor(n / W) samples (default false: pad by wrapping, like PyTorch). */
  dropLast?: boolean;
}

/** The permutation of an epoch: Fisher–Yates over an Rng stream derived from (seed, epoch). */
export function epochPermutation(n: number, seed: number, epoch: number, shuffle = true): number[] {
  const idx = Array.from({ length: n }, (_, i) => i);
  // 0x10ad keys the data-order stream apart from the augmentation streams (seed, epoch, index)
  return shuffle ? Rng.derive(seed, 0x10ad, epoch).shuffle(idx) : idx;
}

/** How many samples each rank gets of an n-sample epoch from global position `start` on. */
export function rankCount(n: number, worldSize: number, start = 0, dropLast = false): number {
  const remaining = Math.max(0, n - start);
  return dropLast ? Math.floor(remaining / worldSize) : Math.ceil(remaining / worldSize);
}

/**
 * Rank `rank`'s share of `order` from global position `start` on: positions start + rank + W·j
 * (wrapping past the end), j < ceil((n - start) / W) (floor with dropLast). With start = 0 this
 * is PyTorch's DistributedSampler split.
 */
export function rankSlice(
  order: number[],
  rank: number,
  worldSize: number,
  start = 0,
  dropLast = false,
): number[] {
  const n = order.length;
  if (!Number.isInteger(start) || start < 0) {
    throw new Error(`rankSlice: start ${start} must be an integer >= 0`);
  }
  const per = rankCount(n, worldSize, start, dropLast);
  const out: number[] = new Array(per);
  for (let j = 0; j < per; j++) out[j] = order[(start + rank + worldSize * j) % n];
  return out;
}

/** Which data-set indices rank `rank` of `worldSize` visits in an epoch. */
export class DistributedSampler {
  private readonly shuffle: boolean;
  private readonly seed: number;
  private readonly dropLast: boolean;

  /** `length`: data-set size. */
  constructor(
    readonly length: number,
    readonly rank: number,
    readonly worldSize: number,
    opts: SamplerOptions = {},
  ) {
    if (!Number.isInteger(length) || length < 0) {
      throw new Error(`DistributedSampler: length ${length} must be an integer >= 0`);
    }
    if (
      !Number.isInteger(worldSize) || worldSize < 1 || !Number.isInteger(rank) || rank < 0 ||
      rank >= worldSize
    ) {
      throw new Error(`DistributedSampler: need integers 0 <= rank (${rank}) < worldSize (${worldSize})`);
    }
    this.shuffle = opts.shuffle ?? true;
    this.seed = opts.seed ?? 0;
    this.dropLast = opts.dropLast ?? false;
  }

  /** Samples per rank in a whole epoch. */
  get perRank(): number {
    return this.dropLast ? Math.floor(this.length / this.worldSize) : Math.ceil(this.length / this.worldSize);
  }

  /** The epoch's permutation of the whole data set (identical on every rank). */
  order(epoch: number): number[] {
    return epochPermutation(this.length, this.seed, epoch, this.shuffle);
  }

  /**
   * This rank's indices of `epoch`. `skip`: this rank's samples already consumed (same world size);
   * `start`: global samples already consumed in the epoch by all ranks together (resume with any
   * world size). Both may be given; they add up.
   */
  indices(epoch: number, skip = 0, start = 0): number[] {
    return rankSlice(
      this.order(epoch),
      this.rank,
      this.worldSize,
      start + skip * this.worldSize,
      this.dropLast,
    );
  }
}
