// interpolate: nearest and bilinear (alignCorners false/true) vs a float64 port of PyTorch's
// index rules (float32 scale, as its CPU kernel), up and down, odd sizes; gradients; errors.
import { assertEquals, assertThrows } from "../assert.ts";
import { tensor } from "../../src/tensor/create.ts";
import { tidy } from "../../src/tensor/scope.ts";
import { interpolate } from "../../src/ops/resize.ts";
import { assertClose, disposeAll, gradcheck, noLeak, randArray, randLeaf } from "../helpers.ts";

const f = Math.fround;

function axis(inp: number, out: number, mode: string, align: boolean) {
  const i0: number[] = [], i1: number[] = [], l1: number[] = [];
  if (mode === "nearest") {
    const scale = f(inp / out);
    for (let d = 0; d < out; d++) {
      i0.push(Math.min(Math.floor(f(d * scale)), inp - 1));
      i1.push(0);
      l1.push(0);
    }
    return { i0, i1, l1 };
  }
  const scale = align ? (out > 1 ? f((inp - 1) / (out - 1)) : 0) : f(inp / out);
  for (let d = 0; d < out; d++) {
    let src = align ? f(scale * d) : f(f(scale * f(d + 0.5)) - 0.5);
    if (src < 0) src = 0;
    const a = Math.min(Math.floor(src), inp - 1);
    i0.push(a);
    i1.push(a < inp - 1 ? a + 1 : a);
    l1.push(f(src - a));
  }
  return { i0, i1, l1 };
}

function refResize(
  x: Float32Array,
  [B, C, H, W]: number[],
  Ho: number,
  Wo: number,
  mode: string,
  align: boolean,
) {
  const ay = axis(H, Ho, mode, align), ax = axis(W, Wo, mode, align);
  const y = new Float64Array(B * C * Ho * Wo);
  for (let p = 0; p < B * C; p++) {
    for (let oy = 0; oy < Ho; oy++) {
      for (let ox = 0; ox < Wo; ox++) {
        const at = (r: number, c: number) => x[(p * H + r) * W + c];
        let v;
        if (mode === "nearest") v = at(ay.i0[oy], ax.i0[ox]);
        else {
          const h1 = ay.l1[oy], w1 = ax.l1[ox], h0 = 1 - h1, w0 = 1 - w1;
          v = h0 * (w0 * at(ay.i0[oy], ax.i0[ox]) + w1 * at(ay.i0[oy], ax.i1[ox])) +
            h1 * (w0 * at(ay.i1[oy], ax.i0[ox]) + w1 * at(ay.i1[oy], ax.i1[ox]));
        }
        y[(p * Ho + oy) * Wo + ox] = v;
      }
    }
  }
  return y;
}

Deno.test("interpolate matches PyTorch's nearest / bilinear rules", () => {
  noLeak(() =>
    tidy(() => {
      const shape = [2, 3, 7, 9];
      const v = randArray(2 * 3 * 63, 1);
      const x = tensor(v, shape);
      for (const [Ho, Wo] of [[14, 18], [3, 4], [7, 9], [11, 5], [1, 1], [224, 13]]) {
        for (const [mode, align] of [["nearest", false], ["bilinear", false], ["bilinear", true]] as const) {
          const y = interpolate(x, Ho, Wo, mode, align);
          assertEquals(y.shape, [2, 3, Ho, Wo]);
          assertClose(y.data(), refResize(v, shape, Ho, Wo, mode, align), {
            rtol: 1e-5,
            atol: 1e-6,
            what: `${mode} align=${align} -> (${Ho},${Wo})`,
          });
        }
      }
      // a known value: 2x bilinear of [0, 1] is [0, 0.25, 0.75, 1]
      assertClose(interpolate(tensor([0, 1], [1, 1, 1, 2]), 1, 4).data(), [0, 0.25, 0.75, 1]);
      assertClose(interpolate(tensor([0, 1], [1, 1, 1, 2]), 1, 3, "bilinear", true).data(), [0, 0.5, 1]);
      assertClose(interpolate(tensor([0, 1, 2], [1, 1, 1, 3]), 1, 5, "nearest").data(), [0, 0, 1, 1, 2]);
    })
  );
});

Deno.test("interpolate gradients", () => {
  noLeak(() => {
    const x = randLeaf([2, 2, 5, 7], 3);
    gradcheck((t) => interpolate(t, 9, 4), [x]);
    gradcheck((t) => interpolate(t, 3, 11, "bilinear", true), [x]);
    gradcheck((t) => interpolate(t, 8, 3, "nearest"), [x]);
    disposeAll(x);
  });
});

Deno.test("interpolate errors name the op and the shapes", () => {
  noLeak(() =>
    tidy(() => {
      const x = tensor(randArray(12, 1), [1, 3, 4]);
      assertThrows(
        () => interpolate(x, 2, 2),
        Error,
        "interpolate: x (1,3,4) -> (2,2) bilinear: expected 4-D",
      );
      const x4 = x.viewAs([1, 1, 3, 4]);
      assertThrows(() => interpolate(x4, 0, 2), Error, "output size");
      assertThrows(() => interpolate(x4, 2, 2, "nearest", true), Error, "alignCorners");
    })
  );
});
