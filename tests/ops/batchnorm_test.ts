// batchNorm2d: training / eval forward and running-stat updates vs float64 (PyTorch semantics),
// gradients by finite differences in both modes, shape errors, no leaks.
import { assertEquals, assertThrows } from "../assert.ts";
import { tensor } from "../../src/tensor/create.ts";
import { tidy } from "../../src/tensor/scope.ts";
import { batchNorm2d } from "../../src/ops/batchnorm.ts";
import { assertClose, disposeAll, gradcheck, noLeak, randArray, randLeaf } from "../helpers.ts";

function stats(x: Float32Array, [B, C, H, W]: number[]) {
  const n = B * H * W, mean = new Float64Array(C), varB = new Float64Array(C);
  for (let c = 0; c < C; c++) {
    let s = 0;
    for (let b = 0; b < B; b++) for (let i = 0; i < H * W; i++) s += x[(b * C + c) * H * W + i];
    mean[c] = s / n;
    let q = 0;
    for (let b = 0; b < B; b++) {
      for (let i = 0; i < H * W; i++) q += (x[(b * C + c) * H * W + i] - mean[c]) ** 2;
    }
    varB[c] = q / n;
  }
  return { mean, varB, n };
}

function refBn(
  x: Float32Array,
  shape: number[],
  mean: ArrayLike<number>,
  v: ArrayLike<number>,
  w: Float32Array,
  b: Float32Array,
  eps: number,
) {
  const [B, C, H, W] = shape, y = new Float64Array(x.length);
  for (let bi = 0; bi < B; bi++) {
    for (let c = 0; c < C; c++) {
      for (let i = 0; i < H * W; i++) {
        const j = (bi * C + c) * H * W + i;
        y[j] = ((x[j] - mean[c]) / Math.sqrt(v[c] + eps)) * w[c] + b[c];
      }
    }
  }
  return y;
}

Deno.test("batchNorm2d forward (training and eval) and running stats match float64", () => {
  noLeak(() =>
    tidy(() => {
      const shape = [3, 4, 7, 9];
      const xv = randArray(3 * 4 * 63, 1, -2, 3), wv = randArray(4, 2), bv = randArray(4, 3);
      const rm0 = randArray(4, 4), rv0 = randArray(4, 5, 0.5, 1.5);
      const x = tensor(xv, shape), w = tensor(wv, [4]), b = tensor(bv, [4]);
      const rm = tensor(rm0, [4]), rv = tensor(rv0, [4]);
      const y = batchNorm2d(x, w, b, rm, rv, { training: true, momentum: 0.3, eps: 1e-5 });
      const s = stats(xv, shape);
      assertClose(y.data(), refBn(xv, shape, s.mean, s.varB, wv, bv, 1e-5), {
        rtol: 1e-4,
        atol: 1e-5,
        what: "train y",
      });
      assertClose(rm.data(), Array.from(rm0, (r, c) => 0.7 * r + 0.3 * s.mean[c]), { what: "running mean" });
      assertClose(rv.data(), Array.from(rv0, (r, c) => 0.7 * r + 0.3 * s.varB[c] * s.n / (s.n - 1)), {
        what: "running var (unbiased)",
      });
      const rmNow = Float32Array.from(rm.data()), rvNow = Float32Array.from(rv.data());
      const ye = batchNorm2d(x, w, b, rm, rv, { training: false });
      assertClose(ye.data(), refBn(xv, shape, rmNow, rvNow, wv, bv, 1e-5), {
        rtol: 1e-4,
        atol: 1e-5,
        what: "eval y",
      });
      assertEquals(Array.from(rm.data()), Array.from(rmNow)); // eval leaves running stats alone
      // affine=false and no running stats in training
      const y2 = batchNorm2d(x, null, null, null, null);
      assertClose(
        y2.data(),
        refBn(xv, shape, s.mean, s.varB, new Float32Array(4).fill(1), new Float32Array(4), 1e-5),
        {
          rtol: 1e-4,
          atol: 1e-5,
          what: "affine=false",
        },
      );
    })
  );
});

Deno.test("batchNorm2d gradients (training and eval)", () => {
  noLeak(() => {
    const x = randLeaf([3, 2, 5, 4], 7), w = randLeaf([2], 8, 0.5, 1.5), b = randLeaf([2], 9);
    const rm = tensor(randArray(2, 10), [2]), rv = tensor(randArray(2, 11, 0.5, 1.5), [2]);
    // training without running stats, then eval with fixed running stats
    gradcheck((a, ww, bb) => batchNorm2d(a, ww, bb, null, null, { training: true }), [x, w, b], {
      eps: 1e-3,
    });
    gradcheck((a, ww, bb) => batchNorm2d(a, ww, bb, rm, rv, { training: false }), [x, w, b]);
    gradcheck((a) => batchNorm2d(a, null, null, null, null), [x], { eps: 1e-3 });
    disposeAll(x, w, b, rm, rv);
  });
});

Deno.test("batchNorm2d shape errors name the op and the shapes", () => {
  noLeak(() =>
    tidy(() => {
      const x = tensor(randArray(2 * 3 * 4, 1), [2, 3, 2, 2]);
      assertThrows(
        () => batchNorm2d(x, tensor([1, 1], [2]), null, null, null),
        Error,
        "batchNorm2d: x (2,3,2,2), weight (2)",
      );
      assertThrows(() => batchNorm2d(x, null, null, null, null, { training: false }), Error, "running stats");
      assertThrows(
        () => batchNorm2d(tensor([1, 2, 3], [1, 3]), null, null, null, null),
        Error,
        "more than 1 value",
      );
    })
  );
});
