// maxPool2d / avgPool2d / adaptiveAvgPool1x1: forward vs float64 references (odd sizes, stride,
// padding), gradients by finite differences, shape errors, no leaks.
import { assertEquals, assertThrows } from "../assert.ts";
import { tensor } from "../../src/tensor/create.ts";
import { tidy } from "../../src/tensor/scope.ts";
import { adaptiveAvgPool1x1, avgPool2d, maxPool2d } from "../../src/ops/pool.ts";
import { backward } from "../../src/autograd/tape.ts";
import { sum } from "../../src/ops/reduce.ts";
import { withCpuIsa } from "../../src/backend/cpu_isa.ts";
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

/**
 * 2x2 stride-2 max pool with the kernel's exact rule, per output: value and flat argmax
 * (iy*W + ix) of the window visited row by row; a later value wins only when larger, a NaN wins
 * when the maximum so far is not NaN, and the first NaN ends the search.
 */
function refMax2x2(x: Float32Array, [B, C, H, W]: number[]) {
  const Ho = Math.floor(H / 2), Wo = Math.floor(W / 2);
  const y = new Float32Array(B * C * Ho * Wo), arg = new Int32Array(y.length);
  for (let pl = 0; pl < B * C; pl++) {
    for (let oy = 0; oy < Ho; oy++) {
      for (let ox = 0; ox < Wo; ox++) {
        let m = -Infinity, a = 2 * oy * W + 2 * ox;
        search: for (let i = 0; i < 2; i++) {
          for (let j = 0; j < 2; j++) {
            const at = (2 * oy + i) * W + 2 * ox + j, v = x[pl * H * W + at];
            if (v > m || Number.isNaN(v)) {
              m = v;
              a = at;
              if (Number.isNaN(v)) break search;
            }
          }
        }
        y[(pl * Ho + oy) * Wo + ox] = m;
        arg[(pl * Ho + oy) * Wo + ox] = a;
      }
    }
  }
  return { y, arg, Ho, Wo };
}

Deno.test("maxPool2d 2x2/2: ties, NaN, -inf and odd sizes match the scan rule on every CPU path", () => {
  // values from a small set so that windows hold ties, several NaNs, all -inf, ...
  const pick = [-Infinity, -1, 0, 0, 1, 1, NaN, Infinity];
  // widths around the 16-output vector step: tails only, one exact step, step + tail, odd
  for (const [H, W] of [[7, 9], [9, 37], [4, 33], [5, 64], [3, 2], [2, 31], [6, 65]]) {
    const shape = [2, 3, H, W];
    const n = 2 * 3 * H * W;
    const v = Float32Array.from(randArray(n, H * 100 + W, 0, pick.length), (r) => pick[Math.floor(r)]);
    const ref = refMax2x2(v, shape);
    // expected gradient of sum(y): 1 at each output's argmax (windows do not overlap)
    const gref = new Float32Array(n);
    for (let i = 0; i < ref.arg.length; i++) {
      gref[Math.floor(i / (ref.Ho * ref.Wo)) * H * W + ref.arg[i]] += 1;
    }
    for (const level of [2, 1, 0] as const) {
      withCpuIsa(level, () =>
        noLeak(() =>
          tidy(() => {
            const what = `maxPool2d 2x2/2 (${shape}) ISA level ${level}`;
            const y = maxPool2d(tensor(v, shape), 2).data(); // no index (inference path)
            assertEquals(y.length, ref.y.length, what);
            for (let i = 0; i < y.length; i++) {
              if (!Object.is(y[i], ref.y[i])) {
                throw new Error(`${what}: y[${i}] ${y[i]}, expected ${ref.y[i]}`);
              }
            }
            const xl = tensor(v, shape).requireGrad();
            const yl = maxPool2d(xl, 2);
            backward(sum(yl));
            const g = xl.grad!.data();
            for (let i = 0; i < n; i++) {
              if (g[i] !== gref[i]) {
                throw new Error(
                  `${what}: gradient (argmax) at ${i} (plane ${Math.floor(i / (H * W))}) ${g[i]}, ` +
                    `expected ${gref[i]}`,
                );
              }
            }
            xl.grad!.dispose();
          })
        ));
    }
  }
});
