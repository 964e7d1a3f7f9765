/**
 * dropout: identity in eval and for p = 0, zeros for p = 1, keep rate and 1/(1-p) scaling,
 * same seed gives the same mask, gradient is the mask, bad p errors, no leaks; the native
 * mask matches a BigInt reference of the counter-based generator bit for bit (issue 10,
 * fault 14: the mask used to be drawn in a JavaScript loop and uploaded).
 * Run: deno test --allow-ffi --allow-read --allow-env tests/ops/dropout_test.ts
 */
import { throws as assertThrows } from "node:assert/strict";
import { tensor } from "../../src/tensor/create.ts";
import { Rng } from "../../src/tensor/rng.ts";
import { tidy } from "../../src/tensor/scope.ts";
import { backward } from "../../src/autograd/tape.ts";
import { dropout, dropoutSeed } from "../../src/ops/dropout.ts";
import { assertEquals } from "../assert.ts";
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

/** splitmix64(seed + (i+1)·γ) >> 32 with BigInt: the generator of native/dropout.cpp. */
function refU32(seed: bigint, i: number): number {
  const M = (1n << 64n) - 1n;
  let z = (seed + BigInt(i + 1) * 0x9E3779B97F4A7C15n) & M;
  z = ((z ^ (z >> 30n)) * 0xBF58476D1CE4E5B9n) & M;
  z = ((z ^ (z >> 27n)) * 0x94D049BB133111EBn) & M;
  z ^= z >> 31n;
  return Number(z >> 32n);
}

Deno.test("dropout: the native mask is the counter-based generator's, bit for bit, from the Rng's seed", () => {
  noLeak(() =>
    tidy(() => {
      const n = 4099, p = 0.3;
      const x = tensor(randArray(n, 3, -2, 2));
      const y = dropout(x, p, { rng: new Rng(11) }).data();
      const seed = dropoutSeed(new Rng(11)); // the same two draws dropout took
      const keep = Math.fround(1 / (1 - p)), thresh = Math.floor(p * 2 ** 32), xv = x.data();
      for (let i = 0; i < n; i++) {
        const want = refU32(seed, i) < thresh ? 0 : Math.fround(xv[i] * keep);
        if (y[i] !== want) throw new Error(`element ${i}: ${y[i]} vs reference ${want}`);
      }
      // one generator, consecutive calls: fresh masks; the generator advances by two draws a call
      const rng = new Rng(12);
      const a = dropout(x, 0.5, { rng }).data(), b = dropout(x, 0.5, { rng }).data();
      let same = 0;
      for (let i = 0; i < n; i++) same += (a[i] === 0) === (b[i] === 0) ? 1 : 0;
      if (same > 0.6 * n) throw new Error(`consecutive masks agree on ${same} of ${n}`);
      const r2 = new Rng(12);
      r2.nextU32();
      r2.nextU32();
      r2.nextU32();
      r2.nextU32();
      assertEquals(rng.nextU32(), r2.nextU32(), "two draws per call");
    })
  );
});

Deno.test("dropout: NaN stays NaN (a multiply, as PyTorch), in place of a mask upload", () => {
  noLeak(() =>
    tidy(() => {
      const x = tensor(new Float32Array(64).fill(NaN));
      assertEquals(dropout(x, 0.5, { rng: new Rng(1) }).data().every(Number.isNaN), true);
    })
  );
});
