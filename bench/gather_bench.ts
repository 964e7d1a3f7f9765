/**
 * gather / indexSelect benchmarks at beam-search shapes: gather of (16, 4·32128) scores at
 * topk indices, indexSelect reordering a (16,12,256,64) KV buffer along the batch, and an
 * embedding-style indexSelect of (32128,768) rows; forward and forward+backward.
 * Run: deno bench --allow-ffi --allow-read --allow-env bench/gather_bench.ts
 */
import { intTensor, randn } from "../src/tensor/create.ts";
import { Rng } from "../src/tensor/rng.ts";
import { tidy } from "../src/tensor/scope.ts";
import { backward, noGrad } from "../src/autograd/tape.ts";
import { gather, indexSelect } from "../src/ops/gather.ts";

const rng = new Rng(1);
const scores = randn([16, 4 * 32128], rng).requireGrad();
const idx = intTensor(Array.from({ length: 16 * 8 }, () => rng.int(4 * 32128)), [16, 8]);
const g8 = randn([16, 8], rng);
Deno.bench(
  "gather (16,128512) at (16,8) fwd",
  { group: "gather" },
  () => tidy(() => void noGrad(() => gather(scores, 1, idx))),
);
Deno.bench("gather (16,128512) at (16,8) fwd+bwd", { group: "gather" }, () => {
  tidy(() => backward(gather(scores, 1, idx), g8));
  scores.grad?.dispose();
  scores.grad = null;
});

const kv = randn([16, 12, 256, 64], rng);
const beams = intTensor(Array.from({ length: 16 }, () => rng.int(16)), [16]);
Deno.bench(
  "indexSelect (16,12,256,64) batch reorder",
  { group: "indexSelect" },
  () => tidy(() => void noGrad(() => indexSelect(kv, 0, beams))),
);

const table = randn([32128, 768], rng).requireGrad();
const ids = intTensor(Array.from({ length: 1024 }, () => rng.int(32128)), [1024]);
const g = randn([1024, 768], rng);
Deno.bench("indexSelect (32128,768)[1024] fwd+bwd", { group: "indexSelect" }, () => {
  tidy(() => backward(indexSelect(table, 0, ids), g));
  table.grad?.dispose();
  table.grad = null;
});
