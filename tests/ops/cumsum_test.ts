/**
 * cumsum: prefix sums vs a float64 reference on every axis, gradient (reverse sums) exact and
 * by finite differences, NaN propagation, errors, no leaks.
 * Run: deno test --allow-ffi --allow-read --allow-env tests/ops/cumsum_test.ts
 */
import { throws as assertThrows } from "node:assert/strict";
import { intTensor, tensor } from "../../src/tensor/create.ts";
import { tidy } from "../../src/tensor/scope.ts";
import { backward } from "../../src/autograd/tape.ts";
import { cumsum } from "../../src/ops/cumsum.ts";
import { assertClose, disposeAll, gradcheck, noLeak, randArray, randLeaf } from "../helpers.ts";

function run(shape: number[], axis: number, seed: number) {
  const outer = shape.slice(0, axis).reduce((a, b) => a * b, 1);
  const n = shape[axis], inner = shape.slice(axis + 1).reduce((a, b) => a * b, 1);
  const xv = randArray(outer * n * inner, seed), gv = randArray(xv.length, seed + 1);
  const want = new Float64Array(xv.length), gx = new Float64Array(xv.length);
  for (let o = 0; o < outer; o++) {
    for (let c = 0; c < inner; c++) {
      let s = 0, r = 0;
      for (let i = 0; i < n; i++) want[(o * n + i) * inner + c] = s += xv[(o * n + i) * inner + c];
      for (let i = n - 1; i >= 0; i--) gx[(o * n + i) * inner + c] = r += gv[(o * n + i) * inner + c];
    }
  }
  tidy(() => {
    const x = tensor(xv, shape).requireGrad();
    const y = cumsum(x, axis);
    assertClose(y.data(), want, { what: `cumsum ${shape} ${axis}` });
    backward(y, tensor(gv, shape));
    assertClose(x.grad!.data(), gx, { what: `cumsum grad ${shape} ${axis}` });
    disposeAll(x);
  });
}

Deno.test("cumsum matches float64 prefix sums on every axis, gradient = reverse sums", () => {
  noLeak(() => {
    run([3, 4, 5], 0, 1);
    run([3, 4, 5], 1, 2);
    run([3, 4, 5], 2, 3);
    run([1000], 0, 4);
    run([2, 0, 3], 1, 5);
  });
});

Deno.test("cumsum gradcheck, NaN propagation and errors", () => {
  noLeak(() =>
    tidy(() => {
      const x = randLeaf([2, 5], 10);
      gradcheck((a) => cumsum(a, -1), [x]);
      disposeAll(x);
      assertClose(cumsum(tensor([1, NaN, 2], [3]), 0).data(), [1, NaN, NaN]);
      assertThrows(() => cumsum(intTensor([1], [1]), 0), /cumsum: x \(1\) must be float32, got int32/);
      assertThrows(() => cumsum(tensor([1], [1]), 1), /cumsum: axis 1 out of range for 1 dims/);
    })
  );
});
