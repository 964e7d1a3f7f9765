/**
 * crossEntropy: forward vs a float64 reference of PyTorch's formula (ignore_index, label
 * smoothing, every reduction, odd C), gradients by finite differences, all-ignored mean is
 * NaN, bad targets and shapes give clear errors, no leaks.
 * Run: deno test --allow-ffi --allow-read --allow-env tests/ops/cross_entropy_test.ts
 */
import { throws as assertThrows } from "node:assert/strict";
import { intTensor, tensor } from "../../src/tensor/create.ts";
import { tidy } from "../../src/tensor/scope.ts";
import { crossEntropy, type CrossEntropyOptions } from "../../src/ops/cross_entropy.ts";
import { assertClose, disposeAll, gradcheck, noLeak, randArray, randLeaf } from "../helpers.ts";

/** PyTorch's definition in float64: (1-ε)·nll + ε·mean_j(-log p_j), mean over non-ignored. */
function ref(x: Float32Array, C: number, t: number[], o: CrossEntropyOptions): number[] {
  const ig = o.ignoreIndex ?? -100, eps = o.labelSmoothing ?? 0;
  const rows = t.map((ti, i) => {
    if (ti === ig) return 0;
    const r = Array.from(x.subarray(i * C, (i + 1) * C));
    const m = Math.max(...r);
    const lse = m + Math.log(r.reduce((a, v) => a + Math.exp(v - m), 0));
    return (1 - eps) * (lse - r[ti]) + eps * r.reduce((a, v) => a + (lse - v), 0) / C;
  });
  if (o.reduction === "none") return rows;
  const s = rows.reduce((a, b) => a + b, 0);
  return [o.reduction === "sum" ? s : s / t.filter((ti) => ti !== ig).length];
}

const cases: CrossEntropyOptions[] = [
  {},
  { reduction: "sum" },
  { reduction: "none" },
  { labelSmoothing: 0.1 },
  { labelSmoothing: 0.2, reduction: "none", ignoreIndex: 2 },
  { ignoreIndex: 0, reduction: "sum", labelSmoothing: 0.05 },
];

Deno.test("crossEntropy forward matches the float64 reference (smoothing, ignore, reductions)", () => {
  noLeak(() =>
    tidy(() => {
      for (const [N, C] of [[1, 1], [7, 13], [5, 3], [4, 1000]]) {
        const xv = randArray(N * C, N + C, -5, 5);
        for (const o of cases) {
          const tv = Array.from({ length: N }, (_, i) => (i === 1 ? o.ignoreIndex ?? -100 : (i * 7) % C));
          const y = crossEntropy(tensor(xv, [N, C]), intTensor(tv), o);
          assertClose(y.data(), ref(xv, C, tv, o), {
            rtol: 2e-5,
            atol: 2e-6,
            what: `${N}x${C} ${JSON.stringify(o)}`,
          });
        }
      }
      // (B, T, C) logits with (B, T) targets flatten to rows
      const xv = randArray(2 * 3 * 5, 1);
      const tv = [0, 1, 2, 3, 4, -100];
      const y = crossEntropy(tensor(xv, [2, 3, 5]), intTensor(tv, [2, 3]), { reduction: "none" });
      if (y.shape.join() !== "2,3") throw new Error(`none keeps (B,T), got ${y.shape}`);
      assertClose(y.data(), ref(xv, 5, tv, { reduction: "none" }), { rtol: 2e-5, atol: 2e-6 });
      // every target ignored: mean is NaN (PyTorch), sum is 0
      const all = intTensor([-100, -100]);
      if (!Number.isNaN(crossEntropy(tensor(xv.subarray(0, 10), [2, 5]), all).item())) {
        throw new Error("want NaN");
      }
      if (crossEntropy(tensor(xv.subarray(0, 10), [2, 5]), all, { reduction: "sum" }).item() !== 0) {
        throw new Error("want 0");
      }
    })
  );
});

Deno.test("crossEntropy gradients (every reduction, smoothing, ignored rows)", () => {
  noLeak(() =>
    tidy(() => {
      const x = randLeaf([6, 7], 3, -2, 2);
      for (const o of cases) {
        const t = intTensor([0, 6, o.ignoreIndex ?? -100, 3, 4, 1]);
        gradcheck((a) => crossEntropy(a, t, o), [x]);
      }
      disposeAll(x);
    })
  );
});

Deno.test("crossEntropy errors: bad target names the row, target and C; bad shapes", () => {
  noLeak(() =>
    tidy(() => {
      const x = tensor(new Float32Array(15), [3, 5]);
      assertThrows(
        () => crossEntropy(x, intTensor([0, 5, 1])),
        /crossEntropy: logits \(3,5\), targets \(3\): target 5 at row 1 is out of range for 5 classes/,
      );
      assertThrows(() => crossEntropy(x, intTensor([0, -1, 1])), /target -1 at row 1/);
      assertThrows(
        () => crossEntropy(x, intTensor([0, 1])),
        /crossEntropy: logits \(3,5\), targets \(2\): expected/,
      );
      assertThrows(() => crossEntropy(x, tensor([0, 1, 2])), /targets must be int32, got float32/);
      assertThrows(
        () => crossEntropy(x, intTensor([0, 1, 2]), { labelSmoothing: 2 }),
        /labelSmoothing must be in/,
      );
    })
  );
});
