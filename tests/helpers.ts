/**
 * Shared test helpers: float64 reference comparison, finite-difference gradient checks, and a
 * live-bytes guard. Every op test uses these so tolerances are stated in one place.
 * @module
 */
import type { Tensor } from "../src/tensor/tensor.ts";
import { tensor } from "../src/tensor/create.ts";
import { Rng } from "../src/tensor/rng.ts";
import { tidy } from "../src/tensor/scope.ts";
import { memoryStats } from "../src/tensor/storage.ts";
import { backward, noGrad } from "../src/autograd/tape.ts";
import { mul } from "../src/ops/elementwise.ts";
import { sum } from "../src/ops/reduce.ts";

/** Max |a-b| / (atol + rtol*|b|) must be <= 1; throws with the worst index otherwise. */
export function assertClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  { rtol = 1e-5, atol = 1e-6, what = "values" } = {},
): void {
  if (actual.length !== expected.length) {
    throw new Error(`${what}: length ${actual.length} != expected ${expected.length}`);
  }
  let worst = -1, worstR = 0;
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i], e = expected[i];
    if (Number.isNaN(e) && Number.isNaN(a)) continue;
    if (!Number.isFinite(e) && a === e) continue;
    const r = Math.abs(a - e) / (atol + rtol * Math.abs(e));
    if (!(r <= worstR)) {
      worstR = Number.isNaN(r) ? Infinity : r;
      worst = i;
    }
  }
  if (worstR > 1) {
    throw new Error(
      `${what}: mismatch at [${worst}]: got ${actual[worst]}, expected ${
        expected[worst]
      } (rtol ${rtol}, atol ${atol})`,
    );
  }
}

/** Seeded Float32Array with values in [lo, hi). */
export function randArray(n: number, seed: number, lo = -1, hi = 1): Float32Array {
  const r = new Rng(seed);
  const v = new Float32Array(n);
  for (let i = 0; i < n; i++) v[i] = lo + (hi - lo) * r.uniform();
  return v;
}

/** A seeded leaf tensor that requires grad. */
export function randLeaf(shape: number[], seed: number, lo = -1, hi = 1): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return tensor(randArray(n, seed, lo, hi), shape).requireGrad();
}

/**
 * Checks the analytic gradients of `f(...inputs)` against central finite differences of the
 * scalar L = sum(f(x) * R) with a fixed random R. Probes up to `probes` coordinates per input.
 * Inputs are float32, so eps is large-ish and the tolerance relative.
 */
export function gradcheck(
  f: (...xs: Tensor[]) => Tensor,
  inputs: Tensor[],
  { eps = 1e-2, rtol = 2e-2, atol = 2e-3, probes = 24, seed = 7 } = {},
): void {
  tidy(() => {
    const out0 = noGrad(() => f(...inputs));
    const R = tensor(randArray(out0.size, seed), out0.shape);
    const loss = () =>
      noGrad(() => {
        const o = f(...inputs);
        let s = 0;
        const ov = o.data(), rv = R.data();
        for (let i = 0; i < ov.length; i++) s += ov[i] * rv[i];
        return s;
      });
    for (const x of inputs) if (x.grad) x.grad.zero_();
    const L = sum(mul(f(...inputs), R));
    backward(L);
    const rng = new Rng(seed + 1);
    inputs.forEach((x, xi) => {
      if (!x.requiresGrad) return;
      if (!x.grad) throw new Error(`gradcheck: input ${xi} got no gradient`);
      const g = x.grad.data();
      const xv = x.data();
      const idx = x.size <= probes
        ? [...Array(x.size).keys()]
        : Array.from({ length: probes }, () => rng.int(x.size));
      for (const i of idx) {
        const orig = xv[i];
        xv[i] = orig + eps;
        const lp = loss();
        xv[i] = orig - eps;
        const lm = loss();
        xv[i] = orig;
        const num = (lp - lm) / (2 * eps);
        if (Math.abs(g[i] - num) > atol + rtol * Math.abs(num)) {
          throw new Error(`gradcheck: input ${xi} ${x.shape} [${i}]: analytic ${g[i]} vs numeric ${num}`);
        }
      }
    });
  });
}

/** Runs fn and asserts that live bytes are back to their start afterwards. */
export function noLeak(fn: () => void, what = "test"): void {
  const before = memoryStats().liveBytes;
  fn();
  const after = memoryStats().liveBytes;
  if (after !== before) throw new Error(`${what}: leaked ${after - before} bytes of tensor memory`);
}

/** Disposes leaves (and their grads). */
export function disposeAll(...ts: Tensor[]): void {
  for (const t of ts) t.dispose();
}
