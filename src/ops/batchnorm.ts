/**
 * `batchNorm2d` with PyTorch semantics: x (B, C, H, W) normalised per channel, then scaled by
 * weight (C) and shifted by bias (C) (either may be null: affine=false). Training uses the batch
 * mean and biased variance and updates runningMean / runningVar (C) in place,
 * r = (1 - momentum) r + momentum * stat, with the unbiased variance; eval uses the running
 * stats. Forward and the fused backward are native (native/batchnorm.cpp).
 * @module
 */
import { Tensor } from "../tensor/tensor.ts";
import { fmtShape } from "../tensor/shape.ts";
import { kernels } from "../backend/dispatch.ts";
import { check } from "../backend/status.ts";
import { record } from "../autograd/tape.ts";
import { sameDevice } from "./elementwise.ts";

/** FFI signatures of this op's kernels (same names in the CPU and CUDA libraries). */
export const BATCHNORM_SYMBOLS = {
  ft_batchnorm2d_fwd: {
    parameters: [
      /* B */ "i64",
      /* C */ "i64",
      /* HW */ "i64",
      /* training */ "i32",
      /* momentum */ "f32",
      /* eps */ "f32",
      /* x (B, C, HW) */ "pointer",
      /* weight (C) or null */ "pointer",
      /* bias (C) or null */ "pointer",
      /* runMean (C) or null (training only) */ "pointer",
      /* runVar (C) or null (training only) */ "pointer",
      /* saveMean (C) */ "pointer",
      /* saveInvstd (C) */ "pointer",
      /* y */ "pointer",
    ],
    result: "i32",
  },
  ft_batchnorm2d_bwd: {
    parameters: [
      /* B */ "i64",
      /* C */ "i64",
      /* HW */ "i64",
      /* training */ "i32",
      /* x (B, C, HW) */ "pointer",
      /* weight (C) or null */ "pointer",
      /* saveMean (C) */ "pointer",
      /* saveInvstd (C) */ "pointer",
      /* gy (B, C, HW) */ "pointer",
      /* gx (B, C, HW) or null */ "pointer",
      /* gw (C) or null */ "pointer",
      /* gb */ "pointer",
    ],
    result: "i32",
  },
} satisfies Deno.ForeignLibraryInterface;
const k = kernels(BATCHNORM_SYMBOLS);

/** Options of `batchNorm2d`. */
export interface BatchNormOptions {
  /** Batch statistics + running-stat update (true) or running statistics (false). Default true. */
  training?: boolean;
  /** Running-stat update factor (default 0.1). */
  momentum?: number;
  /** Added to the variance (default 1e-5). */
  eps?: number;
}

/** Batch normalisation over (B, H, W) per channel of x (B, C, H, W) (also accepts (B, C) and (B, C, L)). */
export function batchNorm2d(
  x: Tensor,
  weight: Tensor | null,
  bias: Tensor | null,
  runningMean: Tensor | null,
  runningVar: Tensor | null,
  opts: BatchNormOptions = {},
): Tensor {
  const training = opts.training ?? true, momentum = opts.momentum ?? 0.1, eps = opts.eps ?? 1e-5;
  const params = [weight, bias, runningMean, runningVar];
  sameDevice("batchNorm2d", x, ...params.filter((t): t is Tensor => t !== null));
  const what = () =>
    `batchNorm2d: x ${fmtShape(x.shape)}, ` +
    ["weight", "bias", "runningMean", "runningVar"].map((n, i) =>
      `${n} ${params[i] ? fmtShape(params[i]!.shape) : "null"}`
    )
      .join(", ");
  if (x.ndim < 2 || x.ndim > 4) throw new Error(`${what()}: expected x (B,C,H,W)`);
  const [B, C] = x.shape;
  const HW = x.shape.slice(2).reduce((a, b) => a * b, 1);
  for (const p of params) {
    if (p && (p.ndim !== 1 || p.shape[0] !== C)) throw new Error(`${what()}: expected (${C}) parameters`);
  }
  if (!training && (!runningMean || !runningVar)) throw new Error(`${what()}: eval mode needs running stats`);
  if (training && B * HW < 2) throw new Error(`${what()}: training needs more than 1 value per channel`);
  const out = Tensor.empty(x.shape, "float32", x.device);
  const saveMean = Tensor.empty([C], "float32", x.device),
    saveInvstd = Tensor.empty([C], "float32", x.device);
  const kk = k(x.device);
  const ptr = (t: Tensor | null) => (t ? t.ptr : null);
  check(
    kk.ft_batchnorm2d_fwd(
      BigInt(B),
      BigInt(C),
      BigInt(HW),
      training ? 1 : 0,
      momentum,
      eps,
      x.ptr,
      ptr(weight),
      ptr(bias),
      ptr(runningMean),
      ptr(runningVar),
      saveMean.ptr,
      saveInvstd.ptr,
      out.ptr,
    ),
    what,
  );
  const inputs = [x, weight, bias].filter((t): t is Tensor => t !== null);
  return record(out, "batchNorm2d", inputs, (g) => {
    const gx = x.requiresGrad ? Tensor.empty(x.shape, "float32", x.device) : null;
    const gw = weight && weight.requiresGrad ? Tensor.empty([C], "float32", x.device) : null;
    const gb = bias && bias.requiresGrad ? Tensor.empty([C], "float32", x.device) : null;
    check(
      kk.ft_batchnorm2d_bwd(
        BigInt(B),
        BigInt(C),
        BigInt(HW),
        training ? 1 : 0,
        x.ptr,
        ptr(weight),
        saveMean.ptr,
        saveInvstd.ptr,
        g.ptr,
        ptr(gx),
        ptr(gw),
        ptr(gb),
      ),
      () => `${what()} (backward)`,
    );
    const grads: (Tensor | null)[] = [gx];
    if (weight) grads.push(gw);
    if (bias) grads.push(gb);
    return grads;
  });
}
