/**
 * dtype conversion and one-hot encoding:
 * - `cast(x, "float32" | "int32")`: float → int truncates toward zero like torch (NaN and values
 *   outside the int32 range give -2147483648, as torch on x86); int → float rounds to nearest.
 *   Casting to the same dtype returns a copy. Gradients flow through float32 → float32 only.
 * - `oneHot(idx, n)`: int32 idx (...) → float32 (..., n); an index outside [0, n) throws.
 * Kernels: native/cast.cpp, kernels/cast.cu (`ft_cast_f32_i32`, `ft_cast_i32_f32`, `ft_one_hot`).
 * @module
 */
import { Tensor } from "../tensor/tensor.ts";
import { fmtShape } from "../tensor/shape.ts";
import { kernels } from "../backend/dispatch.ts";
import { check } from "../backend/status.ts";
import { clone, copy } from "./elementwise.ts";
import type { DType } from "../tensor/tensor.ts";

/** FFI signatures of the cast kernels (same names in the CPU and CUDA libraries). */
export const CAST_SYMBOLS = {
  ft_cast_f32_i32: {
    parameters: [
      /* n */ "i64",
      /* x (n) */ "pointer",
      /* y */ "pointer",
    ],
    result: "i32",
  }, // n, x f32, y i32
  ft_cast_i32_f32: {
    parameters: [
      /* n */ "i64",
      /* x (n) */ "pointer",
      /* y */ "pointer",
    ],
    result: "i32",
  }, // n, x i32, y f32
  // n, classes, idx (n) i32, out (n, classes) f32, bad (2) i32 {position, index}
  ft_one_hot: {
    parameters: [
      /* n */ "i64",
      /* classes */ "i64",
      /* idx (n) in [0, classes) */ "pointer",
      /* out (n, classes) */ "pointer",
      /* bad */ "buffer",
    ],
    result: "i32",
  },
} satisfies Deno.ForeignLibraryInterface;
const k = kernels(CAST_SYMBOLS);

/** x converted to `dtype` (a new tensor). */
export function cast(x: Tensor, dtype: DType): Tensor {
  if (dtype !== "float32" && dtype !== "int32") {
    throw new Error(`cast: x ${fmtShape(x.shape)}: dtype must be "float32" or "int32", got "${dtype}"`);
  }
  if (x.dtype === dtype) return dtype === "float32" ? clone(x) : copy(x);
  const out = Tensor.empty(x.shape, dtype, x.device);
  const kk = k(x.device);
  const st = dtype === "int32"
    ? kk.ft_cast_f32_i32(BigInt(x.size), x.ptr, out.ptr)
    : kk.ft_cast_i32_f32(BigInt(x.size), x.ptr, out.ptr);
  check(st, () => `cast x ${fmtShape(x.shape)} ${x.dtype} -> ${dtype}`);
  return out;
}

/** float32 (..., n) with a 1 at each int32 index of `idx` (...). */
export function oneHot(idx: Tensor, n: number): Tensor {
  const desc = `idx ${fmtShape(idx.shape)}, n ${n}`;
  if (idx.dtype !== "int32") throw new Error(`oneHot: ${desc}: idx must be int32, got ${idx.dtype}`);
  if (!Number.isInteger(n) || n < 0) throw new Error(`oneHot: ${desc}: n must be a non-negative integer`);
  const out = Tensor.empty([...idx.shape, n], "float32", idx.device);
  const bad = new Int32Array(2);
  const st = k(idx.device).ft_one_hot(BigInt(idx.size), BigInt(n), idx.ptr, out.ptr, bad);
  if (st !== 0) {
    out.dispose();
    if (st === 1 && idx.size > 0) {
      throw new Error(`oneHot: ${desc}: index ${bad[1]} at position ${bad[0]} is out of range for n=${n}`);
    }
    check(st, () => `oneHot ${desc}`);
  }
  return out;
}
