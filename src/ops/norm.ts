/**
 * Normalisation over the last axis: `layerNorm(x, weight, bias, eps)` (PyTorch LayerNorm,
 * biased variance) and `rmsNorm(x, weight, eps)` (T5 RMSNorm: no mean subtraction, no bias).
 * One fused native pass forward (saving mean / rstd per row when gradients are needed) and
 * one backward for x, weight and bias. Kernels: native/norm.cpp (`ft_norm_fwd`, `ft_norm_bwd`).
 * @module
 */
import { Tensor } from "../tensor/tensor.ts";
import { fmtShape } from "../tensor/shape.ts";
import { kernels } from "../backend/dispatch.ts";
import { check } from "../backend/status.ts";
import { needsGrad, recordReads } from "../autograd/tape.ts";

/** FFI signatures of this op's kernels (same names in the CPU and CUDA libraries). */
export const NORM_SYMBOLS = {
  ft_norm_fwd: {
    parameters: [
      /* rows */ "i64",
      /* D */ "i64",
      /* rms */ "i32",
      /* eps */ "f32",
      /* x (rows, D) */ "pointer",
      /* w (D) or null */ "pointer",
      /* b (D) or null */ "pointer",
      /* y (rows, D) */ "pointer",
      /* mean (rows) or null */ "pointer",
      /* rstd */ "pointer",
    ],
    result: "i32",
  },
  ft_norm_bwd: {
    parameters: [
      /* rows */ "i64",
      /* D */ "i64",
      /* rms */ "i32",
      /* x (rows, D) */ "pointer",
      /* w (D) or null */ "pointer",
      /* mean (rows) */ "pointer",
      /* rstd (rows) */ "pointer",
      /* g (rows, D) */ "pointer",
      /* gx (rows, D) or null */ "pointer",
      /* gw (D) or null */ "pointer",
      /* gb */ "pointer",
    ],
    result: "i32",
  },
} satisfies Deno.ForeignLibraryInterface;
const k = kernels(NORM_SYMBOLS);

function validate(op: string, x: Tensor, w: Tensor | null, b: Tensor | null): void {
  const desc = () =>
    `x ${fmtShape(x.shape)}${w ? `, weight ${fmtShape(w.shape)}` : ""}${
      b ? `, bias ${fmtShape(b.shape)}` : ""
    }`;
  if (x.ndim < 1) throw new Error(`${op}: x must have at least 1 axis, got ${fmtShape(x.shape)}`);
  const D = x.shape[x.ndim - 1];
  for (const t of [x, w, b]) {
    if (t && t.dtype !== "float32") throw new Error(`${op}: ${desc()}: expected float32, got ${t.dtype}`);
    if (t && t.device !== x.device) throw new Error(`${op}: ${desc()}: tensors on different devices`);
  }
  for (const t of [w, b]) {
    if (t && (t.ndim !== 1 || t.shape[0] !== D)) {
      throw new Error(`${op}: ${desc()}: expected weight and bias of shape (${D})`);
    }
  }
}

function norm(op: string, rms: boolean, x: Tensor, w: Tensor | null, b: Tensor | null, eps: number): Tensor {
  validate(op, x, w, b);
  if (!(eps >= 0)) throw new Error(`${op}: eps must be >= 0, got ${eps}`);
  const D = x.shape[x.ndim - 1];
  const rows = D === 0 ? 0 : x.size / D;
  const out = Tensor.empty(x.shape, "float32", x.device);
  const inputs = [x, ...(w ? [w] : []), ...(b ? [b] : [])];
  const grad = needsGrad(...inputs);
  const mean = grad ? Tensor.empty([rows], "float32", x.device) : null;
  const rstd = grad ? Tensor.empty([rows], "float32", x.device) : null;
  check(
    k(x.device).ft_norm_fwd(
      BigInt(rows),
      BigInt(D),
      rms ? 1 : 0,
      eps,
      x.ptr,
      w?.ptr ?? null,
      b?.ptr ?? null,
      out.ptr,
      mean?.ptr ?? null,
      rstd?.ptr ?? null,
    ),
    () => `${op} x ${fmtShape(x.shape)}`,
  );
  if (!grad) return out;
  // reads x and the weight (the bias only by shape); mean / rstd are saved (freed with the node)
  return recordReads(out, op, inputs, w ? [x, w] : [x], (g) => {
    const gx = x.requiresGrad ? Tensor.empty(x.shape, "float32", x.device) : null;
    const gw = w?.requiresGrad ? Tensor.empty(w.shape, "float32", x.device) : null;
    const gb = b?.requiresGrad ? Tensor.empty(b.shape, "float32", x.device) : null;
    check(
      k(x.device).ft_norm_bwd(
        BigInt(rows),
        BigInt(D),
        rms ? 1 : 0,
        x.ptr,
        w?.ptr ?? null,
        mean!.ptr,
        rstd!.ptr,
        g.ptr,
        gx?.ptr ?? null,
        gw?.ptr ?? null,
        gb?.ptr ?? null,
      ),
      () => `${op} backward x ${fmtShape(x.shape)}`,
    );
    return [gx, ...(w ? [gw] : []), ...(b ? [gb] : [])];
  }, [mean!, rstd!]);
}

/** LayerNorm over the last axis: (x - mean) / sqrt(var + eps) * weight + bias (both optional). */
export function layerNorm(x: Tensor, weight?: Tensor | null, bias?: Tensor | null, eps = 1e-5): Tensor {
  return norm("layerNorm", false, x, weight ?? null, bias ?? null, eps);
}

/** T5 RMSNorm over the last axis: x / sqrt(mean(x²) + eps) * weight (weight optional). */
export function rmsNorm(x: Tensor, weight?: Tensor | null, eps = 1e-6): Tensor {
  return norm("rmsNorm", true, x, weight ?? null, null, eps);
}
