/**
 * Bicubic interpolate: values recorded from PyTorch 1.13 (F.interpolate mode="bicubic", both
 * alignCorners settings, downsampling rows and upsampling columns at once), a float64
 * reference of the same formula (A = -0.75, border-clamped taps) at other sizes, gradient as
 * the exact adjoint and by finite differences, errors, no leaks.
 * Run: deno test --allow-ffi --allow-read --allow-env tests/ops/resize_bicubic_test.ts
 */
import { throws as assertThrows } from "node:assert/strict";
import { tensor } from "../../src/tensor/create.ts";
import { tidy } from "../../src/tensor/scope.ts";
import { backward } from "../../src/autograd/tape.ts";
import { interpolate } from "../../src/ops/resize.ts";
import { assertClose, disposeAll, gradcheck, noLeak, randArray, randLeaf } from "../helpers.ts";

// x = arange(20).reshape(1,1,4,5) ** 1.5 / 10 resized to (3, 7), printed by PyTorch 1.13
const TORCH_FALSE = [
  0.114437,
  0.180622,
  0.317243,
  0.468034,
  0.635436,
  0.881282,
  1.052305,
  1.962742,
  2.200068,
  2.57582,
  2.884177,
  3.201052,
  3.621958,
  3.901313,
  5.419558,
  5.737639,
  6.236683,
  6.63993,
  7.049941,
  7.586157,
  7.939043,
];
const TORCH_TRUE = [
  0.0,
  0.048203,
  0.155519,
  0.282843,
  0.42408,
  0.634192,
  0.8,
  1.996797,
  2.242701,
  2.594118,
  2.884176,
  3.181191,
  3.572385,
  3.861949,
  5.809475,
  6.146398,
  6.622563,
  7.00928,
  7.401381,
  7.909574,
  8.281909,
];

/** (out, 4) taps and weights of one axis, float64. */
function taps(inp: number, out: number, align: boolean): { i: number[]; w: number[] } {
  const A = -0.75, scale = align ? (out > 1 ? (inp - 1) / (out - 1) : 0) : inp / out;
  const cc1 = (x: number) => ((A + 2) * x - (A + 3)) * x * x + 1;
  const cc2 = (x: number) => ((A * x - 5 * A) * x + 8 * A) * x - 4 * A;
  const i: number[] = [], w: number[] = [];
  for (let d = 0; d < out; d++) {
    const src = align ? scale * d : scale * (d + 0.5) - 0.5, f = Math.floor(src), t = src - f;
    w.push(cc2(t + 1), cc1(t), cc1(1 - t), cc2(2 - t));
    for (let k = 0; k < 4; k++) i.push(Math.min(Math.max(f - 1 + k, 0), inp - 1));
  }
  return { i, w };
}

function run(shape: number[], Ho: number, Wo: number, align: boolean, seed: number) {
  const [B, C, H, W] = shape;
  const xv = randArray(B * C * H * W, seed), gv = randArray(B * C * Ho * Wo, seed + 1);
  const ty = taps(H, Ho, align), tx = taps(W, Wo, align);
  const want = new Float64Array(gv.length), gx = new Float64Array(xv.length);
  for (let p = 0; p < B * C; p++) {
    for (let oy = 0; oy < Ho; oy++) {
      for (let ox = 0; ox < Wo; ox++) {
        const e = (p * Ho + oy) * Wo + ox;
        for (let j = 0; j < 4; j++) {
          for (let i = 0; i < 4; i++) {
            const w = ty.w[oy * 4 + j] * tx.w[ox * 4 + i],
              off = (p * H + ty.i[oy * 4 + j]) * W + tx.i[ox * 4 + i];
            want[e] += w * xv[off];
            gx[off] += w * gv[e];
          }
        }
      }
    }
  }
  tidy(() => {
    const x = tensor(xv, shape).requireGrad();
    const y = interpolate(x, Ho, Wo, "bicubic", align);
    assertClose(y.data(), want, { rtol: 1e-5, atol: 2e-6, what: `bicubic ${shape} -> ${Ho}x${Wo} ${align}` });
    backward(y, tensor(gv, y.shape));
    assertClose(x.grad!.data(), gx, { rtol: 1e-5, atol: 2e-6, what: `bicubic grad ${shape} ${align}` });
    disposeAll(x);
  });
}

Deno.test("bicubic interpolate matches PyTorch's recorded values", () => {
  noLeak(() =>
    tidy(() => {
      const xv = Array.from({ length: 20 }, (_, i) => i ** 1.5 / 10);
      const x = tensor(xv, [1, 1, 4, 5]);
      assertClose(interpolate(x, 3, 7, "bicubic", false).data(), TORCH_FALSE, { rtol: 2e-6, atol: 2e-6 });
      assertClose(interpolate(x, 3, 7, "bicubic", true).data(), TORCH_TRUE, { rtol: 2e-6, atol: 2e-6 });
    })
  );
});

Deno.test("bicubic interpolate forward and adjoint vs a float64 reference", () => {
  noLeak(() => {
    run([2, 3, 7, 9], 14, 4, false, 1); // ViT position embeddings: 14x14-style upsampling
    run([1, 2, 5, 5], 5, 5, false, 2);
    run([1, 1, 6, 3], 2, 11, true, 3);
    run([1, 1, 1, 4], 3, 1, true, 4);
  });
});

Deno.test("bicubic gradcheck and errors", () => {
  noLeak(() =>
    tidy(() => {
      const x = randLeaf([1, 2, 4, 3], 10);
      gradcheck((a) => interpolate(a, 6, 5, "bicubic", false), [x]);
      disposeAll(x);
      const t = tensor(new Float32Array(4), [1, 1, 2, 2]);
      assertThrows(
        () => interpolate(t, 3, 3, "cubic" as unknown as "bicubic"),
        /mode must be "bilinear", "bicubic" or "nearest"/,
      );
    })
  );
});
