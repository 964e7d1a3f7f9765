// Convolution family on CUDA vs CPU: conv2d (stride, padding, dilation, groups), CoordConv
// (in-kernel coordinate channels), conv-transpose2d, max / average pooling, batchnorm (train
// and eval, running stats), resize (nearest, bilinear, align corners); forward and gradients.
import { compareOp, cudaTest, expectClose, host, TOL } from "./cuda_helpers.ts";
import { conv2d, coordConv2d } from "../../src/ops/conv2d.ts";
import { convTranspose2d } from "../../src/ops/conv_transpose2d.ts";
import { avgPool2d, maxPool2d } from "../../src/ops/pool.ts";
import { batchNorm2d } from "../../src/ops/batchnorm.ts";
import { interpolate } from "../../src/ops/resize.ts";
import { tensor } from "../../src/tensor/create.ts";
import { tidy } from "../../src/tensor/scope.ts";
import { randArray } from "../helpers.ts";

const T = { rtol: 5e-4, atol: 5e-5, norm: 2e-5 };

cudaTest("conv2d and CoordConv with grads", () => {
  compareOp("conv2d 3x3 s1 p1", (x, w, b) => conv2d(x, w, b, { padding: 1 }), [
    { shape: [2, 5, 13, 11], grad: true },
    { shape: [6, 5, 3, 3], grad: true },
    { shape: [6], grad: true },
  ], T);
  compareOp(
    "conv2d s2 d2 groups",
    (x, w) => conv2d(x, w, null, { stride: 2, padding: 2, dilation: 2, groups: 2 }),
    [
      { shape: [2, 4, 15, 12], grad: true },
      { shape: [6, 2, 3, 3], grad: true },
    ],
    T,
  );
  compareOp("conv2d 1x1", (x, w, b) => conv2d(x, w, b), [
    { shape: [3, 8, 7, 7], grad: true },
    { shape: [4, 8, 1, 1], grad: true },
    { shape: [4], grad: true },
  ], T);
  compareOp("coordConv2d", (x, w, b) => coordConv2d(x, w, b, { padding: 1 }), [
    { shape: [2, 3, 9, 10], grad: true },
    { shape: [4, 5, 3, 3], grad: true },
    { shape: [4], grad: true },
  ], T);
});

cudaTest("conv-transpose2d with grads", () => {
  compareOp("convT k2 s2", (x, w, b) => convTranspose2d(x, w, b, { stride: 2 }), [
    { shape: [2, 6, 7, 5], grad: true },
    { shape: [6, 4, 2, 2], grad: true },
    { shape: [4], grad: true },
  ], T);
  compareOp(
    "convT k3 s2 p1 op1",
    (x, w) => convTranspose2d(x, w, null, { stride: 2, padding: 1, outputPadding: 1 }),
    [
      { shape: [1, 3, 6, 6], grad: true },
      { shape: [3, 5, 3, 3], grad: true },
    ],
    T,
  );
});

cudaTest("max / average pooling with grads (NaN wins, padding)", () => {
  compareOp("maxPool 2x2", (x) => maxPool2d(x, 2), [{ shape: [2, 3, 10, 9], grad: true }], TOL.pointwise);
  compareOp("maxPool 3x3 s2 p1", (x) => maxPool2d(x, 3, { stride: 2, padding: 1 }), [{
    shape: [2, 3, 11, 12],
    grad: true,
  }], TOL.pointwise);
  const v = randArray(2 * 8 * 8, 4);
  v[9] = NaN;
  compareOp("maxPool NaN", (x) => maxPool2d(x, 2), [{ shape: [1, 2, 8, 8], values: v }], TOL.pointwise);
  compareOp("avgPool 3x3 s2 p1", (x) => avgPool2d(x, 3, { stride: 2, padding: 1 }), [{
    shape: [2, 3, 11, 12],
    grad: true,
  }], TOL.fp32);
});

cudaTest("batchnorm train (running stats) and eval with grads", () => {
  compareOp("batchNorm eval", (x, w, b, rm, rv) => batchNorm2d(x, w, b, rm, rv, { training: false }), [
    { shape: [4, 6, 5, 7], grad: true },
    { shape: [6], grad: true, lo: 0.5, hi: 1.5 },
    { shape: [6], grad: true },
    { shape: [6] },
    { shape: [6], lo: 0.5, hi: 2 },
  ], TOL.fp32);
  tidy(() => {
    const vals = randArray(4 * 6 * 35, 8, -2, 3);
    const out: Float32Array[] = [];
    for (const device of ["cpu", "cuda"] as const) {
      const x = tensor(vals, [4, 6, 5, 7], { device }).requireGrad();
      const rm = tensor(new Float32Array(6), [6], { device }),
        rv = tensor(new Float32Array(6).fill(1), [6], { device });
      const y = batchNorm2d(x, null, null, rm, rv, { training: true });
      out.push(host(y), host(rm), host(rv));
    }
    expectClose(out[3], out[0], TOL.fp32, "batchnorm train y");
    expectClose(out[4], out[1], TOL.fp32, "running mean");
    expectClose(out[5], out[2], TOL.fp32, "running var");
  });
  compareOp("batchNorm train grads", (x, w, b) => batchNorm2d(x, w, b, null, null, { training: true }), [
    { shape: [3, 4, 6, 5], grad: true },
    { shape: [4], grad: true, lo: 0.5, hi: 1.5 },
    { shape: [4], grad: true },
  ], { rtol: 1e-3, atol: 1e-4, norm: 1e-4 });
});

cudaTest("resize nearest / bilinear (align corners) with grads", () => {
  for (const [oh, ow] of [[17, 23], [5, 4], [32, 32]]) {
    compareOp(`nearest ${oh}x${ow}`, (x) => interpolate(x, oh, ow, "nearest"), [{
      shape: [2, 3, 9, 11],
      grad: true,
    }], TOL.fp32);
    compareOp(`bilinear ${oh}x${ow}`, (x) => interpolate(x, oh, ow, "bilinear"), [{
      shape: [2, 3, 9, 11],
      grad: true,
    }], TOL.fp32);
    compareOp(`bilinear ac ${oh}x${ow}`, (x) => interpolate(x, oh, ow, "bilinear", true), [{
      shape: [2, 3, 9, 11],
      grad: true,
    }], TOL.fp32);
  }
});
