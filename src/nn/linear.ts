/**
 * `Linear`: y = x @ Wᵀ + b over the last axis, PyTorch layout (weight (out, in), bias (out)),
 * so `weight` / `bias` keys load from PyTorch and HF checkpoints unchanged.
 * @module
 */
import type { Tensor } from "../tensor/tensor.ts";
import { defaultRng, type Rng } from "../tensor/rng.ts";
import { linear } from "../ops/linear.ts";
import { Module } from "./module.ts";
import { initWeight, torchDefault, type WeightInit, zeros } from "./init.ts";

/** Options of `Linear`. */
export interface LinearOptions {
  /** Add a bias (default true). */
  bias?: boolean;
  /** Weight scheme (default "torch": U(±1/sqrt(in)), PyTorch's nn.Linear). */
  init?: WeightInit;
  /** Bias init: "torch" (U(±1/sqrt(in)), default with init "torch") or "zeros" (otherwise). */
  biasInit?: "torch" | "zeros";
  /** Seeded generator for the weights (default: the global one). */
  rng?: Rng;
}

/** Fully connected layer: (..., inFeatures) -> (..., outFeatures). */
export class Linear extends Module {
  /** (out, in). */
  readonly weight: Tensor;
  /** (out) or null. */
  readonly bias: Tensor | null;

  /** Creates W (out, in) and b (out) with the chosen init. */
  constructor(readonly inFeatures: number, readonly outFeatures: number, opts: LinearOptions = {}) {
    super();
    const rng = opts.rng ?? defaultRng();
    const scheme = opts.init ?? "torch";
    this.weight = this.param("weight", initWeight(scheme, [outFeatures, inFeatures], rng));
    const biasInit = opts.biasInit ?? (scheme === "torch" ? "torch" : "zeros");
    this.bias = opts.bias === false ? null : this.param(
      "bias",
      biasInit === "torch" ? torchDefault([outFeatures], inFeatures, rng) : zeros([outFeatures]),
    );
  }

  /** x (..., in) -> (..., out). */
  forward(x: Tensor): Tensor {
    return linear(x, this.weight, this.bias);
  }
}
