/**
 * Column sums over a long axis (the linear bias gradient): sum(x (R, C), 0) and linear's db,
 * which run R-split across threads (native/reduce.cpp), against float64 sums, including R not a
 * multiple of the block and a single column. Run:
 * deno test --allow-ffi --allow-read --allow-env tests/ops/column_sum_test.ts
 * @module
 */
import { tensor } from "../../src/tensor/create.ts";
import { tidy } from "../../src/tensor/scope.ts";
import { backward } from "../../src/autograd/tape.ts";
import { mean, sum } from "../../src/ops/reduce.ts";
import { linear } from "../../src/ops/linear.ts";
import { assertClose, noLeak, randArray } from "../helpers.ts";

function colSums(v: ArrayLike<number>, R: number, C: number): number[] {
  const out = new Array<number>(C).fill(0);
  for (let r = 0; r < R; r++) for (let c = 0; c < C; c++) out[c] += v[r * C + c];
  return out;
}

Deno.test("column sums over a long axis match float64 (R-split path)", () => {
  noLeak(() =>
    tidy(() => {
      for (const [R, C] of [[5003, 37], [70001, 3], [130, 601], [100_000, 1], [4096, 768]]) {
        const v = randArray(R * C, R + C);
        const x = tensor(v, [R, C]);
        const want = colSums(v, R, C);
        assertClose(sum(x, 0).data(), want, { rtol: 1e-5, atol: 1e-4, what: `sum (${R},${C}) axis 0` });
        assertClose(mean(x, 0).data(), want.map((s) => s / R), {
          rtol: 1e-5,
          atol: 1e-6,
          what: `mean (${R},${C})`,
        });
      }
      // (1, R, C): the leading size-1 axis keeps outer = 1
      const v = randArray(3 * 4000 * 20, 5);
      const want = [0, 1, 2].flatMap((o) => colSums(v.subarray(o * 80000, (o + 1) * 80000), 4000, 20));
      assertClose(sum(tensor(v, [3, 4000, 20]), 1).data(), want, {
        rtol: 1e-5,
        atol: 1e-4,
        what: "sum (3,4000,20) axis 1",
      });
    })
  );
});

Deno.test("linear's bias gradient is the column sum of the output gradient", () => {
  noLeak(() =>
    tidy(() => {
      const rows = 3000, inF = 16, outF = 96;
      const x = tensor(randArray(rows * inF, 1), [rows, inF]);
      const w = tensor(randArray(outF * inF, 2), [outF, inF]).requireGrad();
      const b = tensor(randArray(outF, 3), [outF]).requireGrad();
      const gv = randArray(rows * outF, 4);
      backward(linear(x, w, b), tensor(gv, [rows, outF]));
      assertClose(b.grad!.data(), colSums(gv, rows, outF), { rtol: 1e-5, atol: 1e-4, what: "db" });
      w.dispose();
      b.dispose();
    })
  );
});
