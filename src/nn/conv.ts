/**
 * Convolution layers in PyTorch layout: `Conv2d` (weight (Cout, Cin/groups, kh, kw), bias
 * (Cout)) and `CoordConv` (a Conv2d over [x, xx, yy] whose inner conv is the child `conv`, so
 * keys are `conv.weight` / `conv.bias` as in the common PyTorch CoordConv port). Init is
 * PyTorch's default: U(±1/sqrt(fanIn)) for weight and bias. Transposed convolution lives in
 * conv_transpose.ts.
 * @module
 */
import type { Tensor } from "../tensor/tensor.ts";
import { defaultRng, type Rng } from "../tensor/rng.ts";
import { conv2d, type Conv2dOptions, coordConv2d, type Pair, pair } from "../ops/conv2d.ts";
import { Module } from "./module.ts";
import { fans, initWeight, torchDefault, type WeightInit, zeros } from "./init.ts";

/** Options of `Conv2d` / `CoordConv`: the op's geometry plus bias and init. */
export interface Conv2dLayerOptions extends Conv2dOptions {
  /** Add a bias (default true). */
  bias?: boolean;
  /** Weight scheme (default "torch"); biases are torch-default with "torch", zeros otherwise. */
  init?: WeightInit;
  /** Seeded generator (default: the global one). */
  rng?: Rng;
}

/** 2-D convolution: x (B, Cin, H, W) -> (B, Cout, Ho, Wo). */
export class Conv2d extends Module {
  /** (Cout, Cin/groups, kh, kw). */
  readonly weight: Tensor;
  /** (Cout) or null. */
  readonly bias: Tensor | null;
  /** Stride, padding, dilation, groups as passed to the op. */
  readonly geometry: Conv2dOptions;

  /** `inChannels` counts the channels the weight sees (CoordConv passes Cin + 2). */
  constructor(
    readonly inChannels: number,
    readonly outChannels: number,
    kernelSize: Pair,
    opts: Conv2dLayerOptions = {},
  ) {
    super();
    const [kh, kw] = pair(kernelSize, 1, "kernelSize", "Conv2d", 1);
    const groups = opts.groups ?? 1;
    if (inChannels % groups || outChannels % groups) {
      throw new Error(
        `Conv2d: groups ${groups} must divide in ${inChannels} and out ${outChannels} channels`,
      );
    }
    const rng = opts.rng ?? defaultRng();
    const scheme = opts.init ?? "torch";
    const shape = [outChannels, inChannels / groups, kh, kw];
    this.weight = this.param("weight", initWeight(scheme, shape, rng));
    this.bias = opts.bias === false ? null : this.param(
      "bias",
      scheme === "torch" ? torchDefault([outChannels], fans(shape).fanIn, rng) : zeros([outChannels]),
    );
    this.geometry = { stride: opts.stride, padding: opts.padding, dilation: opts.dilation, groups };
  }

  /** x (B, Cin, H, W) -> (B, Cout, Ho, Wo). */
  forward(x: Tensor): Tensor {
    return conv2d(x, this.weight, this.bias, this.geometry);
  }
}

/**
 * CoordConv (Liu et al. 2018): appends row / column coordinate channels in [-1, 1] before a
 * convolution; the channels are generated inside the native kernel, never stored.
 */
export class CoordConv extends Module {
  /** The inner convolution over Cin + 2 channels. */
  readonly conv: Conv2d;

  /** x has `inChannels` real channels; the weight has inChannels + 2. */
  constructor(
    readonly inChannels: number,
    readonly outChannels: number,
    kernelSize: Pair,
    opts: Conv2dLayerOptions = {},
  ) {
    super();
    this.conv = this.child("conv", new Conv2d(inChannels + 2, outChannels, kernelSize, opts));
  }

  /** x (B, Cin, H, W) -> (B, Cout, Ho, Wo). */
  forward(x: Tensor): Tensor {
    return coordConv2d(x, this.conv.weight, this.conv.bias, this.conv.geometry);
  }
}
