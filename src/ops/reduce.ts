/**
 * Reductions: sum / mean over any set of axes, max over one axis (with argmax), and
 * `sumToShape`, which folds a broadcast gradient back to an input's shape. Each reduced run of
 * adjacent axes is one native call on an (outer, R, inner) view (native/reduce.cpp).
 * @module
 */
import { Tensor } from "../tensor/tensor.ts";
import { fmtShape, normAxis, numel, type Shape } from "../tensor/shape.ts";
import { kernels } from "../backend/dispatch.ts";
import { check } from "../backend/status.ts";
import { record, recordReads } from "../autograd/tape.ts";
import { expand } from "./shape_ops.ts";

/** FFI signatures of this op's kernels (same names in the CPU and CUDA libraries). */
export const REDUCE_SYMBOLS = {
  ft_reduce_sum: {
    parameters: [
      /* outer */ "i64",
      /* R */ "i64",
      /* inner */ "i64",
      /* x */ "pointer",
      /* y */ "pointer",
      /* scale */ "f32",
    ],
    result: "i32",
  },
  ft_reduce_max: {
    parameters: [
      /* outer */ "i64",
      /* R */ "i64",
      /* inner */ "i64",
      /* x */ "pointer",
      /* y */ "pointer",
      /* idx */ "pointer",
    ],
    result: "i32",
  },
  ft_reduce_max_bwd: {
    parameters: [
      /* outer */ "i64",
      /* R */ "i64",
      /* inner */ "i64",
      /* gy */ "pointer",
      /* idx */ "pointer",
      /* gx */ "pointer",
    ],
    result: "i32",
  },
} satisfies Deno.ForeignLibraryInterface;
const k = kernels(REDUCE_SYMBOLS);

function normAxes(axes: number | number[] | undefined, ndim: number, op: string): number[] {
  if (axes === undefined) return [...Array(ndim).keys()];
  const list = (Array.isArray(axes) ? axes : [axes]).map((a) => normAxis(a, ndim, op));
  return [...new Set(list)].sort((a, b) => a - b);
}

/** Raw scaled sum over sorted axes (no autograd); result keeps reduced axes as size 1. */
function sumRaw(x: Tensor, axes: number[], scaleBy: number): Tensor {
  let cur = x;
  let shape = [...x.shape];
  // process runs of adjacent axes from the last to the first
  const runs: [number, number][] = [];
  for (const a of axes) {
    const last = runs[runs.length - 1];
    if (last && last[1] === a) last[1] = a + 1;
    else runs.push([a, a + 1]);
  }
  if (runs.length === 0) {
    const out = Tensor.empty(x.shape, "float32", x.device);
    check(k(x.device).ft_reduce_sum(1n, 1n, BigInt(x.size), x.ptr, out.ptr, scaleBy), "sum");
    return out;
  }
  for (let r = runs.length - 1; r >= 0; r--) {
    const [a0, a1] = runs[r];
    const outer = numel(shape.slice(0, a0)), R = numel(shape.slice(a0, a1)), inner = numel(shape.slice(a1));
    const nshape = [...shape];
    for (let a = a0; a < a1; a++) nshape[a] = 1;
    const out = Tensor.empty(nshape, "float32", x.device);
    const s = r === 0 ? scaleBy : 1;
    if (out.size > 0) {
      if (R === 0) out.zero_();
      else {
        check(
          k(x.device).ft_reduce_sum(BigInt(outer), BigInt(R), BigInt(inner), cur.ptr, out.ptr, s),
          () => `sum ${fmtShape(x.shape)} axes ${axes}`,
        );
      }
    }
    if (cur !== x) cur.dispose();
    cur = out;
    shape = nshape;
  }
  return cur;
}

function dropAxes(shape: Shape, axes: number[]): number[] {
  return shape.filter((_, i) => !axes.includes(i));
}

/** Sum over `axes` (all when omitted). */
export function sum(x: Tensor, axes?: number | number[], keepdims = false): Tensor {
  return scaledSum(x, axes, keepdims, 1, "sum");
}

/** Mean over `axes` (all when omitted). */
export function mean(x: Tensor, axes?: number | number[], keepdims = false): Tensor {
  const ax = normAxes(axes, x.ndim, "mean");
  const n = numel(ax.map((a) => x.shape[a]));
  const out = scaledSum(x, ax, keepdims, n > 0 ? 1 / n : NaN, "mean");
  // an empty mean is 0/0 = NaN (PyTorch), not the empty sum's 0; the gradient is empty anyway
  if (n === 0 && out.size > 0) out.set(new Float32Array(out.size).fill(NaN));
  return out;
}

function scaledSum(
  x: Tensor,
  axes: number | number[] | undefined,
  keepdims: boolean,
  s: number,
  op: string,
): Tensor {
  const ax = normAxes(axes, x.ndim, op);
  const kept = sumRaw(x, ax, s);
  const out = keepdims ? kept : kept.viewAs(dropAxes(x.shape, ax));
  if (out !== kept) kept.dispose();
  return recordReads(out, op, [x], [], (g) => {
    const gk = g.viewAs(kept.shape);
    const e = expand(gk, x.shape);
    if (s === 1) return [e];
    const scaled = Tensor.empty(e.shape, "float32", e.device);
    return [scaleInto(e, s, scaled)];
  });
}

import { axpby } from "./elementwise.ts";
function scaleInto(x: Tensor, s: number, out: Tensor): Tensor {
  axpby(s, x, 0, out);
  return out;
}

/** Sums a broadcast gradient back to `shape` (no autograd). */
export function sumToShape(g: Tensor, shape: Shape): Tensor {
  if (g.shape.length === shape.length && g.shape.every((d, i) => d === shape[i])) return g;
  const off = g.ndim - shape.length;
  if (off < 0) throw new Error(`sumToShape: ${fmtShape(g.shape)} -> ${fmtShape(shape)}`);
  const axes: number[] = [];
  for (let i = 0; i < g.ndim; i++) {
    const want = i < off ? 1 : shape[i - off];
    if (i < off || (want === 1 && g.shape[i] !== 1)) axes.push(i);
    else if (want !== g.shape[i]) throw new Error(`sumToShape: ${fmtShape(g.shape)} -> ${fmtShape(shape)}`);
  }
  const r = sumRaw(g, axes, 1);
  const out = r.viewAs(shape);
  r.dispose();
  return out;
}

/** Max over one axis; returns values (gradient flows to the argmax). */
export function max(x: Tensor, axis: number, keepdims = false): Tensor {
  return maxWithIndex(x, axis, keepdims).values;
}

/** Max over one axis with int32 argmax indices. */
export function maxWithIndex(x: Tensor, axis: number, keepdims = false): { values: Tensor; indices: Tensor } {
  const a = normAxis(axis, x.ndim, "max");
  const outer = numel(x.shape.slice(0, a)), R = x.shape[a], inner = numel(x.shape.slice(a + 1));
  if (R === 0) throw new Error(`max: axis ${axis} of ${fmtShape(x.shape)} is empty`);
  const oshape = keepdims ? x.shape.map((d, i) => (i === a ? 1 : d)) : dropAxes(x.shape, [a]);
  const values = Tensor.empty(oshape, "float32", x.device);
  const indices = Tensor.empty(oshape, "int32", x.device);
  check(
    k(x.device).ft_reduce_max(BigInt(outer), BigInt(R), BigInt(inner), x.ptr, values.ptr, indices.ptr),
    () => `max ${fmtShape(x.shape)} axis ${axis}`,
  );
  record(values, "max", [x], (g) => {
    const gx = Tensor.empty(x.shape, "float32", x.device).zero_();
    check(
      k(x.device).ft_reduce_max_bwd(BigInt(outer), BigInt(R), BigInt(inner), g.ptr, indices.ptr, gx.ptr),
      "max backward",
    );
    return [gx];
  });
  return { values, indices };
}
