/**
 * InfoNCE / CLIP-style symmetric contrastive loss between two sets of paired embeddings, as
 * BLIP-2's image-text contrastive (ITC) loss: a (N, D) or (N, Q, D) (e.g. Q-Former query
 * outputs; the similarity of a pair is the max over the Q queries), b (N, D); row i of a is
 * the positive for row i of b. sim = norm(a) · norm(b)ᵀ / temperature (N, N); loss =
 * ½ (CE(sim, arange N) + CE(simᵀ, arange N)). Composed from matmul, max and the fused
 * cross-entropy, so autodiff comes for free.
 * @module
 */
import type { Tensor } from "../tensor/tensor.ts";
import { intTensor } from "../tensor/create.ts";
import { fmtShape } from "../tensor/shape.ts";
import { add, addScalar, div, mul, scale } from "./elementwise.ts";
import { matmul } from "./matmul.ts";
import { max, sum } from "./reduce.ts";
import { transpose } from "./shape_ops.ts";
import { sqrt } from "./unary.ts";
import { crossEntropy } from "./cross_entropy.ts";

/** Options of `infoNCE`. */
export interface InfoNCEOptions {
  /** Softmax temperature τ (default 0.07, CLIP / BLIP-2's initial value). */
  temperature?: number;
  /** L2-normalise both sets over D first (default true). */
  normalize?: boolean;
  /** Label smoothing of both cross-entropies (BLIP-2 uses 0.1; default 0). */
  labelSmoothing?: number;
}

/** x / ||x|| over the last axis (F.normalize up to its 1e-12 floor). */
export function l2Normalize(x: Tensor): Tensor {
  return div(x, sqrt(addScalar(sum(mul(x, x), -1, true), 1e-24)));
}

/** Symmetric InfoNCE loss of paired embeddings a (N, D) | (N, Q, D) and b (N, D); a scalar. */
export function infoNCE(a: Tensor, b: Tensor, opts: InfoNCEOptions = {}): Tensor {
  const t = opts.temperature ?? 0.07;
  const desc = `a ${fmtShape(a.shape)}, b ${fmtShape(b.shape)}`;
  const D = b.shape[1];
  if (
    b.ndim !== 2 || (a.ndim !== 2 && a.ndim !== 3) || a.shape[0] !== b.shape[0] || a.shape[a.ndim - 1] !== D
  ) {
    throw new Error(`infoNCE: ${desc}: expected a (N, D) or (N, Q, D) and b (N, D)`);
  }
  if (a.shape[0] === 0) throw new Error(`infoNCE: ${desc}: empty batch`);
  if (!(t > 0) || !Number.isFinite(t)) throw new Error(`infoNCE: temperature must be > 0, got ${t}`);
  const na = opts.normalize === false ? a : l2Normalize(a);
  const nb = opts.normalize === false ? b : l2Normalize(b);
  // (N, D) @ (N, D)ᵀ -> (N, N); (N, Q, D) @ (N, D)ᵀ -> (N, Q, N), max over Q
  let sim = matmul(na, nb, { transB: true });
  if (a.ndim === 3) sim = max(sim, 1);
  sim = scale(sim, 1 / t);
  const N = a.shape[0];
  const labels = intTensor(Array.from({ length: N }, (_, i) => i), [N], a.device);
  const o = { labelSmoothing: opts.labelSmoothing ?? 0 };
  const i2t = crossEntropy(sim, labels, o);
  const t2i = crossEntropy(transpose(sim), labels, o);
  return scale(add(i2t, t2i), 0.5);
}
