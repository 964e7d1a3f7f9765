/**
 * Regression tests for optimizer state (issue 10, faults 4, 5, 6): AdamW's bias correction uses
 * each parameter's own step (PyTorch), state is keyed by parameter name and a mismatched load
 * is an error naming the parameter, and tied weights are one parameter to the optimizer.
 * Run: .tools/deno test -A tests/train/optim_state_test.ts
 */
import { assertEquals, assertOk, assertThrows } from "../assert.ts";
import { tensor } from "../../src/tensor/create.ts";
import { Rng } from "../../src/tensor/rng.ts";
import { tidy } from "../../src/tensor/scope.ts";
import type { Tensor } from "../../src/tensor/tensor.ts";
import { backward } from "../../src/autograd/tape.ts";
import { sum } from "../../src/ops/reduce.ts";
import { matmul } from "../../src/ops/matmul.ts";
import { Module } from "../../src/nn/module.ts";
import { Embedding } from "../../src/nn/embedding.ts";
import { Linear } from "../../src/nn/linear.ts";
import { AdamW } from "../../src/train/adamw.ts";
import { SGD } from "../../src/train/sgd.ts";
import { assertClose, disposeAll, noLeak, randArray } from "../helpers.ts";

function leafWithGrad(p: Float32Array, g: Float32Array, shape: number[], name?: string): Tensor {
  const t = tensor(p, shape).requireGrad();
  t.grad = tensor(g, shape);
  if (name) t.name = name;
  return t;
}

/** Float64 torch.optim.AdamW for one parameter, steps counted from 1. */
function adamwRef(p0: ArrayLike<number>, grads: Float32Array[], lr: number, wd: number): number[] {
  const b1 = 0.9, b2 = 0.999, eps = 1e-8;
  const p = Array.from(p0), m = p.map(() => 0), v = p.map(() => 0);
  grads.forEach((g, s) => {
    const t = s + 1, bc1 = 1 - b1 ** t, bc2 = 1 - b2 ** t;
    for (let i = 0; i < p.length; i++) {
      p[i] *= 1 - lr * wd;
      m[i] = b1 * m[i] + (1 - b1) * g[i];
      v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i];
      p[i] -= (lr / bc1) * m[i] / (Math.sqrt(v[i]) / Math.sqrt(bc2) + eps);
    }
  });
  return p;
}

Deno.test("AdamW: a parameter unfrozen after 1000 steps starts its bias correction at step 1", () => {
  for (const fused of [true, false]) {
    noLeak(() => {
      const a = leafWithGrad(randArray(8, 1), randArray(8, 2), [8]);
      const b0 = randArray(19, 3), gb = [4, 5, 6].map((s) => randArray(19, s));
      const b = leafWithGrad(b0, gb[0], [19]);
      b.requiresGrad = false; // frozen
      const opt = new AdamW([a, b], { lr: 0.01, weightDecay: 0.1, fused });
      for (let s = 0; s < 1000; s++) opt.step();
      assertEquals([opt.stepOf(a), opt.stepOf(b)], [1000, 0]);
      assertEquals(b.toArray(), Array.from(b0), "frozen parameter untouched");
      b.requiresGrad = true;
      for (let s = 0; s < 3; s++) {
        b.grad!.set(gb[s]);
        opt.step();
      }
      // the global-step version moved b ~2.5x too far on its first update
      assertClose(b.toArray(), adamwRef(b0, gb, 0.01, 0.1), {
        rtol: 1e-5,
        atol: 1e-6,
        what: `fused=${fused}`,
      });
      assertEquals(opt.stepOf(b), 3);
      opt.dispose();
      disposeAll(a, b);
    }, `fused=${fused}`);
  }
});

Deno.test("optimizer state is keyed by name: regrouped parameters resume exactly; mismatches name the parameter", () => {
  noLeak(() => {
    const pa = randArray(6, 7), pb = randArray(4, 8);
    const grads = [0, 1, 2, 3].map((s) => [randArray(6, 20 + s), randArray(4, 30 + s)]);
    const run = (resume: boolean): number[] => {
      const a = leafWithGrad(pa, grads[0][0], [2, 3], "enc.w"),
        b = leafWithGrad(pb, grads[0][1], [4], "dec.w");
      let opt = new AdamW([{ params: [a, b] }], { lr: 0.02 });
      for (let s = 0; s < 4; s++) {
        if (resume && s === 2) {
          const saved = new Map(
            [...opt.stateDict()].map(([k, t]) => [k, tensor(t.toArray(), t.shape, { dtype: t.dtype })]),
          );
          assertOk(
            saved.has("state.enc.w.exp_avg") && saved.has("state.dec.w.step"),
            [...saved.keys()].join(),
          );
          opt.dispose();
          // another grouping (a stage change): position-keyed state would swap a's and b's moments
          opt = new AdamW([{ params: [b], lr: 0.02 }, { params: [a], lr: 0.02 }]);
          opt.loadStateDict(saved);
          // mismatches: a shape that differs, a name the optimizer lacks
          const wrong = leafWithGrad(new Float32Array(5), new Float32Array(5), [5], "enc.w");
          const other = new AdamW([wrong]);
          assertThrows(() => other.loadStateDict(saved), Error, "'enc.w'");
          const lone = new AdamW([b]);
          assertThrows(() => lone.loadStateDict(saved), Error, "'enc.w'");
          other.dispose();
          lone.dispose();
          wrong.dispose();
          for (const t of saved.values()) t.dispose();
        }
        a.grad!.set(grads[s][0]);
        b.grad!.set(grads[s][1]);
        opt.step();
      }
      const out = [...a.toArray(), ...b.toArray()];
      opt.dispose();
      disposeAll(a, b);
      return out;
    };
    assertEquals(run(true), run(false));
  });
});

Deno.test("module parameters are named by dotted path; duplicate names are refused", () => {
  class Two extends Module {
    readonly fc1 = this.child("fc1", new Linear(3, 2, { rng: new Rng(1) }));
    readonly fc2 = this.child("fc2", new Linear(2, 1, { rng: new Rng(2) }));
  }
  noLeak(() => {
    const net = new Two();
    const opt = new SGD(net.parameters(), { lr: 0.1, momentum: 0.9 });
    tidy(() => {
      for (const p of net.parameters()) p.grad = null;
      const x = tensor(randArray(6, 3), [2, 3]);
      backward(sum(net.fc2.forward(net.fc1.forward(x))));
    });
    opt.step();
    assertEquals(
      [...opt.stateDict().keys()].filter((k) => k.endsWith("momentum_buffer")),
      ["fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"].map((n) => `state.${n}.momentum_buffer`),
    );
    const p = tensor([1], [1]), q = tensor([2], [1]);
    p.name = q.name = "w";
    assertThrows(() => new SGD([p, q]), Error, "two parameters are named 'w'");
    opt.dispose();
    net.zeroGrad();
    net.dispose();
    disposeAll(p, q);
  });
});

/** A tiny LM whose head is tied to its embedding (one tensor, two names). */
class TiedLM extends Module {
  readonly emb: Embedding;
  readonly head: Tensor;
  constructor() {
    super();
    this.emb = this.child("emb", new Embedding(5, 3, { rng: new Rng(4) }));
    this.head = this.param("head", this.emb.weight);
  }
  forward(ids: Tensor): Tensor {
    return matmul(this.emb.forward(ids), this.head, { transB: true });
  }
}

Deno.test("tied weights: parameters() lists the tensor once; AdamW steps it once with the summed gradient", () => {
  noLeak(() => {
    const net = new TiedLM();
    assertEquals(net.namedParameters().map(([n]) => n), ["head", "emb.weight"]);
    assertEquals(net.parameters().length, 1);
    assertEquals(net.parameters()[0].name, "head");
    assertEquals(net.numParameters(), 15);
    const w0 = net.head.toArray();
    const opt = new AdamW(net.parameters(), { lr: 0.1, weightDecay: 0 });
    tidy(() => {
      const ids = tensor([0, 2], [2], { dtype: "int32" });
      backward(sum(net.forward(ids)));
    });
    opt.step();
    // one AdamW first step moves every element with a gradient by exactly lr
    const moved = net.head.toArray().map((v, i) => Math.abs(v - w0[i]));
    assertOk(moved.every((d) => d < 0.1 + 1e-5), `moved ${moved}`);
    assertOk(moved.some((d) => Math.abs(d - 0.1) < 1e-5));
    assertEquals(opt.stepOf(net.head), 1);
    opt.dispose();
    net.dispose();
  });
});
