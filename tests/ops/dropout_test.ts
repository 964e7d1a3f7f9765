/**
 * dropout: identity in eval and for p = 0, zeros for p = 1, keep rate and 1/(1-p) scaling,
 * same seed gives the same mask, gradient is the mask, bad p errors, no leaks.
 * Run: deno test --allow-ffi --allow-read --allow-env tests/ops/dropout_test.ts
 */
import { throws as assertThrows } from "node:assert/strict";
import { tensor } from "../../src/tensor/create.ts";
import { Rng } from "../../src/tensor/rng.ts";
import { tidy } from "../../src/tensor/scope.ts";
import { backward } from "../../src/autograd/tape.ts";
import { dropout } from "../../src/ops/dropout.ts";
import { disposeAll, noLeak, randArray } from "../helpers.ts";

Deno.test("dropout: eval / p=0 identity, p=1 zeros, keep rate and scaling, seeded, gradient", () => {
  noLeak(() =>
    tidy(() => {
      const n = 20000;
      const x = tensor(randArray(n, 1, 0.5, 1.5)).requireGrad();
      if (dropout(x, 0.3, { training: false }) !== x || dropout(x, 0) !== x) throw new Error("identity");
      if (dropout(x, 1, { rng: new Rng(1) }).data().some((v) => v !== 0)) {
        throw new Error("p=1 must give zeros");
      }
      const y = dropout(x, 0.25, { rng: new Rng(42) });
      const y2 = dropout(x, 0.25, { rng: new Rng(42) });
      const xv = x.data(), yv = y.data(), y2v = y2.data();
      let kept = 0;
      for (let i = 0; i < n; i++) {
        if (yv[i] !== y2v[i]) throw new Error("same seed must give the same mask");
        if (yv[i] !== 0) {
          kept++;
          if (Math.abs(yv[i] - xv[i] / 0.75) > 1e-6) {
            throw new Error(`kept value not scaled by 1/(1-p) at ${i}`);
          }
        }
      }
      if (Math.abs(kept / n - 0.75) > 0.015) throw new Error(`keep rate ${kept / n}, expected 0.75`);
      backward(y, tensor(new Float32Array(n).fill(1)));
      const g = x.grad!.data();
      for (let i = 0; i < n; i++) {
        const want = yv[i] === 0 ? 0 : 1 / 0.75;
        if (Math.abs(g[i] - want) > 1e-6) throw new Error(`gradient at ${i}: ${g[i]} vs ${want}`);
      }
      disposeAll(x);
    })
  );
});

Deno.test("dropout errors name the op", () => {
  noLeak(() =>
    tidy(() => {
      const x = tensor([1, 2, 3]);
      assertThrows(() => dropout(x, 1.5), /dropout: p must be in \[0, 1\], got 1.5 \(x \(3\)\)/);
      assertThrows(() => dropout(x, -0.1), /dropout: p must be in/);
    })
  );
});
