/**
 * AdamW and SGD steps against float64 references written from the PyTorch update rules,
 * parameter groups, the fused kernel vs the composed fallback, state round trip, no leaks.
 */
import { deepStrictEqual as assertEquals, throws as assertThrows } from "node:assert/strict";
import { tensor } from "../../src/tensor/create.ts";
import type { Tensor } from "../../src/tensor/tensor.ts";
import { AdamW } from "../../src/train/adamw.ts";
import { SGD } from "../../src/train/sgd.ts";
import { assertClose, disposeAll, noLeak, randArray } from "../helpers.ts";

/** A leaf with a gradient attached (grad is owned by the leaf). */
function leafWithGrad(p: Float32Array, g: Float32Array, shape: number[]): Tensor {
  const t = tensor(p, shape).requireGrad();
  t.grad = tensor(g, shape);
  return t;
}

/** Float64 AdamW (torch.optim.AdamW) over `steps` gradient arrays. */
function adamwRef(
  p0: Float32Array,
  grads: Float32Array[],
  lr: number,
  wd: number,
  b1: number,
  b2: number,
  eps: number,
  gs = 1,
): number[] {
  const p = Array.from(p0), m = p.map(() => 0), v = p.map(() => 0);
  grads.forEach((g, s) => {
    const t = s + 1, bc1 = 1 - b1 ** t, bc2 = 1 - b2 ** t;
    for (let i = 0; i < p.length; i++) {
      const gi = g[i] * gs;
      p[i] *= 1 - lr * wd;
      m[i] = b1 * m[i] + (1 - b1) * gi;
      v[i] = b2 * v[i] + (1 - b2) * gi * gi;
      p[i] -= (lr / bc1) * m[i] / (Math.sqrt(v[i]) / Math.sqrt(bc2) + eps);
    }
  });
  return p;
}

Deno.test("AdamW matches a float64 reference over 5 steps, fused and composed, two groups", () => {
  for (const fused of [true, false]) {
    noLeak(() => {
      // sizes straddle the SIMD widths (16 / 8) so vector bodies and scalar tails both run
      const pa0 = randArray(37, 1), pb0 = randArray(5, 2);
      const ga = [0, 1, 2, 3, 4].map((s) => randArray(37, 10 + s, -2, 2));
      const gb = [0, 1, 2, 3, 4].map((s) => randArray(5, 20 + s, -0.01, 0.01));
      const a = leafWithGrad(pa0, ga[0], [37]), b = leafWithGrad(pb0, gb[0], [5]);
      const opt = new AdamW([{ params: [a], lr: 0.05, weightDecay: 0.1 }, {
        params: [b],
        lr: 0.01,
        weightDecay: 0,
      }], {
        betas: [0.9, 0.98],
        eps: 1e-6,
        fused,
      });
      for (let s = 0; s < 5; s++) {
        a.grad!.set(ga[s]);
        b.grad!.set(gb[s]);
        opt.step();
      }
      assertClose(a.toArray(), adamwRef(pa0, ga, 0.05, 0.1, 0.9, 0.98, 1e-6), {
        rtol: 1e-5,
        atol: 1e-6,
        what: `group a fused=${fused}`,
      });
      assertClose(b.toArray(), adamwRef(pb0, gb, 0.01, 0, 0.9, 0.98, 1e-6), {
        rtol: 1e-5,
        atol: 1e-6,
        what: `group b fused=${fused}`,
      });
      assertEquals(opt.stepCount, 5);
      opt.dispose();
      disposeAll(a, b);
    }, `adamw fused=${fused}`);
  }
});

Deno.test("AdamW: hand-computed first step, gradScale, skips params without grad or frozen", () => {
  noLeak(() => {
    // first step with bias correction: update = lr * g/|g| (eps ~ 0) after decay; g = 0 -> no update
    const p = leafWithGrad(Float32Array.of(1, -2, 3), Float32Array.of(0.5, -4, 0), [3]);
    const none = tensor([7], [1]).requireGrad(); // no grad: untouched
    const frozen = leafWithGrad(Float32Array.of(5), Float32Array.of(1), [1]);
    frozen.requiresGrad = false;
    const opt = new AdamW([p, none, frozen], { lr: 0.1, weightDecay: 0.5, eps: 1e-12 });
    opt.step(2); // gradScale 2 must not change sign-based first step
    assertClose(p.toArray(), [1 * 0.95 - 0.1, -2 * 0.95 + 0.1, 3 * 0.95 - 0], { what: "first step" });
    assertEquals(none.toArray(), [7]);
    assertEquals(frozen.toArray(), [5]);
    // scaled gradients follow the reference with gs folded in
    const q0 = randArray(20, 3), gq = [randArray(20, 4), randArray(20, 5)];
    const q = leafWithGrad(q0, gq[0], [4, 5]);
    const o2 = new AdamW([q], { lr: 0.01, weightDecay: 0.01 });
    o2.step(0.25);
    q.grad!.set(gq[1]);
    o2.step(0.25);
    assertClose(q.toArray(), adamwRef(q0, gq, 0.01, 0.01, 0.9, 0.999, 1e-8, 0.25), { what: "gradScale" });
    o2.dispose();
    opt.dispose();
    disposeAll(p, none, frozen, q);
  });
});

Deno.test("AdamW state round trip resumes identically", () => {
  noLeak(() => {
    const p0 = randArray(10, 6), gs = [0, 1, 2, 3].map((s) => randArray(10, 30 + s));
    const run = (resumeAt: number | null): number[] => {
      const p = leafWithGrad(p0, gs[0], [10]);
      let opt = new AdamW([p], { lr: 0.03 });
      for (let s = 0; s < 4; s++) {
        if (s === resumeAt) {
          const copy = new Map([...opt.stateDict()].map(([k, t]) => [k, tensor(t.toArray(), t.shape)]));
          const steps = opt.stepCount;
          opt.dispose();
          opt = new AdamW([p], { lr: 0.03 });
          opt.loadStateDict(copy, steps);
          for (const t of copy.values()) t.dispose();
        }
        p.grad!.set(gs[s]);
        opt.step();
      }
      const out = p.toArray();
      opt.dispose();
      p.dispose();
      return out;
    };
    assertEquals(run(2), run(null));
  });
});

/** Float64 SGD (torch.optim.SGD). */
function sgdRef(
  p0: Float32Array,
  grads: Float32Array[],
  lr: number,
  mu: number,
  damp: number,
  nesterov: boolean,
  wd: number,
): number[] {
  const p = Array.from(p0);
  let buf: number[] | null = null;
  for (const g of grads) {
    const d = p.map((x, i) => g[i] + wd * x);
    if (mu !== 0) {
      buf = buf ? buf.map((b, i) => mu * b + (1 - damp) * d[i]) : [...d];
      const bb = buf;
      const upd = nesterov ? d.map((x, i) => x + mu * bb[i]) : bb;
      for (let i = 0; i < p.length; i++) p[i] -= lr * upd[i];
    } else for (let i = 0; i < p.length; i++) p[i] -= lr * d[i];
  }
  return p;
}

Deno.test("SGD: plain, momentum, dampening, nesterov, weight decay vs float64", () => {
  const cases = [
    { mu: 0, damp: 0, nesterov: false, wd: 0 },
    { mu: 0.9, damp: 0, nesterov: false, wd: 0 },
    { mu: 0.9, damp: 0.1, nesterov: false, wd: 1e-2 },
    { mu: 0.8, damp: 0, nesterov: true, wd: 5e-2 },
  ];
  for (const c of cases) {
    noLeak(() => {
      const p0 = randArray(13, 7), gs = [0, 1, 2, 3].map((s) => randArray(13, 40 + s));
      const p = leafWithGrad(p0, gs[0], [13]);
      const opt = new SGD([p], {
        lr: 0.1,
        momentum: c.mu,
        dampening: c.damp,
        nesterov: c.nesterov,
        weightDecay: c.wd,
      });
      for (const g of gs) {
        p.grad!.set(g);
        opt.step();
      }
      assertClose(p.toArray(), sgdRef(p0, gs, 0.1, c.mu, c.damp, c.nesterov, c.wd), {
        what: JSON.stringify(c),
      });
      opt.dispose();
      p.dispose();
    }, JSON.stringify(c));
  }
  assertThrows(() => new SGD([], { nesterov: true }), /nesterov/);
});

Deno.test("optimizer: a parameter in two groups, bad lr, and setLrFactor", () => {
  const p = tensor([1], [1]).requireGrad();
  assertThrows(() => new AdamW([{ params: [p] }, { params: [p] }]), /two groups/);
  assertThrows(() => new SGD([p], { lr: -1 }), /bad lr/);
  const opt = new AdamW([{ params: [p], lr: 0.1 }], { lr: 1 });
  opt.setLrFactor(0.5);
  assertEquals(opt.groups[0].lr, 0.05);
  assertEquals(opt.groups[0].baseLr, 0.1);
  p.dispose();
});

Deno.test("AdamW fused kernel: thread chunks that cross tensor boundaries match the composed path", () => {
  noLeak(() => {
    const sizes = [20000, 17, 30001, 3];
    const make = () => sizes.map((n, i) => leafWithGrad(randArray(n, 50 + i), randArray(n, 60 + i), [n]));
    const a = make(), b = make();
    const oa = new AdamW(a, { lr: 0.02, weightDecay: 0.05 }),
      ob = new AdamW(b, { lr: 0.02, weightDecay: 0.05, fused: false });
    for (let s = 0; s < 3; s++) {
      oa.step();
      ob.step();
    }
    a.forEach((t, i) =>
      assertClose(t.toArray(), b[i].toArray(), { rtol: 1e-5, atol: 1e-6, what: `tensor ${i}` })
    );
    oa.dispose();
    ob.dispose();
    disposeAll(...a, ...b);
  });
});
