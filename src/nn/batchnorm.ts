/**
 * `BatchNorm2d` (PyTorch nn.BatchNorm2d): learnable weight / bias, and buffers running_mean,
 * running_var (C) and num_batches_tracked (int32 scalar; PyTorch's is int64, which our
 * checkpoint reader narrows). Training normalises with batch statistics and updates the
 * running ones in place (inside the native op); eval uses the running statistics, and so does a
 * `frozen` layer in training mode (FrozenBatchNorm: no batch coupling, e.g. for small per-process
 * batches in data-parallel training, where batch statistics would differ from one big batch's).
 * @module
 */
import type { Tensor } from "../tensor/tensor.ts";
import { zeros as zerosT } from "../tensor/create.ts";
import { batchNorm2d } from "../ops/batchnorm.ts";
import { Module } from "./module.ts";
import { ones, zeros } from "./init.ts";

/** Options of `BatchNorm2d`. */
export interface BatchNorm2dOptions {
  /** Variance epsilon (default 1e-5). */
  eps?: number;
  /** Running-stat update factor (default 0.1). */
  momentum?: number;
  /** Learnable weight and bias (default true). */
  affine?: boolean;
}

/** Per-channel batch normalisation of x (B, C, H, W). */
export class BatchNorm2d extends Module {
  /** (C) scale or null. */
  readonly weight: Tensor | null;
  /** (C) shift or null. */
  readonly bias: Tensor | null;
  /** (C) running mean (buffer). */
  readonly runningMean: Tensor;
  /** (C) running (unbiased) variance (buffer). */
  readonly runningVar: Tensor;
  /** () int32 count of training batches seen (buffer). */
  readonly numBatchesTracked: Tensor;
  /** Variance epsilon. */
  readonly eps: number;
  /** Running-stat update factor. */
  readonly momentum: number;
  /** Normalise with the running statistics and leave them unchanged even in training mode. */
  frozen = false;

  /** Normalises `channels` channels. */
  constructor(readonly channels: number, opts: BatchNorm2dOptions = {}) {
    super();
    this.eps = opts.eps ?? 1e-5;
    this.momentum = opts.momentum ?? 0.1;
    const affine = opts.affine ?? true;
    this.weight = affine ? this.param("weight", ones([channels])) : null;
    this.bias = affine ? this.param("bias", zeros([channels])) : null;
    this.runningMean = this.buffer("running_mean", zeros([channels]));
    this.runningVar = this.buffer("running_var", ones([channels]));
    this.numBatchesTracked = this.buffer("num_batches_tracked", zerosT([], { dtype: "int32" }));
  }

  /** x (B, C, H, W) -> (B, C, H, W); in training mode also updates the running stats. */
  forward(x: Tensor): Tensor {
    const batchStats = this.training && !this.frozen;
    const out = batchNorm2d(x, this.weight, this.bias, this.runningMean, this.runningVar, {
      training: batchStats,
      momentum: this.momentum,
      eps: this.eps,
    });
    if (batchStats) this.numBatchesTracked.set([this.numBatchesTracked.item() + 1]);
    return out;
  }
}
