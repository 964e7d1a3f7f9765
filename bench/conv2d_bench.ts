// CoordConv 3x3 (16,3,224,224) -> 32, stride 1, padding 1 (the FPN's first conv), forward and
// forward+backward (dx, dw, db), plus a plain 3x3 conv2d at a mid-network shape.
// Run: deno bench --allow-ffi --allow-read --allow-env bench/conv2d_bench.ts
// Torch at the same shapes: bench/compare_torch_conv.py (results in docs/conv_kernels.md).
import { tensor } from "../src/tensor/create.ts";
import { tidy } from "../src/tensor/scope.ts";
import { backward } from "../src/autograd/tape.ts";
import { conv2d, coordConv2d } from "../src/ops/conv2d.ts";
import { Rng } from "../src/tensor/rng.ts";

function rand(shape: number[], seed: number, scale = 1) {
  const r = new Rng(seed);
  const n = shape.reduce((a, b) => a * b, 1);
  const v = new Float32Array(n);
  for (let i = 0; i < n; i++) v[i] = (r.uniform() * 2 - 1) * scale;
  return tensor(v, shape);
}

const x = rand([16, 3, 224, 224], 1);
const w = rand([32, 5, 3, 3], 2, 0.2);
const b = rand([32], 3);
const ones = tensor(new Float32Array(16 * 32 * 224 * 224).fill(1), [16, 32, 224, 224]);

Deno.bench("coordConv2d 3x3 (16,3,224,224)->32 fwd", { group: "coordconv", baseline: true }, () => {
  tidy(() => {
    coordConv2d(x, w, b, { padding: 1 });
  });
});

Deno.bench("coordConv2d 3x3 (16,3,224,224)->32 fwd+bwd", { group: "coordconv" }, () => {
  x.requireGrad();
  w.requireGrad();
  b.requireGrad();
  tidy(() => {
    const y = coordConv2d(x, w, b, { padding: 1 });
    backward(y, ones);
  });
  for (const t of [x, w, b]) {
    t.grad?.dispose();
    t.grad = null;
    t.requireGrad(false);
  }
});

const x2 = rand([16, 64, 56, 56], 4);
const w2 = rand([64, 64, 3, 3], 5, 0.05);
Deno.bench("conv2d 3x3 (16,64,56,56)->64 fwd", { group: "conv" }, () => {
  tidy(() => {
    conv2d(x2, w2, null, { padding: 1 });
  });
});
