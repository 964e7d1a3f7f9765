// interpolate: bilinear upsampling of SAM-style low-res masks (16,1,56,56) -> 224 and nearest
// mask resizing (16,1,224,224) -> 512, bicubic resizing of a ViT position-embedding grid
// (1,768,14,14) -> 32, forward and forward+backward.
// Run: deno bench --allow-ffi --allow-read --allow-env bench/resize_bench.ts
import { tensor } from "../src/tensor/create.ts";
import { tidy } from "../src/tensor/scope.ts";
import { backward, noGrad } from "../src/autograd/tape.ts";
import { sum } from "../src/ops/reduce.ts";
import { interpolate } from "../src/ops/resize.ts";
import { randArray } from "../tests/helpers.ts";

const lo = tensor(randArray(16 * 56 * 56, 1), [16, 1, 56, 56]);
const hi = tensor(randArray(16 * 224 * 224, 2), [16, 1, 224, 224]);

Deno.bench("interpolate bilinear (16,1,56,56)->224 fwd", { group: "resize" }, () => {
  tidy(() => {
    interpolate(lo, 224, 224);
  });
});
Deno.bench("interpolate bilinear (16,1,56,56)->224 fwd+bwd", { group: "resize" }, () => {
  lo.requireGrad();
  tidy(() => backward(sum(interpolate(lo, 224, 224))));
  lo.grad?.dispose();
  lo.grad = null;
  lo.requireGrad(false);
});
Deno.bench("interpolate nearest (16,1,224,224)->512 fwd", { group: "resize" }, () => {
  tidy(() => {
    interpolate(hi, 512, 512, "nearest");
  });
});

{
  const rb = tensor(randArray(768 * 14 * 14, 5), [1, 768, 14, 14]).requireGrad();
  const gb = tensor(randArray(768 * 32 * 32, 6), [1, 768, 32, 32]);
  Deno.bench("interpolate bicubic (1,768,14,14)->32 fwd", { group: "resize" }, () => {
    tidy(() => noGrad(() => interpolate(rb, 32, 32, "bicubic")));
  });
  Deno.bench("interpolate bicubic (1,768,14,14)->32 fwd+bwd", { group: "resize" }, () => {
    tidy(() => backward(interpolate(rb, 32, 32, "bicubic"), gb));
    rb.grad?.dispose();
    rb.grad = null;
  });
}
