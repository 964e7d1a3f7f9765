/**
 * Data-parallel helpers on a `ProcessGroup`: copy rank 0's parameters to every rank, average
 * gradients over ranks in flat buckets (one all-reduce per bucket instead of one per tensor),
 * either after backward (`allReduceGradients`) or while backward still runs (`GradReducer`,
 * driven by the tape's `onGradReady`), and `DistributedSampler` (src/data/sampler.ts), which gives
 * each rank a disjoint, seed-deterministic slice of every epoch's permutation.
 * Test: .tools/deno test --allow-all tests/dist/
 * @module
 */
import { Tensor } from "../tensor/tensor.ts";
import { keep } from "../tensor/scope.ts";
import type { AsyncWork, ProcessGroup } from "./process_group.ts";

export { DistributedSampler, type SamplerOptions } from "../data/sampler.ts";

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

/** One bucket of `GradReducer`: params (indices into its list) packed back to back, then one flag each. */
interface Bucket {
  params: number[];
  /** Offset of each param's gradient in `flat`. */
  offsets: number[];
  /** [sum of sizes + params.length] float32: gradients, then "this rank has a gradient" flags. */
  flat: Float32Array;
  /** Params whose gradient has been packed this step. */
  ready: number;
  /** Pending all-reduce (null before launch, or when it ran synchronously). */
  work: AsyncWork | null;
}

/** What `GradReducer.finish` did in a step. */
export interface ReducerStats {
  /** Buckets of the step. */
  buckets: number;
  /** Buckets whose all-reduce started from the tape's hook, i.e. while backward was still running. */
  launchedInBackward: number;
}

/**
 * Averages gradients over ranks while backward runs (PyTorch DDP's reducer). Parameters are put
 * in buckets of at most `bucketBytes` in reverse order (a model's last layers get their gradients
 * first). Pass `onGradReady` to the step's (last) `backward`: each parameter's final gradient is
 * packed as soon as the tape reports it, and a full bucket's all-reduce starts at once on the
 * communication thread, always in bucket order so every rank issues the same sequence. `finish()`
 * packs what the tape never reported (unused parameters: zeros, flag 0), launches the rest, waits
 * and writes back grad = sum / worldSize. A parameter no rank had a gradient for keeps none.
 */
export class GradReducer {
  private readonly buckets: Bucket[] = [];
  private readonly where = new Map<Tensor, [number, number]>();
  private next = 0;
  private inBackward = 0;
  private packed: boolean[];

  /** `params`: the same trainable list in the same order on every rank. */
  constructor(
    private readonly params: Tensor[],
    private readonly pg: ProcessGroup,
    bucketBytes = DEFAULT_BUCKET_ELEMENTS * 4,
  ) {
    if (!(bucketBytes > 0)) throw new Error(`GradReducer: bucketBytes must be > 0, got ${bucketBytes}`);
    const cap = Math.max(1, Math.floor(bucketBytes / 4));
    let cur: number[] = [], fill = 0;
    const close = () => {
      if (!cur.length) return;
      const offsets: number[] = [];
      let off = 0;
      for (const i of cur) offsets.push(off), off += params[i].size;
      this.buckets.push({
        params: cur,
        offsets,
        flat: new Float32Array(off + cur.length),
        ready: 0,
        work: null,
      });
      cur = [];
      fill = 0;
    };
    for (let i = params.length - 1; i >= 0; i--) {
      if (fill > 0 && fill + params[i].size > cap) close();
      cur.push(i);
      fill += params[i].size;
    }
    close();
    this.buckets.forEach((b, bi) =>
      b.params.forEach((pi, k) => {
        if (this.where.has(params[pi])) {
          throw new Error(
            `GradReducer: parameter '${params[pi].name ?? pi}' is listed twice (pass each tensor once)`,
          );
        }
        this.where.set(params[pi], [bi, k]);
      })
    );
    this.packed = new Array(params.length).fill(false);
  }

  /** Buckets whose all-reduce has started in the current step. */
  get launched(): number {
    return this.next;
  }

  /** Number of buckets (all-reduces per step). */
  get bucketCount(): number {
    return this.buckets.length;
  }

  /** Hook for `backward(loss, { onGradReady })`: packs the leaf's final gradient, launches full buckets. */
  readonly onGradReady = (leaf: Tensor): void => {
    const at = this.where.get(leaf);
    if (!at) return; // a leaf that is not a reduced parameter (an input, a frozen weight)
    const [bi, k] = at;
    const b = this.buckets[bi];
    if (!this.pack(b, k)) return; // reported twice (a retained graph run again): first one counts
    if (b.ready === b.params.length) this.launchReady(true);
  };

  /** Packs param k of bucket b (its gradient or zeros); false if it was packed already. */
  private pack(b: Bucket, k: number): boolean {
    const pi = b.params[k];
    if (this.packed[pi]) return false;
    this.packed[pi] = true;
    const p = this.params[pi];
    const off = b.offsets[k];
    const flagAt = b.flat.length - b.params.length + k;
    if (p.grad) {
      b.flat.set(p.grad.data(), off);
      b.flat[flagAt] = 1;
    } else {
      b.flat.fill(0, off, off + p.size);
      b.flat[flagAt] = 0;
    }
    b.ready++;
    return true;
  }

  /** Starts the all-reduce of every complete bucket at the front of the queue, in bucket order. */
  private launchReady(fromHook: boolean): void {
    while (this.next < this.buckets.length) {
      const b = this.buckets[this.next];
      if (b.ready < b.params.length) return;
      if (this.pg.allReduceSumAsync) b.work = this.pg.allReduceSumAsync(b.flat);
      else this.pg.allReduceSum(b.flat);
      if (fromHook) this.inBackward++;
      this.next++;
    }
  }

  /** After backward: sends the rest, waits for every bucket and writes the averaged gradients. */
  finish(): ReducerStats {
    try {
      for (const b of this.buckets) for (let k = 0; k < b.params.length; k++) this.pack(b, k);
      this.launchReady(false);
      const inv = 1 / this.pg.worldSize;
      for (const b of this.buckets) {
        b.work?.wait();
        const flags = b.flat.length - b.params.length;
        b.params.forEach((pi, k) => {
          if (b.flat[flags + k] === 0) return; // no rank had a gradient: keep none
          const p = this.params[pi];
          const view = b.flat.subarray(b.offsets[k], b.offsets[k] + p.size);
          for (let j = 0; j < view.length; j++) view[j] *= inv;
          if (!p.grad) p.grad = keep(Tensor.empty(p.shape, "float32", p.device));
          p.grad.set(view);
        });
      }
      return { buckets: this.buckets.length, launchedInBackward: this.inBackward };
    } finally {
      // ready for the next step (also after a failed collective, though the group is then unusable)
      for (const b of this.buckets) b.ready = 0, b.work = null;
      this.packed.fill(false);
      this.next = 0;
      this.inBackward = 0;
    }
  }
}
