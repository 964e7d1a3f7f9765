/**
 * Transposed 2-D convolution (PyTorch `F.conv_transpose2d`, groups = 1): x (B, Cin, H, W),
 * w (Cin, Cout, kh, kw), b (Cout) -> (B, Cout, Ho, Wo), Ho = (H-1)s - 2p + d(kh-1) + outputPadding + 1.
 * It is conv2d's backward-data (SAM's mask upscaling uses 2x2 stride 2).
 * Kernels: native/conv_transpose2d.cpp (`ft_conv_transpose2d_fwd`, `ft_conv_transpose2d_bwd`).
 * @module
 */
import { Tensor } from "../tensor/tensor.ts";
import { fmtShape } from "../tensor/shape.ts";
import { kernels } from "../backend/dispatch.ts";
import { check } from "../backend/status.ts";
import { record } from "../autograd/tape.ts";
import { sameDevice } from "./elementwise.ts";
import { type Pair, pair } from "./conv2d.ts";

/** FFI signatures of this op's kernels (same names in the CPU and CUDA libraries). */
export const CONV_TRANSPOSE2D_SYMBOLS = {
  ft_conv_transpose2d_fwd: {
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
      /* oph */ "i64",
      /* opw */ "i64",
      /* dh */ "i64",
      /* dw */ "i64",
      /* x (B, Cin, H, W) */ "pointer",
      /* w (Cin, Cout, kh, kw) */ "pointer",
      /* bias (Cout) or null */ "pointer",
      /* y */ "pointer",
    ],
    result: "i32",
  },
  ft_conv_transpose2d_bwd: {
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
      /* oph */ "i64",
      /* opw */ "i64",
      /* dh */ "i64",
      /* dw */ "i64",
      /* x (B, Cin, H, W) */ "pointer",
      /* w (Cin, Cout, kh, kw) */ "pointer",
      /* gy (B, Cout, Ho, Wo) */ "pointer",
      /* gx (B, Cin, H, W) or null */ "pointer",
      /* gw (Cin, Cout, kh, kw) or null */ "pointer",
      /* gb */ "pointer",
    ],
    result: "i32",
  },
} satisfies Deno.ForeignLibraryInterface;
const k = kernels(CONV_TRANSPOSE2D_SYMBOLS);

/** Options of `convTranspose2d`. */
export interface ConvTranspose2dOptions {
  /** Upsampling step (default 1). */
  stride?: Pair;
  /** Rows/columns cropped from each side of the full output (default 0). */
  padding?: Pair;
  /** Extra rows/columns added on one side, < stride or < dilation (default 0). */
  outputPadding?: Pair;
  /** Spacing between kernel taps (default 1). */
  dilation?: Pair;
}

type D15 = [
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
  bigint,
];

/** convTranspose2d(x (B,Cin,H,W), w (Cin,Cout,kh,kw), b (Cout)?) -> (B,Cout,Ho,Wo). */
export function convTranspose2d(
  x: Tensor,
  w: Tensor,
  b?: Tensor | null,
  opts: ConvTranspose2dOptions = {},
): Tensor {
  const op = "convTranspose2d";
  sameDevice(op, x, w, ...(b ? [b] : []));
  const desc = () =>
    `${op}: x ${fmtShape(x.shape)}, weight ${fmtShape(w.shape)}${b ? `, bias ${fmtShape(b.shape)}` : ""}`;
  const [sh, sw] = pair(opts.stride, 1, "stride", op, 1);
  const [ph, pw] = pair(opts.padding, 0, "padding", op, 0);
  const [oph, opw] = pair(opts.outputPadding, 0, "outputPadding", op, 0);
  const [dh, dw] = pair(opts.dilation, 1, "dilation", op, 1);
  if (x.ndim !== 4 || w.ndim !== 4) {
    throw new Error(`${desc()}: expected 4-D x (B,Cin,H,W) and weight (Cin,Cout,kh,kw)`);
  }
  const [B, Cin, H, W] = x.shape;
  const [wc, Cout, kh, kw] = w.shape;
  if (wc !== Cin) throw new Error(`${desc()}: weight has ${wc} input channels, expected ${Cin}`);
  if (b && (b.ndim !== 1 || b.shape[0] !== Cout)) throw new Error(`${desc()}: expected bias (${Cout})`);
  if ((oph >= sh && oph >= dh) || (opw >= sw && opw >= dw)) {
    throw new Error(`${desc()}: outputPadding (${oph},${opw}) must be smaller than stride or dilation`);
  }
  if (Cin < 1 || Cout < 1 || kh < 1 || kw < 1 || H < 1 || W < 1) {
    throw new Error(`${desc()}: empty input or kernel`);
  }
  const Ho = (H - 1) * sh - 2 * ph + dh * (kh - 1) + oph + 1,
    Wo = (W - 1) * sw - 2 * pw + dw * (kw - 1) + opw + 1;
  if (Ho < 1 || Wo < 1) throw new Error(`${desc()}: padding (${ph},${pw}) leaves an empty output`);
  const dims = [B, Cin, H, W, Cout, kh, kw, sh, sw, ph, pw, oph, opw, dh, dw].map(BigInt) as D15;
  const out = Tensor.empty([B, Cout, Ho, Wo], "float32", x.device);
  const kk = k(x.device);
  check(kk.ft_conv_transpose2d_fwd(...dims, x.ptr, w.ptr, b ? b.ptr : null, out.ptr), desc);
  const inputs = b ? [x, w, b] : [x, w];
  return record(out, op, inputs, (g) => {
    const gx = x.requiresGrad ? Tensor.empty(x.shape, "float32", x.device) : null;
    const gw = w.requiresGrad ? Tensor.empty(w.shape, "float32", w.device) : null;
    const gb = b && b.requiresGrad ? Tensor.empty(b.shape, "float32", b.device) : null;
    check(
      kk.ft_conv_transpose2d_bwd(
        ...dims,
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
