/**
 * Index gathers along one axis, with gradients (scatter-add):
 * - `gather(x, axis, index)`: torch.gather — out has index's shape, out[c] = x[c with
 *   c[axis] = index[c]]; index int32 with the same rank as x and index.shape[d] ≤ x.shape[d]
 *   off the axis.
 * - `indexSelect(x, axis, index)`: index 1-D int32 (n,); out = x with the axis replaced by the
 *   n selected slices (beam-search reorders, embedding-style lookups along any axis).
 * An index outside [0, x.shape[axis]) throws naming the op, the index, its position and the size.
 * Kernels: native/gather.cpp, kernels/gather.cu (`ft_gather_*`, `ft_index_select_*`).
 * @module
 */
import { Tensor } from "../tensor/tensor.ts";
import { fmtShape, normAxis, numel, type Shape, stridesOf } from "../tensor/shape.ts";
import { kernels } from "../backend/dispatch.ts";
import { check } from "../backend/status.ts";
import { record } from "../autograd/tape.ts";

/** FFI signatures of the gather kernels (same names in the CPU and CUDA libraries). */
export const GATHER_SYMBOLS = {
  ft_gather_fwd: {
    parameters: [
      /* nd */ "i32",
      /* ishape (nd) index / output shape */ "buffer",
      /* xstride (nd) element strides of x */ "buffer",
      /* axis */ "i32",
      /* axis_size gathered axis and x's extent on it */ "i64",
      /* x */ "pointer",
      /* idx (I) int32 */ "pointer",
      /* out (I) */ "pointer",
      /* bad */ "buffer",
    ],
    result: "i32",
  },
  ft_gather_bwd: {
    parameters: [
      /* nd */ "i32",
      /* ishape (nd) index / gradient shape */ "buffer",
      /* xstride (nd) element strides of gx */ "buffer",
      /* axis */ "i32",
      /* axis_size gathered axis and gx's extent on it */ "i64",
      /* idx (I) int32 */ "pointer",
      /* g (I) dL/dout */ "pointer",
      /* gx like x, pre-zeroed */ "pointer",
      /* bad */ "buffer",
    ],
    result: "i32",
  },
  ft_index_select_fwd: {
    parameters: [
      /* outer */ "i64",
      /* nx */ "i64",
      /* ni */ "i64",
      /* inner */ "i64",
      /* x (outer, nx, inner) */ "pointer",
      /* idx (ni) int32 in [0, nx) */ "pointer",
      /* out (outer, ni, inner) */ "pointer",
      /* bad */ "buffer",
    ],
    result: "i32",
  },
  ft_index_select_bwd: {
    parameters: [
      /* outer */ "i64",
      /* nx */ "i64",
      /* ni */ "i64",
      /* inner */ "i64",
      /* idx (ni) */ "pointer",
      /* g (outer, ni, inner) */ "pointer",
      /* gx (outer, nx, inner) */ "pointer",
      /* bad */ "buffer",
    ],
    result: "i32",
  },
} satisfies Deno.ForeignLibraryInterface;
const k = kernels(GATHER_SYMBOLS);

function indexError(op: string, desc: string, st: number, bad: Int32Array, size: number, n: number): void {
  if (st === 1 && n > 0 && (bad[1] < 0 || bad[1] >= size)) {
    throw new Error(`${op}: ${desc}: index ${bad[1]} at position ${bad[0]} is out of range for size ${size}`);
  }
  check(st, () => `${op} ${desc}`);
}

/** Scatter-add of `g` (index's shape) into a zeroed tensor shaped `xShape` (gather's backward). */
export function gatherBackward(g: Tensor, xShape: Shape, axis: number, index: Tensor): Tensor {
  const gx = Tensor.empty(xShape, "float32", g.device).zero_();
  const bad = new Int32Array(2);
  const st = k(g.device).ft_gather_bwd(
    index.ndim,
    BigInt64Array.from(index.shape, BigInt),
    BigInt64Array.from(stridesOf(xShape), BigInt),
    axis,
    BigInt(xShape[axis]),
    index.ptr,
    g.ptr,
    gx.ptr,
    bad,
  );
  if (st !== 0) {
    gx.dispose();
    indexError("gather backward", `index ${fmtShape(index.shape)}`, st, bad, xShape[axis], index.size);
  }
  return gx;
}

/** torch.gather: out[c] = x[c with c[axis] = index[c]]; out has index's shape. */
export function gather(x: Tensor, axis: number, index: Tensor): Tensor {
  const desc = `x ${fmtShape(x.shape)}, index ${fmtShape(index.shape)}`;
  if (x.dtype !== "float32") throw new Error(`gather: ${desc}: x must be float32, got ${x.dtype}`);
  if (index.dtype !== "int32") throw new Error(`gather: ${desc}: index must be int32, got ${index.dtype}`);
  if (index.device !== x.device) throw new Error(`gather: ${desc}: tensors on different devices`);
  if (x.ndim === 0 || index.ndim !== x.ndim) {
    throw new Error(`gather: ${desc}: index must have the same rank as x (${x.ndim})`);
  }
  if (x.ndim > 8) throw new Error(`gather: ${desc}: at most 8 dims`);
  const ax = normAxis(axis, x.ndim, "gather");
  for (let d = 0; d < x.ndim; d++) {
    if (d !== ax && index.shape[d] > x.shape[d]) {
      throw new Error(
        `gather: ${desc}: index.shape[${d}] = ${index.shape[d]} exceeds x.shape[${d}] = ${x.shape[d]}`,
      );
    }
  }
  if (x.shape[ax] === 0 && index.size > 0) throw new Error(`gather: ${desc}: gathering from an empty axis`);
  const out = Tensor.empty(index.shape, "float32", x.device);
  const bad = new Int32Array(2);
  const st = k(x.device).ft_gather_fwd(
    x.ndim,
    BigInt64Array.from(index.shape, BigInt),
    BigInt64Array.from(stridesOf(x.shape), BigInt),
    ax,
    BigInt(x.shape[ax]),
    x.ptr,
    index.ptr,
    out.ptr,
    bad,
  );
  if (st !== 0) {
    out.dispose();
    indexError("gather", desc, st, bad, x.shape[ax], index.size);
  }
  return record(out, "gather", [x], (g) => [gatherBackward(g, x.shape, ax, index)]);
}

/** Selects slices `index` (1-D int32) along `axis`: out.shape[axis] = index.length. */
export function indexSelect(x: Tensor, axis: number, index: Tensor): Tensor {
  const desc = `x ${fmtShape(x.shape)}, index ${fmtShape(index.shape)}`;
  if (x.dtype !== "float32") throw new Error(`indexSelect: ${desc}: x must be float32, got ${x.dtype}`);
  if (index.dtype !== "int32") {
    throw new Error(`indexSelect: ${desc}: index must be int32, got ${index.dtype}`);
  }
  if (index.ndim !== 1) throw new Error(`indexSelect: ${desc}: index must be 1-D`);
  if (index.device !== x.device) throw new Error(`indexSelect: ${desc}: tensors on different devices`);
  const ax = normAxis(axis, x.ndim, "indexSelect");
  const outer = numel(x.shape.slice(0, ax)), inner = numel(x.shape.slice(ax + 1));
  const nx = x.shape[ax], ni = index.size;
  const dims = [BigInt(outer), BigInt(nx), BigInt(ni), BigInt(inner)] as const;
  const outShape = x.shape.map((d, i) => (i === ax ? ni : d));
  const out = Tensor.empty(outShape, "float32", x.device);
  const bad = new Int32Array(2);
  const st = k(x.device).ft_index_select_fwd(...dims, x.ptr, index.ptr, out.ptr, bad);
  if (st !== 0) {
    out.dispose();
    indexError("indexSelect", desc, st, bad, nx, ni);
  }
  return record(out, "indexSelect", [x], (g) => {
    const gx = Tensor.empty(x.shape, "float32", x.device);
    const st2 = k(x.device).ft_index_select_bwd(...dims, index.ptr, g.ptr, gx.ptr, bad);
    if (st2 !== 0) {
      gx.dispose();
      indexError("indexSelect backward", desc, st2, bad, nx, ni);
    }
    return [gx];
  });
}
