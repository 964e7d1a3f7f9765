/**
 * `interpolate(x, outH, outW, mode, alignCorners)`: PyTorch `F.interpolate(x, size=(outH, outW))`
 * for x (B, C, H, W) -> (B, C, outH, outW). "nearest" takes src = min(floor(dst * in/out), in-1)
 * (PyTorch's legacy nearest); "bilinear" uses half-pixel centres with the source index clamped at
 * 0 (alignCorners=false) or the corner-aligned grid (alignCorners=true), float math as PyTorch's
 * CPU kernel. Forward and backward (scatter of the same weights) are native (native/resize.cpp).
 * @module
 */
import { Tensor } from "../tensor/tensor.ts";
import { fmtShape } from "../tensor/shape.ts";
import { kernels } from "../backend/dispatch.ts";
import { check } from "../backend/status.ts";
import { record } from "../autograd/tape.ts";
import { sameDevice } from "./elementwise.ts";

const k = kernels({
  ft_resize_fwd: {
    parameters: ["i64", "i64", "i64", "i64", "i64", "i32", "i32", "pointer", "pointer"],
    result: "i32",
  },
  ft_resize_bwd: {
    parameters: ["i64", "i64", "i64", "i64", "i64", "i32", "i32", "pointer", "pointer"],
    result: "i32",
  },
});

/** Interpolation modes. */
export type ResizeMode = "bilinear" | "nearest";

/** Resizes the last two axes of x (B, C, H, W) to (outH, outW). */
export function interpolate(
  x: Tensor,
  outH: number,
  outW: number,
  mode: ResizeMode = "bilinear",
  alignCorners = false,
): Tensor {
  sameDevice("interpolate", x);
  const what = () => `interpolate: x ${fmtShape(x.shape)} -> (${outH},${outW}) ${mode}`;
  if (x.ndim !== 4) throw new Error(`${what()}: expected 4-D x (B,C,H,W)`);
  if (mode !== "bilinear" && mode !== "nearest") {
    throw new Error(`${what()}: mode must be "bilinear" or "nearest"`);
  }
  if (mode === "nearest" && alignCorners) throw new Error(`${what()}: alignCorners only applies to bilinear`);
  if (![outH, outW].every((v) => Number.isInteger(v) && v >= 1)) {
    throw new Error(`${what()}: output size must be >= 1`);
  }
  const [B, C, H, W] = x.shape;
  if (H < 1 || W < 1) throw new Error(`${what()}: empty input`);
  const out = Tensor.empty([B, C, outH, outW], "float32", x.device);
  if (out.size === 0) return out;
  const kk = k(x.device);
  const m = mode === "nearest" ? 0 : 1, ac = alignCorners ? 1 : 0;
  const dims = [B * C, H, W, outH, outW].map(BigInt) as [bigint, bigint, bigint, bigint, bigint];
  check(kk.ft_resize_fwd(...dims, m, ac, x.ptr, out.ptr), what);
  return record(out, "interpolate", [x], (g) => {
    const gx = Tensor.empty(x.shape, "float32", x.device);
    check(kk.ft_resize_bwd(...dims, m, ac, g.ptr, gx.ptr), () => `${what()} (backward)`);
    return [gx];
  });
}
