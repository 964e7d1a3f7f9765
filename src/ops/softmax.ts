/**
 * Softmax and log-softmax over the last axis, fused with an optional additive mask that
 * broadcasts against x (e.g. (B,1,1,T) key padding or (T,T) causal biases for x (B,H,T,T)).
 * A row whose entries are all -inf gives zeros (softmax) / -inf (log-softmax), never NaN.
 * Kernels: native/softmax.cpp (`ft_softmax_fwd`, `ft_softmax_bwd`).
 * @module
 */
import { Tensor } from "../tensor/tensor.ts";
import { broadcastStrides, coalesce, fmtShape } from "../tensor/shape.ts";
import { kernels } from "../backend/dispatch.ts";
import { check } from "../backend/status.ts";
import { recordReads } from "../autograd/tape.ts";
import { sumToShape } from "./reduce.ts";
import { copy } from "./elementwise.ts";

/** FFI signatures of this op's kernels (same names in the CPU and CUDA libraries). */
export const SOFTMAX_SYMBOLS = {
  ft_softmax_fwd: {
    parameters: [
      /* rows */ "i64",
      /* T */ "i64",
      /* x (rows, T) */ "pointer",
      /* mask (..., T) broadcast, or null */ "pointer",
      /* nd */ "i32",
      /* lead_shape (nd) */ "buffer",
      /* mask_strides (nd) element strides, 0 = broadcast */ "buffer",
      /* log */ "i32",
      /* y */ "pointer",
    ],
    result: "i32",
  },
  ft_softmax_bwd: {
    parameters: [
      /* rows */ "i64",
      /* T */ "i64",
      /* y (rows, T) */ "pointer",
      /* g (rows, T) */ "pointer",
      /* log */ "i32",
      /* gx */ "pointer",
    ],
    result: "i32",
  },
} satisfies Deno.ForeignLibraryInterface;
const k = kernels(SOFTMAX_SYMBOLS);

function validate(op: string, x: Tensor, mask: Tensor | null | undefined): void {
  if (x.dtype !== "float32") throw new Error(`${op}: x ${fmtShape(x.shape)} must be float32, got ${x.dtype}`);
  if (x.ndim < 1) throw new Error(`${op}: x must have at least 1 axis, got ${fmtShape(x.shape)}`);
  if (!mask) return;
  if (mask.dtype !== "float32") {
    throw new Error(`${op}: mask ${fmtShape(mask.shape)} must be float32 (additive), got ${mask.dtype}`);
  }
  if (mask.device !== x.device) throw new Error(`${op}: mask on ${mask.device}, x on ${x.device}`);
  const T = x.shape[x.ndim - 1];
  const ok = mask.ndim >= 1 && mask.ndim <= x.ndim && mask.shape[mask.ndim - 1] === T &&
    mask.shape.every((d, i) => d === 1 || d === x.shape[x.ndim - mask.ndim + i]);
  if (!ok) {
    throw new Error(
      `${op}: mask ${fmtShape(mask.shape)} does not broadcast over x ${fmtShape(x.shape)} ` +
        `(expected (..., ${T}) with leading axes 1 or equal to x's)`,
    );
  }
}

function run(op: string, x: Tensor, mask: Tensor | null | undefined, log: boolean): Tensor {
  validate(op, x, mask);
  const T = x.shape[x.ndim - 1];
  const rows = T === 0 ? 0 : x.size / T;
  const out = Tensor.empty(x.shape, "float32", x.device);
  let nd = 1, lead = new BigInt64Array(1), strides = new BigInt64Array(1);
  if (mask && rows > 0) {
    const leadShape = x.shape.slice(0, -1);
    const ms = broadcastStrides(mask.shape, x.shape).slice(0, -1);
    const c = coalesce(leadShape.length ? leadShape : [1], [leadShape.length ? ms : [0]]);
    nd = c.shape.length;
    lead = BigInt64Array.from(c.shape, BigInt);
    strides = BigInt64Array.from(c.strides[0], BigInt);
  }
  check(
    k(x.device).ft_softmax_fwd(
      BigInt(rows),
      BigInt(T),
      x.ptr,
      mask ? mask.ptr : null,
      nd,
      lead,
      strides,
      log ? 1 : 0,
      out.ptr,
    ),
    () => `${op} x ${fmtShape(x.shape)}${mask ? ` mask ${fmtShape(mask.shape)}` : ""}`,
  );
  const inputs = mask ? [x, mask] : [x];
  return recordReads(out, op, inputs, [out], (g) => {
    const gx = Tensor.empty(x.shape, "float32", x.device);
    check(
      k(x.device).ft_softmax_bwd(BigInt(rows), BigInt(T), out.ptr, g.ptr, log ? 1 : 0, gx.ptr),
      () => `${op} backward ${fmtShape(x.shape)}`,
    );
    if (!mask) return [gx];
    let gm: Tensor | null = null;
    if (mask.requiresGrad) {
      gm = sumToShape(gx, mask.shape);
      if (gm === gx) gm = copy(gx);
    }
    return [x.requiresGrad ? gx : null, gm];
  });
}

/** softmax(x + mask) over the last axis. `mask` (optional) is additive and broadcasts over x. */
export function softmax(x: Tensor, mask?: Tensor | null): Tensor {
  return run("softmax", x, mask, false);
}

/** log(softmax(x + mask)) over the last axis, computed stably in one fused pass. */
export function logSoftmax(x: Tensor, mask?: Tensor | null): Tensor {
  return run("logSoftmax", x, mask, true);
}
