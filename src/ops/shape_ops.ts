/**
 * Shape ops: reshape (shares storage), permute / transpose, slice, concat, expand, stack,
 * unsqueeze / squeeze. Our tensors are always contiguous, so "views" other than reshape are
 * one native strided copy (native/strided.cpp `ft_strided_copy`), and so are their backwards.
 * @module
 */
import { Tensor } from "../tensor/tensor.ts";
import { coalesce, fmtShape, normAxis, numel, type Shape, stridesOf } from "../tensor/shape.ts";
import { kernels } from "../backend/dispatch.ts";
import { check } from "../backend/status.ts";
import { recordReads } from "../autograd/tape.ts";
import { sumToShape } from "./reduce.ts";

/** FFI signatures of this op's kernels (same names in the CPU and CUDA libraries). */
export const SHAPE_OPS_SYMBOLS = {
  ft_strided_copy: {
    parameters: [
      /* nd */ "i32",
      /* shape */ "buffer",
      /* src */ "pointer",
      /* sst */ "buffer",
      /* dst */ "pointer",
      /* dst_st */ "buffer",
      /* acc */ "i32",
    ],
    result: "i32",
  },
} satisfies Deno.ForeignLibraryInterface;
const k = kernels(SHAPE_OPS_SYMBOLS);

/**
 * dst[i . dstStrides + dstOff] (=|+=) src[i . srcStrides + srcOff] over `shape` (elements).
 * The building block of every op in this file; exported for op files that need it.
 */
export function stridedCopy(
  shape: Shape,
  src: Tensor,
  srcStrides: number[],
  srcOff: number,
  dst: Tensor,
  dstStrides: number[],
  dstOff: number,
  accumulate = false,
): void {
  if (src.device !== dst.device) {
    throw new Error(`strided copy: source on ${src.device}, destination on ${dst.device}`);
  }
  if (numel(shape) === 0) return;
  const c = coalesce(shape, [srcStrides, dstStrides]);
  const sp = Deno.UnsafePointer.offset(src.ptr, srcOff * 4)!;
  const dp = Deno.UnsafePointer.offset(dst.ptr, dstOff * 4)!;
  check(
    k(dst.device).ft_strided_copy(
      c.shape.length,
      BigInt64Array.from(c.shape, BigInt),
      sp,
      BigInt64Array.from(c.strides[0], BigInt),
      dp,
      BigInt64Array.from(c.strides[1], BigInt),
      accumulate ? 1 : 0,
    ),
    () => `strided copy ${fmtShape(shape)}`,
  );
}

/** Same data, new shape (one axis may be -1). Shares storage. */
export function reshape(x: Tensor, shape: Shape): Tensor {
  const s = [...shape];
  const neg = s.indexOf(-1);
  if (neg >= 0) {
    const rest = numel(s.filter((_, i) => i !== neg));
    if (rest === 0 || x.size % rest !== 0) {
      throw new Error(`reshape: cannot view ${fmtShape(x.shape)} as ${fmtShape(shape)}`);
    }
    s[neg] = x.size / rest;
  }
  const out = x.viewAs(s);
  return recordReads(out, "reshape", [x], [], (g) => [g.viewAs(x.shape)]);
}

/** Inserts a size-1 axis at `axis`. */
export function unsqueeze(x: Tensor, axis: number): Tensor {
  const a = axis < 0 ? axis + x.ndim + 1 : axis;
  const s = [...x.shape];
  s.splice(a, 0, 1);
  return reshape(x, s);
}

/** Removes a size-1 axis. */
export function squeeze(x: Tensor, axis: number): Tensor {
  const a = normAxis(axis, x.ndim, "squeeze");
  if (x.shape[a] !== 1) throw new Error(`squeeze: axis ${axis} of ${fmtShape(x.shape)} is not 1`);
  return reshape(x, x.shape.filter((_, i) => i !== a));
}

/** Reorders axes: out.shape[i] = x.shape[perm[i]]. */
export function permute(x: Tensor, perm: number[]): Tensor {
  if (perm.length !== x.ndim || new Set(perm.map((p) => normAxis(p, x.ndim, "permute"))).size !== x.ndim) {
    throw new Error(`permute: bad permutation [${perm}] for ${fmtShape(x.shape)}`);
  }
  const p = perm.map((a) => normAxis(a, x.ndim));
  const shape = p.map((a) => x.shape[a]);
  const xs = stridesOf(x.shape);
  const out = Tensor.empty(shape, x.dtype, x.device);
  stridedCopy(shape, x, p.map((a) => xs[a]), 0, out, stridesOf(shape), 0);
  const inv = new Array<number>(p.length);
  p.forEach((a, i) => (inv[a] = i));
  return recordReads(out, "permute", [x], [], (g) => [permute(g, inv)]);
}

/** Swaps two axes. */
export function transpose(x: Tensor, a = -2, b = -1): Tensor {
  const p = [...Array(x.ndim).keys()];
  const i = normAxis(a, x.ndim, "transpose"), j = normAxis(b, x.ndim, "transpose");
  [p[i], p[j]] = [p[j], p[i]];
  return permute(x, p);
}

/** x[..., start:end, ...] along `axis` (end exclusive; negatives count from the end). */
export function slice(x: Tensor, axis: number, start: number, end?: number): Tensor {
  const a = normAxis(axis, x.ndim, "slice");
  const n = x.shape[a];
  let s = start < 0 ? start + n : start;
  let e = end === undefined ? n : end < 0 ? end + n : end;
  s = Math.max(0, Math.min(n, s));
  e = Math.max(s, Math.min(n, e));
  const shape = x.shape.map((d, i) => (i === a ? e - s : d));
  const xs = stridesOf(x.shape);
  const out = Tensor.empty(shape, x.dtype, x.device);
  stridedCopy(shape, x, xs, s * xs[a], out, stridesOf(shape), 0);
  return recordReads(out, "slice", [x], [], (g) => {
    const gx = Tensor.empty(x.shape, "float32", x.device).zero_();
    stridedCopy(shape, g, stridesOf(shape), 0, gx, xs, s * xs[a]);
    return [gx];
  });
}

/** Joins tensors along `axis` (all other axes equal). */
export function concat(xs: Tensor[], axis = 0): Tensor {
  if (xs.length === 0) throw new Error("concat: no tensors");
  const a = normAxis(axis, xs[0].ndim, "concat");
  for (const [i, t] of xs.entries()) {
    if (t.dtype !== xs[0].dtype || t.device !== xs[0].device) {
      throw new Error(
        `concat: tensor ${i} is ${t.dtype} on ${t.device}, tensor 0 is ${xs[0].dtype} on ${
          xs[0].device
        } (all must match)`,
      );
    }
    if (t.ndim !== xs[0].ndim || t.shape.some((d, i) => i !== a && d !== xs[0].shape[i])) {
      throw new Error(`concat: shapes ${xs.map((t) => fmtShape(t.shape)).join(" ")} differ off axis ${axis}`);
    }
  }
  const shape = [...xs[0].shape];
  shape[a] = xs.reduce((s, t) => s + t.shape[a], 0);
  const out = Tensor.empty(shape, xs[0].dtype, xs[0].device);
  const os = stridesOf(shape);
  const offs: number[] = [];
  let off = 0;
  for (const t of xs) {
    offs.push(off);
    stridedCopy(t.shape, t, stridesOf(t.shape), 0, out, os, off * os[a]);
    off += t.shape[a];
  }
  return recordReads(out, "concat", xs, [], (g) =>
    xs.map((t, i) => {
      if (!t.requiresGrad) return null;
      const gt = Tensor.empty(t.shape, "float32", t.device);
      stridedCopy(t.shape, g, os, offs[i] * os[a], gt, stridesOf(t.shape), 0);
      return gt;
    }));
}

/** Stacks same-shape tensors along a new axis. */
export function stack(xs: Tensor[], axis = 0): Tensor {
  return concat(xs.map((t) => unsqueeze(t, axis)), axis);
}

/** Broadcasts x to `shape` (materialised). */
export function expand(x: Tensor, shape: Shape): Tensor {
  const off = shape.length - x.ndim;
  if (off < 0) throw new Error(`expand: ${fmtShape(x.shape)} to ${fmtShape(shape)}`);
  const xs = stridesOf(x.shape);
  const src = shape.map((d, i) => {
    const j = i - off;
    if (j < 0) return 0;
    if (x.shape[j] === d) return xs[j];
    if (x.shape[j] === 1) return 0;
    throw new Error(`expand: ${fmtShape(x.shape)} to ${fmtShape(shape)}`);
  });
  const out = Tensor.empty(shape, x.dtype, x.device);
  stridedCopy(shape, x, src, 0, out, stridesOf(shape), 0);
  return recordReads(out, "expand", [x], [], (g) => [sumToShape(g, x.shape)]);
}

/** Flattens axes [start, end] into one. */
export function flatten(x: Tensor, start = 0, end = -1): Tensor {
  const s = normAxis(start, x.ndim, "flatten"), e = normAxis(end, x.ndim, "flatten");
  const shape = [...x.shape.slice(0, s), numel(x.shape.slice(s, e + 1)), ...x.shape.slice(e + 1)];
  return reshape(x, shape);
}
