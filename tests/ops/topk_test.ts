/**
 * topk / argmax: values and indices vs a float64 sort (every axis, largest and smallest, ties
 * to the lower index, NaN and ±inf, -0, k = 0 and k = n, long beam-search rows), gradient of the
 * values by finite differences, errors, no leaks.
 * Run: deno test --allow-ffi --allow-read --allow-env tests/ops/topk_test.ts
 */
import { throws as assertThrows } from "node:assert/strict";
import { deepStrictEqual } from "node:assert/strict";
import { tensor } from "../../src/tensor/create.ts";
import { tidy } from "../../src/tensor/scope.ts";
import { argmax, topk } from "../../src/ops/topk.ts";
import { assertClose, disposeAll, gradcheck, noLeak, randArray, randLeaf } from "../helpers.ts";

/** Reference top-k of each row: stable sort by (NaN first / value, index). */
function refRow(row: number[], k: number, largest: boolean): { v: number[]; i: number[] } {
  const order = row.map((v, i) => ({ v, i }));
  const rank = (x: number) => (Number.isNaN(x) ? (largest ? Infinity : -Infinity) : x);
  order.sort((a, b) => {
    const na = Number.isNaN(a.v), nb = Number.isNaN(b.v);
    if (na !== nb) return largest ? (na ? -1 : 1) : (na ? 1 : -1);
    const d = largest ? rank(b.v) - rank(a.v) : rank(a.v) - rank(b.v);
    return d !== 0 && !Number.isNaN(d) ? d : a.i - b.i;
  });
  return { v: order.slice(0, k).map((o) => o.v), i: order.slice(0, k).map((o) => o.i) };
}

function caseLast(rows: number, n: number, k: number, largest: boolean, values: Float32Array) {
  tidy(() => {
    const x = tensor(values, [rows, n]);
    const { values: v, indices: ix } = topk(x, k, -1, largest);
    const gotV = Array.from(v.data()), gotI = Array.from(ix.dataI32());
    for (let r = 0; r < rows; r++) {
      const want = refRow(Array.from(values.subarray(r * n, (r + 1) * n)), k, largest);
      deepStrictEqual(
        gotI.slice(r * k, (r + 1) * k),
        want.i,
        `row ${r} indices (n ${n}, k ${k}, largest ${largest})`,
      );
      deepStrictEqual(gotV.slice(r * k, (r + 1) * k).map(String), want.v.map((x) => String(Math.fround(x))));
    }
  });
}

Deno.test("topk along the last axis matches a reference sort (ties, NaN, inf, -0, k edge cases)", () => {
  noLeak(() => {
    caseLast(3, 17, 5, true, randArray(51, 1));
    caseLast(3, 17, 5, false, randArray(51, 2));
    caseLast(2, 9, 9, true, Float32Array.from([1, 3, 3, 0, 3, -1, 2, 3, 1, 5, 5, 5, 5, 5, 5, 5, 5, 5]));
    caseLast(1, 8, 8, true, Float32Array.from([0, NaN, Infinity, -Infinity, -0, 2, NaN, -3]));
    caseLast(1, 8, 8, false, Float32Array.from([0, NaN, Infinity, -Infinity, -0, 2, NaN, -3]));
    caseLast(2, 6, 0, true, randArray(12, 3));
    // k = 1 (the argmax scan): NaN first / last, all NaN, -0 vs 0 ties, leading NaN
    const k1 = Float32Array.from([3, NaN, 5, 5, NaN, NaN, NaN, NaN, -0, 0, 0, -0, NaN, 1, -2, -2]);
    caseLast(4, 4, 1, true, k1);
    caseLast(4, 4, 1, false, k1);
    // beam search: (B, beams·vocab) rows, k = 2·beams
    const vals = randArray(2 * 4 * 3000, 4, -20, 0);
    for (let i = 0; i < vals.length; i += 7) vals[i] = Math.round(vals[i]); // many ties
    caseLast(2, 12000, 8, true, vals);
    // k > 64: the nth_element path (ties and NaN included)
    const big = randArray(2 * 300, 5);
    for (let i = 0; i < big.length; i += 5) big[i] = 0.5;
    big[7] = NaN;
    caseLast(2, 300, 100, true, big);
    caseLast(2, 300, 300, false, big);
  });
});

Deno.test("topk over a middle axis and argmax (keepdims, first maximum, NaN wins)", () => {
  noLeak(() =>
    tidy(() => {
      const xv = randArray(2 * 5 * 3, 5);
      xv[0 * 15 + 1 * 3 + 0] = xv[0 * 15 + 3 * 3 + 0] = 9; // tie on axis 1 for (b=0, c=0)
      const x = tensor(xv, [2, 5, 3]);
      const { values, indices } = topk(x, 2, 1);
      deepStrictEqual(values.shape, [2, 2, 3]);
      for (let b = 0; b < 2; b++) {
        for (let c = 0; c < 3; c++) {
          const col = [0, 1, 2, 3, 4].map((j) => xv[b * 15 + j * 3 + c]);
          const want = refRow(col, 2, true);
          deepStrictEqual([0, 1].map((t) => indices.dataI32()[b * 6 + t * 3 + c]), want.i);
          assertClose([0, 1].map((t) => values.data()[b * 6 + t * 3 + c]), want.v);
        }
      }
      const am = argmax(x, 1);
      deepStrictEqual(am.shape, [2, 3]);
      deepStrictEqual(am.toArray()[0], 1); // first of the tied maxima
      deepStrictEqual(argmax(x, 1, true).shape, [2, 1, 3]);
      deepStrictEqual(argmax(tensor([1, NaN, 5, NaN], [4]), 0).toArray(), [1]);
      deepStrictEqual(argmax(tensor([2, 7, 7, -1, 0, 0], [2, 3]), -1).toArray(), [1, 1]);
    })
  );
});

Deno.test("topk values gradcheck (finite differences), any axis", () => {
  noLeak(() =>
    tidy(() => {
      const x = randLeaf([3, 7, 4], 30);
      gradcheck((a) => topk(a, 3, -1).values, [x]);
      gradcheck((a) => topk(a, 2, 1, false).values, [x]);
      disposeAll(x);
    })
  );
});

Deno.test("topk / argmax errors", () => {
  noLeak(() =>
    tidy(() => {
      const x = tensor(new Float32Array(12), [3, 4]);
      assertThrows(() => topk(x, 5), /topk: x \(3,4\): k must be an integer in \[0, 4\] \(axis 1\), got 5/);
      assertThrows(() => topk(x, 1, 2), /topk: axis 2 out of range for 2 dims/);
      assertThrows(
        () => argmax(tensor(new Float32Array(0), [2, 0]), 1),
        /argmax: x \(2,0\): axis 1 is empty/,
      );
    })
  );
});
