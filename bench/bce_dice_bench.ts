// The FPN segmentation loss on (16,1,224,224) logits: bceWithLogits (negWeight 0.2, mean) +
// softDice (per sample), forward and forward+backward, plus each loss alone.
// Run: deno bench --allow-ffi --allow-read --allow-env bench/bce_dice_bench.ts
// Torch at the same shape: bench/compare_torch_conv.py (results in docs/conv_kernels.md).
import { tensor } from "../src/tensor/create.ts";
import { tidy } from "../src/tensor/scope.ts";
import { backward } from "../src/autograd/tape.ts";
import { add } from "../src/ops/elementwise.ts";
import { bceWithLogits, softDice } from "../src/ops/bce_dice.ts";
import { Rng } from "../src/tensor/rng.ts";

const shape = [16, 1, 224, 224], n = 16 * 224 * 224;
const r = new Rng(1);
const xv = new Float32Array(n), yv = new Float32Array(n);
for (let i = 0; i < n; i++) {
  xv[i] = r.normal();
  yv[i] = r.uniform() > 0.7 ? 1 : 0;
}
const x = tensor(xv, shape), y = tensor(yv, shape);

Deno.bench("bce+dice (16,1,224,224) fwd", { group: "loss", baseline: true }, () => {
  tidy(() => {
    add(bceWithLogits(x, y, { negWeight: 0.2 }), softDice(x, y)).item();
  });
});

Deno.bench("bce+dice (16,1,224,224) fwd+bwd", { group: "loss" }, () => {
  x.requireGrad();
  tidy(() => backward(add(bceWithLogits(x, y, { negWeight: 0.2 }), softDice(x, y))));
  x.grad?.dispose();
  x.grad = null;
  x.requireGrad(false);
});

Deno.bench("bceWithLogits (16,1,224,224) fwd", { group: "each" }, () => {
  tidy(() => {
    bceWithLogits(x, y, { negWeight: 0.2 });
  });
});

Deno.bench("softDice (16,1,224,224) fwd", { group: "each" }, () => {
  tidy(() => {
    softDice(x, y);
  });
});
