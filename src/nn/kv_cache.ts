/**
 * Key/value cache for incremental decoding (inference only, no gradients): fixed-capacity
 * buffers k, v (B, H, capacity, D) filled in place, so attention over the growing prefix needs
 * no copy: `cache.attend(q)` = `attention(q, cache.k, cache.v, {kvLength: cache.length, causal:
 * true, causalAlign: "bottom-right"})` (the new queries are the last `Tq` positions of the
 * sequence). `reorder(indices)` permutes the batch for beam search in place.
 * The buffers live outside every `tidy` scope until `dispose()`.
 * @module
 */
import { Tensor } from "../tensor/tensor.ts";
import type { Device } from "../tensor/storage.ts";
import { fmtShape, stridesOf } from "../tensor/shape.ts";
import { keep } from "../tensor/scope.ts";
import { noGrad } from "../autograd/tape.ts";
import { stridedCopy } from "../ops/shape_ops.ts";
import { indexSelect } from "../ops/gather.ts";
import { attention, type AttentionOptions } from "../ops/attention.ts";

/** Options of `KVCache`. */
export interface KVCacheOptions {
  /** Batch size B (beams × batch in beam search). */
  batch: number;
  /** Attention heads H. */
  heads: number;
  /** Maximum number of cached positions. */
  capacity: number;
  /** Head size D. */
  headDim: number;
  /** Where the buffers live (default "cpu"). */
  device?: Device;
}

/** Per-layer key/value cache: k, v (B, H, capacity, D) of which the first `length` positions are valid. */
export class KVCache {
  /** B. */
  readonly batch: number;
  /** H. */
  readonly heads: number;
  /** Maximum positions. */
  readonly capacity: number;
  /** D. */
  readonly headDim: number;
  /** Device of the buffers. */
  readonly device: Device;
  /** Valid positions so far. */
  length = 0;
  #k: Tensor | null;
  #v: Tensor | null;

  /** Allocates (zeroed) buffers of `capacity` positions. */
  constructor(opts: KVCacheOptions) {
    const { batch, heads, capacity, headDim } = opts;
    for (const [name, v] of Object.entries({ batch, heads, capacity, headDim })) {
      if (!Number.isInteger(v) || v < 0) {
        throw new Error(`KVCache: ${name} must be a non-negative integer, got ${v}`);
      }
    }
    this.batch = batch;
    this.heads = heads;
    this.capacity = capacity;
    this.headDim = headDim;
    this.device = opts.device ?? "cpu";
    const shape = [batch, heads, capacity, headDim];
    this.#k = keep(Tensor.empty(shape, "float32", this.device).zero_());
    this.#v = keep(Tensor.empty(shape, "float32", this.device).zero_());
  }

  /** The key buffer (B, H, capacity, D); positions >= length are stale. */
  get k(): Tensor {
    if (!this.#k) throw new Error("KVCache: used after dispose()");
    return this.#k;
  }
  /** The value buffer (B, H, capacity, D). */
  get v(): Tensor {
    if (!this.#v) throw new Error("KVCache: used after dispose()");
    return this.#v;
  }

  /** Writes k, v (B, H, Tnew, D) at positions [length, length + Tnew) in place. */
  append(k: Tensor, v: Tensor): void {
    const [B, H, , D] = this.k.shape;
    for (const [name, t] of [["k", k], ["v", v]] as const) {
      if (t.ndim !== 4 || t.shape[0] !== B || t.shape[1] !== H || t.shape[3] !== D || t.dtype !== "float32") {
        throw new Error(
          `KVCache.append: ${name} ${fmtShape(t.shape)} ${t.dtype}: expected float32 (${B},${H},T,${D})`,
        );
      }
      if (t.device !== this.device) {
        throw new Error(`KVCache.append: ${name} is on ${t.device}, the cache on ${this.device}`);
      }
    }
    const T = k.shape[2];
    if (v.shape[2] !== T) {
      throw new Error(`KVCache.append: k ${fmtShape(k.shape)} and v ${fmtShape(v.shape)} differ`);
    }
    if (this.length + T > this.capacity) {
      throw new Error(`KVCache.append: ${this.length} + ${T} positions exceed the capacity ${this.capacity}`);
    }
    const dst = stridesOf(this.k.shape), src = stridesOf(k.shape);
    stridedCopy(k.shape, k, src, 0, this.k, dst, this.length * D);
    stridedCopy(v.shape, v, src, 0, this.v, dst, this.length * D);
    this.length += T;
  }

  /**
   * Attention of q (B, H, Tq, D) over the cached positions: causal with the queries as the last
   * Tq positions (bottom-right) unless `causal: false`; other options pass through.
   */
  attend(q: Tensor, opts: AttentionOptions = {}): Tensor {
    return noGrad(() =>
      attention(q, this.k, this.v, {
        causal: true,
        causalAlign: "bottom-right",
        ...opts,
        kvLength: this.length,
      })
    );
  }

  /**
   * Reorders the batch: row b becomes old row indices[b] (int32 (B,)). In place: the buffers keep
   * their identity (a fused decode plan holding their pointers stays valid); one gather and one
   * copy back per buffer, over the valid positions only.
   */
  reorder(indices: Tensor): void {
    if (indices.dtype !== "int32" || indices.ndim !== 1 || indices.shape[0] !== this.batch) {
      throw new Error(
        `KVCache.reorder: indices ${
          fmtShape(indices.shape)
        } ${indices.dtype}: expected int32 (${this.batch})`,
      );
    }
    if (this.length === 0) return;
    noGrad(() => {
      const st = stridesOf(this.k.shape), valid = [this.batch, this.heads, this.length, this.headDim];
      for (const buf of [this.k, this.v]) {
        const moved = indexSelect(buf, 0, indices);
        stridedCopy(valid, moved, st, 0, buf, st, 0);
        moved.dispose();
      }
    });
  }

  /** Forgets every position (the buffers are kept). */
  reset(): void {
    this.length = 0;
  }

  /** Frees the buffers. */
  dispose(): void {
    this.#k?.dispose();
    this.#v?.dispose();
    this.#k = this.#v = null;
  }
  [Symbol.dispose](): void {
    this.dispose();
  }
}
