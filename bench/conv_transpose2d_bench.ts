// convTranspose2d 2x2 stride 2 (16,128,14,14) -> 64 (SAM's mask upscaling), forward and
// forward+backward (dx, dw, db).
// Run: deno bench --allow-ffi --allow-read --allow-env bench/conv_transpose2d_bench.ts
// Torch at the same shape: bench/compare_torch_conv.py (results in docs/conv_kernels.md).
import { tensor } from "../src/tensor/create.ts";
import { tidy } from "../src/tensor/scope.ts";
import { backward } from "../src/autograd/tape.ts";
import { convTranspose2d } from "../src/ops/conv_transpose2d.ts";
import { Rng } from "../src/tensor/rng.ts";

function rand(shape: number[], seed: number, scale = 1) {
  const r = new Rng(seed);
  const v = new Float32Array(shape.reduce((a, b) => a * b, 1));
  for (let i = 0; i < v.length; i++) v[i] = (r.uniform() * 2 - 1) * scale;
  return tensor(v, shape);
}

const x = rand([16, 128, 14, 14], 1), w = rand([128, 64, 2, 2], 2, 0.1), b = rand([64], 3);
const ones = tensor(new Float32Array(16 * 64 * 28 * 28).fill(1), [16, 64, 28, 28]);

Deno.bench("convTranspose2d 2x2/2 (16,128,14,14)->64 fwd", { group: "convT", baseline: true }, () => {
  tidy(() => {
    convTranspose2d(x, w, b, { stride: 2 });
  });
});

Deno.bench("convTranspose2d 2x2/2 (16,128,14,14)->64 fwd+bwd", { group: "convT" }, () => {
  for (const t of [x, w, b]) t.requireGrad();
  tidy(() => backward(convTranspose2d(x, w, b, { stride: 2 }), ones));
  for (const t of [x, w, b]) {
    t.grad?.dispose();
    t.grad = null;
    t.requireGrad(false);
  }
});
