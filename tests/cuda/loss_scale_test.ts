// LossScaler (src/train/loss_scale.ts): runs on the CPU backend (no device needed) and, when a
// device is present, on CUDA with fp16 autocast: overflow detection, backoff, growth, unscale.
import assert from "node:assert/strict";
import { cudaTest } from "./cuda_helpers.ts";
import { LossScaler } from "../../src/train/loss_scale.ts";
import { tensor } from "../../src/tensor/create.ts";
import { tidy } from "../../src/tensor/scope.ts";
import { backward } from "../../src/autograd/tape.ts";
import { matmul } from "../../src/ops/matmul.ts";
import { sum } from "../../src/ops/reduce.ts";
import { setCudaMath } from "../../src/backend/cuda.ts";

function run(device: "cpu" | "cuda"): void {
  tidy(() => {
    const s = new LossScaler({ initScale: 1024, growthInterval: 2 });
    const w = tensor([1, 2, 3, 4], [2, 2], { device }).requireGrad();
    const x = tensor([0.5, -1, 2, 0.25], [2, 2], { device });
    backward(s.scaleLoss(sum(matmul(x, w))));
    assert.ok(s.check([w]));
    const g = Array.from(w.grad!.data()).map((v) => v * s.unscale());
    assert.deepEqual(g, [2.5, 2.5, -0.75, -0.75]);
    s.update();
    assert.equal(s.scale, 1024);
    assert.ok(s.check([w]));
    s.update();
    assert.equal(s.scale, 2048, "grows after growthInterval clean steps");
    w.grad!.set([1, Infinity, 0, 0]);
    assert.equal(s.check([w]), false);
    s.update();
    assert.equal(s.scale, 1024);
    assert.equal(s.skipped, 1);
    w.grad!.set([NaN, 0, 0, 0]);
    assert.equal(s.check([w]), false);
    w.dispose();
  });
}

Deno.test("loss scaler: overflow check, backoff, growth (cpu)", () => run("cpu"));

cudaTest("loss scaler on CUDA with fp16 autocast", () => {
  setCudaMath({ autocast: "fp16" });
  run("cuda");
});
