/**
 * attention benchmarks at the shapes: self (16,3,197,64) forward and forward+backward,
 * cross (16,3,32x197,64), causal (16,4,64,64), T5 with a learnable (1,4,64,64) bias, Q-Former
 * self-attention with a key-padding mask, a one-token decode step over a 256-position KV cache.
 * Compare with bench/compare_torch.sh (attn_* rows).
 * Run: deno bench --allow-ffi --allow-read --allow-env bench/attention_bench.ts
 */
import { randn, tensor } from "../src/tensor/create.ts";
import { KVCache } from "../src/nn/kv_cache.ts";
import { Rng } from "../src/tensor/rng.ts";
import { tidy } from "../src/tensor/scope.ts";
import { backward, noGrad } from "../src/autograd/tape.ts";
import { attention, type AttentionOptions } from "../src/ops/attention.ts";

function bench(
  name: string,
  [B, H, Tq, Tk, D]: number[],
  opts: AttentionOptions = {},
  extra: () => void = () => {},
) {
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
    for (const t of [q, k, v, ...(opts.bias ? [opts.bias] : [])]) {
      t.grad?.dispose();
      t.grad = null;
    }
    extra();
  });
}

bench("self (16,3,197,64)", [16, 3, 197, 197, 64]);
bench("cross (16,3,32x197,64)", [16, 3, 32, 197, 64]);
bench("causal (16,4,64,64)", [16, 4, 64, 64, 64], { causal: true });
bench("T5 + bias (16,4,64,64)", [16, 4, 64, 64, 64], {
  bias: randn([1, 4, 64, 64], new Rng(2)).requireGrad(),
});
bench("Q-Former self + pad mask (16,3,64,64)", [16, 3, 64, 64, 64], {
  keyPaddingMask: tensor(
    Array.from({ length: 16 * 64 }, (_, i) => (i % 64 < 64 - (Math.floor(i / 64) % 8) ? 1 : 0)),
    [16, 64],
  ),
});

{
  const rng = new Rng(3);
  const cache = new KVCache({ batch: 16, heads: 12, capacity: 256, headDim: 64 });
  cache.append(randn([16, 12, 255, 64], rng), randn([16, 12, 255, 64], rng));
  const q = randn([16, 12, 1, 64], rng);
  Deno.bench("attention decode step over a KV cache (16,12,1x255,64)", { group: "decode" }, () => {
    tidy(() => void cache.attend(q));
  });
}
