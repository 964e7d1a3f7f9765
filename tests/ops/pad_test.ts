/**
 * pad: F.pad constant-mode convention (pairs for the last axes, last axis first), padding
 * with a value, cropping with negative pads, mixed; gradients exact and by finite
 * differences; errors; no leaks.
 * Run: deno test --allow-ffi --allow-read --allow-env tests/ops/pad_test.ts
 */
import { deepStrictEqual, throws as assertThrows } from "node:assert/strict";
import { tensor } from "../../src/tensor/create.ts";
import { tidy } from "../../src/tensor/scope.ts";
import { backward } from "../../src/autograd/tape.ts";
import { pad } from "../../src/ops/pad.ts";
import { assertClose, disposeAll, gradcheck, noLeak, randArray, randLeaf } from "../helpers.ts";

/** Reference F.pad (constant) on a row-major array. */
function refPad(x: Float32Array, shape: number[], pads: number[], value: number) {
  const nd = shape.length, lo = shape.map(() => 0), hi = shape.map(() => 0);
  for (let p = 0; p < pads.length / 2; p++) {
    lo[nd - 1 - p] = pads[2 * p];
    hi[nd - 1 - p] = pads[2 * p + 1];
  }
  const os = shape.map((s, d) => s + lo[d] + hi[d]);
  const n = os.reduce((a, b) => a * b, 1), out = new Float64Array(n), src = new Int32Array(n).fill(-1);
  for (let e = 0; e < n; e++) {
    let t = e, off = 0, stride = 1, inside = true;
    for (let d = nd - 1; d >= 0; d--) {
      const c = (t % os[d]) - lo[d];
      t = Math.floor(t / os[d]);
      if (c < 0 || c >= shape[d]) inside = false;
      off += c * stride;
      stride *= shape[d];
    }
    out[e] = inside ? x[off] : value;
    if (inside) src[e] = off;
  }
  return { out, os, src };
}

function run(shape: number[], pads: number[], value: number, seed: number) {
  const xv = randArray(shape.reduce((a, b) => a * b, 1), seed);
  const r = refPad(xv, shape, pads, value);
  const gv = randArray(r.out.length, seed + 1);
  const gx = new Float64Array(xv.length);
  r.src.forEach((s, e) => s >= 0 && (gx[s] += gv[e]));
  tidy(() => {
    const x = tensor(xv, shape).requireGrad();
    const y = pad(x, pads, value);
    deepStrictEqual(y.shape, r.os);
    assertClose(y.data(), r.out, { what: `pad ${shape} [${pads}]` });
    backward(y, tensor(gv, r.os));
    assertClose(x.grad!.data(), gx, { what: `pad grad ${shape} [${pads}]` });
    disposeAll(x);
  });
}

Deno.test("pad follows F.pad: last axis first, values, negative pads crop", () => {
  noLeak(() => {
    run([2, 3, 4], [1, 2], 0, 1);
    run([2, 3, 4], [1, 2, 0, 3], -1.5, 2);
    run([2, 3, 4], [-1, 1, 2, -2, 1, 0], 7, 3); // crop + pad on three axes
    run([5], [0, 0], 0, 4);
    run([1, 2, 3, 3], [1, 1, 1, 1], 0, 5); // spatial padding of an image batch
  });
});

Deno.test("pad gradcheck and errors", () => {
  noLeak(() =>
    tidy(() => {
      const x = randLeaf([2, 3], 10);
      gradcheck((a) => pad(a, [1, -1, 2, 0], 3), [x]);
      disposeAll(x);
      const t = tensor(new Float32Array(6), [2, 3]);
      assertThrows(
        () => pad(t, [1]),
        /pad: x \(2,3\), pads \[1\]: pads must be integer \(before, after\) pairs/,
      );
      assertThrows(() => pad(t, [1, 1, 1, 1, 1, 1]), /for at most 2 trailing axes/);
      assertThrows(() => pad(t, [-2, -2]), /the output shape \(2,-1\) is negative/);
    })
  );
});
