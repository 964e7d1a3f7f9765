/**
 * `Dropout` (inverted): active only in training mode (`module.train()`), identity in eval.
 * Each layer owns a seeded generator, so a run's masks depend only on the seed; its state is
 * saved and restored with the tree's `rngState()` / `loadRngState()` (src/nn/module.ts).
 * @module
 */
import type { Tensor } from "../tensor/tensor.ts";
import { defaultRng, type Rng } from "../tensor/rng.ts";
import { dropout } from "../ops/dropout.ts";
import { Module } from "./module.ts";

/** Zeroes elements with probability p in training and scales the rest by 1/(1-p). */
export class Dropout extends Module {
  /** Generator of this layer's masks (`rng.state()` / `rng.setState()` for resume). */
  readonly rng: Rng;

  /** `p` in [0, 1]; `rng` draws the masks (default: a fork of the global generator). */
  constructor(readonly p: number, rng?: Rng) {
    super();
    if (!(p >= 0 && p <= 1)) throw new Error(`Dropout: p must be in [0, 1], got ${p}`);
    this.rng = rng ?? defaultRng().fork();
  }

  /** x (any shape) -> same shape. */
  forward(x: Tensor): Tensor {
    return dropout(x, this.p, { training: this.training, rng: this.rng });
  }
}
