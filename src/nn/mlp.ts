/**
 * Feed-forward blocks. Plain: fc2(act(fc1(x))) (ViT / BERT / SAM MLP). Gated (T5 v1.1 /
 * Flan-T5 "gated-gelu"): wo(act(wi_0(x)) * wi_1(x)), no biases by default, key names
 * `wi_0`, `wi_1`, `wo` as in HF's T5DenseGatedActDense so Flan-T5 weights map directly.
 * @module
 */
import type { Tensor } from "../tensor/tensor.ts";
import { defaultRng, type Rng } from "../tensor/rng.ts";
import { mul } from "../ops/elementwise.ts";
import { graphTidy } from "../autograd/tape.ts";
import { Module } from "./module.ts";
import { Linear } from "./linear.ts";
import type { WeightInit } from "./init.ts";
import { activate, type Activation } from "./activation.ts";

/** Options of `MLP`. */
export interface MLPOptions {
  /** Activation (default "gelu"; T5 gated uses "gelu_tanh"). */
  act?: Activation;
  /** Gated form with wi_0, wi_1, wo (default false). */
  gated?: boolean;
  /** Output size (default: the input size). */
  outDim?: number;
  /** Biases on the projections (default: true plain, false gated). */
  bias?: boolean;
  /** Weight init of the linears (default "torch"). */
  init?: WeightInit;
  /** Seeded generator. */
  rng?: Rng;
}

/** Two-layer (or gated) feed-forward: x (..., dim) -> (..., outDim). */
export class MLP extends Module {
  /** The activation. */
  readonly act: Activation;
  /** Gated (T5) form. */
  readonly gated: boolean;
  /** Plain form: dim -> hidden. */
  readonly fc1: Linear | null = null;
  /** Plain form: hidden -> outDim. */
  readonly fc2: Linear | null = null;
  /** Gated form: dim -> hidden, activated (the gate). */
  readonly wi0: Linear | null = null;
  /** Gated form: dim -> hidden, linear. */
  readonly wi1: Linear | null = null;
  /** Gated form: hidden -> outDim. */
  readonly wo: Linear | null = null;

  /** `dim` in, `hidden` inner width. */
  constructor(readonly dim: number, readonly hidden: number, opts: MLPOptions = {}) {
    super();
    this.act = opts.act ?? "gelu";
    this.gated = opts.gated ?? false;
    const out = opts.outDim ?? dim;
    const lo = { bias: opts.bias ?? !this.gated, init: opts.init, rng: opts.rng ?? defaultRng() };
    if (this.gated) {
      this.wi0 = this.child("wi_0", new Linear(dim, hidden, lo));
      this.wi1 = this.child("wi_1", new Linear(dim, hidden, lo));
      this.wo = this.child("wo", new Linear(hidden, out, lo));
    } else {
      this.fc1 = this.child("fc1", new Linear(dim, hidden, lo));
      this.fc2 = this.child("fc2", new Linear(hidden, out, lo));
    }
  }

  /** x (..., dim) -> (..., outDim). */
  forward(x: Tensor): Tensor {
    return graphTidy(() => {
      if (this.gated) {
        return this.wo!.forward(mul(activate(this.wi0!.forward(x), this.act), this.wi1!.forward(x)));
      }
      return this.fc2!.forward(activate(this.fc1!.forward(x), this.act));
    });
  }
}
