/**
 * layerNorm / rmsNorm: forward vs a float64 reference (odd D), gradients for x, weight and
 * bias by finite differences, optional weight/bias, shape errors, no leaks.
 * Run: deno test --allow-ffi --allow-read --allow-env tests/ops/norm_test.ts
 */
import { throws as assertThrows } from "node:assert/strict";
import { tensor } from "../../src/tensor/create.ts";
import { tidy } from "../../src/tensor/scope.ts";
import { layerNorm, rmsNorm } from "../../src/ops/norm.ts";
import { assertClose, disposeAll, gradcheck, noLeak, randArray, randLeaf } from "../helpers.ts";

function ref(x: Float32Array, D: number, rms: boolean, eps: number, w?: Float32Array, b?: Float32Array) {
  const y = new Float64Array(x.length);
  for (let r = 0; r < x.length / D; r++) {
    const v = x.subarray(r * D, (r + 1) * D);
    const mu = rms ? 0 : v.reduce((a, c) => a + c, 0) / D;
    const vr = v.reduce((a, c) => a + (c - mu) ** 2, 0) / D;
    const rs = 1 / Math.sqrt(vr + eps);
    for (let j = 0; j < D; j++) y[r * D + j] = (v[j] - mu) * rs * (w ? w[j] : 1) + (b ? b[j] : 0);
  }
  return y;
}

Deno.test("layerNorm / rmsNorm forward match float64 reference (odd D, optional affine)", () => {
  noLeak(() =>
    tidy(() => {
      // 400x192 and 60x1000 run on several threads (dynamic row pieces)
      for (
        const [rows, D] of [
          [1, 1],
          [7, 13],
          [5, 16],
          [4, 17],
          [3, 192],
          [400, 192],
          [3, 255],
          [2, 256],
          [2, 257],
          [2, 1000],
          [60, 1000],
        ]
      ) {
        const xv = randArray(rows * D, D, -3, 5),
          wv = randArray(D, D + 1, 0.5, 1.5),
          bv = randArray(D, D + 2);
        const x = tensor(xv, [rows, D]), w = tensor(wv, [D]), b = tensor(bv, [D]);
        const o = { what: `${rows}x${D}`, rtol: 1e-4, atol: 1e-5 };
        assertClose(layerNorm(x, w, b).data(), ref(xv, D, false, 1e-5, wv, bv), o);
        assertClose(layerNorm(x).data(), ref(xv, D, false, 1e-5), o);
        assertClose(rmsNorm(x, w).data(), ref(xv, D, true, 1e-6, wv), o);
        assertClose(rmsNorm(x, null, 1e-3).data(), ref(xv, D, true, 1e-3), o);
      }
    })
  );
});

Deno.test("layerNorm / rmsNorm gradients for x, weight, bias", () => {
  noLeak(() =>
    tidy(() => {
      const x = randLeaf([2, 3, 13], 1, -2, 2), w = randLeaf([13], 2, 0.5, 1.5), b = randLeaf([13], 3);
      gradcheck((a, c, d) => layerNorm(a, c, d), [x, w, b]);
      gradcheck((a, c) => rmsNorm(a, c), [x, w]);
      gradcheck((a) => layerNorm(a), [x]);
      gradcheck((a) => rmsNorm(a), [x]);
      // only the parameters need gradients
      const xc = tensor(randArray(5 * 7, 4), [5, 7]), w7 = randLeaf([7], 5, 0.5, 1.5), b7 = randLeaf([7], 6);
      gradcheck((c, d) => layerNorm(xc, c, d), [w7, b7]);
      // D = 37: several vectors and a masked tail in the register-resident row kernels
      const x37 = randLeaf([3, 37], 7, -2, 2), w37 = randLeaf([37], 8, 0.5, 1.5), b37 = randLeaf([37], 9);
      gradcheck((a, c, d) => layerNorm(a, c, d), [x37, w37, b37]);
      gradcheck((a, c) => rmsNorm(a, c), [x37, w37]);
      disposeAll(x, w, b, w7, b7, x37, w37, b37);
    })
  );
});

Deno.test("norm errors name the op and shapes", () => {
  noLeak(() =>
    tidy(() => {
      const x = tensor(new Float32Array(12), [2, 6]);
      assertThrows(
        () => layerNorm(x, tensor(new Float32Array(5), [5])),
        /layerNorm: x \(2,6\), weight \(5\)/,
      );
      assertThrows(
        () => rmsNorm(x, tensor(new Float32Array(12), [2, 6])),
        /rmsNorm: x \(2,6\), weight \(2,6\)/,
      );
      assertThrows(() => layerNorm(x, null, null, -1), /layerNorm: eps must be >= 0/);
    })
  );
});
