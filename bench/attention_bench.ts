/**
 * attention benchmarks at the shapes: self (16,3,197,64) forward and forward+backward,
 * cross (16,3,32x197,64), causal (16,4,64,64). Compare with bench/compare_torch_nn.py.
 * Run: deno bench --allow-ffi --allow-read --allow-env bench/attention_bench.ts
 */
import { randn } from "../src/tensor/create.ts";
import { Rng } from "../src/tensor/rng.ts";
import { tidy } from "../src/tensor/scope.ts";
import { backward, noGrad } from "../src/autograd/tape.ts";
import { attention, type AttentionOptions } from "../src/ops/attention.ts";

function bench(name: string, [B, H, Tq, Tk, D]: number[], opts: AttentionOptions = {}) {
  const rng = new Rng(1);
  const q = randn([B, H, Tq, D], rng).requireGrad();
  const k = randn([B, H, Tk, D], rng).requireGrad();
  const v = randn([B, H, Tk, D], rng).requireGrad();
  const g = randn([B, H, Tq, D], rng);
  Deno.bench(`attention ${name} fwd`, { group: `attention ${name}` }, () => {
    tidy(() => noGrad(() => attention(q, k, v, opts)));
  });
  Deno.bench(`attention ${name} fwd+bwd`, { group: `attention ${name}` }, () => {
    tidy(() => backward(attention(q, k, v, opts), g));
    for (const t of [q, k, v]) {
      t.grad?.dispose();
      t.grad = null;
    }
  });
}

bench("self (16,3,197,64)", [16, 3, 197, 197, 64]);
bench("cross (16,3,32x197,64)", [16, 3, 32, 197, 64]);
bench("causal (16,4,64,64)", [16, 4, 64, 64, 64], { causal: true });
