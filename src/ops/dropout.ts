/**
 * Dropout (inverted): in training, each element is zeroed with probability p and the rest
 * scaled by 1/(1-p); in eval it is the identity (returns x itself). The keep-mask is drawn
 * on the host from a seeded `Rng` (same seed, same mask on every backend) and applied with
 * one broadcasting multiply, whose backward multiplies the gradient by the same mask.
 * @module
 */
import type { Tensor } from "../tensor/tensor.ts";
import { tensor } from "../tensor/create.ts";
import { fmtShape } from "../tensor/shape.ts";
import { defaultRng, type Rng } from "../tensor/rng.ts";
import { mul } from "./elementwise.ts";

/** Options of `dropout`. */
export interface DropoutOptions {
  /** Apply dropout (default true); false returns x unchanged. */
  training?: boolean;
  /** Generator for the mask (default: the global seeded generator). */
  rng?: Rng;
}

/** Inverted dropout with drop probability `p` in [0, 1]. */
export function dropout(x: Tensor, p: number, opts: DropoutOptions = {}): Tensor {
  if (!(p >= 0 && p <= 1)) throw new Error(`dropout: p must be in [0, 1], got ${p} (x ${fmtShape(x.shape)})`);
  if (x.dtype !== "float32") {
    throw new Error(`dropout: x ${fmtShape(x.shape)} must be float32, got ${x.dtype}`);
  }
  if (opts.training === false || p === 0) return x;
  const rng = opts.rng ?? defaultRng();
  const mask = new Float32Array(x.size);
  if (p < 1) {
    const keep = 1 / (1 - p);
    const threshold = p * 4294967296; // drop when u32 < p·2^32
    for (let i = 0; i < mask.length; i++) mask[i] = rng.nextU32() < threshold ? 0 : keep;
  }
  return mul(x, tensor(mask, x.shape, { device: x.device }));
}
