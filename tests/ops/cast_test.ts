/**
 * cast / oneHot: float → int truncation toward zero (negatives, halves, NaN, ±inf, out of
 * range), int → float rounding, same-dtype copies and the float gradient, oneHot values and
 * index errors, no leaks.
 * Run: deno test --allow-ffi --allow-read --allow-env tests/ops/cast_test.ts
 */
import { deepStrictEqual, throws as assertThrows } from "node:assert/strict";
import { intTensor, tensor } from "../../src/tensor/create.ts";
import { tidy } from "../../src/tensor/scope.ts";
import { cast, oneHot } from "../../src/ops/cast.ts";
import { disposeAll, gradcheck, noLeak, randLeaf } from "../helpers.ts";

Deno.test("cast float32 -> int32 truncates toward zero like torch", () => {
  noLeak(() =>
    tidy(() => {
      const x = tensor([2.9, -2.9, 0.5, -0.5, 7, -7, 1e10, -1e10, NaN, Infinity, -Infinity, 2147483520], [
        12,
      ]);
      const y = cast(x, "int32");
      deepStrictEqual(y.dtype, "int32");
      const M = -2147483648;
      deepStrictEqual(y.toArray(), [2, -2, 0, 0, 7, -7, M, M, M, M, M, 2147483520]);
    })
  );
});

Deno.test("cast int32 -> float32 rounds to nearest; same dtype copies; float copy carries a gradient", () => {
  noLeak(() =>
    tidy(() => {
      const i = intTensor([0, -5, 16777217, 2147483647], [4]);
      deepStrictEqual(cast(i, "float32").toArray(), [0, -5, 16777216, 2147483648]);
      const c = cast(i, "int32");
      c.dataI32()[0] = 9;
      deepStrictEqual(i.toArray()[0], 0); // a copy, not a view
      const x = randLeaf([5], 1);
      gradcheck((a) => cast(a, "float32"), [x]);
      disposeAll(x);
    })
  );
});

Deno.test("oneHot encodes int32 indices and rejects out-of-range ones", () => {
  noLeak(() =>
    tidy(() => {
      const y = oneHot(intTensor([2, 0, 3, 2], [2, 2]), 4);
      deepStrictEqual(y.shape, [2, 2, 4]);
      deepStrictEqual(y.toArray(), [0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0, 1, 0, 0, 1, 0]);
      assertThrows(
        () => oneHot(intTensor([1, 4], [2]), 4),
        /oneHot: idx \(2\), n 4: index 4 at position 1 is out of range for n=4/,
      );
      assertThrows(() => oneHot(tensor([1], [1]), 4), /oneHot: .*idx must be int32, got float32/);
      assertThrows(
        () => cast(tensor([1], [1]), "float16" as unknown as "int32"),
        /cast: x \(1\): dtype must be "float32" or "int32"/,
      );
    })
  );
});
