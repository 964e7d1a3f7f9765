/** Learning-rate schedules (exact values) and global grad-norm clipping vs float64. */
import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { tensor } from "../../src/tensor/create.ts";
import { constant, warmupConstant, warmupCosine } from "../../src/train/schedule.ts";
import { clipGradNorm, gradNorm } from "../../src/train/clip.ts";
import { AdamW } from "../../src/train/adamw.ts";
import { assertClose, disposeAll, noLeak, randArray } from "../helpers.ts";

Deno.test("warmupCosine: linear warmup, cosine to the floor, then flat", () => {
  const s = warmupCosine({ warmupSteps: 4, totalSteps: 14, floor: 0.1 });
  assertClose([0, 1, 2, 3].map(s), [0.25, 0.5, 0.75, 1], { what: "warmup" });
  // cosine over steps 4..14: halfway (step 9) is floor + (1-floor)/2
  assertClose([s(4), s(9), s(14), s(100)], [1, 0.55, 0.1, 0.1], { what: "cosine" });
  const mid = 0.1 + 0.9 * 0.5 * (1 + Math.cos(Math.PI * 0.3));
  assertClose([s(7)], [mid], { what: "step 7" });
  for (let i = 4; i < 14; i++) assert(s(i + 1) <= s(i), `monotone after warmup at ${i}`);
  const nw = warmupCosine({ warmupSteps: 0, totalSteps: 10 });
  assertClose([nw(0), nw(5), nw(10)], [1, 0.5, 0], { what: "no warmup" });
  const ws = warmupCosine({ warmupSteps: 3, totalSteps: 3, warmupStart: 0 });
  assertClose([ws(0), ws(1), ws(2), ws(3)], [0, 0.5, 1, 0], { what: "warmupStart 0, no cosine span" });
});

Deno.test("constant and warmupConstant; schedules drive per-group lr through baseLr", () => {
  assertEquals([0, 10, 1e6].map(constant()), [1, 1, 1]);
  const w = warmupConstant(2);
  assertEquals([0, 1, 2, 50].map(w), [0.5, 1, 1, 1]);
  const a = tensor([1], [1]).requireGrad(), b = tensor([1], [1]).requireGrad();
  const opt = new AdamW([{ params: [a], lr: 1e-3 }, { params: [b], lr: 1e-2 }]);
  opt.setLrFactor(w(0));
  assertClose(opt.groups.map((g) => g.lr), [5e-4, 5e-3]);
  disposeAll(a, b);
});

Deno.test("clipGradNorm: returns the global norm and scales all grads to maxNorm", () => {
  noLeak(() => {
    const ga = randArray(50, 1, -3, 3), gb = randArray(7, 2, -3, 3);
    let ss = 0;
    for (const v of [...ga, ...gb]) ss += v * v;
    const ref = Math.sqrt(ss);
    const a = tensor(new Float32Array(50), [5, 10]).requireGrad(),
      b = tensor(new Float32Array(7), [7]).requireGrad();
    const none = tensor([1], [1]).requireGrad(); // no grad: ignored
    a.grad = tensor(ga, [5, 10]);
    b.grad = tensor(gb, [7]);
    assertClose([gradNorm([a, b, none])], [ref], { rtol: 1e-6 });
    const n = clipGradNorm([a, b, none], 1);
    assertClose([n], [ref], { rtol: 1e-6 });
    assertClose([gradNorm([a, b])], [1], { rtol: 1e-5 });
    const f = ref > 1 ? 1 / (ref + 1e-6) : 1;
    assertClose(a.grad.toArray(), Array.from(ga, (v) => v * f), { what: "scaled a" });
    // below the threshold: untouched
    const before = b.grad.toArray();
    assertClose([clipGradNorm([a, b], 10)], [1], { rtol: 1e-5 });
    assertEquals(b.grad.toArray(), before);
    // non-finite norm: returned, gradients untouched
    b.grad.set(Float32Array.from(before, (v, i) => (i === 0 ? Infinity : v)));
    assert(!Number.isFinite(clipGradNorm([a, b], 1)));
    disposeAll(a, b, none);
  });
});
