// Strided copies (permute, transpose, slice, concat, expand) and their backward on CUDA vs CPU.
import { compareOp, cudaTest, TOL } from "./cuda_helpers.ts";
import { concat, expand, permute, slice, transpose } from "../../src/ops/shape_ops.ts";
import { mul } from "../../src/ops/elementwise.ts";

const T = TOL.pointwise;

cudaTest("permute / transpose (tiled and general) with grads", () => {
  compareOp("permute 0213", (x) => permute(x, [0, 2, 1, 3]), [{ shape: [2, 3, 40, 8], grad: true }], T);
  compareOp("transpose last two", (x) => transpose(x), [{ shape: [3, 70, 45], grad: true }], T);
  compareOp("transpose 2d", (x) => transpose(x, 0, 1), [{ shape: [129, 257], grad: true }], T);
  compareOp("permute 3012", (x) => permute(x, [3, 0, 1, 2]), [{ shape: [4, 5, 6, 7], grad: true }], T);
});

cudaTest("slice / concat / expand with grads (expand backward accumulates)", () => {
  compareOp("slice", (x) => slice(x, 1, 3, -2), [{ shape: [4, 11, 5], grad: true }], T);
  compareOp("concat", (a, b) => concat([a, b], 1), [{ shape: [3, 4, 5], grad: true }, {
    shape: [3, 2, 5],
    grad: true,
  }], T);
  compareOp(
    "expand",
    (x) => mul(expand(x, [6, 5, 4]), expand(x, [6, 5, 4])),
    [{ shape: [5, 1], grad: true }],
    TOL.fp32,
  );
});
