/**
 * LayerNorm2d (SAM): forward vs a float64 reference over C for each (b, h, w) with non-trivial
 * weight and bias, gradients of x, weight and bias by finite differences, shape error, no leaks.
 * Run: deno test --allow-ffi --allow-read --allow-env tests/nn/layer_norm2d_test.ts
 */
import { throws as assertThrows } from "node:assert/strict";
import { tensor } from "../../src/tensor/create.ts";
import { tidy } from "../../src/tensor/scope.ts";
import { LayerNorm2d } from "../../src/nn/norm.ts";
import { assertClose, gradcheck, noLeak, randArray, randLeaf } from "../helpers.ts";

Deno.test("LayerNorm2d normalises channels per pixel like SAM's LayerNorm2d", () => {
  noLeak(() =>
    tidy(() => {
      const [B, C, H, W] = [2, 5, 3, 4];
      const xv = randArray(B * C * H * W, 1, -3, 3), wv = randArray(C, 2), bv = randArray(C, 3);
      const ln = new LayerNorm2d(C);
      ln.weight.set(wv);
      ln.bias.set(bv);
      const want = new Float64Array(xv.length);
      for (let b = 0; b < B; b++) {
        for (let p = 0; p < H * W; p++) {
          let m = 0, v = 0;
          for (let c = 0; c < C; c++) m += xv[(b * C + c) * H * W + p] / C;
          for (let c = 0; c < C; c++) v += (xv[(b * C + c) * H * W + p] - m) ** 2 / C;
          for (let c = 0; c < C; c++) {
            const i = (b * C + c) * H * W + p;
            want[i] = ((xv[i] - m) / Math.sqrt(v + 1e-6)) * wv[c] + bv[c];
          }
        }
      }
      assertClose(ln.forward(tensor(xv, [B, C, H, W])).data(), want, { rtol: 1e-4, atol: 1e-5 });
      const x = randLeaf([1, 3, 2, 2], 4);
      const ln3 = new LayerNorm2d(3);
      ln3.weight.set(randArray(3, 5));
      ln3.bias.set(randArray(3, 6));
      gradcheck((a) => ln3.forward(a), [x, ln3.weight, ln3.bias]);
      x.dispose();
      assertThrows(
        () => ln.forward(tensor(new Float32Array(8), [1, 2, 2, 2])),
        /LayerNorm2d: x \(1,2,2,2\): expected \(B,5,H,W\)/,
      );
      for (const p of [...ln.parameters(), ...ln3.parameters()]) p.dispose();
    })
  );
});
