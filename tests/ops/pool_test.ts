// maxPool2d / avgPool2d / adaptiveAvgPool1x1: forward vs float64 references (odd sizes, stride,
// padding), gradients by finite differences, shape errors, no leaks.
import { assertEquals, assertThrows } from "../assert.ts";
import { tensor } from "../../src/tensor/create.ts";
import { tidy } from "../../src/tensor/scope.ts";
import { adaptiveAvgPool1x1, avgPool2d, maxPool2d } from "../../src/ops/pool.ts";
import { assertClose, disposeAll, gradcheck, noLeak, randArray, randLeaf } from "../helpers.ts";

function refPool(
  x: Float32Array,
  [B, C, H, W]: number[],
  k: number,
  s: number,
  p: number,
  kind: "max" | "avg",
  countPad = true,
) {
  const Ho = Math.floor((H + 2 * p - k) / s) + 1, Wo = Math.floor((W + 2 * p - k) / s) + 1;
  const y = new Float64Array(B * C * Ho * Wo);
  for (let pl = 0; pl < B * C; pl++) {
    for (let oy = 0; oy < Ho; oy++) {
      for (let ox = 0; ox < Wo; ox++) {
        let m = -Infinity, sum = 0, cnt = 0;
        for (let i = 0; i < k; i++) {
          for (let j = 0; j < k; j++) {
            const iy = oy * s - p + i, ix = ox * s - p + j;
            if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
            const v = x[(pl * H + iy) * W + ix];
            m = Math.max(m, v);
            sum += v;
            cnt++;
          }
        }
        y[(pl * Ho + oy) * Wo + ox] = kind === "max" ? m : sum / (countPad ? k * k : cnt);
      }
    }
  }
  return { y, Ho, Wo };
}

Deno.test("pooling forward matches float64 references", () => {
  noLeak(() =>
    tidy(() => {
      const shape = [2, 3, 7, 9];
      const v = randArray(2 * 3 * 7 * 9, 1);
      const x = tensor(v, shape);
      for (const [k, s, p] of [[2, 2, 0], [3, 2, 1], [3, 1, 1], [2, 1, 1], [7, 1, 0]]) {
        const r = refPool(v, shape, k, s, p, "max");
        const y = maxPool2d(x, k, { stride: s, padding: p });
        assertEquals(y.shape, [2, 3, r.Ho, r.Wo]);
        assertClose(y.data(), r.y, { what: `maxPool2d k${k} s${s} p${p}` });
        assertClose(avgPool2d(x, k, { stride: s, padding: p }).data(), refPool(v, shape, k, s, p, "avg").y, {
          what: `avgPool2d k${k} s${s} p${p}`,
        });
        assertClose(
          avgPool2d(x, k, { stride: s, padding: p, countIncludePad: false }).data(),
          refPool(v, shape, k, s, p, "avg", false).y,
          { what: `avgPool2d k${k} s${s} p${p} excluding pad` },
        );
      }
      // default stride = kernel; global average
      assertEquals(maxPool2d(x, 2).shape, [2, 3, 3, 4]);
      const g = adaptiveAvgPool1x1(x);
      assertEquals(g.shape, [2, 3, 1, 1]);
      const mean = Array.from({ length: 6 }, (_, pl) =>
        v.slice(pl * 63, pl * 63 + 63).reduce((a, b) => a + b, 0) / 63);
      assertClose(g.data(), mean, { what: "adaptiveAvgPool1x1" });
    })
  );
});

Deno.test("pooling gradients", () => {
  noLeak(() => {
    const x = randLeaf([2, 3, 7, 9], 5);
    gradcheck((t) => maxPool2d(t, 3, { stride: 2, padding: 1 }), [x], { eps: 1e-3 });
    gradcheck((t) => avgPool2d(t, 3, { stride: 2, padding: 1 }), [x]);
    gradcheck((t) => avgPool2d(t, 2, { countIncludePad: false, padding: 1 }), [x]);
    gradcheck((t) => adaptiveAvgPool1x1(t), [x]);
    disposeAll(x);
  });
});

Deno.test("pooling shape errors name the op and the shapes", () => {
  noLeak(() =>
    tidy(() => {
      const x = tensor(randArray(2 * 3 * 4 * 4, 1), [2, 3, 4, 4]);
      assertThrows(() => maxPool2d(x, 5), Error, "maxPool2d: x (2,3,4,4), kernel (5,5)");
      assertThrows(() => avgPool2d(x, 2, { padding: 2 }), Error, "at most half the kernel");
      assertThrows(() => maxPool2d(x.viewAs([6, 4, 4]), 2), Error, "expected 4-D");
    })
  );
});
