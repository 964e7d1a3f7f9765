// Softmax / log-softmax on CUDA vs CPU: warp-per-row and block-per-row lengths, broadcast
// additive masks, fully masked rows (zeros / -inf), NaN parity, gradients, guard regions.
import { compareOp, cudaTest, guarded, TOL, upload } from "./cuda_helpers.ts";
import { logSoftmax, softmax } from "../../src/ops/softmax.ts";
import { kernels } from "../../src/backend/dispatch.ts";
import { cudaRaw } from "../../src/backend/cuda.ts";
import { randArray } from "../helpers.ts";

cudaTest("softmax / logSoftmax over short and long rows with grads", () => {
  for (const T of [1, 7, 32, 100, 257, 1000, 1024, 1025, 5000]) {
    compareOp(`softmax T=${T}`, (x) => softmax(x), [{ shape: [13, T], grad: true, lo: -5, hi: 5 }], TOL.fp32);
    compareOp(
      `logSoftmax T=${T}`,
      (x) => logSoftmax(x),
      [{ shape: [13, T], grad: true, lo: -5, hi: 5 }],
      TOL.fp32,
    );
  }
});

cudaTest("broadcast additive masks, fully masked rows, NaN", () => {
  const T = 40;
  const m = new Float32Array(2 * T);
  for (let j = 0; j < T; j++) {
    m[j] = j % 3 === 0 ? -Infinity : 0;
    m[T + j] = -Infinity; // batch 1: every key masked
  }
  compareOp("softmax masked (B,1,1,T)", (x, mk) => softmax(x, mk), [{ shape: [2, 3, 5, T], grad: true }, {
    shape: [2, 1, 1, T],
    values: m,
  }], TOL.fp32);
  compareOp("logSoftmax masked long", (x, mk) => logSoftmax(x, mk), [{ shape: [2, 3, 2, 2000] }, {
    shape: [2, 1, 1, 2000],
    values: Float32Array.from({ length: 4000 }, (_, i) => (i >= 2000 || i % 5 === 0 ? -Infinity : 0)),
  }], TOL.fp32);
  const v = randArray(3 * 50, 3);
  v[7] = NaN;
  compareOp("softmax NaN row", (x) => softmax(x), [{ shape: [3, 50], values: v }], TOL.fp32);
});

const k = kernels({
  ft_softmax_fwd: {
    parameters: ["i64", "i64", "pointer", "pointer", "i32", "buffer", "buffer", "i32", "pointer"],
    result: "i32",
  },
});

cudaTest("guard regions around softmax outputs", () => {
  for (const [rows, T] of [[1, 1], [3, 33], [9, 1024], [2, 3001]]) {
    const x = upload(randArray(rows * T, 5));
    guarded(
      rows * T,
      (y) =>
        k("cuda").ft_softmax_fwd(
          BigInt(rows),
          BigInt(T),
          x,
          null,
          0,
          new BigInt64Array(1),
          new BigInt64Array(1),
          0,
          y,
        ),
      `softmax ${rows}x${T}`,
    );
    cudaRaw.free(x);
  }
});
