// maxPool2d 2x2/2 and adaptive average pooling at FPN conv-branch shapes, forward and fwd+bwd;
// the FPN's inference shape (1,192,112,112) on the AVX-512 fast path and on the generic loop.
// Run: deno bench --allow-ffi --allow-read --allow-env bench/pool_bench.ts
import { tensor } from "../src/tensor/create.ts";
import { tidy } from "../src/tensor/scope.ts";
import { backward } from "../src/autograd/tape.ts";
import { sum } from "../src/ops/reduce.ts";
import { adaptiveAvgPool1x1, maxPool2d } from "../src/ops/pool.ts";
import { withCpuIsa } from "../src/backend/cpu_isa.ts";
import { randArray } from "../tests/helpers.ts";

const x = tensor(randArray(16 * 64 * 112 * 112, 1), [16, 64, 112, 112]);
const f = tensor(randArray(192 * 112 * 112, 2), [1, 192, 112, 112]);

Deno.bench("maxPool2d 2x2/2 (1,192,112,112) fwd, no index (FPN inference)", { group: "fpn" }, () => {
  tidy(() => {
    maxPool2d(f, 2);
  });
});
Deno.bench("maxPool2d 2x2/2 (1,192,112,112) fwd, generic loop (AVX2 level)", { group: "fpn" }, () => {
  withCpuIsa(1, () =>
    tidy(() => {
      maxPool2d(f, 2);
    }));
});

Deno.bench("maxPool2d 2x2/2 (16,64,112,112) fwd", { group: "pool" }, () => {
  tidy(() => {
    maxPool2d(x, 2);
  });
});
Deno.bench("maxPool2d 2x2/2 (16,64,112,112) fwd+bwd", { group: "pool" }, () => {
  x.requireGrad();
  tidy(() => backward(sum(maxPool2d(x, 2))));
  x.grad?.dispose();
  x.grad = null;
  x.requireGrad(false);
});
Deno.bench("adaptiveAvgPool1x1 (16,64,112,112) fwd", { group: "pool" }, () => {
  tidy(() => {
    adaptiveAvgPool1x1(x);
  });
});
