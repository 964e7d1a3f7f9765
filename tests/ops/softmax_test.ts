/**
 * softmax / logSoftmax: forward vs a float64 reference (odd sizes, broadcast masks, fully
 * masked rows), gradients by finite differences, shape errors, no leaks.
 * Run: deno test --allow-ffi --allow-read --allow-env tests/ops/softmax_test.ts
 */
import { throws as assertThrows } from "node:assert/strict";
import { tensor } from "../../src/tensor/create.ts";
import { tidy } from "../../src/tensor/scope.ts";
import { logSoftmax, softmax } from "../../src/ops/softmax.ts";
import { assertClose, disposeAll, gradcheck, noLeak, randArray, randLeaf } from "../helpers.ts";

/** float64 reference: x (rows, T) + mask row chosen by maskRow(r). */
function ref(
  x: Float32Array,
  T: number,
  log: boolean,
  mask?: (r: number, j: number) => number,
): Float64Array {
  const rows = x.length / T, y = new Float64Array(x.length);
  for (let r = 0; r < rows; r++) {
    const v = Array.from({ length: T }, (_, j) => x[r * T + j] + (mask ? mask(r, j) : 0));
    const m = Math.max(...v);
    if (m === -Infinity) {
      for (let j = 0; j < T; j++) y[r * T + j] = log ? -Infinity : 0;
      continue;
    }
    const s = v.reduce((a, b) => a + Math.exp(b - m), 0);
    for (let j = 0; j < T; j++) y[r * T + j] = log ? v[j] - m - Math.log(s) : Math.exp(v[j] - m) / s;
  }
  return y;
}

Deno.test("softmax/logSoftmax forward matches float64 reference (odd sizes)", () => {
  noLeak(() =>
    tidy(() => {
      for (const [rows, T] of [[1, 1], [3, 7], [5, 13], [4, 33], [2, 200]]) {
        const xv = randArray(rows * T, rows * 100 + T, -6, 6);
        const x = tensor(xv, [rows, T]);
        assertClose(softmax(x).data(), ref(xv, T, false), { what: `softmax ${rows}x${T}` });
        assertClose(logSoftmax(x).data(), ref(xv, T, true), { what: `logSoftmax ${rows}x${T}`, atol: 1e-5 });
      }
    })
  );
});

Deno.test("softmax with broadcast masks: (B,1,1,T) padding, (T,T) causal, fully masked row", () => {
  noLeak(() =>
    tidy(() => {
      const B = 2, H = 3, T = 7;
      const xv = randArray(B * H * T * T, 3, -3, 3);
      const x = tensor(xv, [B, H, T, T]);
      // key padding: batch 1 pads its last 3 keys; batch 0 pads everything (fully masked rows)
      const pad = new Float32Array(B * T);
      for (let j = 0; j < T; j++) pad[j] = -Infinity;
      for (let j = T - 3; j < T; j++) pad[T + j] = -Infinity;
      const padT = tensor(pad, [B, 1, 1, T]);
      const padFn = (r: number, j: number) => pad[Math.floor(r / (H * T)) * T + j];
      const y = softmax(x, padT).data();
      assertClose(y, ref(xv, T, false, padFn), { what: "padding mask" });
      for (let i = 0; i < H * T * T; i++) if (y[i] !== 0) throw new Error("fully masked row is not zero");
      assertClose(logSoftmax(x, padT).data(), ref(xv, T, true, padFn), { what: "log padding", atol: 1e-5 });
      const causal = new Float32Array(T * T);
      for (let i = 0; i < T; i++) for (let j = i + 1; j < T; j++) causal[i * T + j] = -1e9;
      const c = tensor(causal, [T, T]);
      assertClose(softmax(x, c).data(), ref(xv, T, false, (r, j) => causal[(r % T) * T + j]), {
        what: "causal mask",
      });
      // a (B,H,1,T) mask: per-(b,h) bias
      const hv = randArray(B * H * T, 9, -2, 2);
      const hm = tensor(hv, [B, H, 1, T]);
      assertClose(softmax(x, hm).data(), ref(xv, T, false, (r, j) => hv[Math.floor(r / T) * T + j]), {
        what: "(B,H,1,T) mask",
      });
    })
  );
});

Deno.test("softmax/logSoftmax gradients (with mask, mask grad)", () => {
  noLeak(() =>
    tidy(() => {
      const x = randLeaf([2, 3, 7], 11, -2, 2);
      const m = randLeaf([3, 7], 12, -1, 1);
      gradcheck((a) => softmax(a), [x]);
      gradcheck((a) => logSoftmax(a), [x]);
      gradcheck((a, b) => softmax(a, b), [x, m]);
      gradcheck((a, b) => logSoftmax(a, b), [x, m]);
      const y = randLeaf([4, 13], 13, -3, 3);
      gradcheck((a) => softmax(a), [y]);
      disposeAll(x, m, y);
    })
  );
});

Deno.test("softmax errors name the op and shapes", () => {
  noLeak(() =>
    tidy(() => {
      const x = tensor(new Float32Array(12), [2, 6]);
      assertThrows(() => softmax(x, tensor(new Float32Array(5), [5])), /softmax: mask \(5\).*x \(2,6\)/);
      assertThrows(() => logSoftmax(x, tensor(new Float32Array(18), [3, 6])), /logSoftmax: mask \(3,6\)/);
      assertThrows(
        () => softmax(tensor([1, 2], [2], { dtype: "int32" })),
        /softmax: x \(2\) must be float32/,
      );
    })
  );
});
