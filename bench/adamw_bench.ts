/**
 * AdamW update of ~9M parameters in 60 tensors: the fused native kernel (native/adamw.cpp, one call
 * for every parameter) against the same update composed from elementwise ops.
 * Run: .tools/deno bench --allow-ffi --allow-read --allow-env bench/adamw_bench.ts
 */
import { randn } from "../src/tensor/create.ts";
import { Rng } from "../src/tensor/rng.ts";
import { keep } from "../src/tensor/scope.ts";
import { AdamW } from "../src/train/adamw.ts";

const r = new Rng(0);
const params = Array.from({ length: 60 }, () => {
  const p = keep(randn([384, 384], r)).requireGrad();
  p.grad = keep(randn([384, 384], r, 1e-3));
  return p;
});
const fused = new AdamW(params, { lr: 1e-4 }), composed = new AdamW(params, { lr: 1e-4, fused: false });
Deno.bench("AdamW fused (60 x 384x384)", { group: "adamw", baseline: true }, () => fused.step());
Deno.bench("AdamW composed (60 x 384x384)", { group: "adamw" }, () => composed.step());
