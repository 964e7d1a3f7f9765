/**
 * gather / indexSelect: forward vs a float64 reference (every axis, index smaller than x off the
 * axis, duplicates), gradients by finite differences and exact scatter-add sums with duplicate
 * indices, out-of-range and shape/dtype errors, no leaks.
 * Run: deno test --allow-ffi --allow-read --allow-env tests/ops/gather_test.ts
 */
import { throws as assertThrows } from "node:assert/strict";
import { intTensor, tensor } from "../../src/tensor/create.ts";
import { tidy } from "../../src/tensor/scope.ts";
import { backward } from "../../src/autograd/tape.ts";
import { stridesOf } from "../../src/tensor/shape.ts";
import { gather, indexSelect } from "../../src/ops/gather.ts";
import { Rng } from "../../src/tensor/rng.ts";
import { assertClose, disposeAll, gradcheck, noLeak, randArray, randLeaf } from "../helpers.ts";

function coords(e: number, shape: number[]): number[] {
  const c = new Array(shape.length);
  for (let d = shape.length - 1; d >= 0; d--) {
    c[d] = e % shape[d];
    e = Math.floor(e / shape[d]);
  }
  return c;
}

function gatherCase(xShape: number[], axis: number, iShape: number[], seed: number) {
  const rng = new Rng(seed);
  const xv = randArray(xShape.reduce((a, b) => a * b, 1), seed);
  const n = iShape.reduce((a, b) => a * b, 1);
  const iv = Array.from({ length: n }, () => rng.int(xShape[axis]));
  const xs = stridesOf(xShape);
  const want = new Float64Array(n), gx = new Float64Array(xv.length);
  const gv = randArray(n, seed + 1);
  for (let e = 0; e < n; e++) {
    const c = coords(e, iShape);
    c[axis] = iv[e];
    const off = c.reduce((a, ci, d) => a + ci * xs[d], 0);
    want[e] = xv[off];
    gx[off] += gv[e];
  }
  tidy(() => {
    const x = tensor(xv, xShape).requireGrad();
    const y = gather(x, axis, intTensor(iv, iShape));
    assertClose(y.data(), want, { what: `gather ${xShape} ${axis} ${iShape}` });
    backward(y, tensor(gv, iShape));
    assertClose(x.grad!.data(), gx, { rtol: 1e-5, atol: 1e-6, what: `gather grad ${xShape} ${axis}` });
    disposeAll(x);
  });
}

Deno.test("gather matches a float64 reference on every axis, with duplicates, and scatters gradients", () => {
  noLeak(() => {
    gatherCase([4, 5, 6], 0, [7, 5, 6], 1);
    gatherCase([4, 5, 6], 1, [4, 3, 6], 2);
    gatherCase([4, 5, 6], 2, [2, 3, 9], 3); // index smaller than x off the axis
    gatherCase([9], 0, [20], 4);
    gatherCase([3, 40000], 1, [3, 8], 5); // beam search: pick scores by topk indices
    gatherCase([2, 3, 4, 5, 2], 3, [2, 3, 4, 7, 2], 6);
  });
});

function iselCase(xShape: number[], axis: number, idx: number[], seed: number) {
  const xv = randArray(xShape.reduce((a, b) => a * b, 1), seed);
  const outShape = xShape.map((d, i) => (i === axis ? idx.length : d));
  const n = outShape.reduce((a, b) => a * b, 1);
  const gv = randArray(n, seed + 1);
  const xs = stridesOf(xShape);
  const want = new Float64Array(n), gx = new Float64Array(xv.length);
  for (let e = 0; e < n; e++) {
    const c = coords(e, outShape);
    c[axis] = idx[c[axis]];
    const off = c.reduce((a, ci, d) => a + ci * xs[d], 0);
    want[e] = xv[off];
    gx[off] += gv[e];
  }
  tidy(() => {
    const x = tensor(xv, xShape).requireGrad();
    const y = indexSelect(x, axis, intTensor(idx, [idx.length]));
    assertClose(y.data(), want, { what: `indexSelect ${xShape} ${axis}` });
    backward(y, tensor(gv, outShape));
    assertClose(x.grad!.data(), gx, { what: `indexSelect grad ${xShape} ${axis}` });
    disposeAll(x);
  });
}

Deno.test("indexSelect matches a float64 reference and sums duplicate-index gradients", () => {
  noLeak(() => {
    iselCase([4, 3, 5], 0, [3, 3, 0, 1, 3], 10); // beam reorder with repeats
    iselCase([4, 3, 5], 1, [2, 0], 11);
    iselCase([4, 3, 5], 2, [4, 4, 4, 0], 12);
    iselCase([6], 0, [], 13);
    iselCase([6, 2, 300], 0, [5, 5, 1, 0, 5, 2], 14); // one outer slice: backward splits the columns
  });
});

Deno.test("gather / indexSelect gradcheck (finite differences)", () => {
  noLeak(() =>
    tidy(() => {
      const x = randLeaf([3, 4, 5], 20);
      const i1 = intTensor([0, 3, 3, 1, 2, 0, 1, 1, 3, 0, 2, 2], [3, 2, 2]);
      gradcheck((a) => gather(a, 1, i1), [x]);
      gradcheck((a) => indexSelect(a, 2, intTensor([4, 0, 4], [3])), [x]);
      disposeAll(x);
    })
  );
});

Deno.test("gather / indexSelect errors name the op, the shapes and the bad index", () => {
  noLeak(() =>
    tidy(() => {
      const x = tensor(new Float32Array(12), [3, 4]);
      assertThrows(
        () => gather(x, 1, intTensor([0, 4], [1, 2])),
        /gather: .*index 4 at position 1 is out of range for size 4/,
      );
      assertThrows(
        () => gather(x, 0, intTensor([-1], [1, 1])),
        /index -1 at position 0 is out of range for size 3/,
      );
      assertThrows(
        () => gather(x, 1, intTensor([0, 1], [2])),
        /gather: x \(3,4\), index \(2\): index must have the same rank/,
      );
      assertThrows(
        () => gather(x, 1, intTensor(new Array(10).fill(0), [5, 2])),
        /index.shape\[0\] = 5 exceeds x.shape\[0\] = 3/,
      );
      assertThrows(() => gather(x, 1, tensor([0], [1, 1])), /gather: .*index must be int32, got float32/);
      assertThrows(() => gather(x, 2, intTensor([0], [1, 1])), /gather: axis 2 out of range for 2 dims/);
      assertThrows(
        () => indexSelect(x, 0, intTensor([0, 3], [2])),
        /indexSelect: .*index 3 at position 1 is out of range for size 3/,
      );
      assertThrows(() => indexSelect(x, 0, intTensor([0, 1], [1, 2])), /indexSelect: .*index must be 1-D/);
    })
  );
});
