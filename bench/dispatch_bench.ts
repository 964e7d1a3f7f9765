/**
 * FFI + dispatch overhead: a raw native call, and whole ops on 1-element tensors (shape checks,
 * allocation from the cache, the native call, scope tracking). Goal: ≤ 2 µs per op.
 * Run: deno task bench bench/dispatch_bench.ts  (or deno bench --allow-ffi --allow-read --allow-env bench/dispatch_bench.ts)
 */
import { cpuKernels } from "../src/backend/cpu.ts";
import { tensor } from "../src/tensor/create.ts";
import { tidy } from "../src/tensor/scope.ts";
import { add, scale } from "../src/ops/elementwise.ts";
import { exp } from "../src/ops/unary.ts";

const raw = cpuKernels({ ft_fill_f32: { parameters: ["i64", "pointer", "f32"], result: "i32" } });
const x = tensor([1]), y = tensor([2]);

Deno.bench("raw FFI call (ft_fill_f32, n=0)", { group: "dispatch", baseline: true }, () => {
  raw.ft_fill_f32(0n, x.ptr, 0);
});
Deno.bench("add(1-element) incl. alloc + dispose", { group: "dispatch" }, () => {
  add(x, y).dispose();
});
Deno.bench("scale(1-element)", { group: "dispatch" }, () => {
  scale(x, 2).dispose();
});
Deno.bench("exp(1-element)", { group: "dispatch" }, () => {
  exp(x).dispose();
});
Deno.bench("tidy(add) (scope bookkeeping)", { group: "dispatch" }, () => {
  tidy(() => {
    add(x, y);
  });
});
