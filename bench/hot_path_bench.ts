/**
 * Training-step hot paths changed by issue 10: dropout (mask drawn natively, ViT MLP shape) and
 * the linear bias gradient (column sum of the output gradient over the rows). Side by side with
 * PyTorch: bash bench/compare_torch.sh --only dropout,bias_grad (results in bench/RESULTS.md).
 * Run: deno bench --allow-ffi --allow-read --allow-env bench/hot_path_bench.ts
 */
import { randn } from "../src/tensor/create.ts";
import { Rng } from "../src/tensor/rng.ts";
import { tidy } from "../src/tensor/scope.ts";
import { backward, noGrad } from "../src/autograd/tape.ts";
import { dropout } from "../src/ops/dropout.ts";
import { sum } from "../src/ops/reduce.ts";

const rng = new Rng(1);
const x = randn([16, 196, 768], rng).requireGrad();
const g = randn([16, 196, 768], rng);
const gy = randn([3136, 3072], rng);

Deno.bench("dropout p=0.1 (16,196,768) fwd", { group: "dropout" }, () => {
  tidy(() => void noGrad(() => dropout(x, 0.1, { rng })));
});
Deno.bench("dropout p=0.1 (16,196,768) fwd+bwd", { group: "dropout" }, () => {
  tidy(() => backward(dropout(x, 0.1, { rng }), g));
  x.grad?.dispose();
  x.grad = null;
});
Deno.bench("bias grad: column sum (3136,3072)", { group: "bias grad" }, () => {
  tidy(() => void sum(gy, 0));
});
