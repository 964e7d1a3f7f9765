/**
 * `MultiHeadAttention`: q/k/v/out projections around the fused attention op
 * (src/ops/attention.ts). `internalDim` is the width the heads split (SAM's attention
 * downsampling is just internalDim = dim / 2); `kvDim` lets keys / values come from another
 * width (cross-attention, e.g. Q-Former queries over image features). Keys follow SAM:
 * `q_proj`, `k_proj`, `v_proj`, `out_proj`.
 * @module
 */
import { Tensor } from "../tensor/tensor.ts";
import { defaultRng, type Rng } from "../tensor/rng.ts";
import { fmtShape, stridesOf } from "../tensor/shape.ts";
import { permute, reshape, stridedCopy } from "../ops/shape_ops.ts";
import { attention } from "../ops/attention.ts";
import { graphTidy, recordReads } from "../autograd/tape.ts";
import { Module } from "./module.ts";
import { Linear } from "./linear.ts";
import type { WeightInit } from "./init.ts";

/** Options of `MultiHeadAttention`. */
export interface MultiHeadAttentionOptions {
  /** Number of heads; must divide internalDim. */
  numHeads: number;
  /** Projection width (default dim); SAM's downsample_rate r gives dim / r. */
  internalDim?: number;
  /** Width of key / value inputs (default dim). */
  kvDim?: number;
  /** Biases on the projections (default true; T5 uses none). */
  bias?: boolean;
  /** Logit scale (default 1/sqrt(headDim); T5 uses 1). */
  scale?: number;
  /** Weight init of the projections (default "torch"). */
  init?: WeightInit;
  /** Seeded generator. */
  rng?: Rng;
}

/** Per-call options of `MultiHeadAttention.forward`. */
export interface AttendOptions {
  /** (B, Tk): 1 = attend, 0 = padding. */
  keyPaddingMask?: Tensor | null;
  /** Query i sees keys j <= i. */
  causal?: boolean;
}

/** Multi-head attention: q (B, Tq, dim), k / v (B, Tk, kvDim) -> (B, Tq, dim). */
export class MultiHeadAttention extends Module {
  /** Number of heads. */
  readonly numHeads: number;
  /** Width of the projected q / k / v (heads × headDim). */
  readonly internalDim: number;
  /** internalDim / numHeads. */
  readonly headDim: number;
  /** Logit scale override (undefined: 1/sqrt(headDim)). */
  readonly scale: number | undefined;
  /** dim -> internalDim. */
  readonly qProj: Linear;
  /** kvDim -> internalDim. */
  readonly kProj: Linear;
  /** kvDim -> internalDim. */
  readonly vProj: Linear;
  /** internalDim -> dim. */
  readonly outProj: Linear;

  /** `dim`: query (and output) width. */
  constructor(readonly dim: number, opts: MultiHeadAttentionOptions) {
    super();
    this.numHeads = opts.numHeads;
    this.internalDim = opts.internalDim ?? dim;
    if (!(this.numHeads >= 1) || this.internalDim % this.numHeads !== 0) {
      throw new Error(
        `MultiHeadAttention: ${this.numHeads} heads must divide internalDim ${this.internalDim}`,
      );
    }
    this.headDim = this.internalDim / this.numHeads;
    this.scale = opts.scale;
    const kv = opts.kvDim ?? dim;
    const lo = { bias: opts.bias ?? true, init: opts.init, rng: opts.rng ?? defaultRng() };
    this.qProj = this.child("q_proj", new Linear(dim, this.internalDim, lo));
    this.kProj = this.child("k_proj", new Linear(kv, this.internalDim, lo));
    this.vProj = this.child("v_proj", new Linear(kv, this.internalDim, lo));
    this.outProj = this.child("out_proj", new Linear(this.internalDim, dim, lo));
  }

  /** (B, T, internal) -> (B, H, T, headDim). */
  #split(x: Tensor): Tensor {
    const [B, T] = x.shape;
    return permute(reshape(x, [B, T, this.numHeads, this.headDim]), [0, 2, 1, 3]);
  }

  /**
   * Self-attention with `forward(x)`, cross-attention with `forward(q, kv)` or SAM-style
   * `forward(q, k, v)` (positional encodings added to q and k but not v).
   * q (B, Tq, dim), k / v (B, Tk, kvDim) -> (B, Tq, dim).
   */
  forward(q: Tensor, k: Tensor = q, v: Tensor = k, opts: AttendOptions = {}): Tensor {
    if (
      q.ndim !== 3 || k.ndim !== 3 || v.ndim !== 3 || k.shape[1] !== v.shape[1] || q.shape[0] !== k.shape[0]
    ) {
      throw new Error(
        `MultiHeadAttention: q ${fmtShape(q.shape)}, k ${fmtShape(k.shape)}, v ${fmtShape(v.shape)}: ` +
          `expected q (B,Tq,${this.dim}) and k, v (B,Tk,kvDim)`,
      );
    }
    const [B, Tq] = q.shape;
    // graphTidy: the projections before the head split are freed at once (only their copies
    // are read by the backward)
    return graphTidy(() => {
      const o = attention(
        this.#split(this.qProj.forward(q)),
        this.#split(this.kProj.forward(k)),
        this.#split(this.vProj.forward(v)),
        { keyPaddingMask: opts.keyPaddingMask, causal: opts.causal, scale: this.scale },
      );
      // (B, H, Tq, hd) -> (B, Tq, H·hd)
      return this.outProj.forward(reshape(permute(o, [0, 2, 1, 3]), [B, Tq, this.internalDim]));
    });
  }
}

/**
 * Part i of y (B, T, P·H·hd) as heads (B, H, T, hd), by one strided copy; its gradient goes
 * back into part i's columns of a zero (B, T, P·H·hd). The EVA ViT's fused qkv (P = 3) splits
 * this way: one copy per part instead of a full permute plus a copy per slice.
 */
export function headsOf(y: Tensor, P: number, i: number, H: number, hd: number): Tensor {
  const [B, T] = y.shape;
  const shape = [B, H, T, hd];
  const inY = [T * P * H * hd, hd, P * H * hd, 1]; // strides of (b, h, t, d) inside y
  const off = i * H * hd;
  const out = Tensor.empty(shape, "float32", y.device);
  stridedCopy(shape, y, inY, off, out, stridesOf(shape), 0);
  // the backward reads only shapes: y may be freed (graphTidy) before it runs
  const [shapeY, dev] = [y.shape, y.device];
  return recordReads(out, "attention heads", [y], [], (g) => {
    const gy = Tensor.empty(shapeY, "float32", dev).zero_();
    stridedCopy(shape, g, stridesOf(shape), 0, gy, inY, off);
    return [gy];
  });
}
