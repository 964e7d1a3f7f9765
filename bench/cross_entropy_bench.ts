/**
 * crossEntropy benchmarks: T5 LM head (256 tokens x 32128 vocab) and a 1000-class head
 * (512 x 1000), label smoothing 0.1, mean reduction; forward and forward+backward.
 * Compare with bench/compare_torch_nn.py.
 * Run: deno bench --allow-ffi --allow-read --allow-env bench/cross_entropy_bench.ts
 */
import { intTensor, randn } from "../src/tensor/create.ts";
import { Rng } from "../src/tensor/rng.ts";
import { tidy } from "../src/tensor/scope.ts";
import { backward, noGrad } from "../src/autograd/tape.ts";
import { crossEntropy } from "../src/ops/cross_entropy.ts";

for (const [N, C] of [[256, 32128], [512, 1000]]) {
  const rng = new Rng(1);
  const x = randn([N, C], rng).requireGrad();
  const t = intTensor(Array.from({ length: N }, (_, i) => (i % 7 === 0 ? -100 : rng.int(C))));
  const name = `crossEntropy (${N},${C})`;
  const f = () => crossEntropy(x, t, { labelSmoothing: 0.1 });
  Deno.bench(`${name} fwd`, { group: name }, () => tidy(() => void noGrad(f)));
  Deno.bench(`${name} fwd+bwd`, { group: name }, () => {
    tidy(() => backward(f()));
    x.grad?.dispose();
    x.grad = null;
  });
}
