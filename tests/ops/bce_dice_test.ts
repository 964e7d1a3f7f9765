// bceWithLogits (pos/neg weights, reductions) and softDice (per sample / global) vs float64
// references incl. extreme logits, gradients for logits and targets, shape errors, no leaks.
import { assertEquals, assertThrows } from "../assert.ts";
import { tensor } from "../../src/tensor/create.ts";
import { tidy } from "../../src/tensor/scope.ts";
import { bceWithLogits, softDice } from "../../src/ops/bce_dice.ts";
import { assertClose, disposeAll, gradcheck, noLeak, randArray, randLeaf } from "../helpers.ts";

const softplus = (x: number) => Math.max(x, 0) + Math.log1p(Math.exp(-Math.abs(x)));
const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

function refBce(x: ArrayLike<number>, y: ArrayLike<number>, wp: number, wn: number): number[] {
  return Array.from(x, (xi, i) => wp * y[i] * softplus(-xi) + wn * (1 - y[i]) * softplus(xi));
}

function refDice(x: ArrayLike<number>, y: ArrayLike<number>, S: number, smooth: number): number {
  const L = x.length / S;
  let tot = 0;
  for (let s = 0; s < S; s++) {
    let I = 0, P = 0, T = 0;
    for (let i = s * L; i < (s + 1) * L; i++) {
      const p = sigmoid(x[i]);
      I += p * y[i];
      P += p;
      T += y[i];
    }
    tot += 1 - (2 * I + smooth) / (P + T + smooth);
  }
  return tot / S;
}

function targets(n: number, seed: number): Float32Array {
  return Float32Array.from(randArray(n, seed), (v) => (v > 0.2 ? 1 : v < -0.6 ? 0.5 : 0));
}

Deno.test("bceWithLogits matches float64 (weights, reductions, extreme logits)", () => {
  noLeak(() =>
    tidy(() => {
      const n = 3 * 1 * 37 * 41; // odd, not a multiple of 16, several chunks with the tail
      const xv = randArray(n, 1, -8, 8);
      xv.set([100, -100, 30, -30, 0, 1e-8, -88, 90]);
      const yv = targets(n, 2);
      const x = tensor(xv, [3, 1, 37, 41]), y = tensor(yv, [3, 1, 37, 41]);
      const ref = refBce(xv, yv, 1, 0.2);
      const none = bceWithLogits(x, y, { negWeight: 0.2, reduction: "none" });
      assertEquals(none.shape, [3, 1, 37, 41]);
      assertClose(none.data(), ref, { rtol: 2e-6, atol: 1e-7, what: "bce none" });
      const sum = ref.reduce((a, b) => a + b, 0);
      assertClose([bceWithLogits(x, y, { negWeight: 0.2, reduction: "sum" }).item()], [sum], {
        rtol: 1e-5,
        what: "sum",
      });
      const m = bceWithLogits(x, y, { negWeight: 0.2 });
      assertEquals(m.shape, []);
      assertClose([m.item()], [sum / n], { rtol: 1e-5, what: "mean" });
      const pw = refBce(xv, yv, 2.5, 1).reduce((a, b) => a + b, 0) / n;
      assertClose([bceWithLogits(x, y, { posWeight: 2.5 }).item()], [pw], { rtol: 1e-5, what: "posWeight" });
      // a long 1-D input exercises the parallel path
      const big = randArray(200_003, 3, -5, 5), bt = targets(200_003, 4);
      const bs = refBce(big, bt, 1, 0.2).reduce((a, b) => a + b, 0) / big.length;
      assertClose([bceWithLogits(tensor(big), tensor(bt), { negWeight: 0.2 }).item()], [bs], { rtol: 1e-5 });
    })
  );
});

Deno.test("softDice matches float64 (per sample and global)", () => {
  noLeak(() =>
    tidy(() => {
      const shape = [4, 1, 29, 31];
      const n = 4 * 29 * 31;
      const xv = randArray(n, 5, -6, 6), yv = targets(n, 6);
      const x = tensor(xv, shape), y = tensor(yv, shape);
      const d = softDice(x, y);
      assertEquals(d.shape, []);
      assertClose([d.item()], [refDice(xv, yv, 4, 1)], { rtol: 1e-5, what: "dice per sample" });
      assertClose([softDice(x, y, { perSample: false, smooth: 0.5 }).item()], [refDice(xv, yv, 1, 0.5)], {
        rtol: 1e-5,
        what: "dice global",
      });
      const big = randArray(2 * 70_001, 7), bt = targets(2 * 70_001, 8);
      assertClose([softDice(tensor(big, [2, 70_001]), tensor(bt, [2, 70_001])).item()], [
        refDice(big, bt, 2, 1),
      ], {
        rtol: 1e-5,
        what: "dice chunked",
      });
    })
  );
});

Deno.test("bceWithLogits and softDice gradients (logits and targets)", () => {
  noLeak(() => {
    // small tensors: a mean over many values moves too little for float32 finite differences
    const x = randLeaf([2, 1, 3, 5], 9, -4, 4);
    const y = tensor(targets(30, 10), [2, 1, 3, 5]).requireGrad();
    gradcheck((a, t) => bceWithLogits(a, t, { negWeight: 0.2 }), [x, y]);
    gradcheck((a, t) => bceWithLogits(a, t, { posWeight: 2, reduction: "none" }), [x, y]);
    gradcheck((a, t) => bceWithLogits(a, t, { reduction: "sum" }), [x, y]);
    gradcheck((a, t) => softDice(a, t), [x, y]);
    gradcheck((a, t) => softDice(a, t, { perSample: false, smooth: 0.1 }), [x, y]);
    disposeAll(x, y);
  });
});

Deno.test("loss shape errors name the op and the shapes", () => {
  noLeak(() =>
    tidy(() => {
      const x = tensor(randArray(6, 1), [2, 3]), y = tensor(randArray(6, 2), [3, 2]);
      assertThrows(() => bceWithLogits(x, y), Error, "bceWithLogits: logits (2,3) and targets (3,2)");
      assertThrows(() => softDice(x, y), Error, "softDice: logits (2,3) and targets (3,2)");
    })
  );
});
