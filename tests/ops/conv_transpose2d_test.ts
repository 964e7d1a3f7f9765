// convTranspose2d: forward vs a float64 scatter reference (odd sizes, stride, padding,
// outputPadding, dilation, SAM's 2x2/2), gradients by finite differences, shape errors, no leaks.
import { assertEquals, assertThrows } from "../assert.ts";
import { tensor } from "../../src/tensor/create.ts";
import { tidy } from "../../src/tensor/scope.ts";
import { convTranspose2d } from "../../src/ops/conv_transpose2d.ts";
import { assertClose, disposeAll, gradcheck, noLeak, randArray, randLeaf } from "../helpers.ts";

interface Cfg {
  B: number;
  Cin: number;
  H: number;
  W: number;
  Cout: number;
  kh: number;
  kw: number;
  s?: [number, number];
  p?: [number, number];
  op?: [number, number];
  d?: [number, number];
}

function refConvT(c: Cfg, x: Float32Array, w: Float32Array, b: Float32Array | null) {
  const [sh, sw] = c.s ?? [1, 1],
    [ph, pw] = c.p ?? [0, 0],
    [oh, ow] = c.op ?? [0, 0],
    [dh, dw] = c.d ?? [1, 1];
  const Ho = (c.H - 1) * sh - 2 * ph + dh * (c.kh - 1) + oh + 1;
  const Wo = (c.W - 1) * sw - 2 * pw + dw * (c.kw - 1) + ow + 1;
  const y = new Float64Array(c.B * c.Cout * Ho * Wo);
  for (let bi = 0; bi < c.B; bi++) {
    for (let o = 0; o < c.Cout; o++) {
      for (let i = 0; i < Ho * Wo; i++) y[(bi * c.Cout + o) * Ho * Wo + i] = b ? b[o] : 0;
    }
    for (let ci = 0; ci < c.Cin; ci++) {
      for (let iy = 0; iy < c.H; iy++) {
        for (let ix = 0; ix < c.W; ix++) {
          const v = x[((bi * c.Cin + ci) * c.H + iy) * c.W + ix];
          for (let o = 0; o < c.Cout; o++) {
            for (let ki = 0; ki < c.kh; ki++) {
              for (let kj = 0; kj < c.kw; kj++) {
                const oy = iy * sh - ph + ki * dh, ox = ix * sw - pw + kj * dw;
                if (oy < 0 || oy >= Ho || ox < 0 || ox >= Wo) continue;
                y[((bi * c.Cout + o) * Ho + oy) * Wo + ox] += v *
                  w[((ci * c.Cout + o) * c.kh + ki) * c.kw + kj];
              }
            }
          }
        }
      }
    }
  }
  return { y, Ho, Wo };
}

function runCase(c: Cfg, seed: number, bias = true): void {
  const xv = randArray(c.B * c.Cin * c.H * c.W, seed), wv = randArray(c.Cin * c.Cout * c.kh * c.kw, seed + 1);
  const bv = bias ? randArray(c.Cout, seed + 2) : null;
  const y = convTranspose2d(
    tensor(xv, [c.B, c.Cin, c.H, c.W]),
    tensor(wv, [c.Cin, c.Cout, c.kh, c.kw]),
    bv ? tensor(bv, [c.Cout]) : null,
    { stride: c.s, padding: c.p, outputPadding: c.op, dilation: c.d },
  );
  const r = refConvT(c, xv, wv, bv);
  assertEquals(y.shape, [c.B, c.Cout, r.Ho, r.Wo]);
  assertClose(y.data(), r.y, { rtol: 1e-4, atol: 1e-4, what: `convTranspose2d ${JSON.stringify(c)}` });
}

Deno.test("convTranspose2d forward matches float64 reference", () => {
  noLeak(() =>
    tidy(() => {
      runCase({ B: 2, Cin: 3, H: 7, W: 9, Cout: 4, kh: 3, kw: 3, s: [2, 2], p: [1, 1], op: [1, 0] }, 1);
      runCase({ B: 2, Cin: 8, H: 5, W: 6, Cout: 4, kh: 2, kw: 2, s: [2, 2] }, 2); // SAM upscaling
      runCase(
        { B: 1, Cin: 3, H: 4, W: 5, Cout: 2, kh: 3, kw: 2, s: [1, 2], d: [2, 1], op: [1, 1] },
        3,
        false,
      );
      runCase({ B: 1, Cin: 70, H: 9, W: 11, Cout: 90, kh: 2, kw: 2, s: [2, 2] }, 4); // library GEMM path
    })
  );
});

Deno.test("convTranspose2d gradients", () => {
  noLeak(() => {
    const x = randLeaf([2, 3, 5, 6], 11), w = randLeaf([3, 4, 3, 3], 12), b = randLeaf([4], 13);
    gradcheck((a, bw, bb) => convTranspose2d(a, bw, bb, { stride: 2, padding: 1, outputPadding: 1 }), [
      x,
      w,
      b,
    ]);
    const w2 = randLeaf([3, 2, 2, 2], 14);
    gradcheck((a, bw) => convTranspose2d(a, bw, null, { stride: 2 }), [x, w2]);
    const xl = randLeaf([1, 70, 4, 5], 15), wl = randLeaf([70, 90, 2, 2], 16, -0.1, 0.1);
    gradcheck((a, bw) => convTranspose2d(a, bw, null, { stride: 2 }), [xl, wl], { probes: 8 });
    disposeAll(x, w, b, w2, xl, wl);
  });
});

Deno.test("convTranspose2d shape errors name the op and the shapes", () => {
  noLeak(() =>
    tidy(() => {
      const x = tensor(randArray(2 * 3 * 4 * 4, 1), [2, 3, 4, 4]);
      const w = tensor(randArray(4 * 2 * 4, 2), [4, 2, 2, 2]);
      assertThrows(() => convTranspose2d(x, w), Error, "convTranspose2d: x (2,3,4,4), weight (4,2,2,2)");
      const w3 = tensor(randArray(3 * 2 * 4, 2), [3, 2, 2, 2]);
      assertThrows(() => convTranspose2d(x, w3, tensor([1], [1])), Error, "expected bias (2)");
      assertThrows(
        () => convTranspose2d(x, w3, null, { stride: 2, outputPadding: 2 }),
        Error,
        "outputPadding",
      );
    })
  );
});
