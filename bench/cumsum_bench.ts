/**
 * cumsum benchmarks: positions from a (16,512) padding mask along the last axis, and a
 * (16,256,768) scan along the middle axis, forward and forward+backward.
 * Run: deno bench --allow-ffi --allow-read --allow-env bench/cumsum_bench.ts
 */
import { randn } from "../src/tensor/create.ts";
import { Rng } from "../src/tensor/rng.ts";
import { tidy } from "../src/tensor/scope.ts";
import { backward, noGrad } from "../src/autograd/tape.ts";
import { cumsum } from "../src/ops/cumsum.ts";

const rng = new Rng(1);
const m = randn([16, 512], rng);
Deno.bench(
  "cumsum (16,512) axis -1",
  { group: "cumsum" },
  () => tidy(() => void noGrad(() => cumsum(m, -1))),
);
const x = randn([16, 256, 768], rng).requireGrad();
const g = randn([16, 256, 768], rng);
Deno.bench("cumsum (16,256,768) axis 1 fwd+bwd", { group: "cumsum" }, () => {
  tidy(() => backward(cumsum(x, 1), g));
  x.grad?.dispose();
  x.grad = null;
});
