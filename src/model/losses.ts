/**
 * ForgeryTalker's loss terms (paper §3 and DESIGN §1), each a scalar tensor:
 * - `fpnLoss`: ½ (BCE with weight ω on negatives + soft Dice) over the 21 region logits;
 *   ω = 0.2 by default, `negWeight: 1` and `dice: false` are the paper's Table 7 ablations.
 * - `segLoss`: mask logits upsampled (bilinear) to the ground truth's size, BCE + soft Dice;
 *   the official code's variant is BCE with pos_weight 2 alone (`variant: "official"`).
 * - `tokenLoss`: cross-entropy over (B, T, V) logits with −100 targets ignored (LM and MLM).
 * - `contrastiveLoss`: symmetric InfoNCE between image CLS features and pooled query features,
 *   fixed τ or a learnable log-scale.
 * @module
 */
import type { Tensor } from "../tensor/tensor.ts";
import { fmtShape } from "../tensor/shape.ts";
import { add, mul, scale } from "../ops/elementwise.ts";
import { reshape, transpose } from "../ops/shape_ops.ts";
import { bceWithLogits, softDice } from "../ops/bce_dice.ts";
import { crossEntropy } from "../ops/cross_entropy.ts";
import { interpolate } from "../ops/resize.ts";
import { infoNCE, l2Normalize } from "../ops/infonce.ts";
import { matmul } from "../ops/matmul.ts";
import { exp } from "../ops/unary.ts";
import { intTensor } from "../tensor/create.ts";

/** Target id ignored by the token losses (PyTorch's default ignore_index). */
export const IGNORE = -100;

/** Options of `fpnLoss`. */
export interface FpnLossOptions {
  /** Weight ω of the negative terms in the BCE (paper: 0.2). */
  negWeight?: number;
  /** Add the soft Dice term (default true). */
  dice?: boolean;
}

/** ½ (BCE_ω + Dice) of region logits (B, 21) against 0/1 labels (B, 21). */
export function fpnLoss(logits: Tensor, labels: Tensor, o: FpnLossOptions = {}): Tensor {
  const bce = bceWithLogits(logits, labels, { negWeight: o.negWeight ?? 0.2 });
  if (o.dice === false) return scale(bce, 0.5);
  return scale(add(bce, softDice(logits, labels)), 0.5);
}

/** Options of `segLoss`. */
export interface SegLossOptions {
  /** "paper" (BCE + Dice, default) or "official" (BCE with pos_weight 2). */
  variant?: "paper" | "official";
}

/** Mask logits (B, 1, h, w) vs ground truth (B, 1, H, W) in {0, 1}. */
export function segLoss(logits: Tensor, gt: Tensor, o: SegLossOptions = {}): Tensor {
  if (logits.ndim !== 4 || gt.ndim !== 4 || logits.shape[0] !== gt.shape[0]) {
    throw new Error(
      `segLoss: logits ${fmtShape(logits.shape)} vs masks ${
        fmtShape(gt.shape)
      }: expected (B,1,h,w) and (B,1,H,W)`,
    );
  }
  const [H, W] = gt.shape.slice(2);
  const up = logits.shape[2] === H && logits.shape[3] === W ? logits : interpolate(logits, H, W, "bilinear");
  if (o.variant === "official") return bceWithLogits(up, gt, { posWeight: 2 });
  return add(bceWithLogits(up, gt), softDice(up, gt));
}

/** Cross-entropy of logits (B, T, V) against int32 targets (B, T), −100 ignored. */
export function tokenLoss(logits: Tensor, targets: Tensor): Tensor {
  const [B, T, V] = logits.shape;
  if (targets.shape[0] !== B || targets.shape[1] !== T) {
    throw new Error(`tokenLoss: logits ${fmtShape(logits.shape)} vs targets ${fmtShape(targets.shape)}`);
  }
  return crossEntropy(reshape(logits, [B * T, V]), reshape(targets, [B * T]), { ignoreIndex: IGNORE });
}

/**
 * Symmetric InfoNCE between a (B, D) and b (B, D). With `logScale` (a learnable (1) tensor,
 * CLIP's log(1/τ)) the temperature is learned; otherwise τ is fixed.
 */
export function contrastiveLoss(a: Tensor, b: Tensor, tau: number, logScale: Tensor | null = null): Tensor {
  if (!logScale) return infoNCE(a, b, { temperature: tau });
  const N = a.shape[0];
  const sim = mul(matmul(l2Normalize(a), l2Normalize(b), { transB: true }), exp(logScale)); // (N, N)
  const labels = intTensor(Array.from({ length: N }, (_, i) => i), [N], a.device);
  return scale(add(crossEntropy(sim, labels), crossEntropy(transpose(sim), labels)), 0.5);
}
