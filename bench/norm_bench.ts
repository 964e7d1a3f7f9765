/**
 * layerNorm / rmsNorm benchmarks at the ViT-tiny activation shape (16,196,192), forward and
 * forward+backward (x, weight, bias). Compare with bench/compare_torch_nn.py.
 * Run: deno bench --allow-ffi --allow-read --allow-env bench/norm_bench.ts
 */
import { randn } from "../src/tensor/create.ts";
import { Rng } from "../src/tensor/rng.ts";
import { tidy } from "../src/tensor/scope.ts";
import { backward, noGrad } from "../src/autograd/tape.ts";
import { layerNorm, rmsNorm } from "../src/ops/norm.ts";
import type { Tensor } from "../src/tensor/tensor.ts";

const rng = new Rng(1);
const x = randn([16, 196, 192], rng).requireGrad();
const w = randn([192], rng).requireGrad();
const b = randn([192], rng).requireGrad();
const g = randn([16, 196, 192], rng);

function pair(name: string, f: () => Tensor) {
  Deno.bench(`${name} fwd`, { group: name }, () => tidy(() => void noGrad(f)));
  Deno.bench(`${name} fwd+bwd`, { group: name }, () => {
    tidy(() => backward(f(), g));
    for (const t of [x, w, b]) {
      t.grad?.dispose();
      t.grad = null;
    }
  });
}

pair("layerNorm (16,196,192)", () => layerNorm(x, w, b));
pair("rmsNorm (16,196,192)", () => rmsNorm(x, w));
