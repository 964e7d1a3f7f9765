// Reductions: sum / mean over axis sets, max with argmax, and their gradients.
import { assertEquals, assertThrows } from "../assert.ts";
import { tensor } from "../../src/tensor/create.ts";
import { tidy } from "../../src/tensor/scope.ts";
import { max, maxWithIndex, mean, sum, sumToShape } from "../../src/ops/reduce.ts";
import { assertClose, disposeAll, gradcheck, noLeak, randArray, randLeaf } from "../helpers.ts";

function refReduce(v: Float32Array, shape: number[], axes: number[], f: "sum" | "mean"): number[] {
  const oshape = shape.map((d, i) => (axes.includes(i) ? 1 : d));
  const n = oshape.reduce((a, b) => a * b, 1);
  const out = new Float64Array(n);
  const cnt = axes.reduce((a, i) => a * shape[i], 1);
  for (let i = 0; i < v.length; i++) {
    let r = i, o = 0, mulAcc = 1;
    const idx: number[] = [];
    for (let d = shape.length - 1; d >= 0; d--) {
      idx[d] = r % shape[d];
      r = Math.floor(r / shape[d]);
    }
    for (let d = shape.length - 1; d >= 0; d--) {
      o += (axes.includes(d) ? 0 : idx[d]) * mulAcc;
      mulAcc *= oshape[d];
    }
    out[o] += v[i];
  }
  return Array.from(out, (x) => (f === "mean" ? x / cnt : x));
}

Deno.test("sum and mean over axis sets match float64", () => {
  noLeak(() =>
    tidy(() => {
      const shape = [3, 4, 5, 7];
      const v = randArray(3 * 4 * 5 * 7, 5);
      const x = tensor(v, shape);
      for (const axes of [[0], [1], [3], [0, 1], [1, 2], [0, 2], [1, 3], [0, 1, 2, 3], [2, 3]]) {
        assertClose(sum(x, axes, true).data(), refReduce(v, shape, axes, "sum"), {
          rtol: 1e-5,
          atol: 1e-5,
          what: `sum ${axes}`,
        });
        assertClose(mean(x, axes).data(), refReduce(v, shape, axes, "mean"), {
          rtol: 1e-5,
          atol: 1e-6,
          what: `mean ${axes}`,
        });
      }
      assertEquals(sum(x, [1, 3]).shape, [3, 5]);
      assertEquals(sum(x).shape, []);
      // many short contiguous rows, split over threads (the FPN's group mean: R = 16)
      for (const [rows, R] of [[3000, 16], [2000, 37]]) {
        const w = randArray(rows * R, R);
        assertClose(mean(tensor(w, [rows, R]), 1).data(), refReduce(w, [rows, R], [1], "mean"), {
          rtol: 1e-5,
          atol: 1e-6,
          what: `mean of ${rows} rows of ${R}`,
        });
      }
      // long contiguous row (parallel path)
      const big = randArray(200_001, 9);
      const s = big.reduce((a, b) => a + b, 0);
      assertClose([sum(tensor(big, [200_001])).item()], [s], { rtol: 1e-5, atol: 1e-3 });
    })
  );
});

Deno.test("sum / mean / max gradients", () => {
  noLeak(() => {
    const x = randLeaf([3, 4, 5], 6);
    gradcheck((t) => sum(t, [0, 2]), [x]);
    gradcheck((t) => mean(t, [1], true), [x]);
    gradcheck((t) => max(t, 1), [x]);
    gradcheck((t) => max(t, -1, true), [x]);
    disposeAll(x);
  });
});

Deno.test("max returns argmax and handles NaN", () => {
  noLeak(() =>
    tidy(() => {
      const x = tensor([1, 5, 3, 9, 2, 9, NaN, 1, 4], [3, 3]);
      const { values, indices } = maxWithIndex(x, 1);
      const v = values.toArray();
      assertEquals(v.slice(0, 2), [5, 9]);
      assertEquals(Number.isNaN(v[2]), true);
      assertEquals(indices.toArray(), [1, 0, 0]);
      assertThrows(() => max(x, 2), Error, "max: axis 2 out of range");
    })
  );
});

Deno.test("sumToShape folds broadcast axes", () => {
  noLeak(() =>
    tidy(() => {
      const g = tensor(randArray(2 * 3 * 4, 1), [2, 3, 4]);
      assertClose(sumToShape(g, [3, 1]).data(), refReduce(g.data(), [2, 3, 4], [0, 2], "sum"), {
        rtol: 1e-5,
      });
      assertEquals(sumToShape(g, [4]).shape, [4]);
    })
  );
});
