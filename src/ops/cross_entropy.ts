/**
 * Cross-entropy from logits, fused (log-softmax + NLL + label smoothing) with PyTorch's
 * semantics: `crossEntropy(logits (N,C), targets int32 (N), {ignoreIndex=-100,
 * labelSmoothing=0, reduction="mean"})`; "mean" divides by the number of non-ignored targets
 * (NaN when every target is ignored, like PyTorch). Logits (..., C) with targets (...) are
 * flattened to rows. Kernels: native/cross_entropy.cpp (`ft_cross_entropy_fwd` / `_bwd`).
 * @module
 */
import { Tensor } from "../tensor/tensor.ts";
import { fmtShape } from "../tensor/shape.ts";
import { kernels } from "../backend/dispatch.ts";
import { check } from "../backend/status.ts";
import { needsGrad, record } from "../autograd/tape.ts";

/** FFI signatures of this op's kernels (same names in the CPU and CUDA libraries). */
export const CROSS_ENTROPY_SYMBOLS = {
  ft_cross_entropy_fwd: {
    parameters: [
      /* N */ "i64",
      /* C */ "i64",
      /* x (N, C) */ "pointer",
      /* t (N) */ "pointer",
      /* ignore_index */ "i32",
      /* smoothing */ "f32",
      /* reduction */ "i32",
      /* out (N) if reduction == none else (1) */ "pointer",
      /* lse (N) */ "pointer",
      /* bad */ "buffer",
    ],
    result: "i32",
  },
  ft_cross_entropy_bwd: {
    parameters: [
      /* N */ "i64",
      /* C */ "i64",
      /* x (N, C) */ "pointer",
      /* t (N) */ "pointer",
      /* lse (N) */ "pointer",
      /* g (N) if reduction == none else (1) */ "pointer",
      /* ignore_index */ "i32",
      /* smoothing */ "f32",
      /* reduction */ "i32",
      /* gx */ "pointer",
    ],
    result: "i32",
  },
} satisfies Deno.ForeignLibraryInterface;
const k = kernels(CROSS_ENTROPY_SYMBOLS);

/** Options of `crossEntropy` (PyTorch names and defaults). */
export interface CrossEntropyOptions {
  /** Targets equal to this contribute nothing (default -100). */
  ignoreIndex?: number;
  /** ε in [0, 1]: target distribution (1-ε)·onehot + ε/C (default 0). */
  labelSmoothing?: number;
  /** "mean" (default, over non-ignored targets), "sum", or "none" (per row). */
  reduction?: "mean" | "sum" | "none";
}

const REDUCTIONS = { none: 0, mean: 1, sum: 2 } as const;

/** Cross-entropy of `logits` (N, C) against class indices `targets` (N). */
export function crossEntropy(logits: Tensor, targets: Tensor, opts: CrossEntropyOptions = {}): Tensor {
  const ignore = opts.ignoreIndex ?? -100;
  const eps = opts.labelSmoothing ?? 0;
  const reduction = opts.reduction ?? "mean";
  const desc = `logits ${fmtShape(logits.shape)}, targets ${fmtShape(targets.shape)}`;
  if (logits.dtype !== "float32") throw new Error(`crossEntropy: ${desc}: logits must be float32`);
  if (targets.dtype !== "int32") {
    throw new Error(`crossEntropy: ${desc}: targets must be int32, got ${targets.dtype}`);
  }
  if (targets.device !== logits.device) {
    throw new Error(`crossEntropy: ${desc}: tensors on different devices`);
  }
  const C = logits.shape[logits.ndim - 1];
  const lead = logits.shape.slice(0, -1);
  if (
    logits.ndim < 2 || C === 0 || targets.ndim !== lead.length || targets.shape.some((d, i) => d !== lead[i])
  ) {
    throw new Error(`crossEntropy: ${desc}: expected logits (N, C>0) and targets (N)`);
  }
  if (!(eps >= 0 && eps <= 1)) throw new Error(`crossEntropy: labelSmoothing must be in [0, 1], got ${eps}`);
  if (!(reduction in REDUCTIONS)) throw new Error(`crossEntropy: unknown reduction "${reduction}"`);
  if (!Number.isInteger(ignore)) {
    throw new Error(`crossEntropy: ignoreIndex must be an integer, got ${ignore}`);
  }
  const N = targets.size;
  const red = REDUCTIONS[reduction];
  const out = Tensor.empty(red === 0 ? lead : [], "float32", logits.device);
  const lse = Tensor.empty([N], "float32", logits.device);
  const bad = new Int32Array(2);
  const st = k(logits.device).ft_cross_entropy_fwd(
    BigInt(N),
    BigInt(C),
    logits.ptr,
    targets.ptr,
    ignore,
    eps,
    red,
    out.ptr,
    lse.ptr,
    bad,
  );
  if (st === 1 && (bad[1] < 0 || bad[1] >= C) && bad[1] !== ignore) {
    out.dispose();
    lse.dispose();
    throw new Error(
      `crossEntropy: ${desc}: target ${bad[1]} at row ${bad[0]} is out of range for ${C} classes ` +
        `(ignoreIndex ${ignore})`,
    );
  }
  check(st, () => `crossEntropy ${desc}`);
  if (!needsGrad(logits)) {
    lse.dispose();
    return out;
  }
  return record(out, "crossEntropy", [logits], (g) => {
    const gx = Tensor.empty(logits.shape, "float32", logits.device);
    check(
      k(logits.device).ft_cross_entropy_bwd(
        BigInt(N),
        BigInt(C),
        logits.ptr,
        targets.ptr,
        lse.ptr,
        g.ptr,
        ignore,
        eps,
        red,
        gx.ptr,
      ),
      () => `crossEntropy backward ${desc}`,
    );
    return [gx];
  });
}
