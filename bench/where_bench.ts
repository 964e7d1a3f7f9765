/**
 * where / maskedFill benchmarks: masking (16,12,64,64) attention logits with a broadcast (16,1,1,64)
 * key mask, and a full-size where with its backward.
 * Run: deno bench --allow-ffi --allow-read --allow-env bench/where_bench.ts
 */
import { randn, tensor } from "../src/tensor/create.ts";
import { Rng } from "../src/tensor/rng.ts";
import { tidy } from "../src/tensor/scope.ts";
import { backward, noGrad } from "../src/autograd/tape.ts";
import { maskedFill, where } from "../src/ops/where.ts";

const rng = new Rng(1);
const s = randn([16, 12, 64, 64], rng).requireGrad();
const m = tensor(Array.from({ length: 16 * 64 }, (_, i) => (i % 64 > 60 ? 1 : 0)), [16, 1, 1, 64]);
const g = randn([16, 12, 64, 64], rng);
Deno.bench(
  "maskedFill (16,12,64,64) by (16,1,1,64) fwd",
  { group: "where" },
  () => tidy(() => void noGrad(() => maskedFill(s, m, -1e9))),
);
const b = randn([16, 12, 64, 64], rng).requireGrad();
const c = tensor(Array.from({ length: 64 * 64 }, (_, i) => ((i % 64) <= Math.floor(i / 64) ? 1 : 0)), [
  64,
  64,
]);
Deno.bench("where (64,64) cond over (16,12,64,64) fwd+bwd", { group: "where" }, () => {
  tidy(() => backward(where(c, s, b), g));
  for (const t of [s, b]) {
    t.grad?.dispose();
    t.grad = null;
  }
});
