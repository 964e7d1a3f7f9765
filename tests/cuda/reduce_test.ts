// Reductions on CUDA vs CPU: sum/mean over any axes (short and long rows, split passes), max
// with argmax (ties first, NaN wins) and its backward.
import assert from "node:assert/strict";
import { compareOp, cudaTest, host, TOL } from "./cuda_helpers.ts";
import { max, maxWithIndex, mean, sum } from "../../src/ops/reduce.ts";
import { tensor } from "../../src/tensor/create.ts";
import { tidy } from "../../src/tensor/scope.ts";

cudaTest("sum / mean over axes with grads", () => {
  const cases: [number[], number | number[] | undefined][] = [
    [[64, 100], 1],
    [[64, 100], 0],
    [[4, 5, 6], [0, 2]],
    [[7, 9, 11], undefined],
    [[3, 200000], 1],
    [[1 << 20], 0],
    [[5, 70000, 3], 1],
    [[2, 3], [0, 1]],
  ];
  for (const [shape, axes] of cases) {
    compareOp(`sum ${shape} ${axes}`, (x) => sum(x, axes), [{ shape, grad: true }], TOL.fp32);
    compareOp(`mean ${shape} ${axes}`, (x) => mean(x, axes), [{ shape, grad: true }], TOL.fp32);
  }
});

cudaTest("max with argmax, ties and NaN, backward", () => {
  compareOp("max last", (x) => max(x, -1), [{ shape: [33, 300], grad: true }], TOL.pointwise);
  compareOp("max mid", (x) => max(x, 1), [{ shape: [5, 40, 7], grad: true }], TOL.pointwise);
  tidy(() => {
    const v = [1, 3, 3, 0, NaN, 2, 5, NaN, -1, -Infinity, -Infinity, -Infinity];
    for (const device of ["cpu", "cuda"] as const) {
      const { values, indices } = maxWithIndex(tensor(v, [3, 4], { device }), 1);
      const vals = host(values);
      assert.deepEqual(Array.from(indices.dataI32()), [1, 0, 0], device);
      assert.equal(vals[0], 3);
      assert.ok(Number.isNaN(vals[1]), `${device}: NaN wins`);
      assert.equal(vals[2], -1);
    }
  });
});
