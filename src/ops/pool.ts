/**
 * 2-D pooling with PyTorch semantics (floor mode): `maxPool2d` (padding with -inf, gradient to
 * the first maximum of each window), `avgPool2d` (count_include_pad by default) and
 * `adaptiveAvgPool1x1` (global average, = avgPool2d with kernel (H, W)).
 * x (B, C, H, W) -> (B, C, Ho, Wo), Ho = floor((H + 2p - k) / s) + 1.
 * Kernels: native/pool.cpp (`ft_maxpool2d_fwd/bwd`, `ft_avgpool2d_fwd/bwd`).
 * @module
 */
import { Tensor } from "../tensor/tensor.ts";
import { fmtShape } from "../tensor/shape.ts";
import { kernels } from "../backend/dispatch.ts";
import { check } from "../backend/status.ts";
import { needsGrad, record } from "../autograd/tape.ts";
import { sameDevice } from "./elementwise.ts";
import { type Pair, pair } from "./conv2d.ts";

/** FFI signatures of this op's kernels (same names in the CPU and CUDA libraries). */
export const POOL_SYMBOLS = {
  ft_maxpool2d_fwd: {
    parameters: [
      /* BC */ "i64",
      /* H */ "i64",
      /* W */ "i64",
      /* kh */ "i64",
      /* kw */ "i64",
      /* sh */ "i64",
      /* sw */ "i64",
      /* ph */ "i64",
      /* pw */ "i64",
      /* Ho */ "i64",
      /* Wo */ "i64",
      /* x (B*C, H, W) */ "pointer",
      /* y (B*C, Ho, Wo) */ "pointer",
      /* idx */ "pointer",
    ],
    result: "i32",
  },
  ft_maxpool2d_bwd: {
    parameters: [
      /* BC */ "i64",
      /* H */ "i64",
      /* W */ "i64",
      /* Ho */ "i64",
      /* Wo */ "i64",
      /* gy (B*C, Ho, Wo) */ "pointer",
      /* idx (B*C, Ho, Wo) */ "pointer",
      /* gx */ "pointer",
    ],
    result: "i32",
  },
  ft_avgpool2d_fwd: {
    parameters: [
      /* BC */ "i64",
      /* H */ "i64",
      /* W */ "i64",
      /* kh */ "i64",
      /* kw */ "i64",
      /* sh */ "i64",
      /* sw */ "i64",
      /* ph */ "i64",
      /* pw */ "i64",
      /* Ho */ "i64",
      /* Wo */ "i64",
      /* countPad */ "i32",
      /* x (B*C, H, W) */ "pointer",
      /* y */ "pointer",
    ],
    result: "i32",
  },
  ft_avgpool2d_bwd: {
    parameters: [
      /* BC */ "i64",
      /* H */ "i64",
      /* W */ "i64",
      /* kh */ "i64",
      /* kw */ "i64",
      /* sh */ "i64",
      /* sw */ "i64",
      /* ph */ "i64",
      /* pw */ "i64",
      /* Ho */ "i64",
      /* Wo */ "i64",
      /* countPad */ "i32",
      /* gy (B*C, Ho, Wo) */ "pointer",
      /* gx */ "pointer",
    ],
    result: "i32",
  },
} satisfies Deno.ForeignLibraryInterface;
const k = kernels(POOL_SYMBOLS);

/** Options of the pooling ops. */
export interface Pool2dOptions {
  /** Step between windows (default: the kernel size). */
  stride?: Pair;
  /** Implicit padding on each side, at most half the kernel (default 0). */
  padding?: Pair;
  /** avgPool2d only: count padded positions in the divisor (default true, as PyTorch). */
  countIncludePad?: boolean;
}

function geometry(op: string, x: Tensor, kernel: Pair, opts: Pool2dOptions) {
  sameDevice(op, x);
  const [kh, kw] = pair(kernel, 1, "kernel", op, 1);
  const s = opts.stride === undefined ? [kh, kw] : pair(opts.stride, 1, "stride", op, 1);
  const [ph, pw] = pair(opts.padding, 0, "padding", op, 0);
  const what = () =>
    `${op}: x ${fmtShape(x.shape)}, kernel (${kh},${kw}), stride (${s}), padding (${ph},${pw})`;
  if (x.ndim !== 4) throw new Error(`${what()}: expected 4-D x (B,C,H,W)`);
  if (2 * ph > kh || 2 * pw > kw) throw new Error(`${what()}: padding must be at most half the kernel`);
  const [B, C, H, W] = x.shape;
  const Ho = Math.floor((H + 2 * ph - kh) / s[0]) + 1, Wo = Math.floor((W + 2 * pw - kw) / s[1]) + 1;
  if (H < 1 || W < 1 || Ho < 1 || Wo < 1) throw new Error(`${what()}: kernel larger than the padded input`);
  const dims = [B * C, H, W, kh, kw, s[0], s[1], ph, pw, Ho, Wo].map(BigInt) as bigint[];
  return { B, C, H, W, Ho, Wo, dims, what };
}

type D11 = [bigint, bigint, bigint, bigint, bigint, bigint, bigint, bigint, bigint, bigint, bigint];

/** Max pooling: (B,C,H,W) -> (B,C,Ho,Wo); stride defaults to the kernel. */
export function maxPool2d(x: Tensor, kernel: Pair, opts: Pool2dOptions = {}): Tensor {
  const { B, C, H, W, Ho, Wo, dims, what } = geometry("maxPool2d", x, kernel, opts);
  const out = Tensor.empty([B, C, Ho, Wo], "float32", x.device);
  const kk = k(x.device);
  if (out.size === 0) return out;
  const needIdx = needsGrad(x);
  const idx = needIdx ? Tensor.empty([B, C, Ho, Wo], "int32", x.device) : null;
  check(kk.ft_maxpool2d_fwd(...(dims as D11), x.ptr, out.ptr, idx ? idx.ptr : null), what);
  if (!idx) return out;
  return record(out, "maxPool2d", [x], (g) => {
    const gx = Tensor.empty(x.shape, "float32", x.device);
    check(
      kk.ft_maxpool2d_bwd(
        BigInt(B * C),
        BigInt(H),
        BigInt(W),
        BigInt(Ho),
        BigInt(Wo),
        g.ptr,
        idx.ptr,
        gx.ptr,
      ),
      () => `${what()} (backward)`,
    );
    return [gx];
  });
}

/** Average pooling: (B,C,H,W) -> (B,C,Ho,Wo); stride defaults to the kernel. */
export function avgPool2d(x: Tensor, kernel: Pair, opts: Pool2dOptions = {}): Tensor {
  const { B, C, Ho, Wo, dims, what } = geometry("avgPool2d", x, kernel, opts);
  const countPad = opts.countIncludePad ?? true ? 1 : 0;
  const out = Tensor.empty([B, C, Ho, Wo], "float32", x.device);
  const kk = k(x.device);
  if (out.size === 0) return out;
  check(kk.ft_avgpool2d_fwd(...(dims as D11), countPad, x.ptr, out.ptr), what);
  return record(out, "avgPool2d", [x], (g) => {
    const gx = Tensor.empty(x.shape, "float32", x.device);
    check(kk.ft_avgpool2d_bwd(...(dims as D11), countPad, g.ptr, gx.ptr), () => `${what()} (backward)`);
    return [gx];
  });
}

/** Global average pooling (adaptive average pool to 1x1): (B,C,H,W) -> (B,C,1,1). */
export function adaptiveAvgPool1x1(x: Tensor): Tensor {
  if (x.ndim !== 4) throw new Error(`adaptiveAvgPool1x1: x ${fmtShape(x.shape)}: expected 4-D x (B,C,H,W)`);
  return avgPool2d(x, [x.shape[2], x.shape[3]]);
}
