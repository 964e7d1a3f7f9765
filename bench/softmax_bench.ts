/**
 * softmax benchmarks at the attention-probability shape (16,3,196,196): softmax, softmax with
 * a (16,1,1,196) padding mask, log-softmax; forward and forward+backward.
 * Compare with bench/compare_torch_nn.py (docs/nn_kernels.md).
 * Run: deno bench --allow-ffi --allow-read --allow-env bench/softmax_bench.ts
 */
import { randn, tensor } from "../src/tensor/create.ts";
import { Rng } from "../src/tensor/rng.ts";
import { tidy } from "../src/tensor/scope.ts";
import { backward, noGrad } from "../src/autograd/tape.ts";
import { logSoftmax, softmax } from "../src/ops/softmax.ts";

const rng = new Rng(1);
const shape = [16, 3, 196, 196];
const x = randn(shape, rng).requireGrad();
const g = randn(shape, rng);
const pad = new Float32Array(16 * 196);
for (let b = 0; b < 16; b++) for (let j = 196 - 4 * (b % 5); j < 196; j++) pad[b * 196 + j] = -Infinity;
const mask = tensor(pad, [16, 1, 1, 196]);

function pair(name: string, f: () => ReturnType<typeof softmax>) {
  Deno.bench(`${name} fwd`, { group: name }, () => tidy(() => void noGrad(f)));
  Deno.bench(`${name} fwd+bwd`, { group: name }, () => {
    tidy(() => backward(f(), g));
    x.grad?.dispose();
    x.grad = null;
  });
}

pair("softmax (16,3,196,196)", () => softmax(x));
pair("softmax+mask (16,3,196,196)", () => softmax(x, mask));
pair("logSoftmax (16,3,196,196)", () => logSoftmax(x));
