// GPU checks of the issue-22 follow-ups (skipped without a device; none has run on a GPU yet):
// linear's bias fused into the GEMM epilogue (fp32 SIMT, mma.sync / wgmma under bf16 / fp16,
// cuBLAS + bias pass) vs a float64 reference per row; packed autocast weights reused across calls
// and invalidated by set() and an AdamW step; the input gradient through the cached W packing;
// the block pool on the real allocator (variable sizes reuse segments, cross-stream reuse).
// Run: .tools/deno test --allow-all tests/cuda/linear_fused_test.ts (on a machine with a GPU)
import assert from "node:assert/strict";
import { cudaTest, expectRows, host, sampleRows, TOL, type Tol } from "./cuda_helpers.ts";
import { linear } from "../../src/ops/linear.ts";
import { mul } from "../../src/ops/elementwise.ts";
import { sum } from "../../src/ops/reduce.ts";
import { backward } from "../../src/autograd/tape.ts";
import { tensor } from "../../src/tensor/create.ts";
import { tidy } from "../../src/tensor/scope.ts";
import { emptyCache, memoryStats } from "../../src/tensor/storage.ts";
import { CudaStream, setCudaMath } from "../../src/backend/cuda.ts";
import { devicePackedWeights } from "../../src/backend/packed_weights.ts";
import { AdamW } from "../../src/train/adamw.ts";
import { randArray } from "../helpers.ts";

/** float64 y(rows, N) = x(rows, K) @ w(N, K)ᵀ + b, for the listed rows only (all by default). */
function linearRef(
  x: ArrayLike<number>,
  w: ArrayLike<number>,
  b: ArrayLike<number> | null,
  rows: number,
  K: number,
  N = w.length / Math.max(1, K),
  pick: number[] = Array.from({ length: rows }, (_, i) => i),
) {
  const y = new Float64Array(pick.length * N);
  pick.forEach((r, i) => {
    for (let n = 0; n < N; n++) {
      let s = b ? b[n] : 0;
      for (let k = 0; k < K; k++) s += x[r * K + k] * w[n * K + k];
      y[i * N + n] = s;
    }
  });
  return y;
}

/** The listed rows of a (rows, N) host array. */
function takeRows(a: Float32Array, N: number, pick: number[]): Float32Array {
  const out = new Float32Array(pick.length * N);
  pick.forEach((r, i) => out.set(a.subarray(r * N, (r + 1) * N), i * N));
  return out;
}

const MODES: [string, () => void, Tol][] = [
  ["fp32", () => {}, TOL.fp32],
  ["bf16", () => setCudaMath({ autocast: "bf16" }), TOL.bf16],
  ["fp16", () => setCudaMath({ autocast: "fp16" }), TOL.fp16],
  ["cublas fp32", () => setCudaMath({ gemm: "cublas" }), TOL.fp32],
  ["cublas bf16", () => setCudaMath({ gemm: "cublas", autocast: "bf16" }), TOL.bf16],
];

// (rows, in, out): partial tiles, K not a multiple of 64, a wide bias, the ViT qkv shape, K = 0
const SHAPES: [number, number, number][] = [[300, 200, 260], [129, 70, 37], [3152, 768, 2304], [5, 0, 40]];

for (const [tag, setup, tol] of MODES) {
  for (const [rows, K, N] of SHAPES) {
    cudaTest(`${tag} linear ${rows}x${K} -> ${N}: bias in the epilogue, packed weight reused`, () => {
      setup();
      const xv = randArray(rows * K, 3, -1, 1), wv = randArray(N * K, 5, -1, 1);
      const bv = randArray(N, 7, -4, 4); // large bias: a dropped or doubled bias fails per row
      const x = tensor(xv, [rows, K], { device: "cuda" });
      const w = tensor(wv, [N, K], { device: "cuda" });
      w.name = "weight"; // a module weight: eligible for the packed cache
      const b = tensor(bv, [N], { device: "cuda" });
      // every row of the small shapes, a sample (first, last, spread) of the ViT one
      const pick = rows > 1000 ? sampleRows(rows) : Array.from({ length: rows }, (_, i) => i);
      const y1 = linear(x, w, b);
      expectRows(
        takeRows(host(y1), N, pick),
        linearRef(xv, wv, bv, rows, K, N, pick),
        N,
        tol,
        `${tag} linear`,
        pick,
      );
      const hits = devicePackedWeights()?.stats().hits ?? 0;
      const y2 = linear(x, w, b);
      assert.deepEqual(host(y2), host(y1), "second call (cached packing) is bit-identical");
      if (tag.includes("16") && K > 0) {
        assert.equal(devicePackedWeights()!.stats().hits, hits + 1, "the packed weight was reused");
      }
      const yNoBias = linear(x, w, null);
      expectRows(
        takeRows(host(yNoBias), N, pick),
        linearRef(xv, wv, null, rows, K, N, pick),
        N,
        tol,
        `${tag} linear without bias`,
        pick,
      );
      for (const t of [x, w, b, y1, y2, yNoBias]) t.dispose();
    });
  }
}

for (const mode of ["bf16", "fp16"] as const) {
  cudaTest(
    `${mode}: packed weight invalidated by set() and by an AdamW step; dx through the cached W`,
    () => {
      setCudaMath({ autocast: mode });
      tidy(() => {
        const tol = mode === "bf16" ? TOL.bf16 : TOL.fp16;
        const rows = 96, K = 130, N = 72;
        const xv = randArray(rows * K, 1, -1, 1);
        let wv = randArray(N * K, 2, -1, 1);
        const x = tensor(xv, [rows, K], { device: "cuda", requiresGrad: true });
        const w = tensor(wv, [N, K], { device: "cuda", requiresGrad: true });
        w.name = "weight";
        expectRows(host(linear(x, w)), linearRef(xv, wv, null, rows, K), N, tol, "before");
        wv = randArray(N * K, 9, -1, 1);
        w.set(wv);
        expectRows(
          host(linear(x, w)),
          linearRef(xv, wv, null, rows, K),
          N,
          tol,
          "after set(): not the stale packing",
        );
        // backward: dx = g @ W through the "nn" packing, vs float64
        const gv = randArray(rows * N, 4, -1, 1);
        const y = linear(x, w);
        backward(sum(mul(y, tensor(gv, [rows, N], { device: "cuda" }))));
        const dxRef = new Float64Array(rows * K);
        for (let r = 0; r < rows; r++) {
          for (let n = 0; n < N; n++) {
            for (let k = 0; k < K; k++) dxRef[r * K + k] += gv[r * N + n] * wv[n * K + k];
          }
        }
        expectRows(host(x.grad!), dxRef, K, tol, "dx");
        const opt = new AdamW([w], { lr: 0.05 });
        opt.step();
        const stepped = host(w);
        expectRows(host(linear(x, w)), linearRef(xv, stepped, null, rows, K), N, tol, "after an AdamW step");
        x.dispose();
        w.dispose();
      });
    },
  );
}

cudaTest(
  "block pool on the device: variable sizes reuse segments; a block freed on a side stream is safe",
  () => {
    emptyCache("cuda");
    const MiB = 1 << 20;
    const sizes = [3, 7, 5, 9, 4, 8, 6, 3.5];
    let segsAfterFirst = 0;
    for (let step = 0; step < 4; step++) {
      const ts = sizes.slice(step, step + 4).map((m, i) =>
        tensor(new Float32Array((m * MiB) / 4).fill(i), [m * MiB / 4], { device: "cuda" })
      );
      ts.forEach((t, i) => assert.equal(host(t)[t.size - 1], i, "distinct blocks keep their contents"));
      for (const t of ts) t.dispose();
      if (step === 0) segsAfterFirst = memoryStats("cuda").segments!;
    }
    assert.ok(
      memoryStats("cuda").segments! <= segsAfterFirst + 1,
      `segments ${memoryStats("cuda").segments}`,
    );
    // freed inside a side stream's run(), reused on the library stream at once: the join orders it
    const s = new CudaStream();
    const n = 1 << 22;
    const live0 = memoryStats("cuda").liveBytes;
    s.run(() =>
      tidy(() => {
        const a = tensor(new Float32Array(n).fill(1), [n], { device: "cuda" });
        linear(
          a.viewAs([1024, 4096]),
          tensor(new Float32Array(4096 * 64).fill(1), [64, 4096], { device: "cuda" }),
        );
      })
    );
    assert.equal(memoryStats("cuda").liveBytes, live0, "everything made on the side stream was freed");
    const c = tensor(new Float32Array(n).fill(2), [n], { device: "cuda" });
    const v = host(c);
    assert.ok(v.every((e) => e === 2), "no stale write from the side stream");
    c.dispose();
    s.dispose();
    emptyCache("cuda");
    assert.equal(memoryStats("cuda").liveBytes, live0);
  },
);
