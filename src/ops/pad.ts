/**
 * `pad(x, pads, value = 0)`: constant padding with F.pad's convention — `pads` holds (before,
 * after) pairs for the last axes, last axis first: [left, right, top, bottom, ...]; negative
 * pads crop. The gradient crops (or zero-pads) the incoming gradient back to x's shape.
 * Kernels: native/pad.cpp, kernels/pad.cu (`ft_pad`).
 * @module
 */
import { Tensor } from "../tensor/tensor.ts";
import { fmtShape, type Shape } from "../tensor/shape.ts";
import { kernels } from "../backend/dispatch.ts";
import { check } from "../backend/status.ts";
import { record } from "../autograd/tape.ts";

/** FFI signature of the pad kernel (same name in the CPU and CUDA libraries). */
export const PAD_SYMBOLS = {
  ft_pad: {
    parameters: [
      /* nd */ "i32",
      /* xshape (nd) input shape */ "buffer",
      /* oshape (nd) output shape */ "buffer",
      /* lo (nd) leading pad per axis (negative = crop) */ "buffer",
      /* value */ "f32",
      /* x (xshape) */ "pointer",
      /* out */ "pointer",
    ],
    result: "i32",
  },
} satisfies Deno.ForeignLibraryInterface;
const k = kernels(PAD_SYMBOLS);

function padRaw(x: Tensor, xShape: Shape, oShape: number[], lo: number[], value: number): Tensor {
  const out = Tensor.empty(oShape, "float32", x.device);
  const nd = Math.max(1, xShape.length);
  const b = (a: readonly number[]) => BigInt64Array.from(a.length ? a : [1], BigInt);
  check(
    k(x.device).ft_pad(nd, b(xShape), b(oShape), b(lo.length ? lo : [0]), value, x.ptr, out.ptr),
    () => `pad x ${fmtShape(xShape)} -> ${fmtShape(oShape)}`,
  );
  return out;
}

/** x padded with `value` (or cropped, for negative pads) per F.pad's pair convention. */
export function pad(x: Tensor, pads: number[], value = 0): Tensor {
  const desc = `x ${fmtShape(x.shape)}, pads [${pads.join(", ")}]`;
  if (x.dtype !== "float32") throw new Error(`pad: ${desc}: x must be float32, got ${x.dtype}`);
  if (pads.length % 2 !== 0 || pads.length / 2 > x.ndim || pads.some((p) => !Number.isInteger(p))) {
    throw new Error(
      `pad: ${desc}: pads must be integer (before, after) pairs for at most ${x.ndim} trailing axes`,
    );
  }
  if (x.ndim > 8) throw new Error(`pad: ${desc}: at most 8 dims`);
  const lo = x.shape.map(() => 0), hi = x.shape.map(() => 0);
  for (let p = 0; p < pads.length / 2; p++) {
    const d = x.ndim - 1 - p;
    lo[d] = pads[2 * p];
    hi[d] = pads[2 * p + 1];
  }
  const oShape = x.shape.map((s, d) => s + lo[d] + hi[d]);
  if (oShape.some((s) => s < 0)) {
    throw new Error(`pad: ${desc}: the output shape ${fmtShape(oShape)} is negative`);
  }
  const out = padRaw(x, x.shape, oShape, lo, value);
  return record(out, "pad", [x], (g) => [padRaw(g, oShape, [...x.shape], lo.map((l) => -l), 0)]);
}
