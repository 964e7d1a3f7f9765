/**
 * Elementwise ops with numpy broadcasting: add, sub, mul, div, maximum, minimum, pow, and the
 * scalar forms; their backward reduces the gradient back to each input's shape.
 * The raw kernels (no autograd) live in src/ops/raw.ts.
 * @module
 */
import type { Tensor } from "../tensor/tensor.ts";
import { stridesOf } from "../tensor/shape.ts";
import { record, recordReads } from "../autograd/tape.ts";
import { sumToShape } from "./reduce.ts";
import { binaryRaw, BinOp, copy, full, Unary, unaryRaw } from "./raw.ts";

// the raw layer, re-exported for op files and users that import it from here
export { addInto, axpby, binaryRaw, BinOp, copy, full, sameDevice, Unary, unaryRaw } from "./raw.ts";

const UN_SCALE = Unary.scale, UN_ADDS = Unary.adds;

function scalarLike(x: number, ref: Tensor): Tensor {
  return full([], x, ref.device);
}

type Operand = Tensor | number;
function asTensor(x: Operand, ref: Tensor): Tensor {
  return typeof x === "number" ? scalarLike(x, ref) : x;
}

/** a + b (broadcasting). */
export function add(a: Operand, b: Operand): Tensor {
  if (typeof a === "number") return add(b, a);
  if (typeof b === "number") return addScalar(a, b);
  const out = binaryRaw(BinOp.add, "add", a, b);
  return recordReads(out, "add", [a, b], [], (g) => [sumToShape(g, a.shape), sumToShape(g, b.shape)]);
}

/** a - b (broadcasting). */
export function sub(a: Operand, b: Operand): Tensor {
  if (typeof b === "number" && typeof a !== "number") return addScalar(a, -b);
  const ref = typeof a === "number" ? (b as Tensor) : a;
  const ta = asTensor(a, ref), tb = asTensor(b, ref);
  const out = binaryRaw(BinOp.sub, "sub", ta, tb);
  return recordReads(
    out,
    "sub",
    [ta, tb],
    [],
    (g) => [sumToShape(g, ta.shape), sumToShape(neg(g), tb.shape)],
  );
}

/** a * b (broadcasting). */
export function mul(a: Operand, b: Operand): Tensor {
  if (typeof a === "number") return mul(b, a);
  if (typeof b === "number") return scale(a, b);
  const out = binaryRaw(BinOp.mul, "mul", a, b);
  return recordReads(out, "mul", [a, b], [a, b], (g) => [
    a.requiresGrad ? sumToShape(binaryRaw(BinOp.mul, "mul", g, b), a.shape) : null,
    b.requiresGrad ? sumToShape(binaryRaw(BinOp.mul, "mul", g, a), b.shape) : null,
  ]);
}

/** a / b (broadcasting). */
export function div(a: Operand, b: Operand): Tensor {
  if (typeof b === "number" && typeof a !== "number") return scale(a, 1 / b);
  const ref = typeof a === "number" ? (b as Tensor) : a;
  const ta = asTensor(a, ref), tb = asTensor(b, ref);
  const out = binaryRaw(BinOp.div, "div", ta, tb);
  return record(out, "div", [ta, tb], (g) => {
    const ga = ta.requiresGrad ? sumToShape(binaryRaw(BinOp.div, "div", g, tb), ta.shape) : null;
    // d(a/b)/db = -out / b
    const gb = tb.requiresGrad
      ? sumToShape(neg(binaryRaw(BinOp.div, "div", binaryRaw(BinOp.mul, "mul", g, out), tb)), tb.shape)
      : null;
    return [ga, gb];
  });
}

/** Elementwise maximum (gradient to the larger; ties to a). */
export function maximum(a: Tensor, b: Tensor): Tensor {
  return minmax(BinOp.max, "maximum", a, b);
}
/** Elementwise minimum (gradient to the smaller; ties to a). */
export function minimum(a: Tensor, b: Tensor): Tensor {
  return minmax(BinOp.min, "minimum", a, b);
}
function minmax(op: number, name: string, a: Tensor, b: Tensor): Tensor {
  const out = binaryRaw(op, name, a, b);
  return record(out, name, [a, b], (g) => {
    const pickA = eqMask(out, a);
    const ga = sumToShape(binaryRaw(BinOp.mul, "mul", g, pickA), a.shape);
    const gb = sumToShape(binaryRaw(BinOp.sub, "sub", g, binaryRaw(BinOp.mul, "mul", g, pickA)), b.shape);
    return [ga, gb];
  });
}
function eqMask(out: Tensor, a: Tensor): Tensor {
  return binaryRaw(BinOp.eq, "eq", out, a);
}

/** 1 where a > b else 0 (no gradient). */
export function greater(a: Tensor, b: Tensor): Tensor {
  return binaryRaw(BinOp.gt, "greater", a, b);
}

/** a ** p for a scalar exponent. */
export function pow(a: Tensor, p: number): Tensor {
  return unaryOp(a, Unary.pows, p);
}

/** x * s. */
export function scale(x: Tensor, s: number): Tensor {
  const out = unaryRaw(x, UN_SCALE, s);
  return recordReads(out, "scale", [x], [], (g) => [unaryRaw(g, UN_SCALE, s)]);
}

/** x + s. */
export function addScalar(x: Tensor, s: number): Tensor {
  const out = unaryRaw(x, UN_ADDS, s);
  return recordReads(out, "addScalar", [x], [], (g) => [g]);
}

/** -x. */
export function neg(x: Tensor): Tensor {
  return scale(x, -1);
}

/** Differentiable copy. */
export function clone(x: Tensor): Tensor {
  return recordReads(copy(x), "clone", [x], [], (g) => [g]);
}

// ---- unary ops (kernel codes shared with native/elementwise.cpp) ----

import { unaryBackward } from "./unary.ts";
function unaryOp(x: Tensor, op: number, p = 0): Tensor {
  const out = unaryRaw(x, op, p);
  return recordReads(out, `unary${op}`, [x], [x, out], (g) => [unaryBackward(op, x, out, g, p)]);
}
export { unaryOp };

/** Strides helper re-exported for op files. */
export { stridesOf };
