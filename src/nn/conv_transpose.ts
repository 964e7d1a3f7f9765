/**
 * `ConvTranspose2d` (PyTorch nn.ConvTranspose2d, groups = 1): weight (Cin, Cout, kh, kw), bias
 * (Cout); init as PyTorch (U(±1/sqrt(fanIn)) with fanIn = Cout·kh·kw, from the weight layout).
 * SAM's mask decoder upscales with kernel 2, stride 2.
 * @module
 */
import type { Tensor } from "../tensor/tensor.ts";
import { defaultRng, type Rng } from "../tensor/rng.ts";
import { type Pair, pair } from "../ops/conv2d.ts";
import { convTranspose2d, type ConvTranspose2dOptions } from "../ops/conv_transpose2d.ts";
import { Module } from "./module.ts";
import { fans, initWeight, torchDefault, type WeightInit, zeros } from "./init.ts";

/** Options of `ConvTranspose2d`: the op's geometry plus bias and init. */
export interface ConvTranspose2dLayerOptions extends ConvTranspose2dOptions {
  /** Add a bias (default true). */
  bias?: boolean;
  /** Weight scheme (default "torch"); biases are torch-default with "torch", zeros otherwise. */
  init?: WeightInit;
  /** Seeded generator (default: the global one). */
  rng?: Rng;
}

/** Transposed convolution: x (B, Cin, H, W) -> (B, Cout, Ho, Wo). */
export class ConvTranspose2d extends Module {
  /** (Cin, Cout, kh, kw). */
  readonly weight: Tensor;
  /** (Cout) or null. */
  readonly bias: Tensor | null;
  /** Stride, padding, output padding, dilation as passed to the op. */
  readonly geometry: ConvTranspose2dOptions;

  /** `kernelSize` as one size or [kh, kw]. */
  constructor(
    readonly inChannels: number,
    readonly outChannels: number,
    kernelSize: Pair,
    opts: ConvTranspose2dLayerOptions = {},
  ) {
    super();
    const [kh, kw] = pair(kernelSize, 1, "kernelSize", "ConvTranspose2d", 1);
    const rng = opts.rng ?? defaultRng();
    const scheme = opts.init ?? "torch";
    const shape = [inChannels, outChannels, kh, kw];
    this.weight = this.param("weight", initWeight(scheme, shape, rng));
    this.bias = opts.bias === false ? null : this.param(
      "bias",
      scheme === "torch" ? torchDefault([outChannels], fans(shape).fanIn, rng) : zeros([outChannels]),
    );
    this.geometry = {
      stride: opts.stride,
      padding: opts.padding,
      outputPadding: opts.outputPadding,
      dilation: opts.dilation,
    };
  }

  /** x (B, Cin, H, W) -> (B, Cout, Ho, Wo). */
  forward(x: Tensor): Tensor {
    return convTranspose2d(x, this.weight, this.bias, this.geometry);
  }
}
