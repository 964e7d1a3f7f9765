/**
 * The raw (no-autograd) elementwise layer: broadcasting binary and unary kernels, fill, copy and
 * the in-place `axpby` / `addInto`. Both the autograd tape and the differentiable ops import it,
 * so src/autograd/tape.ts depends on no op file (no import cycle).
 * Kernels: native/elementwise.cpp (`ft_binary_fwd`, `ft_unary_fwd`, `ft_axpby_f32`, `ft_fill_f32`,
 * `ft_mem_copy`). Tests: tests/ops/elementwise_test.ts, tests/autograd/tape_test.ts.
 * @module
 */
import { Tensor } from "../tensor/tensor.ts";
import { broadcastShapes, broadcastStrides, coalesce, fmtShape, type Shape } from "../tensor/shape.ts";
import { kernels } from "../backend/dispatch.ts";
import { check } from "../backend/status.ts";

/** FFI signatures of the raw elementwise kernels (same names in the CPU and CUDA libraries). */
export const RAW_SYMBOLS = {
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
const k = kernels(RAW_SYMBOLS);

/** Binary op codes shared with the kernels. */
export const BinOp = { add: 0, sub: 1, mul: 2, div: 3, max: 4, min: 5, pow: 6, eq: 7, gt: 8, ge: 9 } as const;

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

/** dst += src in place (same size; no autograd). */
export function addInto(dst: Tensor, src: Tensor): void {
  if (dst.size !== src.size) {
    throw new Error(`addInto: ${fmtShape(dst.shape)} += ${fmtShape(src.shape)}`);
  }
  sameDevice("addInto", dst, src);
  dst.storage.markWritten();
  check(k(dst.device).ft_axpby_f32(BigInt(dst.size), 1, src.ptr, 1, dst.ptr), "addInto");
}

/** y = alpha * x + beta * y in place (no autograd). */
export function axpby(alpha: number, x: Tensor, beta: number, y: Tensor): void {
  if (x.size !== y.size) throw new Error(`axpby: ${fmtShape(x.shape)} vs ${fmtShape(y.shape)}`);
  sameDevice("axpby", y, x);
  y.storage.markWritten();
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
