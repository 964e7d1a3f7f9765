/**
 * Learning test (2): a small CNN — CoordConv + BatchNorm2d + relu, a strided Conv2d down,
 * ConvTranspose2d and bilinear interpolate back up, a skip, a 1x1 head — trained with AdamW on ½(BCE-with-logits +
 * soft Dice) to segment bright squares on noise. Seeded and deterministic; asserts the loss
 * falls at least 8x within 80 steps and that live tensor bytes return to the start.
 */
import { ok as assert } from "node:assert/strict";
import { tensor } from "../../src/tensor/create.ts";
import { Rng } from "../../src/tensor/rng.ts";
import { tidy } from "../../src/tensor/scope.ts";
import type { Tensor } from "../../src/tensor/tensor.ts";
import { backward, noGrad } from "../../src/autograd/tape.ts";
import { add, scale } from "../../src/ops/elementwise.ts";
import { relu } from "../../src/ops/unary.ts";
import { interpolate } from "../../src/ops/resize.ts";
import { bceWithLogits, softDice } from "../../src/ops/bce_dice.ts";
import { concat } from "../../src/ops/shape_ops.ts";
import { Module } from "../../src/nn/module.ts";
import { Conv2d, CoordConv } from "../../src/nn/conv.ts";
import { ConvTranspose2d } from "../../src/nn/conv_transpose.ts";
import { BatchNorm2d } from "../../src/nn/batchnorm.ts";
import { AdamW } from "../../src/train/adamw.ts";
import { clipGradNorm } from "../../src/train/clip.ts";
import { warmupCosine } from "../../src/train/schedule.ts";
import { noLeak } from "../helpers.ts";

const S = 16; // image side

/** A batch of noisy images (B,1,S,S) with 1-2 bright squares and their masks. */
function batch(rng: Rng, B: number): { x: Float32Array; y: Float32Array } {
  const x = new Float32Array(B * S * S), y = new Float32Array(B * S * S);
  for (let b = 0; b < B; b++) {
    const n = 1 + rng.int(2);
    for (let k = 0; k < n; k++) {
      const side = 3 + rng.int(4), r0 = rng.int(S - side), c0 = rng.int(S - side);
      for (let r = r0; r < r0 + side; r++) for (let c = c0; c < c0 + side; c++) y[b * S * S + r * S + c] = 1;
    }
    for (let i = 0; i < S * S; i++) x[b * S * S + i] = 0.35 * rng.normal() + y[b * S * S + i];
  }
  return { x, y };
}

/** The segmenter: (B,1,S,S) -> logits (B,1,S,S). */
class SegNet extends Module {
  readonly c1: CoordConv;
  readonly bn1: BatchNorm2d;
  readonly c2: Conv2d;
  readonly bn2: BatchNorm2d;
  readonly up: ConvTranspose2d;
  readonly c3: Conv2d;
  readonly head: Conv2d;
  constructor(rng: Rng) {
    super();
    this.c1 = this.child("c1", new CoordConv(1, 8, 3, { padding: 1, rng }));
    this.bn1 = this.child("bn1", new BatchNorm2d(8));
    this.c2 = this.child("c2", new Conv2d(8, 16, 3, { stride: 2, padding: 1, rng }));
    this.bn2 = this.child("bn2", new BatchNorm2d(16));
    this.up = this.child("up", new ConvTranspose2d(16, 8, 2, { stride: 2, rng }));
    this.c3 = this.child("c3", new Conv2d(8 + 16 + 8, 8, 3, { padding: 1, rng }));
    this.head = this.child("head", new Conv2d(8, 1, 1, { rng }));
  }
  forward(x: Tensor): Tensor {
    const f1 = relu(this.bn1.forward(this.c1.forward(x))); // (B,8,S,S)
    const f2 = relu(this.bn2.forward(this.c2.forward(f1))); // (B,16,S/2,S/2)
    const up1 = this.up.forward(f2); // (B,8,S,S) learned 2x upsampling
    const up2 = interpolate(f2, S, S, "bilinear"); // (B,16,S,S) fixed upsampling
    const cat = concat([up1, up2, f1], 1); // (B,32,S,S) with the full-resolution skip
    return this.head.forward(relu(this.c3.forward(cat)));
  }
}

Deno.test("learning: small CNN segments bright squares (loss falls >= 8x in 80 steps)", () => {
  noLeak(() => {
    const rng = new Rng(1234);
    const net = new SegNet(rng.fork(1));
    const data = rng.fork(2);
    const steps = 80, B = 8;
    const opt = new AdamW(net.parameters(), { lr: 1e-2, weightDecay: 1e-4 });
    const sched = warmupCosine({ warmupSteps: 5, totalSteps: steps, floor: 0.1 });
    const losses: number[] = [];
    const t0 = performance.now();
    for (let s = 0; s < steps; s++) {
      const { x, y } = batch(data, B);
      opt.setLrFactor(sched(s));
      losses.push(tidy(() => {
        const xt = tensor(x, [B, 1, S, S]), yt = tensor(y, [B, 1, S, S]);
        const logits = net.forward(xt);
        const loss = scale(add(bceWithLogits(logits, yt), softDice(logits, yt)), 0.5);
        backward(loss);
        return loss.item();
      }));
      clipGradNorm(net.parameters(), 5);
      opt.step();
      opt.zeroGrad();
    }
    const ms = (performance.now() - t0) / steps;
    // held-out batch in eval mode (running BN statistics)
    net.eval();
    const { x, y } = batch(new Rng(99), B);
    const evalLoss = noGrad(() =>
      tidy(() => {
        const xt = tensor(x, [B, 1, S, S]), yt = tensor(y, [B, 1, S, S]);
        const logits = net.forward(xt);
        return scale(add(bceWithLogits(logits, yt), softDice(logits, yt)), 0.5).item();
      })
    );
    const first = losses[0], last = losses.slice(-10).reduce((a, b) => a + b, 0) / 10;
    console.log(
      `  seg: loss ${first.toFixed(4)} -> ${last.toFixed(4)} (last-10 mean, ${
        (first / last).toFixed(1)
      }x), ` +
        `held-out eval ${evalLoss.toFixed(4)}, ${ms.toFixed(1)} ms/step`,
    );
    assert(first / last >= 8, `loss fell only ${(first / last).toFixed(2)}x (${first} -> ${last})`);
    assert(first / evalLoss >= 3, `held-out loss ${evalLoss} vs first ${first}`);
    opt.dispose();
    net.dispose();
  });
});
