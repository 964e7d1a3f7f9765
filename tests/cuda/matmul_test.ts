// GEMM on CUDA vs the CPU backend: fp32 (CUDA cores), bf16 and fp16 autocast (tensor cores,
// fp32 accumulation), every transpose, batch broadcasting, linear; cuBLAS when it loads; the
// 16-bit raw entry point with guard regions and the Hopper kernel vs the mma.sync one.
import assert from "node:assert/strict";
import { compareOp, cudaTest, expectClose, guarded, host, TOL, type Tol } from "./cuda_helpers.ts";
import { matmul } from "../../src/ops/matmul.ts";
import { linear } from "../../src/ops/linear.ts";
import { mul } from "../../src/ops/elementwise.ts";
import { sum } from "../../src/ops/reduce.ts";
import { backward } from "../../src/autograd/tape.ts";
import { tensor } from "../../src/tensor/create.ts";
import { tidy } from "../../src/tensor/scope.ts";
import type { Tensor } from "../../src/tensor/tensor.ts";
import {
  CUDA_HALF_SYMBOLS,
  cudaRaw,
  getCudaMath,
  setCudaMath,
  withCudaMath,
} from "../../src/backend/cuda.ts";
import { kernels } from "../../src/backend/dispatch.ts";
import { randArray } from "../helpers.ts";

const SHAPES: [number[], number[], boolean, boolean][] = [
  [[64, 32], [32, 48], false, false],
  [[3, 37, 70], [3, 70, 29], false, false],
  [[2, 70, 37], [2, 70, 29], true, false],
  [[2, 37, 70], [2, 29, 70], false, true],
  [[2, 70, 37], [2, 29, 70], true, true],
  [[4, 129, 96], [96, 130], false, false],
  [[1, 257, 64], [2, 257, 64], false, true],
  [[300, 200], [200, 260], false, false],
];

const MODES: [string, () => void, Tol][] = [
  ["fp32", () => {}, TOL.fp32],
  ["bf16", () => setCudaMath({ autocast: "bf16" }), TOL.bf16],
  ["fp16", () => setCudaMath({ autocast: "fp16" }), TOL.fp16],
  ["cublas fp32", () => setCudaMath({ gemm: "cublas" }), TOL.fp32],
  ["cublas bf16", () => setCudaMath({ gemm: "cublas", autocast: "bf16" }), TOL.bf16],
];

// One test per (mode, shape): a failure used to stop the loop and hide every later case
// ((300,200)x(200,260), linear's beta != 0 epilogue, cuBLAS bf16 never ran on a GPU).
for (const [tag, setup, tol] of MODES) {
  for (const [sa, sb, ta, tb] of SHAPES) {
    const name = `${tag} matmul ${sa}${ta ? "ᵀ" : ""} x ${sb}${tb ? "ᵀ" : ""}`;
    cudaTest(name, () => {
      setup();
      compareOp(
        name,
        (a, b) => matmul(a, b, { transA: ta, transB: tb }),
        [
          { shape: sa, grad: true },
          { shape: sb, grad: true, seed: 4 },
        ],
        tol,
      );
    });
  }
  cudaTest(`${tag} linear (bias fused into the GEMM epilogue)`, () => {
    setup();
    compareOp(`${tag} linear`, linear, [{ shape: [2, 50, 96], grad: true }, { shape: [80, 96], grad: true }, {
      shape: [80],
      grad: true,
    }], tol);
  });
  cudaTest(`${tag} broadcast-A batch: (37, 70) x (3, 70, 29)`, () => {
    setup();
    compareOp(`${tag} broadcast A`, (a, b) => matmul(a, b), [{ shape: [37, 70], grad: true }, {
      shape: [3, 70, 29],
      grad: true,
      seed: 4,
    }], tol);
  });
}

cudaTest("autocast is recorded on the node: forward under bf16, backward outside it", () => {
  const grads = (fwdOnly: boolean) =>
    tidy(() => {
      const a = tensor(randArray(64 * 96, 1), [64, 96], { device: "cuda" }).requireGrad();
      const b = tensor(randArray(96 * 40, 2), [96, 40], { device: "cuda" }).requireGrad();
      const R = tensor(randArray(64 * 40, 3), [64, 40], { device: "cuda" });
      let loss: Tensor;
      if (fwdOnly) {
        loss = withCudaMath({ autocast: "bf16" }, () => sum(mul(matmul(a, b), R)));
        backward(loss); // outside: must still run the bf16 kernels
      } else {
        withCudaMath({ autocast: "bf16" }, () => backward(sum(mul(matmul(a, b), R))));
      }
      return [host(a.grad!), host(b.grad!)];
    });
  const inside = grads(false), split = grads(true);
  assert.deepEqual(split[0], inside[0], "dA: backward outside the bf16 scope used another precision");
  assert.deepEqual(split[1], inside[1], "dB");
  // and the reverse: fp32 forward, backward inside a bf16 scope, stays fp32
  const fp32 = tidy(() => {
    const a = tensor(randArray(64 * 96, 1), [64, 96], { device: "cuda" }).requireGrad();
    const b = tensor(randArray(96 * 40, 2), [96, 40], { device: "cuda" }).requireGrad();
    const R = tensor(randArray(64 * 40, 3), [64, 40], { device: "cuda" });
    const loss = sum(mul(matmul(a, b), R));
    withCudaMath({ autocast: "bf16" }, () => backward(loss));
    return host(a.grad!);
  });
  const cpu = tidy(() => {
    const a = tensor(randArray(64 * 96, 1), [64, 96]).requireGrad();
    const b = tensor(randArray(96 * 40, 2), [96, 40]);
    backward(sum(mul(matmul(a, b), tensor(randArray(64 * 40, 3), [64, 40]))));
    return host(a.grad!);
  });
  expectClose(fp32, cpu, TOL.fp32, "fp32 node, backward under bf16");
  assert.ok(getCudaMath().autocast === "off");
});

const k = kernels(CUDA_HALF_SYMBOLS);

function bf16(v: Float32Array): Uint16Array {
  const u = new Uint32Array(v.buffer.slice(0));
  return Uint16Array.from(u, (x) => (x + 0x7fff + ((x >> 16) & 1)) >>> 16);
}
function unbf16(h: Uint16Array): Float32Array {
  return new Float32Array(Uint32Array.from(h, (x) => x << 16).buffer);
}

cudaTest("16-bit GEMM entry: guard regions, partial tiles, wgmma vs mma.sync vs reference", () => {
  for (
    const [batch, M, N, K] of [[1, 256, 256, 256], [2, 200, 136, 192], [1, 1, 8, 64], [3, 129, 257, 320]]
  ) {
    const a = bf16(randArray(batch * M * K, 1)), b = bf16(randArray(batch * N * K, 2));
    const af = unbf16(a), bfl = unbf16(b);
    const ref = new Float32Array(batch * M * N);
    for (let z = 0; z < batch; z++) {
      for (let i = 0; i < M; i++) {
        for (let j = 0; j < N; j++) {
          let s = 0;
          for (let kk = 0; kk < K; kk++) s += af[(z * M + i) * K + kk] * bfl[(z * N + j) * K + kk];
          ref[(z * M + i) * N + j] = s;
        }
      }
    }
    const pa = cudaRaw.malloc(a.byteLength), pb = cudaRaw.malloc(b.byteLength);
    cudaRaw.upload(pa, a);
    cudaRaw.upload(pb, b);
    for (const impl of [0, 2]) {
      const out = guarded(batch * M * N, (c) =>
        k("cuda").ft_cuda_gemm_16(
          impl,
          1,
          BigInt(batch),
          BigInt(M),
          BigInt(N),
          BigInt(K),
          1,
          pa,
          pb,
          0,
          c,
          0,
        ), `gemm16 impl ${impl} ${[batch, M, N, K]}`);
      expectClose(
        out,
        ref,
        { rtol: 1e-3, atol: 1e-3, norm: 1e-5 },
        `gemm16 impl ${impl} ${[batch, M, N, K]}`,
      );
    }
    cudaRaw.free(pa);
    cudaRaw.free(pb);
  }
});
