/**
 * Segmentation / multi-label losses on logits, each one fused native kernel forward and backward
 * (native/bce_dice.cpp). The FPN loss is ½(bceWithLogits(x, y, {negWeight: 0.2}) + softDice(x, y)).
 * - `bceWithLogits`: loss_i = -[wPos·y·log σ(x) + wNeg·(1−y)·log(1−σ(x))], computed stably with
 *   softplus; reduction "mean" (default) | "sum" | "none". Targets get a gradient too.
 * - `softDice`: p = σ(x); 1 − (2Σpt + smooth)/(Σp + Σt + smooth) per sample (axis 0; all
 *   values as one sample when perSample is false), averaged over samples.
 * @module
 */
import { Tensor } from "../tensor/tensor.ts";
import { fmtShape } from "../tensor/shape.ts";
import { kernels } from "../backend/dispatch.ts";
import { check } from "../backend/status.ts";
import { record } from "../autograd/tape.ts";
import { sameDevice } from "./elementwise.ts";

/** FFI signatures of this op's kernels (same names in the CPU and CUDA libraries). */
export const BCE_DICE_SYMBOLS = {
  ft_bce_logits_fwd: {
    parameters: [
      /* n */ "i64",
      /* wp */ "f32",
      /* wn */ "f32",
      /* scale */ "f32",
      /* x (n) logits */ "pointer",
      /* y (n) targets in [0, 1] */ "pointer",
      /* out (n) or null */ "pointer",
      /* loss */ "pointer",
    ],
    result: "i32",
  },
  ft_bce_logits_bwd: {
    parameters: [
      /* n */ "i64",
      /* wp */ "f32",
      /* wn */ "f32",
      /* scale */ "f32",
      /* gScalar */ "i32",
      /* x (n) */ "pointer",
      /* y (n) */ "pointer",
      /* g (1) or (n) */ "pointer",
      /* gx (n) or null */ "pointer",
      /* gy */ "pointer",
    ],
    result: "i32",
  },
  ft_soft_dice_fwd: {
    parameters: [
      /* S */ "i64",
      /* L */ "i64",
      /* smooth */ "f32",
      /* x (S, L) logits */ "pointer",
      /* y (S, L) targets */ "pointer",
      /* sums (S, 3) */ "pointer",
      /* loss */ "pointer",
    ],
    result: "i32",
  },
  ft_soft_dice_bwd: {
    parameters: [
      /* S */ "i64",
      /* L */ "i64",
      /* smooth */ "f32",
      /* x (S, L) */ "pointer",
      /* y (S, L) */ "pointer",
      /* sums (S, 3) */ "pointer",
      /* g (1) */ "pointer",
      /* gx (S, L) or null */ "pointer",
      /* gy */ "pointer",
    ],
    result: "i32",
  },
} satisfies Deno.ForeignLibraryInterface;
const k = kernels(BCE_DICE_SYMBOLS);

/** Options of `bceWithLogits`. */
export interface BceOptions {
  /** Weight of positive targets (default 1). */
  posWeight?: number;
  /** Weight of negative targets (default 1; the FPN uses 0.2). */
  negWeight?: number;
  /** "mean" (default), "sum" or "none" (per-element losses, shaped like the logits). */
  reduction?: "mean" | "sum" | "none";
}

function sameShape(op: string, x: Tensor, y: Tensor): void {
  sameDevice(op, x, y);
  if (x.ndim !== y.ndim || x.shape.some((d, i) => d !== y.shape[i])) {
    throw new Error(`${op}: logits ${fmtShape(x.shape)} and targets ${fmtShape(y.shape)} differ in shape`);
  }
}

/** Binary cross-entropy on logits with separate positive / negative weights. */
export function bceWithLogits(logits: Tensor, targets: Tensor, opts: BceOptions = {}): Tensor {
  const op = "bceWithLogits";
  sameShape(op, logits, targets);
  const wp = opts.posWeight ?? 1, wn = opts.negWeight ?? 1, red = opts.reduction ?? "mean";
  if (red !== "mean" && red !== "sum" && red !== "none") throw new Error(`${op}: unknown reduction '${red}'`);
  const n = logits.size;
  const scale = red === "mean" ? (n > 0 ? 1 / n : NaN) : 1;
  const out = Tensor.empty(red === "none" ? logits.shape : [], "float32", logits.device);
  const kk = k(logits.device);
  const what = () => `${op}: logits ${fmtShape(logits.shape)}, targets ${fmtShape(targets.shape)}`;
  check(
    kk.ft_bce_logits_fwd(
      BigInt(n),
      wp,
      wn,
      scale,
      logits.ptr,
      targets.ptr,
      red === "none" ? out.ptr : null,
      red === "none" ? null : out.ptr,
    ),
    what,
  );
  return record(out, op, [logits, targets], (g) => {
    const gx = logits.requiresGrad ? Tensor.empty(logits.shape, "float32", logits.device) : null;
    const gy = targets.requiresGrad ? Tensor.empty(targets.shape, "float32", targets.device) : null;
    check(
      kk.ft_bce_logits_bwd(
        BigInt(n),
        wp,
        wn,
        scale,
        red === "none" ? 0 : 1,
        logits.ptr,
        targets.ptr,
        g.ptr,
        gx ? gx.ptr : null,
        gy ? gy.ptr : null,
      ),
      () => `${what()} (backward)`,
    );
    return [gx, gy];
  });
}

/** Options of `softDice`. */
export interface DiceOptions {
  /** Added to numerator and denominator (default 1). */
  smooth?: number;
  /** One Dice per sample along axis 0, averaged (default true); false: one Dice over everything. */
  perSample?: boolean;
}

/** Soft Dice loss on logits (sigmoid inside); returns a scalar. */
export function softDice(logits: Tensor, targets: Tensor, opts: DiceOptions = {}): Tensor {
  const op = "softDice";
  sameShape(op, logits, targets);
  const smooth = opts.smooth ?? 1, perSample = opts.perSample ?? true;
  if (logits.ndim < 1 || logits.size === 0) {
    throw new Error(`${op}: logits ${fmtShape(logits.shape)} is empty`);
  }
  const S = perSample ? logits.shape[0] : 1, L = logits.size / S;
  const sums = Tensor.empty([S, 3], "float32", logits.device);
  const out = Tensor.empty([], "float32", logits.device);
  const kk = k(logits.device);
  const what = () => `${op}: logits ${fmtShape(logits.shape)}, targets ${fmtShape(targets.shape)}`;
  check(kk.ft_soft_dice_fwd(BigInt(S), BigInt(L), smooth, logits.ptr, targets.ptr, sums.ptr, out.ptr), what);
  return record(out, op, [logits, targets], (g) => {
    const gx = logits.requiresGrad ? Tensor.empty(logits.shape, "float32", logits.device) : null;
    const gy = targets.requiresGrad ? Tensor.empty(targets.shape, "float32", targets.device) : null;
    check(
      kk.ft_soft_dice_bwd(
        BigInt(S),
        BigInt(L),
        smooth,
        logits.ptr,
        targets.ptr,
        sums.ptr,
        g.ptr,
        gx ? gx.ptr : null,
        gy ? gy.ptr : null,
      ),
      () => `${what()} (backward)`,
    );
    return [gx, gy];
  });
}
