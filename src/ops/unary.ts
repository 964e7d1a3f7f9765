/**
 * Pointwise activations and math: exp, log, sqrt, rsqrt, tanh, sigmoid, relu, leakyRelu,
 * abs, square. Forward and backward are fused native loops (native/elementwise.cpp
 * `ft_unary_fwd` / `ft_unary_bwd`); backward reads x and y. GELU lives in src/ops/gelu.ts.
 * @module
 */
import { Tensor } from "../tensor/tensor.ts";
import { kernels } from "../backend/dispatch.ts";
import { check } from "../backend/status.ts";
import { fmtShape } from "../tensor/shape.ts";
import { Unary, unaryOp } from "./elementwise.ts";

/** FFI signatures of this op's kernels (same names in the CPU and CUDA libraries). */
export const UNARY_SYMBOLS = {
  ft_unary_bwd: {
    parameters: [
      /* op */ "i32",
      /* n */ "i64",
      /* x */ "pointer",
      /* y */ "pointer",
      /* gy */ "pointer",
      /* gx */ "pointer",
      /* p */ "f32",
      /* accumulate */ "i32",
    ],
    result: "i32",
  },
} satisfies Deno.ForeignLibraryInterface;
const k = kernels(UNARY_SYMBOLS);

/** gx = gy * f'(x) for unary op `op` (y = f(x) is the forward output). */
export function unaryBackward(op: number, x: Tensor, y: Tensor, gy: Tensor, p = 0): Tensor {
  const gx = Tensor.empty(x.shape, "float32", x.device);
  check(
    k(x.device).ft_unary_bwd(op, BigInt(x.size), x.ptr, y.ptr, gy.ptr, gx.ptr, p, 0),
    () => `unary backward op ${op} ${fmtShape(x.shape)}`,
  );
  return gx;
}

/** e^x. */
export const exp = (x: Tensor): Tensor => unaryOp(x, Unary.exp);
/** Natural log. */
export const log = (x: Tensor): Tensor => unaryOp(x, Unary.log);
/** Square root. */
export const sqrt = (x: Tensor): Tensor => unaryOp(x, Unary.sqrt);
/** 1/sqrt(x). */
export const rsqrt = (x: Tensor): Tensor => unaryOp(x, Unary.rsqrt);
/** tanh. */
export const tanh = (x: Tensor): Tensor => unaryOp(x, Unary.tanh);
/** Logistic sigmoid. */
export const sigmoid = (x: Tensor): Tensor => unaryOp(x, Unary.sigmoid);
/** max(x, 0). */
export const relu = (x: Tensor): Tensor => unaryOp(x, Unary.relu);
/** x for x > 0 else slope * x. */
export const leakyRelu = (x: Tensor, slope = 0.01): Tensor => unaryOp(x, Unary.leaky, slope);
/** |x|. */
export const abs = (x: Tensor): Tensor => unaryOp(x, Unary.abs);
/** x². */
export const square = (x: Tensor): Tensor => unaryOp(x, Unary.square);
/** sin(x). */
export const sin = (x: Tensor): Tensor => unaryOp(x, Unary.sin);
/** cos(x). */
export const cos = (x: Tensor): Tensor => unaryOp(x, Unary.cos);
