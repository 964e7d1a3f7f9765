/**
 * `interpolate(x, outH, outW, mode, alignCorners)`: PyTorch `F.interpolate(x, size=(outH, outW))`
 * for x (B, C, H, W) -> (B, C, outH, outW). "nearest" takes src = min(floor(dst * in/out), in-1)
 * (PyTorch's legacy nearest); "bilinear" uses half-pixel centres with the source index clamped at
 * 0 (alignCorners=false) or the corner-aligned grid (alignCorners=true), float math as PyTorch's
 * CPU kernel. "bicubic" is PyTorch's upsample_bicubic2d: the same source coordinate (unclamped),
 * four taps floor(src)-1 .. +2 clamped to the border, Keys cubic-convolution weights with
 * A = -0.75 (SAM / ViT position-embedding resizing). Forward and backward (scatter of the same
 * weights) are native (native/resize.cpp, kernels/resize.cu).
 * @module
 */
import { Tensor } from "../tensor/tensor.ts";
import { fmtShape } from "../tensor/shape.ts";
import { kernels } from "../backend/dispatch.ts";
import { check } from "../backend/status.ts";
import { recordReads } from "../autograd/tape.ts";
import { sameDevice } from "./elementwise.ts";

/** FFI signatures of the resize kernels (same names in the CPU and CUDA libraries). */
export const RESIZE_SYMBOLS = {
  ft_resize_fwd: {
    parameters: [
      /* BC */ "i64",
      /* H */ "i64",
      /* W */ "i64",
      /* Ho */ "i64",
      /* Wo */ "i64",
      /* mode */ "i32",
      /* alignCorners */ "i32",
      /* x (B*C, H, W) */ "pointer",
      /* y */ "pointer",
    ],
    result: "i32",
  },
  ft_resize_bwd: {
    parameters: [
      /* BC */ "i64",
      /* H */ "i64",
      /* W */ "i64",
      /* Ho */ "i64",
      /* Wo */ "i64",
      /* mode */ "i32",
      /* alignCorners */ "i32",
      /* gy (B*C, Ho, Wo) */ "pointer",
      /* gx */ "pointer",
    ],
    result: "i32",
  },
} satisfies Deno.ForeignLibraryInterface;
const k = kernels(RESIZE_SYMBOLS);

/** Interpolation modes. */
export type ResizeMode = "bilinear" | "nearest" | "bicubic";

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
  if (mode !== "bilinear" && mode !== "nearest" && mode !== "bicubic") {
    throw new Error(`${what()}: mode must be "bilinear", "bicubic" or "nearest"`);
  }
  if (mode === "nearest" && alignCorners) {
    throw new Error(`${what()}: alignCorners only applies to bilinear and bicubic`);
  }
  if (![outH, outW].every((v) => Number.isInteger(v) && v >= 1)) {
    throw new Error(`${what()}: output size must be >= 1`);
  }
  const [B, C, H, W] = x.shape;
  if (H < 1 || W < 1) throw new Error(`${what()}: empty input`);
  const out = Tensor.empty([B, C, outH, outW], "float32", x.device);
  if (out.size === 0) return out;
  const kk = k(x.device);
  const m = mode === "nearest" ? 0 : mode === "bilinear" ? 1 : 2, ac = alignCorners ? 1 : 0;
  const dims = [B * C, H, W, outH, outW].map(BigInt) as [bigint, bigint, bigint, bigint, bigint];
  check(kk.ft_resize_fwd(...dims, m, ac, x.ptr, out.ptr), what);
  return recordReads(out, "interpolate", [x], [], (g) => {
    const gx = Tensor.empty(x.shape, "float32", x.device);
    check(kk.ft_resize_bwd(...dims, m, ac, g.ptr, gx.ptr), () => `${what()} (backward)`);
    return [gx];
  });
}
