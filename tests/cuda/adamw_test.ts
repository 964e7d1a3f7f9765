// Fused multi-tensor AdamW on CUDA vs the CPU kernel: several parameter tensors of odd sizes,
// two groups (lr, weight decay), a few steps, gradient scale.
import { cudaTest, expectClose, host, TOL } from "./cuda_helpers.ts";
import { AdamW } from "../../src/train/adamw.ts";
import { tensor } from "../../src/tensor/create.ts";
import { randArray } from "../helpers.ts";
import type { Tensor } from "../../src/tensor/tensor.ts";
import { keep } from "../../src/tensor/scope.ts";

cudaTest("AdamW step matches the CPU kernel", () => {
  // 100003: several 16K-element chunks of one tensor, with a partial last one
  const sizes = [[7], [33, 5], [1000], [3, 3, 3], [100_003]];
  const mk = (device: "cpu" | "cuda") =>
    sizes.map((s, i) =>
      keep(tensor(randArray(s.reduce((a, b) => a * b, 1), 10 + i), s, { device }).requireGrad())
    );
  const pc = mk("cpu"), pg = mk("cuda");
  const groups = (
    ps: Tensor[],
  ) => [{ params: ps.slice(0, 2), lr: 1e-2, weightDecay: 0.1 }, { params: ps.slice(2), lr: 3e-3 }];
  const oc = new AdamW(groups(pc)), og = new AdamW(groups(pg));
  for (let step = 0; step < 3; step++) {
    [pc, pg].forEach((ps) =>
      ps.forEach((p, i) => {
        p.grad?.dispose();
        p.grad = keep(tensor(randArray(p.size, 100 * step + i), p.shape, { device: p.device }));
      })
    );
    oc.step(0.5);
    og.step(0.5);
  }
  // pointwise update: same formula per element, so a few ulp apart, not a reduction's tolerance
  const tol = { rtol: 2e-5, atol: 2e-6, norm: 2e-6, scaled: false };
  pc.forEach((p, i) => expectClose(host(pg[i]), host(p), tol, `adamw param ${i}`));
});

cudaTest("AdamW per-parameter steps: a parameter unfrozen later matches the CPU kernel", () => {
  const mk = (device: "cpu" | "cuda") =>
    [[40], [7, 3]].map((s, i) =>
      keep(tensor(randArray(s.reduce((a, b) => a * b, 1), 50 + i), s, { device }).requireGrad())
    );
  const pc = mk("cpu"), pg = mk("cuda");
  const oc = new AdamW(pc, { lr: 1e-2 }), og = new AdamW(pg, { lr: 1e-2 });
  for (let step = 0; step < 6; step++) {
    [pc, pg].forEach((ps) =>
      ps.forEach((p, i) => {
        p.grad?.dispose();
        p.grad = i === 1 && step < 4
          ? null
          : keep(tensor(randArray(p.size, 7 * step + i), p.shape, { device: p.device }));
      })
    );
    oc.step();
    og.step();
  }
  if (og.stepOf(pg[1]) !== 2) throw new Error(`late parameter step ${og.stepOf(pg[1])}, want 2`);
  pc.forEach((p, i) => expectClose(host(pg[i]), host(p), TOL.fp32, `adamw late param ${i}`));
});
