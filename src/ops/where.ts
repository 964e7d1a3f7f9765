/**
 * `where(cond, a, b)`: cond ? a : b element-wise with numpy broadcasting of all three (a, b may
 * be numbers); cond is float32 (nonzero = true) or int32. Gradients flow to a where cond holds
 * and to b elsewhere, summed over broadcast axes. `maskedFill(x, mask, value)` = where(mask,
 * value, x) (attention-style masking; gradient to x where the mask is false).
 * Kernels: native/where.cpp, kernels/where.cu (`ft_where`).
 * @module
 */
import { Tensor } from "../tensor/tensor.ts";
import { broadcastShapes, broadcastStrides, fmtShape, type Shape } from "../tensor/shape.ts";
import { kernels } from "../backend/dispatch.ts";
import { check } from "../backend/status.ts";
import { record } from "../autograd/tape.ts";
import { sumToShape } from "./reduce.ts";

/** FFI signature of the select kernel (same name in the CPU and CUDA libraries). */
export const WHERE_SYMBOLS = {
  ft_where: {
    parameters: [
      /* nd */ "i32",
      /* shape (nd) output shape */ "buffer",
      /* cstride (nd) cond strides */ "buffer",
      /* astride (nd) a strides (ignored when a is null) */ "buffer",
      /* bstride (nd) b strides (ignored when b is null) */ "buffer",
      /* cond float32 or int32 (cond_i32) */ "pointer",
      /* cond_i32 */ "i32",
      /* a */ "pointer",
      /* a_val tensor or null (then the scalar a_val) */ "f32",
      /* b */ "pointer",
      /* b_val tensor or null (then the scalar b_val) */ "f32",
      /* out */ "pointer",
    ],
    result: "i32",
  },
} satisfies Deno.ForeignLibraryInterface;
const k = kernels(WHERE_SYMBOLS);

type Side = Tensor | number;

// out(shape) = cond ? a : b; raw (no autograd)
function select(cond: Tensor, a: Side, b: Side, shape: Shape): Tensor {
  const nd = Math.max(shape.length, 1), sh = shape.length ? shape : [1];
  const strides = (t: Side) =>
    BigInt64Array.from(typeof t === "number" ? sh.map(() => 0) : broadcastStrides(t.shape, sh), BigInt);
  const out = Tensor.empty(shape, "float32", cond.device);
  check(
    k(cond.device).ft_where(
      nd,
      BigInt64Array.from(sh, BigInt),
      strides(cond),
      strides(a),
      strides(b),
      cond.ptr,
      cond.dtype === "int32" ? 1 : 0,
      typeof a === "number" ? null : a.ptr,
      typeof a === "number" ? a : 0,
      typeof b === "number" ? null : b.ptr,
      typeof b === "number" ? b : 0,
      out.ptr,
    ),
    () => `where ${fmtShape(shape)}`,
  );
  return out;
}

function validate(op: string, cond: Tensor, a: Side, b: Side): number[] {
  const desc = () =>
    [
      `cond ${fmtShape(cond.shape)}`,
      typeof a === "number" ? `${a}` : `a ${fmtShape(a.shape)}`,
      typeof b === "number" ? `${b}` : `b ${fmtShape(b.shape)}`,
    ]
      .join(", ");
  if (cond.dtype !== "float32" && cond.dtype !== "int32") {
    throw new Error(`${op}: ${desc()}: the condition must be float32 or int32, got ${cond.dtype}`);
  }
  let shape: number[] = [...cond.shape];
  for (const t of [a, b]) {
    if (typeof t === "number") continue;
    if (t.dtype !== "float32") throw new Error(`${op}: ${desc()}: values must be float32, got ${t.dtype}`);
    if (t.device !== cond.device) throw new Error(`${op}: ${desc()}: tensors on different devices`);
    shape = broadcastShapes(shape, t.shape, op);
  }
  if (shape.length > 8) throw new Error(`${op}: ${desc()}: at most 8 dims`);
  return shape;
}

/** cond ? a : b with broadcasting; a, b tensors or numbers. */
export function where(cond: Tensor, a: Side, b: Side): Tensor {
  const shape = validate("where", cond, a, b);
  const out = select(cond, a, b, shape);
  const ins = [a, b].filter((t): t is Tensor => typeof t !== "number");
  return record(out, "where", ins, (g) =>
    ins.map((t) => {
      const part = t === a ? select(cond, g, 0, shape) : select(cond, 0, g, shape);
      if (t.shape.length === shape.length && t.shape.every((d, i) => d === shape[i])) return part;
      const r = sumToShape(part, t.shape);
      part.dispose();
      return r;
    }));
}

/** x with `value` wherever mask is true (nonzero); mask broadcasts to x's shape. */
export function maskedFill(x: Tensor, mask: Tensor, value: number): Tensor {
  const shape = validate("maskedFill", mask, value, x);
  if (shape.length !== x.ndim || shape.some((d, i) => d !== x.shape[i])) {
    throw new Error(`maskedFill: mask ${fmtShape(mask.shape)} must broadcast to x ${fmtShape(x.shape)}`);
  }
  return where(mask, value, x);
}
