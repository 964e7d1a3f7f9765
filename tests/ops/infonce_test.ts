/**
 * infoNCE: symmetric CLIP / BLIP-2 ITC loss vs a float64 reference for (N,D) and (N,Q,D)
 * (max over queries), label smoothing, gradients by finite differences, errors, no leaks.
 * Run: deno test --allow-ffi --allow-read --allow-env tests/ops/infonce_test.ts
 */
import { throws as assertThrows } from "node:assert/strict";
import { tensor } from "../../src/tensor/create.ts";
import { tidy } from "../../src/tensor/scope.ts";
import { infoNCE } from "../../src/ops/infonce.ts";
import { assertClose, disposeAll, gradcheck, noLeak, randArray, randLeaf } from "../helpers.ts";

function ref(
  a: Float32Array,
  b: Float32Array,
  N: number,
  Q: number,
  D: number,
  t: number,
  eps: number,
): number {
  const norm = (v: Float32Array, off: number) => {
    const r = Array.from(v.subarray(off, off + D));
    const s = Math.sqrt(r.reduce((x, y) => x + y * y, 0));
    return r.map((x) => x / s);
  };
  const sim: number[][] = [];
  for (let i = 0; i < N; i++) {
    sim.push([]);
    for (let j = 0; j < N; j++) {
      let best = -Infinity;
      const bj = norm(b, j * D);
      for (let q = 0; q < Q; q++) {
        const aq = norm(a, (i * Q + q) * D);
        best = Math.max(best, aq.reduce((x, y, d) => x + y * bj[d], 0));
      }
      sim[i].push(best / t);
    }
  }
  const ce = (m: number[][]) => {
    let s = 0;
    m.forEach((row, i) => {
      const mx = Math.max(...row);
      const lse = mx + Math.log(row.reduce((x, v) => x + Math.exp(v - mx), 0));
      s += (1 - eps) * (lse - row[i]) + eps * row.reduce((x, v) => x + lse - v, 0) / N;
    });
    return s / N;
  };
  const simT = sim.map((_, i) => sim.map((r) => r[i]));
  return 0.5 * (ce(sim) + ce(simT));
}

Deno.test("infoNCE matches the float64 reference ((N,D) and BLIP-2 (N,Q,D) max over queries)", () => {
  noLeak(() =>
    tidy(() => {
      const N = 5, Q = 3, D = 7;
      const av = randArray(N * D, 1), bv = randArray(N * D, 2), qv = randArray(N * Q * D, 3);
      const a = tensor(av, [N, D]), b = tensor(bv, [N, D]), aq = tensor(qv, [N, Q, D]);
      assertClose([infoNCE(a, b).item()], [ref(av, bv, N, 1, D, 0.07, 0)], { rtol: 1e-4, what: "(N,D)" });
      assertClose([infoNCE(a, b, { temperature: 0.5, labelSmoothing: 0.1 }).item()], [
        ref(av, bv, N, 1, D, 0.5, 0.1),
      ], {
        rtol: 1e-4,
        what: "smoothing",
      });
      assertClose([infoNCE(aq, b, { temperature: 0.2 }).item()], [ref(qv, bv, N, Q, D, 0.2, 0)], {
        rtol: 1e-4,
        what: "(N,Q,D)",
      });
    })
  );
});

Deno.test("infoNCE gradients", () => {
  noLeak(() =>
    tidy(() => {
      const a = randLeaf([4, 6], 5), b = randLeaf([4, 6], 6), aq = randLeaf([4, 2, 6], 7);
      gradcheck((x, y) => infoNCE(x, y, { temperature: 0.5 }), [a, b], { eps: 1e-3 });
      gradcheck((x, y) => infoNCE(x, y, { temperature: 0.5 }), [aq, b], { eps: 1e-3 });
      disposeAll(a, b, aq);
    })
  );
});

Deno.test("infoNCE errors name the op and shapes", () => {
  noLeak(() =>
    tidy(() => {
      const a = tensor(new Float32Array(12), [3, 4]);
      assertThrows(
        () => infoNCE(a, tensor(new Float32Array(8), [2, 4])),
        /infoNCE: a \(3,4\), b \(2,4\): expected/,
      );
      assertThrows(() => infoNCE(a, a, { temperature: 0 }), /infoNCE: temperature must be > 0/);
    })
  );
});
