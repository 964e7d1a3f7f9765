/**
 * Autograd tape overhead and memory: forward + backward + scope end of a 300-op chain on small
 * tensors (dispatch-bound: measures the tape's bookkeeping, per-node scopes and early frees), and,
 * printed once, the backward's peak live bytes over 16 layers of tanh(h)·w + h on 1 MiB
 * activations (issue 10 fault 3: was ~2x the forward activations, now activations + frontier).
 * Run: .tools/deno bench --allow-ffi --allow-read --allow-env bench/backward_bench.ts
 */
import { randn } from "../src/tensor/create.ts";
import { Rng } from "../src/tensor/rng.ts";
import { tidy } from "../src/tensor/scope.ts";
import { memoryStats } from "../src/tensor/storage.ts";
import type { Tensor } from "../src/tensor/tensor.ts";
import { backward, record } from "../src/autograd/tape.ts";
import { add, mul } from "../src/ops/elementwise.ts";
import { tanh } from "../src/ops/unary.ts";
import { sum } from "../src/ops/reduce.ts";

function peakReport(): string {
  const n = 1 << 18, L = 16, MiB = 1 << 20;
  const x = randn([n], new Rng(1)).requireGrad();
  const ws = Array.from({ length: L }, (_, i) => randn([n], new Rng(2 + i)).requireGrad());
  let peak = 0, base = 0, fwd = 0;
  // identity node whose backward samples live bytes when its gradient arrives
  const probe = (t: Tensor) =>
    record(t.viewAs(t.shape), "probe", [t], (g) => {
      peak = Math.max(peak, memoryStats().liveBytes);
      return [g];
    });
  tidy(() => {
    base = memoryStats().liveBytes;
    let h = x;
    for (let i = 0; i < L; i++) h = probe(add(mul(tanh(h), ws[i]), h));
    const loss = sum(h);
    fwd = memoryStats().liveBytes - base;
    backward(loss);
  });
  for (const t of [x, ...ws]) t.dispose();
  return `forward activations ${(fwd / MiB).toFixed(1)} MiB, backward peak ${
    ((peak - base) / MiB).toFixed(1)
  } MiB ` +
    `(${((peak - base) / fwd).toFixed(2)}x; includes ${L + 1} leaf gradients)`;
}
console.log(peakReport());

const s = randn([64], new Rng(9)).requireGrad();
Deno.bench("forward + backward + scope end, 300 small ops", () => {
  tidy(() => {
    let h = s;
    for (let i = 0; i < 100; i++) h = add(mul(tanh(h), 0.5), h);
    backward(sum(h));
  });
  s.grad?.dispose();
  s.grad = null;
});
