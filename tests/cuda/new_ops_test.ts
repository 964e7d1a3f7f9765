// The model's new ops on CUDA vs CPU (same seeded inputs): gather / indexSelect (forward and the
// scatter-add backward), where / maskedFill, cast / oneHot, cumsum, pad, tril / triu, topk /
// argmax (exact indices: beam search must pick the same tokens) and bicubic interpolate.
// Out-of-range indices must give the same error on CUDA.
// Run: deno test --allow-all tests/cuda/new_ops_test.ts (skipped without a device)
import { throws as assertThrows } from "node:assert/strict";
import { deepStrictEqual } from "node:assert/strict";
import { compareOp, cudaTest, host, TOL } from "./cuda_helpers.ts";
import { tensor } from "../../src/tensor/create.ts";
import { tidy } from "../../src/tensor/scope.ts";
import type { Tensor } from "../../src/tensor/tensor.ts";
import { gather, indexSelect } from "../../src/ops/gather.ts";
import { maskedFill, where } from "../../src/ops/where.ts";
import { cast, oneHot } from "../../src/ops/cast.ts";
import { cumsum } from "../../src/ops/cumsum.ts";
import { pad } from "../../src/ops/pad.ts";
import { tril, triu } from "../../src/ops/masks.ts";
import { argmax, topk } from "../../src/ops/topk.ts";
import { interpolate } from "../../src/ops/resize.ts";
import { randArray } from "../helpers.ts";

const ints = (n: number, lim: number, seed: number) => Array.from(randArray(n, seed, 0, lim), Math.floor);

cudaTest("gather / indexSelect forward and scatter-add backward match the CPU", () => {
  compareOp("gather axis 1", (x: Tensor, i: Tensor) => gather(x, 1, i), [
    { shape: [4, 50, 6], grad: true, seed: 1 },
    { shape: [4, 30, 6], values: ints(720, 50, 2), int: true },
  ], TOL.fp32);
  compareOp("gather axis 0 (smaller index)", (x: Tensor, i: Tensor) => gather(x, 0, i), [
    { shape: [9, 5], grad: true, seed: 3 },
    { shape: [12, 3], values: ints(36, 9, 4), int: true },
  ], TOL.fp32);
  compareOp("indexSelect axis 0 (beam reorder)", (x: Tensor, i: Tensor) => indexSelect(x, 0, i), [
    { shape: [8, 3, 17, 16], grad: true, seed: 5 },
    { shape: [8], values: [3, 3, 0, 7, 1, 1, 1, 6], int: true },
  ], TOL.fp32);
  tidy(() => {
    const x = tensor(new Float32Array(12), [3, 4], { device: "cuda" });
    const i = tensor([0, 5], [1, 2], { dtype: "int32", device: "cuda" });
    assertThrows(() => gather(x, 1, i), /gather: .*index 5 at position 1 is out of range for size 4/);
  });
});

cudaTest("where / maskedFill / cumsum / pad match the CPU", () => {
  const cond = Array.from(randArray(4 * 5, 9), (v) => (v > 0 ? 1 : 0));
  compareOp("where broadcast", (c: Tensor, a: Tensor, b: Tensor) => where(c, a, b), [
    { shape: [4, 1, 5], values: cond, int: true },
    { shape: [3, 1], grad: true, seed: 10 },
    { shape: [4, 3, 5], grad: true, seed: 11 },
  ], TOL.pointwise);
  compareOp("maskedFill", (x: Tensor, m: Tensor) => maskedFill(x, m, -3), [
    { shape: [4, 3, 5], grad: true, seed: 12 },
    { shape: [4, 1, 5], values: cond },
  ], TOL.pointwise);
  for (const axis of [0, 1, 2]) {
    compareOp(`cumsum axis ${axis}`, (x: Tensor) => cumsum(x, axis), [{
      shape: [6, 70, 5],
      grad: true,
      seed: 13,
    }], TOL.fp32);
  }
  compareOp("pad / crop", (x: Tensor) => pad(x, [2, -1, 0, 3, 1, 1], 0.5), [{
    shape: [2, 5, 6, 7],
    grad: true,
    seed: 14,
  }], TOL.pointwise);
});

cudaTest("cast / oneHot / tril / triu match the CPU exactly", () => {
  tidy(() => {
    const v = [2.9, -2.9, 0.5, NaN, Infinity, -1e10, 7, -0.0];
    deepStrictEqual(
      host(cast(tensor(v, [8], { device: "cuda" }), "int32")),
      host(cast(tensor(v, [8]), "int32")),
    );
    const iv = [0, -5, 16777217, 2147483647];
    deepStrictEqual(
      host(cast(tensor(iv, [4], { dtype: "int32", device: "cuda" }), "float32")),
      host(cast(tensor(iv, [4], { dtype: "int32" }), "float32")),
    );
    const ids = ints(300, 21, 20);
    deepStrictEqual(
      host(oneHot(tensor(ids, [300], { dtype: "int32", device: "cuda" }), 21)),
      host(oneHot(tensor(ids, [300], { dtype: "int32" }), 21)),
    );
    assertThrows(
      () => oneHot(tensor([1, 21], [2], { dtype: "int32", device: "cuda" }), 21),
      /index 21 at position 1 is out of range/,
    );
    deepStrictEqual(host(tril(70, 90, -3, "cuda")), host(tril(70, 90, -3, "cpu")));
    deepStrictEqual(host(triu(90, 70, 2, "cuda")), host(triu(90, 70, 2, "cpu")));
  });
});

cudaTest("topk / argmax give the CPU's exact indices (beam search rows, ties, NaN)", () => {
  tidy(() => {
    const vals = randArray(16 * 4 * 3000, 30, -20, 0);
    for (let i = 0; i < vals.length; i += 11) vals[i] = -1; // ties
    vals[123] = NaN;
    for (const [k, largest] of [[8, true], [8, false], [1, true], [100, true]] as const) {
      const c = topk(tensor(vals, [16, 12000]), k, -1, largest);
      const g = topk(tensor(vals, [16, 12000], { device: "cuda" }), k, -1, largest);
      deepStrictEqual(host(g.indices), host(c.indices), `topk k ${k} largest ${largest}`);
      deepStrictEqual(Array.from(host(g.values), String), Array.from(host(c.values), String));
    }
    deepStrictEqual(
      host(argmax(tensor(vals, [64, 3000], { device: "cuda" }), 1)),
      host(argmax(tensor(vals, [64, 3000]), 1)),
    );
  });
  compareOp("topk values backward", (x: Tensor) => topk(x, 3, 1).values, [{
    shape: [4, 9, 5],
    grad: true,
    seed: 31,
  }], TOL.fp32);
});

cudaTest("bicubic interpolate matches the CPU (both alignments)", () => {
  for (const align of [false, true]) {
    compareOp(`bicubic ${align}`, (x: Tensor) => interpolate(x, 32, 21, "bicubic", align), [
      { shape: [2, 3, 14, 14], grad: true, seed: 40 },
    ], TOL.fp32);
  }
});
