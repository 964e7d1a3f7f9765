/**
 * where / maskedFill: forward vs a float64 reference with broadcasting of cond, a and b (float
 * and int32 conditions, scalar sides), gradients summed over broadcast axes (exact and finite
 * differences), errors, no leaks.
 * Run: deno test --allow-ffi --allow-read --allow-env tests/ops/where_test.ts
 */
import { throws as assertThrows } from "node:assert/strict";
import { intTensor, tensor } from "../../src/tensor/create.ts";
import { tidy } from "../../src/tensor/scope.ts";
import { backward } from "../../src/autograd/tape.ts";
import { broadcastStrides } from "../../src/tensor/shape.ts";
import { maskedFill, where } from "../../src/ops/where.ts";
import { assertClose, disposeAll, gradcheck, noLeak, randArray, randLeaf } from "../helpers.ts";

function at(vals: ArrayLike<number>, shape: number[], out: number[], e: number): number {
  const st = broadcastStrides(shape, out);
  let off = 0;
  for (let d = out.length - 1; d >= 0; d--) {
    off += (e % out[d]) * st[d];
    e = Math.floor(e / out[d]);
  }
  return vals[off];
}

function run(cs: number[], as: number[], bs: number[], out: number[], int32: boolean, seed: number) {
  const n = (s: number[]) => s.reduce((x, y) => x * y, 1);
  const cv = Array.from(randArray(n(cs), seed), (v) => (v > 0 ? 1 : 0));
  const av = randArray(n(as), seed + 1), bv = randArray(n(bs), seed + 2), gv = randArray(n(out), seed + 3);
  const want = new Float64Array(n(out)), ga = new Float64Array(av.length), gb = new Float64Array(bv.length);
  for (let e = 0; e < want.length; e++) {
    const c = at(cv, cs, out, e) !== 0;
    want[e] = c ? at(av, as, out, e) : at(bv, bs, out, e);
    // gradient position: same broadcast walk, accumulate
    const sA = broadcastStrides(as, out), sB = broadcastStrides(bs, out);
    let oa = 0, ob = 0, t = e;
    for (let d = out.length - 1; d >= 0; d--) {
      const ci = t % out[d];
      t = Math.floor(t / out[d]);
      oa += ci * sA[d];
      ob += ci * sB[d];
    }
    if (c) ga[oa] += gv[e];
    else gb[ob] += gv[e];
  }
  tidy(() => {
    const cond = int32 ? intTensor(cv, cs) : tensor(cv, cs);
    const a = tensor(av, as).requireGrad(), b = tensor(bv, bs).requireGrad();
    const y = where(cond, a, b);
    assertClose(y.data(), want, { what: `where ${cs} ${as} ${bs}` });
    backward(y, tensor(gv, out));
    assertClose(a.grad!.data(), ga, { what: "where grad a" });
    assertClose(b.grad!.data(), gb, { what: "where grad b" });
    disposeAll(a, b);
  });
}

Deno.test("where broadcasts cond, a and b and routes gradients", () => {
  noLeak(() => {
    run([4, 5], [4, 5], [4, 5], [4, 5], false, 1);
    run([4, 1], [1, 5], [5], [4, 5], true, 2);
    run([2, 1, 6], [3, 1], [2, 3, 6], [2, 3, 6], false, 3);
    run([7], [1], [1], [7], true, 4);
  });
});

Deno.test("where with scalar sides and maskedFill", () => {
  noLeak(() =>
    tidy(() => {
      const c = intTensor([1, 0, 0, 1], [2, 2]);
      const x = tensor([1, 2, 3, 4], [2, 2]).requireGrad();
      assertClose(where(c, 9, x).data(), [9, 2, 3, 9]);
      assertClose(where(c, x, -1).data(), [1, -1, -1, 4]);
      const m = tensor([1, 0], [2, 1]); // broadcast over columns
      const y = maskedFill(x, m, -Infinity);
      assertClose(y.data(), [-Infinity, -Infinity, 3, 4]);
      backward(maskedFill(x, m, 0), tensor([1, 1, 1, 1], [2, 2]));
      assertClose(x.grad!.data(), [0, 0, 1, 1]);
      disposeAll(x);
    })
  );
});

Deno.test("where gradcheck (finite differences)", () => {
  noLeak(() =>
    tidy(() => {
      const a = randLeaf([3, 4], 10), b = randLeaf([4], 11);
      const c = tensor(Array.from(randArray(12, 12), (v) => (v > 0 ? 1 : 0)), [3, 4]);
      gradcheck((x, y) => where(c, x, y), [a, b]);
      disposeAll(a, b);
    })
  );
});

Deno.test("where / maskedFill errors", () => {
  noLeak(() =>
    tidy(() => {
      const x = tensor(new Float32Array(6), [2, 3]);
      assertThrows(
        () => where(tensor([1, 0], [2]), x, x),
        /where: shapes \(2\) and \(2,3\) do not broadcast/,
      );
      assertThrows(() => where(x, intTensor([1], [1]), x), /where: .*values must be float32, got int32/);
      assertThrows(
        () => maskedFill(x, tensor(new Float32Array(12), [2, 2, 3]), 0),
        /maskedFill: mask \(2,2,3\) must broadcast to x \(2,3\)/,
      );
    })
  );
});
