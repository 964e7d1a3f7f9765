/**
 * Elementwise and reduction kernels at training-step sizes: bias add (16,196,768)+(768),
 * residual add, exp, sum over the last axis. Run: deno bench --allow-ffi --allow-read --allow-env bench/elementwise_bench.ts
 */
import { randn } from "../src/tensor/create.ts";
import { Rng } from "../src/tensor/rng.ts";
import { add, mul } from "../src/ops/elementwise.ts";
import { exp } from "../src/ops/unary.ts";
import { sum } from "../src/ops/reduce.ts";
import { permute } from "../src/ops/shape_ops.ts";

const r = new Rng(0);
const a = randn([16, 196, 768], r), b = randn([16, 196, 768], r), bias = randn([768], r);

Deno.bench("add (16,196,768)+(16,196,768)", { group: "elementwise" }, () => add(a, b).dispose());
Deno.bench("add bias (16,196,768)+(768)", { group: "elementwise" }, () => add(a, bias).dispose());
Deno.bench("mul (16,196,768)", { group: "elementwise" }, () => mul(a, b).dispose());
Deno.bench("exp (16,196,768)", { group: "elementwise" }, () => exp(a).dispose());
Deno.bench("sum last axis (16,196,768)", { group: "reduce" }, () => sum(a, -1).dispose());
Deno.bench("sum first axes (16*196,768) -> (768)", { group: "reduce" }, () => sum(a, [0, 1]).dispose());
Deno.bench("permute (16,196,12,64)->(16,12,196,64)", { group: "shape" }, () => {
  permute(a.viewAs([16, 196, 12, 64]), [0, 2, 1, 3]).dispose();
});
