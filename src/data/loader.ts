/**
 * Batches for training and evaluation: seeded shuffling per epoch, batching, background
 * decoding in Web Workers with a prefetch queue (so the model does not wait on I/O), and
 * epoch/step accounting. Each sample's augmentation stream is derived from
 * (seed, epoch, index), so batches do not depend on the number of workers. With `rank` /
 * `worldSize` each process takes its DistributedSampler share of the epoch's permutation
 * (src/data/sampler.ts): every sample once per epoch across ranks, padded by wrapping.
 */
import { type Batch, type BatchItem, buildBatch } from "./batch.ts";
import type { MMTTRecord } from "./mmtt.ts";
import { Rng } from "./rng.ts";
import { epochPermutation, rankCount, rankSlice } from "./sampler.ts";

export type { Batch } from "./batch.ts";

/** Loader options. */
export interface LoaderOptions {
  batchSize: number;
  /** Model input size (square). */
  size: number;
  seed?: number;
  shuffle?: boolean;
  /** Random resized crop + flip (with caption side swap). */
  augment?: boolean;
  dropLast?: boolean;
  /** Decoding workers; 0 decodes on the calling thread. */
  workers?: number;
  /** Batches in flight ahead of the consumer. */
  prefetch?: number;
  /** Data-parallel: this process's rank (default 0) ... */
  rank?: number;
  /** ... of this many (default 1); each epoch is split DistributedSampler-style. */
  worldSize?: number;
}

interface Pending {
  resolve: (b: Batch) => void;
  reject: (e: Error) => void;
}

/** Iterates MMTT records as batches; `epoch` and `step` count what has been yielded. */
export class MMTTLoader {
  /** Completed epochs. */
  epoch = 0;
  /** Batches yielded so far (over all epochs). */
  step = 0;
  private workers: Worker[] = [];
  private ready: Promise<void>[] = [];
  private pending = new Map<number, Pending>();
  private nextJob = 0;

  /** This process's rank and the number of ranks sharing each epoch. */
  readonly rank: number;
  readonly worldSize: number;

  /** Create a loader; workers start at once. */
  constructor(private records: MMTTRecord[], private opts: LoaderOptions) {
    if (opts.batchSize < 1) throw new Error(`loader: expected batchSize ≥ 1, got ${opts.batchSize}`);
    this.rank = opts.rank ?? 0;
    this.worldSize = opts.worldSize ?? 1;
    if (
      !Number.isInteger(this.worldSize) || this.worldSize < 1 ||
      !(this.rank >= 0 && this.rank < this.worldSize)
    ) {
      throw new Error(`loader: need 0 <= rank (${this.rank}) < worldSize (${this.worldSize})`);
    }
    const n = opts.workers ?? 2;
    for (let i = 0; i < n; i++) {
      const w = new Worker(new URL("./loader_worker.ts", import.meta.url), { type: "module" });
      this.ready.push(
        new Promise((res) => {
          w.onmessage = (
            e: MessageEvent<{ ready?: boolean; job: number; batch?: Batch; error?: string }>,
          ) => {
            if (e.data.ready) return res();
            const p = this.pending.get(e.data.job);
            if (!p) return;
            this.pending.delete(e.data.job);
            if (e.data.error) p.reject(new Error(e.data.error));
            else p.resolve(e.data.batch!);
          };
        }),
      );
      w.onerror = (e) => {
        e.preventDefault();
        for (const p of this.pending.values()) p.reject(new Error(`loader worker failed: ${e.message}`));
        this.pending.clear();
      };
      this.workers.push(w);
    }
  }

  /** Batches per epoch (of this rank). */
  get stepsPerEpoch(): number {
    return this.stepsFrom(0);
  }

  /** This rank's batches in an epoch from global sample position `start` on. */
  stepsFrom(start: number): number {
    const per = rankCount(this.records.length, this.worldSize, start);
    const b = this.opts.batchSize;
    return this.opts.dropLast ? Math.floor(per / b) : Math.ceil(per / b);
  }

  /** Sample order of an epoch over the whole set (seeded permutation, or identity without shuffle). */
  order(epoch: number): number[] {
    return epochPermutation(this.records.length, this.opts.seed ?? 0, epoch, this.opts.shuffle !== false);
  }

  /**
   * This rank's samples of `epoch` from global position `start` (samples all ranks together have
   * consumed in the epoch): positions start + rank + worldSize·j of `order(epoch)`, wrapping.
   */
  rankOrder(epoch: number, start = 0): number[] {
    return rankSlice(this.order(epoch), this.rank, this.worldSize, Math.min(start, this.records.length));
  }

  private items(epoch: number, ids: number[]): BatchItem[] {
    return ids.map((i) => {
      const r = this.records[i];
      return {
        id: r.instance_id,
        imageFile: r.imageFile,
        maskFile: r.maskFile,
        caption: r.caption,
        multilabel: r.multilabel,
        seed: Rng.derive(this.opts.seed ?? 0, epoch, i).u32(),
      };
    });
  }

  private submit(items: BatchItem[]): Promise<Batch> {
    const aug = this.opts.augment ?? false;
    if (!this.workers.length) return Promise.resolve().then(() => buildBatch(items, this.opts.size, aug));
    const job = this.nextJob++;
    const w = this.workers[job % this.workers.length];
    return Promise.all(this.ready).then(() =>
      new Promise<Batch>((resolve, reject) => {
        this.pending.set(job, { resolve, reject });
        w.postMessage({ job, items, size: this.opts.size, augment: aug });
      })
    );
  }

  /**
   * Yield this rank's batches of the next epoch, decoding `prefetch` batches ahead. `skip` leaves
   * out this rank's first batches without decoding them; `start` begins at a global sample
   * position of the epoch (resuming mid-epoch, possibly with another world size).
   */
  async *epochBatches(skip = 0, start = 0): AsyncGenerator<Batch> {
    const epoch = this.epoch;
    const b = this.opts.batchSize;
    const from = start + skip * b * this.worldSize;
    const order = this.rankOrder(epoch, from);
    const groups: number[][] = [];
    const nGroups = this.stepsFrom(from);
    for (let s = 0; s < nGroups; s++) groups.push(order.slice(s * b, s * b + b));
    this.step += Math.max(0, this.stepsPerEpoch - nGroups);
    const ahead = Math.max(1, this.opts.prefetch ?? 2 * Math.max(1, this.workers.length));
    const queue: Promise<Batch>[] = [];
    let next = 0;
    while (next < groups.length && queue.length < ahead) {
      queue.push(this.submit(this.items(epoch, groups[next++])));
    }
    while (queue.length) {
      const batch = await queue.shift()!;
      if (next < groups.length) queue.push(this.submit(this.items(epoch, groups[next++])));
      this.step++;
      yield batch;
    }
    this.epoch++;
  }

  /** Stop the workers. */
  close(): void {
    for (const w of this.workers) w.terminate();
    this.workers = [];
  }
}
