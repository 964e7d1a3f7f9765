/**
 * `topk(x, k, axis = -1, largest = true)` → `{values, indices}` (indices int32), sorted best
 * first, ties to the lower index, NaN counted larger than every number (PyTorch's order);
 * values carry a gradient (scattered back to the selected positions). `argmax(x, axis,
 * keepdims)` → int32 indices of the first maximum. Beam search takes topk over (B, beams·vocab).
 * Axes other than the last are moved last with one strided copy each way.
 * Kernels: native/topk.cpp, kernels/topk.cu (`ft_topk`).
 * @module
 */
import { Tensor } from "../tensor/tensor.ts";
import { fmtShape, normAxis } from "../tensor/shape.ts";
import { kernels } from "../backend/dispatch.ts";
import { check } from "../backend/status.ts";
import { needsGrad, noGrad, record } from "../autograd/tape.ts";
import { squeeze, transpose } from "./shape_ops.ts";
import { gatherBackward } from "./gather.ts";

/** FFI signatures of the top-k kernel (same name in the CPU and CUDA libraries). */
export const TOPK_SYMBOLS = {
  ft_topk: {
    parameters: [
      /* rows */ "i64",
      /* n */ "i64",
      /* k */ "i64",
      /* largest 1: largest first, 0: smallest first */ "i32",
      /* x (rows, n) */ "pointer",
      /* values (rows, k) */ "pointer",
      /* indices */ "pointer",
    ],
    result: "i32",
  },
} satisfies Deno.ForeignLibraryInterface;
const kk = kernels(TOPK_SYMBOLS);

/** Result of `topk`. */
export interface TopK {
  /** (..., k, ...) float32, best first. */
  values: Tensor;
  /** (..., k, ...) int32 positions along the axis. */
  indices: Tensor;
}

// top-k over the last axis of a float32 tensor
function topkLast(x: Tensor, k: number, largest: boolean): TopK {
  const n = x.shape[x.ndim - 1], rows = x.size / Math.max(n, 1);
  const shape = [...x.shape.slice(0, -1), k];
  const values = Tensor.empty(shape, "float32", x.device);
  const indices = Tensor.empty(shape, "int32", x.device);
  check(
    kk(x.device).ft_topk(
      BigInt(n ? rows : 0),
      BigInt(n),
      BigInt(k),
      largest ? 1 : 0,
      x.ptr,
      values.ptr,
      indices.ptr,
    ),
    () => `topk x ${fmtShape(x.shape)} k ${k}`,
  );
  if (needsGrad(x)) {
    const saved = indices.viewAs(indices.shape); // shares storage: the caller may dispose `indices`
    record(values, "topk", [x], (g) => [gatherBackward(g, x.shape, x.ndim - 1, saved)]);
  }
  return { values, indices };
}

function checkInput(op: string, x: Tensor): void {
  if (x.dtype !== "float32") throw new Error(`${op}: x ${fmtShape(x.shape)} must be float32, got ${x.dtype}`);
  if (x.ndim === 0) throw new Error(`${op}: x must have at least one dim, got a scalar`);
}

/** The k largest (or smallest) entries along `axis`, sorted, with their int32 indices. */
export function topk(x: Tensor, k: number, axis = -1, largest = true): TopK {
  checkInput("topk", x);
  const ax = normAxis(axis, x.ndim, "topk");
  const n = x.shape[ax];
  if (!Number.isInteger(k) || k < 0 || k > n) {
    throw new Error(`topk: x ${fmtShape(x.shape)}: k must be an integer in [0, ${n}] (axis ${ax}), got ${k}`);
  }
  const last = x.ndim - 1;
  if (ax === last) return topkLast(x, k, largest);
  const xt = transpose(x, ax, last);
  const r = topkLast(xt, k, largest);
  const out = { values: transpose(r.values, ax, last), indices: transpose(r.indices, ax, last) };
  if (!r.values.requiresGrad) { // otherwise the graph needs them (the enclosing scope frees them)
    xt.dispose();
    r.values.dispose();
  }
  r.indices.dispose();
  return out;
}

/** int32 index of the first maximum along `axis` (NaN counts as the maximum). */
export function argmax(x: Tensor, axis: number, keepdims = false): Tensor {
  checkInput("argmax", x);
  const ax = normAxis(axis, x.ndim, "argmax");
  if (x.shape[ax] === 0) throw new Error(`argmax: x ${fmtShape(x.shape)}: axis ${ax} is empty`);
  return noGrad(() => {
    const { values, indices } = topk(x, 1, ax, true);
    values.dispose();
    if (keepdims) return indices;
    const out = squeeze(indices, ax);
    indices.dispose();
    return out;
  });
}
