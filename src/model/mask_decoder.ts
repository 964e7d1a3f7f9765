/**
 * Mask decoders. Both read region-prompt tokens R (B, 21, C) built from the region scores
 * (ground truth or the FPN's predictions): token i = region_embed[i] where the region is
 * present, a learned `not_region` embedding where it is not (SAM's not-a-point idea).
 *
 * - `SamMaskDecoder` (paper, default): the image tokens are projected to a spatial
 *   embedding (B, C, g, g) with SAM's random-Fourier dense PE; tokens = [mask token, R,
 *   Q-Former queries projected and enhanced by cross-attention with R (paper Fig. 4)];
 *   a two-way transformer; the image side is upscaled ×4 by two transposed convs
 *   (LayerNorm2d + GELU between) and a hypernetwork MLP on the mask token's output makes the
 *   per-pixel weights: logits (B, 1, 4g, 4g).
 * - `TokenMlpMaskDecoder` (official code): R cross-attends to the image patches, the image CLS
 *   is prepended (22 tokens), a two-way transformer runs a single mask token over them (the
 *   22 tokens are their own PE), an MLP maps each of the 22 to maskSize² values and a
 *   hypernetwork MLP mixes them: logits (B, 1, maskSize, maskSize).
 * @module
 */
import { type Tensor, toDevice } from "../tensor/tensor.ts";
import { defaultRng, type Rng } from "../tensor/rng.ts";
import { randomInitSkipped, truncNormal, zeros } from "../tensor/create.ts";
import { add, mul, sub } from "../ops/elementwise.ts";
import { concat, expand, permute, reshape, slice, unsqueeze } from "../ops/shape_ops.ts";
import { matmul } from "../ops/matmul.ts";
import { gelu } from "../ops/gelu.ts";
import { relu } from "../ops/unary.ts";
import { Module, ModuleList } from "../nn/module.ts";
import { Linear } from "../nn/linear.ts";
import { LayerNorm, LayerNorm2d } from "../nn/norm.ts";
import { ConvTranspose2d } from "../nn/conv_transpose.ts";
import { MultiHeadAttention } from "../nn/attention.ts";
import { randomPositionEncoding, TwoWayTransformer } from "../nn/two_way_transformer.ts";
import type { MaskDecoderConfig } from "./config.ts";

/** SAM's MLP: `layers` Linears with ReLU between (hypernetwork, IoU head...). */
export class DeepMLP extends Module {
  /** The linears. */
  readonly layers: ModuleList<Linear>;
  /** in -> hidden -> ... -> out. */
  constructor(inDim: number, hidden: number, outDim: number, n: number, rng: Rng = defaultRng()) {
    super();
    const dims = [inDim, ...Array(n - 1).fill(hidden), outDim];
    this.layers = this.child(
      "layers",
      new ModuleList(dims.slice(0, -1).map((d, i) => new Linear(d, dims[i + 1], { rng }))),
    );
  }
  /** (..., in) -> (..., out). */
  forward(x: Tensor): Tensor {
    this.layers.items.forEach((l, i) => {
      x = l.forward(x);
      if (i < this.layers.length - 1) x = relu(x);
    });
    return x;
  }
}

/** Region-prompt tokens from scores s (B, 21) in [0, 1]: s·embed + (1 − s)·not_region. */
export class RegionPrompts extends Module {
  /** (21, C). */
  readonly embed: Tensor;
  /** (1, 1, C). */
  readonly notRegion: Tensor;
  constructor(readonly numRegions: number, readonly dim: number, rng: Rng = defaultRng()) {
    super();
    this.embed = this.param("region_embed", truncNormal([numRegions, dim], rng, 0.02));
    this.notRegion = this.param("not_region_embed", truncNormal([1, 1, dim], rng, 0.02));
  }
  /** scores (B, 21) -> tokens (B, 21, C). */
  forward(scores: Tensor): Tensor {
    const s = unsqueeze(scores, 2); // (B, 21, 1)
    // s·e + (1 − s)·n = n + s·(e − n)
    return add(this.notRegion, mul(s, sub(this.embed, this.notRegion)));
  }
}

/** Inputs every mask decoder gets. */
export interface MaskDecoderInput {
  /** ln_vision image tokens (B, 1 + N, visionDim), CLS first. */
  image: Tensor;
  /** Region scores (B, 21) in [0, 1]. */
  regions: Tensor;
  /** Q-Former query outputs (B, Q, qDim) (unused by token-mlp). */
  queries: Tensor;
}

/** The paper's SAM-style decoder. */
export class SamMaskDecoder extends Module {
  /** visionDim -> C. */
  readonly neck: Linear;
  /** Over C. */
  readonly neckNorm: LayerNorm;
  /** qDim -> C. */
  readonly queryProj: Linear;
  /** Q-Former queries attend to the region prompts. */
  readonly promptAttn: MultiHeadAttention;
  /** After it. */
  readonly promptNorm: LayerNorm;
  /** The region prompts. */
  readonly regionPrompts: RegionPrompts;
  /** (1, 1, C). */
  readonly maskToken: Tensor;
  /** The two-way transformer. */
  readonly transformer: TwoWayTransformer;
  /** C -> C/4, ×2. */
  readonly up1: ConvTranspose2d;
  /** LayerNorm2d after up1. */
  readonly upNorm: LayerNorm2d;
  /** C/4 -> C/8, ×2. */
  readonly up2: ConvTranspose2d;
  /** Mask token -> C/8 weights. */
  readonly hyper: DeepMLP;
  /** (2, C/2) Gaussian of the dense PE (a buffer: saved, not trained). */
  readonly peGaussian: Tensor;

  /** Decoder over a `grid`×`grid` image of `visionDim` tokens and `qDim` queries. */
  constructor(
    readonly cfg: MaskDecoderConfig,
    readonly visionDim: number,
    readonly qDim: number,
    readonly grid: number,
    numRegions = 21,
    rng: Rng = defaultRng(),
  ) {
    super();
    const C = cfg.dim;
    this.neck = this.child("neck", new Linear(visionDim, C, { rng }));
    this.neckNorm = this.child("neck_norm", new LayerNorm(C, { eps: 1e-6 }));
    this.queryProj = this.child("query_proj", new Linear(qDim, C, { rng }));
    this.promptAttn = this.child("prompt_attn", new MultiHeadAttention(C, { numHeads: cfg.heads, rng }));
    this.promptNorm = this.child("prompt_norm", new LayerNorm(C));
    this.regionPrompts = this.child("region_prompts", new RegionPrompts(numRegions, C, rng));
    this.maskToken = this.param("mask_token", truncNormal([1, 1, C], rng, 0.02));
    this.transformer = this.child(
      "transformer",
      new TwoWayTransformer(cfg.depth, C, cfg.heads, cfg.mlpDim, cfg.downsample, rng),
    );
    this.up1 = this.child("output_upscaling_0", new ConvTranspose2d(C, C / 4, 2, { stride: 2, rng }));
    this.upNorm = this.child("output_upscaling_1", new LayerNorm2d(C / 4));
    this.up2 = this.child("output_upscaling_3", new ConvTranspose2d(C / 4, C / 8, 2, { stride: 2, rng }));
    this.hyper = this.child("output_hypernetwork_mlp", new DeepMLP(C, C, C / 8, 3, rng));
    this.peGaussian = this.buffer("pe_gaussian", zeros([2, C / 2]));
    if (!randomInitSkipped()) this.peGaussian.set(Float32Array.from({ length: C }, () => rng.normal()));
  }

  /**
   * The dense PE (g·g, C) from the buffer, recomputed per call (a few thousand sin/cos): a
   * cached copy would go stale when a checkpoint replaces the buffer.
   */
  #densePe(device: Tensor["device"]): Tensor {
    const pe = randomPositionEncoding(this.peGaussian.data(), this.grid, this.grid, this.cfg.dim);
    return toDevice(pe, device);
  }

  /** -> mask logits (B, 1, 4g, 4g). */
  forward(inp: MaskDecoderInput): Tensor {
    const { image, regions, queries } = inp;
    const B = image.shape[0], C = this.cfg.dim, g = this.grid, N = g * g;
    const patches = slice(image, 1, 1, 1 + N); // (B, N, dv)
    const src = this.neckNorm.forward(this.neck.forward(patches)); // (B, N, C)
    const pe = expand(unsqueeze(this.#densePe(image.device), 0), [B, N, C]);
    const r = this.regionPrompts.forward(regions); // (B, 21, C)
    const q = this.queryProj.forward(queries); // (B, Q, C)
    const qe = this.promptNorm.forward(add(q, this.promptAttn.forward(q, r, r)));
    const tokens = concat([expand(this.maskToken, [B, 1, C]), r, qe], 1);
    const [hs, img] = this.transformer.forward(src, pe, tokens);
    const spatial = reshape(permute(img, [0, 2, 1]), [B, C, g, g]);
    const up = gelu(this.up2.forward(gelu(this.upNorm.forward(this.up1.forward(spatial)))));
    // up (B, C/8, 4g, 4g); hyper (B, 1, C/8)
    const hyper = this.hyper.forward(slice(hs, 1, 0, 1));
    const side = 4 * g;
    const m = matmul(hyper, reshape(up, [B, C / 8, side * side])); // (B, 1, side²)
    return reshape(m, [B, 1, side, side]);
  }
}

/** The official code's 22-token decoder with MLP upscaling. */
export class TokenMlpMaskDecoder extends Module {
  /** visionDim -> C for the image tokens. */
  readonly imageProj: Linear;
  /** Region prompts. */
  readonly regionPrompts: RegionPrompts;
  /** Region prompts attend to the image patches. */
  readonly crossAttn: MultiHeadAttention;
  /** (1, 1, C). */
  readonly maskToken: Tensor;
  /** The two-way transformer. */
  readonly transformer: TwoWayTransformer;
  /** Each of the 22 tokens -> maskSize². */
  readonly upscalingMlp: DeepMLP;
  /** Mask token -> 22 mixing weights. */
  readonly hyper: DeepMLP;

  /** Decoder over `visionDim` image tokens. */
  constructor(
    readonly cfg: MaskDecoderConfig,
    readonly visionDim: number,
    numRegions = 21,
    rng: Rng = defaultRng(),
  ) {
    super();
    const C = cfg.dim;
    this.imageProj = this.child("image_proj", new Linear(visionDim, C, { rng }));
    this.regionPrompts = this.child("region_prompts", new RegionPrompts(numRegions, C, rng));
    this.crossAttn = this.child(
      "cross_attention_layer",
      new MultiHeadAttention(C, { numHeads: cfg.heads, rng }),
    );
    this.maskToken = this.param("mask_tokens", truncNormal([1, 1, C], rng, 0.02));
    this.transformer = this.child(
      "transformer",
      new TwoWayTransformer(cfg.depth, C, cfg.heads, cfg.mlpDim, cfg.downsample, rng),
    );
    this.upscalingMlp = this.child("output_upscaling_mlp", new DeepMLP(C, C, cfg.maskSize ** 2, 3, rng));
    this.hyper = this.child("output_hypernetworks_mlps", new DeepMLP(C, C, numRegions + 1, 3, rng));
  }

  /** -> mask logits (B, 1, maskSize, maskSize). */
  forward(inp: MaskDecoderInput): Tensor {
    const { image, regions } = inp;
    const B = image.shape[0], C = this.cfg.dim, T = image.shape[1], M = this.cfg.maskSize;
    const proj = this.imageProj.forward(image); // (B, 1 + N, C)
    const cls = slice(proj, 1, 0, 1), patches = slice(proj, 1, 1, T);
    const r = this.regionPrompts.forward(regions);
    const tokens22 = concat([cls, this.crossAttn.forward(r, patches, patches)], 1); // (B, 22, C)
    const [hs, src] = this.transformer.forward(tokens22, tokens22, expand(this.maskToken, [B, 1, C]));
    const up = this.upscalingMlp.forward(src); // (B, 22, M²)
    const hyper = this.hyper.forward(hs); // (B, 1, 22)
    return reshape(matmul(hyper, up), [B, 1, M, M]);
  }
}

/** Either decoder. */
export type MaskDecoder = SamMaskDecoder | TokenMlpMaskDecoder;
