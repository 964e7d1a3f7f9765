/**
 * GELU benchmarks at the ViT MLP activation shape (16,196,768): erf and tanh forms, forward
 * and forward+backward. Compare with bench/compare_torch_nn.py.
 * Run: deno bench --allow-ffi --allow-read --allow-env bench/gelu_bench.ts
 */
import { randn } from "../src/tensor/create.ts";
import { Rng } from "../src/tensor/rng.ts";
import { tidy } from "../src/tensor/scope.ts";
import { backward, noGrad } from "../src/autograd/tape.ts";
import { gelu } from "../src/ops/gelu.ts";

const rng = new Rng(1);
const x = randn([16, 196, 768], rng).requireGrad();
const g = randn([16, 196, 768], rng);

for (const mode of ["none", "tanh"] as const) {
  const name = `gelu ${mode === "none" ? "erf" : "tanh"} (16,196,768)`;
  Deno.bench(`${name} fwd`, { group: name }, () => tidy(() => void noGrad(() => gelu(x, mode))));
  Deno.bench(`${name} fwd+bwd`, { group: name }, () => {
    tidy(() => backward(gelu(x, mode), g));
    x.grad?.dispose();
    x.grad = null;
  });
}
