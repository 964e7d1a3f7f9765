/**
 * Normalisation layers over the last axis: `LayerNorm` (PyTorch nn.LayerNorm: weight, bias)
 * and `RMSNorm` (T5's T5LayerNorm: weight only, no mean subtraction). Both call the fused
 * native ops in src/ops/norm.ts. `LayerNorm2d` is SAM's channels-first LayerNorm over C of
 * (B, C, H, W), composed as channels-last permute → fused layerNorm → permute back.
 * @module
 */
import type { Tensor } from "../tensor/tensor.ts";
import { fmtShape } from "../tensor/shape.ts";
import { layerNorm, rmsNorm } from "../ops/norm.ts";
import { permute } from "../ops/shape_ops.ts";
import { Module } from "./module.ts";
import { ones, zeros } from "./init.ts";

/** Options of `LayerNorm`. */
export interface LayerNormOptions {
  /** Variance epsilon (default 1e-5, PyTorch; BERT uses 1e-12, ViT / SAM 1e-6). */
  eps?: number;
  /** Learnable weight and bias (default true). */
  affine?: boolean;
  /** Learnable bias when affine (default true). */
  bias?: boolean;
}

/** LayerNorm over the last axis: x (..., dim) -> (..., dim). */
export class LayerNorm extends Module {
  /** (dim) scale, ones at init; null when not affine. */
  readonly weight: Tensor | null;
  /** (dim) shift, zeros at init; null when not affine or bias off. */
  readonly bias: Tensor | null;
  /** Variance epsilon. */
  readonly eps: number;

  /** Normalises vectors of size `dim`. */
  constructor(readonly dim: number, opts: LayerNormOptions = {}) {
    super();
    this.eps = opts.eps ?? 1e-5;
    const affine = opts.affine ?? true;
    this.weight = affine ? this.param("weight", ones([dim])) : null;
    this.bias = affine && (opts.bias ?? true) ? this.param("bias", zeros([dim])) : null;
  }

  /** x (..., dim) -> (..., dim). */
  forward(x: Tensor): Tensor {
    return layerNorm(x, this.weight, this.bias, this.eps);
  }
}

/** T5-style RMSNorm: x / sqrt(mean(x²) + eps) * weight over the last axis. */
export class RMSNorm extends Module {
  /** (dim) scale, ones at init. */
  readonly weight: Tensor;

  /** Normalises vectors of size `dim` (eps default 1e-6, T5). */
  constructor(readonly dim: number, readonly eps = 1e-6) {
    super();
    this.weight = this.param("weight", ones([dim]));
  }

  /** x (..., dim) -> (..., dim). */
  forward(x: Tensor): Tensor {
    return rmsNorm(x, this.weight, this.eps);
  }
}

/**
 * SAM's LayerNorm2d: for every (b, h, w) of x (B, C, H, W), normalise the C channels (biased
 * variance, eps 1e-6 by default) then scale and shift per channel. Differentiable through the
 * fused layerNorm and the two permute copies.
 */
export class LayerNorm2d extends Module {
  /** (C) scale, ones at init. */
  readonly weight: Tensor;
  /** (C) shift, zeros at init. */
  readonly bias: Tensor;

  /** Normalises `channels` channels (eps default 1e-6, SAM). */
  constructor(readonly channels: number, readonly eps = 1e-6) {
    super();
    this.weight = this.param("weight", ones([channels]));
    this.bias = this.param("bias", zeros([channels]));
  }

  /** x (B, C, H, W) -> (B, C, H, W). */
  forward(x: Tensor): Tensor {
    if (x.ndim !== 4 || x.shape[1] !== this.channels) {
      throw new Error(`LayerNorm2d: x ${fmtShape(x.shape)}: expected (B,${this.channels},H,W)`);
    }
    const last = permute(x, [0, 2, 3, 1]); // (B, H, W, C)
    const y = layerNorm(last, this.weight, this.bias, this.eps);
    return permute(y, [0, 3, 1, 2]);
  }
}
