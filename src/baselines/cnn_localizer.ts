/**
 * The demo's forgery *localizer*: a small CNN standing in for ForgeryTalker's FPN + mask
 * decoder (the real model is a later issue). CoordConv stem, a strided conv/BN/relu encoder,
 * a decoder that upsamples with a ConvTranspose2d and bilinear `interpolate` with skips, a
 * 1-channel mask head, and a 21-way region head (global average pool of the deepest features +
 * linear; with ~100 training images it mostly learns the class priors).
 * Loss (the FPN's, DESIGN.md §1): ½(BCE with ω = 0.2 on negatives + soft Dice) on the mask,
 * plus BCE on the region labels.
 * @module
 */
import type { Tensor } from "../tensor/tensor.ts";
import type { Rng } from "../tensor/rng.ts";
import { add, scale } from "../ops/elementwise.ts";
import { relu } from "../ops/unary.ts";
import { interpolate } from "../ops/resize.ts";
import { concat, reshape } from "../ops/shape_ops.ts";
import { adaptiveAvgPool1x1 } from "../ops/pool.ts";
import { bceWithLogits, softDice } from "../ops/bce_dice.ts";
import { Module } from "../nn/module.ts";
import { Conv2d, CoordConv } from "../nn/conv.ts";
import { ConvTranspose2d } from "../nn/conv_transpose.ts";
import { BatchNorm2d } from "../nn/batchnorm.ts";
import { Linear } from "../nn/linear.ts";
import { REGIONS } from "../data/regions.ts";

/** Conv + BatchNorm + relu. */
class ConvBnRelu extends Module {
  readonly conv: Conv2d;
  readonly bn: BatchNorm2d;
  constructor(cin: number, cout: number, stride: number, rng: Rng) {
    super();
    this.conv = this.child("conv", new Conv2d(cin, cout, 3, { stride, padding: 1, bias: false, rng }));
    this.bn = this.child("bn", new BatchNorm2d(cout));
  }
  forward(x: Tensor): Tensor {
    return relu(this.bn.forward(this.conv.forward(x)));
  }
}

/** What the localizer returns: mask logits (B,1,S,S) and region logits (B,21). */
export interface LocalizerOutput {
  mask: Tensor;
  regions: Tensor;
}

/** Width of the stages (stem, /2, /4, /8). */
export const LOCALIZER_WIDTHS = [16, 32, 48, 64] as const;

/** The stand-in localizer: x (B,3,S,S) CLIP-normalised, S divisible by 8. */
export class Localizer extends Module {
  readonly stem: CoordConv;
  readonly stemBn: BatchNorm2d;
  readonly enc1: ConvBnRelu;
  readonly enc2: ConvBnRelu;
  readonly enc3: ConvBnRelu;
  readonly up3: ConvTranspose2d;
  readonly dec2: ConvBnRelu;
  readonly dec1: ConvBnRelu;
  readonly dec0: ConvBnRelu;
  readonly maskHead: Conv2d;
  readonly regionHead: Linear;

  /** Seeded init from `rng`. */
  constructor(rng: Rng) {
    super();
    const [c0, c1, c2, c3] = LOCALIZER_WIDTHS;
    this.stem = this.child("stem", new CoordConv(3, c0, 3, { padding: 1, bias: false, rng }));
    this.stemBn = this.child("stem_bn", new BatchNorm2d(c0));
    this.enc1 = this.child("enc1", new ConvBnRelu(c0, c1, 2, rng));
    this.enc2 = this.child("enc2", new ConvBnRelu(c1, c2, 2, rng));
    this.enc3 = this.child("enc3", new ConvBnRelu(c2, c3, 2, rng));
    this.up3 = this.child("up3", new ConvTranspose2d(c3, c2, 2, { stride: 2, rng }));
    this.dec2 = this.child("dec2", new ConvBnRelu(c2 + c2, c1, 1, rng));
    this.dec1 = this.child("dec1", new ConvBnRelu(c1 + c1, c0, 1, rng));
    this.dec0 = this.child("dec0", new ConvBnRelu(c0 + c0, c0, 1, rng));
    this.maskHead = this.child("mask_head", new Conv2d(c0, 1, 1, { rng }));
    this.regionHead = this.child("region_head", new Linear(c3, REGIONS.length, { rng }));
  }

  /** x (B,3,S,S) -> mask logits (B,1,S,S), region logits (B,21). */
  forward(x: Tensor): LocalizerOutput {
    const [B, , H, W] = x.shape;
    if (H % 8 || W % 8) throw new Error(`Localizer: input ${H}x${W} must be divisible by 8`);
    const f0 = relu(this.stemBn.forward(this.stem.forward(x))); // (B,16,S,S)
    const f1 = this.enc1.forward(f0); // (B,32,S/2,S/2)
    const f2 = this.enc2.forward(f1); // (B,48,S/4,S/4)
    const f3 = this.enc3.forward(f2); // (B,64,S/8,S/8)
    const d2 = this.dec2.forward(concat([this.up3.forward(f3), f2], 1)); // (B,32,S/4,S/4) learned 2x up
    const d1 = this.dec1.forward(concat([interpolate(d2, H / 2, W / 2, "bilinear"), f1], 1)); // (B,16,S/2,S/2)
    const d0 = this.dec0.forward(concat([interpolate(d1, H, W, "bilinear"), f0], 1)); // (B,16,S,S)
    const mask = this.maskHead.forward(d0); // (B,1,S,S)
    const pooled = reshape(adaptiveAvgPool1x1(f3), [B, LOCALIZER_WIDTHS[3]]); // (B,64)
    return { mask, regions: this.regionHead.forward(pooled) };
  }
}

/** The three loss terms (scalars) and their sum. */
export interface LocalizerLoss {
  total: Tensor;
  mask: Tensor;
  regions: Tensor;
}

/** ½(BCE(ω = 0.2 on negatives) + soft Dice) on the mask + BCE on the 21 region labels. */
export function localizerLoss(out: LocalizerOutput, masks: Tensor, labels: Tensor): LocalizerLoss {
  const maskLoss = scale(
    add(bceWithLogits(out.mask, masks, { negWeight: 0.2 }), softDice(out.mask, masks)),
    0.5,
  );
  const regionLoss = bceWithLogits(out.regions, labels);
  return { total: add(maskLoss, regionLoss), mask: maskLoss, regions: regionLoss };
}
