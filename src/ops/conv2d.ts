/**
 * 2-D convolution (PyTorch `F.conv2d` semantics) and CoordConv, forward and backward.
 * x (B, Cin, H, W), w (Cout, Cin/groups, kh, kw), b (Cout) -> (B, Cout, Ho, Wo) with
 * Ho = floor((H + 2p - d(kh-1) - 1) / s) + 1. `coordConv2d` convolves [x, xx, yy] where xx varies
 * along H and yy along W, both linspace(-1, 1) (AddCoords of the CoordConv paper's PyTorch port);
 * the two channels are generated inside the kernel's im2col, never materialised, so w has
 * Cin + 2 input channels and only x's real channels get a gradient.
 * Kernels: native/conv2d.cpp (`ft_conv2d_fwd`, `ft_conv2d_bwd`).
 * @module
 */
import { Tensor } from "../tensor/tensor.ts";
import { fmtShape } from "../tensor/shape.ts";
import { kernels } from "../backend/dispatch.ts";
import { check } from "../backend/status.ts";
import { recordReads } from "../autograd/tape.ts";
import { sameDevice } from "./elementwise.ts";

/** FFI signatures of this op's kernels (same names in the CPU and CUDA libraries). */
export const CONV2D_SYMBOLS = {
  ft_conv2d_fwd: {
    parameters: [
      /* B */ "i64",
      /* Cin */ "i64",
      /* H */ "i64",
      /* W */ "i64",
      /* Cout */ "i64",
      /* kh */ "i64",
      /* kw */ "i64",
      /* sh */ "i64",
      /* sw */ "i64",
      /* ph */ "i64",
      /* pw */ "i64",
      /* dh */ "i64",
      /* dw */ "i64",
      /* groups */ "i64",
      /* coord */ "i32",
      /* x (B, Cin, H, W) */ "pointer",
      /* w (Cout, (Cin + 2*coord)/groups, kh, kw) */ "pointer",
      /* bias (Cout) or null */ "pointer",
      /* y */ "pointer",
    ],
    result: "i32",
  },
  ft_conv2d_bwd: {
    parameters: [
      /* B */ "i64",
      /* Cin */ "i64",
      /* H */ "i64",
      /* W */ "i64",
      /* Cout */ "i64",
      /* kh */ "i64",
      /* kw */ "i64",
      /* sh */ "i64",
      /* sw */ "i64",
      /* ph */ "i64",
      /* pw */ "i64",
      /* dh */ "i64",
      /* dw */ "i64",
      /* groups */ "i64",
      /* coord */ "i32",
      /* x (B, Cin, H, W) */ "pointer",
      /* w (Cout, (Cin + 2*coord)/groups, kh, kw) */ "pointer",
      /* gy (B, Cout, Ho, Wo) */ "pointer",
      /* gx (B, Cin, H, W) or null */ "pointer",
      /* gw (Cout, (Cin + 2*coord)/groups, kh, kw) or null */ "pointer",
      /* gb */ "pointer",
    ],
    result: "i32",
  },
} satisfies Deno.ForeignLibraryInterface;
const k = kernels(CONV2D_SYMBOLS);

/** A size given once for both spatial axes or as [h, w]. */
export type Pair = number | [number, number] | readonly [number, number];

/** Options of `conv2d` / `coordConv2d`. */
export interface Conv2dOptions {
  /** Step between windows (default 1). */
  stride?: Pair;
  /** Zero padding on each side (default 0). */
  padding?: Pair;
  /** Spacing between kernel taps (default 1). */
  dilation?: Pair;
  /** Channel groups: Cin and Cout must divide by it (default 1). */
  groups?: number;
}

/** Normalises a Pair; throws naming `op` unless both entries are integers >= min. */
export function pair(
  v: Pair | undefined,
  dflt: number,
  what: string,
  op: string,
  min: number,
): [number, number] {
  const p: [number, number] = v === undefined ? [dflt, dflt] : typeof v === "number" ? [v, v] : [v[0], v[1]];
  if (!p.every((x) => Number.isInteger(x) && x >= min)) {
    throw new Error(`${op}: ${what} must be integers >= ${min}, got ${JSON.stringify(v)}`);
  }
  return p;
}

/** Output size of a convolution along one axis. */
export function convOutSize(n: number, k: number, s: number, p: number, d: number): number {
  return Math.floor((n + 2 * p - d * (k - 1) - 1) / s) + 1;
}

function convImpl(
  op: string,
  coord: boolean,
  x: Tensor,
  w: Tensor,
  b: Tensor | null | undefined,
  opts: Conv2dOptions,
) {
  sameDevice(op, x, w, ...(b ? [b] : []));
  const desc = () =>
    `${op}: x ${fmtShape(x.shape)}, weight ${fmtShape(w.shape)}${b ? `, bias ${fmtShape(b.shape)}` : ""}`;
  const [sh, sw] = pair(opts.stride, 1, "stride", op, 1);
  const [ph, pw] = pair(opts.padding, 0, "padding", op, 0);
  const [dh, dw] = pair(opts.dilation, 1, "dilation", op, 1);
  const groups = opts.groups ?? 1;
  if (x.ndim !== 4 || w.ndim !== 4) {
    throw new Error(`${desc()}: expected 4-D x (B,C,H,W) and weight (Cout,C/groups,kh,kw)`);
  }
  const [B, Cin, H, W] = x.shape;
  const [Cout, cg, kh, kw] = w.shape;
  const C = Cin + (coord ? 2 : 0);
  if (!Number.isInteger(groups) || groups < 1 || C % groups !== 0 || Cout % groups !== 0) {
    throw new Error(`${desc()}: groups ${groups} must divide ${C} input and ${Cout} output channels`);
  }
  if (cg * groups !== C) {
    throw new Error(
      `${desc()}: weight has ${cg} input channels per group, expected ${C / groups}` +
        (coord ? ` (Cin + 2 coordinate channels = ${C})` : ""),
    );
  }
  if (b && (b.ndim !== 1 || b.shape[0] !== Cout)) throw new Error(`${desc()}: expected bias (${Cout})`);
  if (Cout < 1 || kh < 1 || kw < 1 || H < 1 || W < 1) throw new Error(`${desc()}: empty input or kernel`);
  const Ho = convOutSize(H, kh, sh, ph, dh), Wo = convOutSize(W, kw, sw, pw, dw);
  if (Ho < 1 || Wo < 1) {
    throw new Error(
      `${desc()}: kernel (${kh},${kw}) with dilation (${dh},${dw}) exceeds padded input (${H + 2 * ph},${
        W + 2 * pw
      })`,
    );
  }
  const args = [B, Cin, H, W, Cout, kh, kw, sh, sw, ph, pw, dh, dw, groups].map(BigInt) as bigint[];
  const out = Tensor.empty([B, Cout, Ho, Wo], "float32", x.device);
  const kk = k(x.device);
  const a = args as [
    bigint,
    bigint,
    bigint,
    bigint,
    bigint,
    bigint,
    bigint,
    bigint,
    bigint,
    bigint,
    bigint,
    bigint,
    bigint,
    bigint,
  ];
  check(kk.ft_conv2d_fwd(...a, coord ? 1 : 0, x.ptr, w.ptr, b ? b.ptr : null, out.ptr), desc);
  const inputs = b ? [x, w, b] : [x, w];
  // the backward reads x and w (the bias only by shape), not the output
  return recordReads(out, op, inputs, [x, w], (g) => {
    const gx = x.requiresGrad ? Tensor.empty(x.shape, "float32", x.device) : null;
    const gw = w.requiresGrad ? Tensor.empty(w.shape, "float32", w.device) : null;
    const gb = b && b.requiresGrad ? Tensor.empty(b.shape, "float32", b.device) : null;
    check(
      kk.ft_conv2d_bwd(
        ...a,
        coord ? 1 : 0,
        x.ptr,
        w.ptr,
        g.ptr,
        gx?.ptr ?? null,
        gw?.ptr ?? null,
        gb?.ptr ?? null,
      ),
      () => `${desc()} (backward)`,
    );
    return b ? [gx, gw, gb] : [gx, gw];
  });
}

/** conv2d(x (B,Cin,H,W), w (Cout,Cin/groups,kh,kw), b (Cout)?) -> (B,Cout,Ho,Wo). */
export function conv2d(x: Tensor, w: Tensor, b?: Tensor | null, opts: Conv2dOptions = {}): Tensor {
  return convImpl("conv2d", false, x, w, b, opts);
}

/**
 * CoordConv: conv2d over [x, xx, yy] with w (Cout, (Cin+2)/groups, kh, kw); xx = row coordinate
 * (along H), yy = column coordinate (along W), each in [-1, 1] (-1 on a size-1 axis).
 */
export function coordConv2d(x: Tensor, w: Tensor, b?: Tensor | null, opts: Conv2dOptions = {}): Tensor {
  return convImpl("coordConv2d", true, x, w, b, opts);
}
