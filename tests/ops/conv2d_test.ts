// conv2d / coordConv2d: forward vs a float64 reference (odd sizes, stride, padding, dilation,
// groups, 1x1, large weights), gradients by finite differences, shape errors, no leaks.
import { assertEquals, assertThrows } from "../assert.ts";
import { tensor } from "../../src/tensor/create.ts";
import { tidy } from "../../src/tensor/scope.ts";
import { concat } from "../../src/ops/shape_ops.ts";
import { conv2d, coordConv2d } from "../../src/ops/conv2d.ts";
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
  d?: [number, number];
  groups?: number;
  coord?: boolean;
}

/** float64 conv2d over [x, xx, yy] when coord (xx along H, yy along W). */
function refConv(c: Cfg, x: Float32Array, w: Float32Array, b: Float32Array | null): Float64Array {
  const [sh, sw] = c.s ?? [1, 1], [ph, pw] = c.p ?? [0, 0], [dh, dw] = c.d ?? [1, 1];
  const G = c.groups ?? 1, C = c.Cin + (c.coord ? 2 : 0), cg = C / G, og = c.Cout / G;
  const Ho = Math.floor((c.H + 2 * ph - dh * (c.kh - 1) - 1) / sh) + 1;
  const Wo = Math.floor((c.W + 2 * pw - dw * (c.kw - 1) - 1) / sw) + 1;
  const lin = (i: number, n: number) => (n > 1 ? (i * 2) / (n - 1) - 1 : -1);
  const xv = (bi: number, ch: number, iy: number, ix: number) => {
    if (iy < 0 || iy >= c.H || ix < 0 || ix >= c.W) return 0;
    if (ch < c.Cin) return x[((bi * c.Cin + ch) * c.H + iy) * c.W + ix];
    return ch === c.Cin ? lin(iy, c.H) : lin(ix, c.W);
  };
  const y = new Float64Array(c.B * c.Cout * Ho * Wo);
  for (let bi = 0; bi < c.B; bi++) {
    for (let o = 0; o < c.Cout; o++) {
      const gi = Math.floor(o / og);
      for (let oy = 0; oy < Ho; oy++) {
        for (let ox = 0; ox < Wo; ox++) {
          let s = b ? b[o] : 0;
          for (let ci = 0; ci < cg; ci++) {
            for (let ki = 0; ki < c.kh; ki++) {
              for (let kj = 0; kj < c.kw; kj++) {
                const v = xv(bi, gi * cg + ci, oy * sh - ph + ki * dh, ox * sw - pw + kj * dw);
                s += v * w[((o * cg + ci) * c.kh + ki) * c.kw + kj];
              }
            }
          }
          y[((bi * c.Cout + o) * Ho + oy) * Wo + ox] = s;
        }
      }
    }
  }
  return y;
}

function runCase(c: Cfg, seed: number, bias = true): void {
  const C = c.Cin + (c.coord ? 2 : 0);
  const xv = randArray(c.B * c.Cin * c.H * c.W, seed);
  const wv = randArray(c.Cout * (C / (c.groups ?? 1)) * c.kh * c.kw, seed + 1);
  const bv = bias ? randArray(c.Cout, seed + 2) : null;
  const x = tensor(xv, [c.B, c.Cin, c.H, c.W]);
  const w = tensor(wv, [c.Cout, C / (c.groups ?? 1), c.kh, c.kw]);
  const b = bv ? tensor(bv, [c.Cout]) : null;
  const f = c.coord ? coordConv2d : conv2d;
  const y = f(x, w, b, { stride: c.s, padding: c.p, dilation: c.d, groups: c.groups });
  const ref = refConv(c, xv, wv, bv);
  assertEquals(y.shape.length, 4);
  assertClose(y.data(), ref, {
    rtol: 1e-4,
    atol: 1e-4,
    what: `${c.coord ? "coordConv2d" : "conv2d"} ${JSON.stringify(c)}`,
  });
}

Deno.test("conv2d forward matches float64 reference", () => {
  noLeak(() =>
    tidy(() => {
      runCase({ B: 2, Cin: 3, H: 7, W: 9, Cout: 4, kh: 3, kw: 3, s: [2, 2], p: [1, 1] }, 1);
      runCase({ B: 1, Cin: 3, H: 7, W: 9, Cout: 5, kh: 3, kw: 2, s: [1, 2], p: [2, 0], d: [2, 1] }, 2, false);
      runCase({ B: 2, Cin: 4, H: 6, W: 5, Cout: 6, kh: 3, kw: 3, p: [1, 1], groups: 2 }, 3);
      runCase({ B: 3, Cin: 5, H: 4, W: 7, Cout: 13, kh: 1, kw: 1 }, 4); // pointwise, no im2col
      runCase({ B: 2, Cin: 3, H: 11, W: 13, Cout: 7, kh: 5, kw: 5, s: [2, 2], p: [2, 2] }, 5);
      runCase({ B: 2, Cin: 6, H: 9, W: 8, Cout: 6, kh: 3, kw: 3, p: [1, 1], groups: 6 }, 6); // depthwise
      // large weights (library GEMM path) and several row tiles
      runCase({ B: 1, Cin: 48, H: 8, W: 40, Cout: 48, kh: 5, kw: 5, p: [2, 2] }, 7);
      runCase({ B: 1, Cin: 2, H: 150, W: 40, Cout: 3, kh: 3, kw: 3, p: [1, 1] }, 8);
      // batch 1, stride 2, library GEMM: rows re-cut into equal tiles per thread (15 = 8 + 7)
      runCase({ B: 1, Cin: 48, H: 29, W: 37, Cout: 48, kh: 5, kw: 5, s: [2, 2], p: [2, 2] }, 9);
    })
  );
});

Deno.test("coordConv2d forward matches float64 reference and conv2d over explicit coordinates", () => {
  noLeak(() =>
    tidy(() => {
      runCase({ B: 2, Cin: 3, H: 7, W: 9, Cout: 4, kh: 3, kw: 3, s: [2, 2], p: [1, 1], coord: true }, 11);
      runCase({ B: 1, Cin: 1, H: 1, W: 6, Cout: 2, kh: 1, kw: 3, p: [0, 1], coord: true }, 12);
      runCase({ B: 2, Cin: 4, H: 5, W: 6, Cout: 4, kh: 1, kw: 1, coord: true, groups: 2 }, 13);
      // against conv2d over [x, xx, yy] built as tensors
      const B = 2, Cin = 3, H = 6, W = 5;
      const x = tensor(randArray(B * Cin * H * W, 14), [B, Cin, H, W]);
      const xx = new Float32Array(B * H * W), yy = new Float32Array(B * H * W);
      for (let i = 0; i < B * H * W; i++) {
        const r = Math.floor(i / W) % H, c = i % W;
        xx[i] = (r * 2) / (H - 1) - 1;
        yy[i] = (c * 2) / (W - 1) - 1;
      }
      const xc = concat([x, tensor(xx, [B, 1, H, W]), tensor(yy, [B, 1, H, W])], 1);
      const w = tensor(randArray(4 * 5 * 9, 15), [4, 5, 3, 3]);
      const a = coordConv2d(x, w, null, { padding: 1 }).data();
      const e = conv2d(xc, w, null, { padding: 1 }).data();
      assertClose(a, e, { rtol: 1e-5, atol: 1e-5, what: "coordConv2d vs conv2d(cat)" });
    })
  );
});

Deno.test("conv2d and coordConv2d gradients", () => {
  noLeak(() => {
    const x = randLeaf([2, 3, 7, 9], 21), w = randLeaf([4, 3, 3, 3], 22), b = randLeaf([4], 23);
    gradcheck((a, bw, bb) => conv2d(a, bw, bb, { stride: 2, padding: 1 }), [x, w, b]);
    const w2 = randLeaf([4, 2, 3, 2], 24);
    const x2 = randLeaf([2, 4, 6, 7], 25);
    gradcheck((a, bw) => conv2d(a, bw, null, { padding: [1, 0], dilation: [2, 1], groups: 2 }), [x2, w2]);
    const w3 = randLeaf([5, 4, 1, 1], 26), b3 = randLeaf([5], 27);
    gradcheck((a, bw, bb) => conv2d(a, bw, bb), [x2, w3, b3]);
    const wc = randLeaf([4, 5, 3, 3], 28);
    gradcheck((a, bw, bb) => coordConv2d(a, bw, bb, { stride: 2, padding: 1 }), [x, wc, b]);
    // a larger case through the library GEMM and several tiles
    const xl = randLeaf([1, 64, 5, 20], 29), wl = randLeaf([96, 64, 3, 3], 30, -0.1, 0.1);
    gradcheck((a, bw) => conv2d(a, bw, null, { padding: 1 }), [xl, wl], { probes: 8 });
    disposeAll(x, w, b, w2, x2, w3, b3, wc, xl, wl);
  });
});

Deno.test("conv2d shape errors name the op and the shapes", () => {
  noLeak(() =>
    tidy(() => {
      const x = tensor(randArray(2 * 3 * 5 * 5, 1), [2, 3, 5, 5]);
      const w = tensor(randArray(4 * 2 * 9, 2), [4, 2, 3, 3]);
      assertThrows(() => conv2d(x, w), Error, "conv2d: x (2,3,5,5), weight (4,2,3,3)");
      assertThrows(() => coordConv2d(x, tensor(randArray(4 * 27, 3), [4, 3, 3, 3])), Error, "coordConv2d");
      const w3 = tensor(randArray(4 * 27, 3), [4, 3, 3, 3]);
      assertThrows(() => conv2d(x, w3, tensor([1, 2], [2])), Error, "expected bias (4)");
      assertThrows(() => conv2d(x, w3, null, { stride: 0 }), Error, "stride");
      assertThrows(() => conv2d(x.viewAs([6, 5, 5]), w3), Error, "4-D");
      assertThrows(
        () => conv2d(x, tensor(randArray(4 * 3 * 49, 3), [4, 3, 7, 7])),
        Error,
        "exceeds padded input",
      );
      assertThrows(() => conv2d(x, w3, null, { groups: 2 }), Error, "groups 2");
    })
  );
});
