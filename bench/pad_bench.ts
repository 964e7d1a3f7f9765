/**
 * pad benchmarks: SAM-style spatial padding of (16,256,64,64) by 1 on each side (forward and
 * forward+backward) and a right-pad of (16,60) token ids' embeddings (16,60,768) to 64.
 * Run: deno bench --allow-ffi --allow-read --allow-env bench/pad_bench.ts
 */
import { randn } from "../src/tensor/create.ts";
import { Rng } from "../src/tensor/rng.ts";
import { tidy } from "../src/tensor/scope.ts";
import { backward, noGrad } from "../src/autograd/tape.ts";
import { pad } from "../src/ops/pad.ts";

const rng = new Rng(1);
const x = randn([16, 256, 64, 64], rng).requireGrad();
const g = randn([16, 256, 66, 66], rng);
Deno.bench(
  "pad (16,256,64,64) by 1 fwd",
  { group: "pad" },
  () => tidy(() => void noGrad(() => pad(x, [1, 1, 1, 1]))),
);
Deno.bench("pad (16,256,64,64) by 1 fwd+bwd", { group: "pad" }, () => {
  tidy(() => backward(pad(x, [1, 1, 1, 1]), g));
  x.grad?.dispose();
  x.grad = null;
});
const e = randn([16, 60, 768], rng);
Deno.bench(
  "pad (16,60,768) -> (16,64,768)",
  { group: "pad" },
  () => tidy(() => void noGrad(() => pad(e, [0, 0, 0, 4]))),
);
