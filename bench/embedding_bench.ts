/**
 * embedding benchmarks: T5 vocabulary (32128, 768) looked up at (16, 64) token ids, forward
 * and forward+backward (dense (V, D) weight gradient). Compare with bench/compare_torch_nn.py.
 * Run: deno bench --allow-ffi --allow-read --allow-env bench/embedding_bench.ts
 */
import { intTensor, randn } from "../src/tensor/create.ts";
import { Rng } from "../src/tensor/rng.ts";
import { tidy } from "../src/tensor/scope.ts";
import { backward, noGrad } from "../src/autograd/tape.ts";
import { embedding } from "../src/ops/embedding.ts";

const rng = new Rng(1);
const V = 32128, D = 768;
const w = randn([V, D], rng, 0.02).requireGrad();
const ids = intTensor(Array.from({ length: 16 * 64 }, () => rng.int(V)), [16, 64]);
const g = randn([16, 64, D], rng);
const name = "embedding (32128,768)[16,64]";
Deno.bench(`${name} fwd`, { group: name }, () => tidy(() => void noGrad(() => embedding(w, ids))));
Deno.bench(`${name} fwd+bwd`, { group: name }, () => {
  tidy(() => backward(embedding(w, ids), g));
  w.grad?.dispose();
  w.grad = null;
});
