/**
 * Factories (issue 10 tidy-ups): one zeros / ones (init re-exports them), truncNormal with
 * PyTorch's trunc_normal_ defaults (mean 0, std 1, absolute cuts -2 / 2), and an int32 arange
 * that is exact past 2^24 and feeds embedding as positions.
 * Run: .tools/deno test -A tests/tensor/create_test.ts
 */
import { assertEquals, assertOk, assertThrows } from "../assert.ts";
import { arange, filled, ones, truncNormal, zeros } from "../../src/tensor/create.ts";
import * as init from "../../src/nn/init.ts";
import { full } from "../../src/ops/elementwise.ts";
import { Rng } from "../../src/tensor/rng.ts";
import { tidy } from "../../src/tensor/scope.ts";
import { embedding } from "../../src/ops/embedding.ts";
import { tensor } from "../../src/tensor/create.ts";
import { noLeak } from "../helpers.ts";

Deno.test("one zeros / ones: init re-exports the factories; filled fills on the device", () => {
  assertOk(init.zeros === zeros && init.ones === ones);
  noLeak(() =>
    tidy(() => {
      assertEquals(filled([3], 2.5).toArray(), [2.5, 2.5, 2.5]);
      assertEquals(filled([2], 7, { dtype: "int32" }).toArray(), [7, 7]);
      assertEquals(full([2], -1).toArray(), [-1, -1]);
      assertOk(filled([1], 1, { requiresGrad: true }).requiresGrad);
    })
  );
});

function moments(v: number[]): [number, number, number, number] {
  const m = v.reduce((a, b) => a + b, 0) / v.length;
  const sd = Math.sqrt(v.reduce((a, b) => a + (b - m) ** 2, 0) / v.length);
  return [m, sd, Math.min(...v), Math.max(...v)];
}

Deno.test("truncNormal: PyTorch defaults (mean 0, std 1, cut at -2 / 2 absolute) and explicit bounds", () => {
  noLeak(() =>
    tidy(() => {
      const [m, sd, lo, hi] = moments(truncNormal([20000], new Rng(1)).toArray());
      assertOk(
        Math.abs(m) < 0.02 && Math.abs(sd - 0.8796) < 0.01 && lo >= -2 && hi <= 2,
        `${m} ${sd} ${lo} ${hi}`,
      );
      // absolute bounds, as trunc_normal_: std 0.02 with the default [-2, 2] is hardly cut
      const w = moments(truncNormal([20000], new Rng(2), 0.02).toArray());
      assertOk(Math.abs(w[1] - 0.02) < 0.0005, `std ${w[1]}`);
      const c = moments(truncNormal([5000], new Rng(3), 1, { mean: 3, a: 2.5, b: 4 }).toArray());
      assertOk(c[2] >= 2.5 && c[3] <= 4, `${c}`);
      // init.truncNormal: the ViT convention, cut at ±2 std
      const v = init.truncNormal([5000], new Rng(4)).toArray();
      assertOk(v.every((x) => Math.abs(x) <= 0.04 + 1e-9));
      assertThrows(() => truncNormal([2], new Rng(5), 1, { a: 1, b: 0 }), Error, "a < b");
      assertThrows(() => truncNormal([2], new Rng(5), 1, { a: 50, b: 51 }), Error, "almost no mass");
    })
  );
});

Deno.test("arange: int32 output is exact past 2^24 and indexes an embedding", () => {
  noLeak(() =>
    tidy(() => {
      const big = arange(2 ** 24, 2 ** 24 + 4, 1, { dtype: "int32" });
      assertEquals(big.dtype, "int32");
      assertEquals(big.toArray(), [16777216, 16777217, 16777218, 16777219]);
      assertEquals(arange(5).toArray(), [0, 1, 2, 3, 4]);
      assertEquals(arange(5, 0, -2, { dtype: "int32" }).toArray(), [5, 3, 1]);
      const w = tensor([0, 1, 10, 11, 20, 21], [3, 2]);
      assertEquals(embedding(w, arange(3, undefined, 1, { dtype: "int32" })).toArray(), [
        0,
        1,
        10,
        11,
        20,
        21,
      ]);
      assertThrows(() => arange(0, 1, 0.5, { dtype: "int32" }), Error, "int32 needs integer");
      assertThrows(() => arange(0, 3, 0), Error, "bad range");
    })
  );
});
