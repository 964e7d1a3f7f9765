/**
 * Elementwise ops with numpy broadcasting: add, sub, mul, div, maximum, minimum, pow, and the
 * scalar forms; their backward reduces the gradient back to each input's shape.
 * Kernels: native/elementwise.cpp (`ft_binary_fwd`, `ft_unary_fwd`, `ft_axpby_f32`).
 * @module
 */
import { Tensor } from "../tensor/tensor.ts";
import {
  broadcastShapes,
  broadcastStrides,
  coalesce,
  fmtShape,
  type Shape,
  stridesOf,
} from "../tensor/shape.ts";
import { kernels } from "../backend/dispatch.ts";
import { check } from "../backend/status.ts";
import { record } from "../autograd/tape.ts";
import { sumToShape } from "./reduce.ts";

/** FFI signatures of this op's kernels (same names in the CPU and CUDA libraries). */
export const ELEMENTWISE_SYMBOLS = {
  ft_binary_fwd: {
    parameters: [
      /* op */ "i32",
      /* nd */ "i32",
      /* shape */ "buffer",
      /* sa */ "buffer",
      /* sb */ "buffer",
      /* a */ "pointer",
      /* b */ "pointer",
      /* out */ "pointer",
    ],
    result: "i32",
  },
  ft_unary_fwd: {
    parameters: [
      /* op */ "i32",
      /* n */ "i64",
      /* x */ "pointer",
      /* y */ "pointer",
      /* p */ "f32",
    ],
    result: "i32",
  },
  ft_axpby_f32: {
    parameters: [
      /* n */ "i64",
      /* alpha */ "f32",
      /* x */ "pointer",
      /* beta */ "f32",
      /* y */ "pointer",
    ],
    result: "i32",
  },
  ft_fill_f32: {
    parameters: [
      /* n */ "i64",
      /* x */ "pointer",
      /* v */ "f32",
    ],
    result: "i32",
  },
  ft_mem_copy: {
    parameters: [
      /* dst */ "pointer",
      /* src */ "pointer",
      /* bytes */ "i64",
    ],
    result: "i32",
  },
} satisfies Deno.ForeignLibraryInterface;
const k = kernels(ELEMENTWISE_SYMBOLS);

/** Binary op codes shared with the kernels. */
export const BinOp = { add: 0, sub: 1, mul: 2, div: 3, max: 4, min: 5, pow: 6, eq: 7, gt: 8, ge: 9 } as const;
const UN_SCALE = 11, UN_ADDS = 12;

/** Checks two tensors share a device and are float32. */
export function sameDevice(op: string, ...ts: Tensor[]): void {
  for (const t of ts) {
    if (t.dtype !== "float32") {
      throw new Error(`${op}: expected float32, got ${t.dtype} ${fmtShape(t.shape)}`);
    }
    if (t.device !== ts[0].device) {
      throw new Error(`${op}: tensors on different devices (${ts.map((x) => x.device).join(", ")})`);
    }
  }
}

// Reused argument buffers: allocating three BigInt64Arrays per call doubled the dispatch cost.
const argShape = new BigInt64Array(8), argSa = new BigInt64Array(8), argSb = new BigInt64Array(8);

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Raw broadcasting binary kernel without autograd. */
export function binaryRaw(op: number, name: string, a: Tensor, b: Tensor): Tensor {
  sameDevice(name, a, b);
  if (sameShape(a.shape, b.shape)) {
    const out = Tensor.empty(a.shape, "float32", a.device);
    if (out.size === 0) return out;
    argShape[0] = BigInt(out.size);
    argSa[0] = 1n;
    argSb[0] = 1n;
    check(
      k(a.device).ft_binary_fwd(op, 1, argShape, argSa, argSb, a.ptr, b.ptr, out.ptr),
      () => `${name} ${fmtShape(a.shape)} ${fmtShape(b.shape)}`,
    );
    return out;
  }
  const shape = broadcastShapes(a.shape, b.shape, name);
  const out = Tensor.empty(shape, "float32", a.device);
  if (out.size === 0) return out;
  const c = coalesce(shape, [broadcastStrides(a.shape, shape), broadcastStrides(b.shape, shape)]);
  for (let i = 0; i < c.shape.length; i++) {
    argShape[i] = BigInt(c.shape[i]);
    argSa[i] = BigInt(c.strides[0][i]);
    argSb[i] = BigInt(c.strides[1][i]);
  }
  const st = k(a.device).ft_binary_fwd(op, c.shape.length, argShape, argSa, argSb, a.ptr, b.ptr, out.ptr);
  check(st, () => `${name} ${fmtShape(a.shape)} ${fmtShape(b.shape)}`);
  return out;
}

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
  return record(out, "add", [a, b], (g) => [sumToShape(g, a.shape), sumToShape(g, b.shape)]);
}

/** a - b (broadcasting). */
export function sub(a: Operand, b: Operand): Tensor {
  if (typeof b === "number" && typeof a !== "number") return addScalar(a, -b);
  const ref = typeof a === "number" ? (b as Tensor) : a;
  const ta = asTensor(a, ref), tb = asTensor(b, ref);
  const out = binaryRaw(BinOp.sub, "sub", ta, tb);
  return record(out, "sub", [ta, tb], (g) => [sumToShape(g, ta.shape), sumToShape(neg(g), tb.shape)]);
}

/** a * b (broadcasting). */
export function mul(a: Operand, b: Operand): Tensor {
  if (typeof a === "number") return mul(b, a);
  if (typeof b === "number") return scale(a, b);
  const out = binaryRaw(BinOp.mul, "mul", a, b);
  return record(out, "mul", [a, b], (g) => [
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
  return record(out, "scale", [x], (g) => [unaryRaw(g, UN_SCALE, s)]);
}

/** x + s. */
export function addScalar(x: Tensor, s: number): Tensor {
  const out = unaryRaw(x, UN_ADDS, s);
  return record(out, "addScalar", [x], (g) => [g]);
}

/** -x. */
export function neg(x: Tensor): Tensor {
  return scale(x, -1);
}

/** A tensor filled with `v`. */
export function full(shape: Shape, v: number, device = undefined as Tensor["device"] | undefined): Tensor {
  const out = Tensor.empty(shape, "float32", device);
  check(k(out.device).ft_fill_f32(BigInt(out.size), out.ptr, v), `fill ${fmtShape(shape)}`);
  return out;
}

/** A copy of x (no autograd link; use `clone` for a differentiable copy). */
export function copy(x: Tensor): Tensor {
  const out = Tensor.empty(x.shape, x.dtype, x.device);
  if (x.size) check(k(x.device).ft_mem_copy(out.ptr, x.ptr, BigInt(x.size * 4)), `copy ${fmtShape(x.shape)}`);
  return out;
}

/** Differentiable copy. */
export function clone(x: Tensor): Tensor {
  return record(copy(x), "clone", [x], (g) => [g]);
}

/** dst += src in place (same size; no autograd). */
export function addInto(dst: Tensor, src: Tensor): void {
  if (dst.size !== src.size) {
    throw new Error(`addInto: ${fmtShape(dst.shape)} += ${fmtShape(src.shape)}`);
  }
  check(k(dst.device).ft_axpby_f32(BigInt(dst.size), 1, src.ptr, 1, dst.ptr), "addInto");
}

/** y = alpha * x + beta * y in place (no autograd). */
export function axpby(alpha: number, x: Tensor, beta: number, y: Tensor): void {
  if (x.size !== y.size) throw new Error(`axpby: ${fmtShape(x.shape)} vs ${fmtShape(y.shape)}`);
  check(k(y.device).ft_axpby_f32(BigInt(y.size), alpha, x.ptr, beta, y.ptr), "axpby");
}

// ---- unary ops (kernel codes shared with native/elementwise.cpp) ----

/** Unary op codes. */
export const Unary = {
  neg: 0,
  exp: 1,
  log: 2,
  sqrt: 3,
  tanh: 4,
  sigmoid: 5,
  relu: 6,
  leaky: 7,
  geluErf: 8,
  geluTanh: 9,
  abs: 10,
  scale: 11,
  adds: 12,
  pows: 13,
  square: 14,
  rsqrt: 15,
  sin: 16,
  cos: 17,
} as const;

/** Raw unary kernel without autograd. */
export function unaryRaw(x: Tensor, op: number, p = 0): Tensor {
  sameDevice("unary", x);
  const out = Tensor.empty(x.shape, "float32", x.device);
  check(
    k(x.device).ft_unary_fwd(op, BigInt(x.size), x.ptr, out.ptr, p),
    () => `unary op ${op} ${fmtShape(x.shape)}`,
  );
  return out;
}

import { unaryBackward } from "./unary.ts";
function unaryOp(x: Tensor, op: number, p = 0): Tensor {
  const out = unaryRaw(x, op, p);
  return record(out, `unary${op}`, [x], (g) => [unaryBackward(op, x, out, g, p)]);
}
export { unaryOp };

/** Strides helper re-exported for op files. */
export { stridesOf };
