// LayerNorm / RMSNorm on CUDA vs CPU: warp path (D % 4 == 0, D <= 1024), block path, no
// affine, gradients of x, w, b, and guard regions.
import { compareOp, cudaTest, guarded, TOL, upload } from "./cuda_helpers.ts";
import { layerNorm, rmsNorm } from "../../src/ops/norm.ts";
import { kernels } from "../../src/backend/dispatch.ts";
import { cudaRaw } from "../../src/backend/cuda.ts";
import { randArray } from "../helpers.ts";

cudaTest("layerNorm / rmsNorm with grads", () => {
  for (const D of [4, 64, 100, 768, 1024, 1408, 3]) {
    compareOp(
      `layerNorm D=${D}`,
      (x, w, b) => layerNorm(x, w, b),
      [
        { shape: [37, D], grad: true, lo: -2, hi: 3 },
        { shape: [D], grad: true, lo: 0.5, hi: 1.5 },
        { shape: [D], grad: true },
      ],
      TOL.fp32,
      { rtol: 1e-3, atol: 1e-4, norm: 1e-4 },
    );
    compareOp(
      `rmsNorm D=${D}`,
      (x, w) => rmsNorm(x, w),
      [
        { shape: [37, D], grad: true },
        { shape: [D], grad: true, lo: 0.5, hi: 1.5 },
      ],
      TOL.fp32,
      { rtol: 1e-3, atol: 1e-4, norm: 1e-4 },
    );
  }
  compareOp("layerNorm no affine", (x) => layerNorm(x), [{ shape: [5, 7, 64], grad: true }], TOL.fp32, {
    rtol: 1e-3,
    atol: 1e-4,
    norm: 1e-4,
  });
});

const k = kernels({
  ft_norm_fwd: {
    parameters: [
      "i64",
      "i64",
      "i32",
      "f32",
      "pointer",
      "pointer",
      "pointer",
      "pointer",
      "pointer",
      "pointer",
    ],
    result: "i32",
  },
});

cudaTest("guard regions around norm outputs", () => {
  for (const [rows, D] of [[1, 4], [7, 768], [3, 1410]]) {
    const x = upload(randArray(rows * D, 5));
    guarded(
      rows * D,
      (y) => k("cuda").ft_norm_fwd(BigInt(rows), BigInt(D), 0, 1e-5, x, null, null, y, null, null),
      `norm ${rows}x${D}`,
    );
    cudaRaw.free(x);
  }
});
