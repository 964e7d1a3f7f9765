// batchNorm2d (training, running-stat update) on (16,64,112,112), forward and forward+backward.
// Run: deno bench --allow-ffi --allow-read --allow-env bench/batchnorm_bench.ts
import { tensor, zeros } from "../src/tensor/create.ts";
import { tidy } from "../src/tensor/scope.ts";
import { backward } from "../src/autograd/tape.ts";
import { batchNorm2d } from "../src/ops/batchnorm.ts";
import { randArray } from "../tests/helpers.ts";

const shape = [16, 64, 112, 112];
const x = tensor(randArray(16 * 64 * 112 * 112, 1), shape);
const w = tensor(randArray(64, 2), [64]), b = tensor(randArray(64, 3), [64]);
const rm = zeros([64]), rv = tensor(new Float32Array(64).fill(1), [64]);
const ones = tensor(new Float32Array(16 * 64 * 112 * 112).fill(1), shape);

Deno.bench("batchNorm2d train (16,64,112,112) fwd", { group: "bn" }, () => {
  tidy(() => {
    batchNorm2d(x, w, b, rm, rv);
  });
});
Deno.bench("batchNorm2d train (16,64,112,112) fwd+bwd", { group: "bn" }, () => {
  for (const t of [x, w, b]) t.requireGrad();
  tidy(() => backward(batchNorm2d(x, w, b, rm, rv), ones));
  for (const t of [x, w, b]) {
    t.grad?.dispose();
    t.grad = null;
    t.requireGrad(false);
  }
});
