/**
 * SAM's two-way transformer (segment-anything `TwoWayTransformer`): prompt tokens and image
 * tokens update each other. Each block: token self-attention (positional encodings added to
 * q and k, not v; the first block skips the PE and the residual), token→image
 * cross-attention, a ReLU MLP on the tokens, image→token cross-attention, every step
 * followed by a LayerNorm; a final token→image attention + norm. Cross-attentions project
 * to dim / downsample (SAM: 2).
 *
 * tokens (B, Nt, C) with their PE (B, Nt, C); image (B, Ni, C) with its PE (B, Ni, C)
 * -> updated tokens (B, Nt, C) and image (B, Ni, C).
 * Also `randomPositionEncoding`: SAM's random-Fourier dense positional encoding of a grid.
 * @module
 */
import type { Tensor } from "../tensor/tensor.ts";
import { defaultRng, type Rng } from "../tensor/rng.ts";
import { tensor } from "../tensor/create.ts";
import { add } from "../ops/elementwise.ts";
import { graphTidy } from "../autograd/tape.ts";
import { Module, ModuleList } from "./module.ts";
import { LayerNorm } from "./norm.ts";
import { MLP } from "./mlp.ts";
import { MultiHeadAttention } from "./attention.ts";

/** One two-way block. */
export class TwoWayAttentionBlock extends Module {
  /** Token self-attention. */
  readonly selfAttn: MultiHeadAttention;
  /** After self-attention. */
  readonly norm1: LayerNorm;
  /** Tokens attend to the image. */
  readonly crossTokenToImage: MultiHeadAttention;
  /** After token→image. */
  readonly norm2: LayerNorm;
  /** Token MLP (ReLU). */
  readonly mlp: MLP;
  /** After the MLP. */
  readonly norm3: LayerNorm;
  /** After image→token. */
  readonly norm4: LayerNorm;
  /** Image attends to the tokens. */
  readonly crossImageToToken: MultiHeadAttention;

  /** `dim` wide, `heads` heads, MLP `mlpDim`, cross-attention downsample `downsample`. */
  constructor(
    dim: number,
    heads: number,
    mlpDim: number,
    downsample: number,
    readonly skipFirstLayerPe: boolean,
    rng: Rng = defaultRng(),
  ) {
    super();
    const cross = { numHeads: heads, internalDim: dim / downsample, rng };
    this.selfAttn = this.child("self_attn", new MultiHeadAttention(dim, { numHeads: heads, rng }));
    this.norm1 = this.child("norm1", new LayerNorm(dim));
    this.crossTokenToImage = this.child("cross_attn_token_to_image", new MultiHeadAttention(dim, cross));
    this.norm2 = this.child("norm2", new LayerNorm(dim));
    this.mlp = this.child("mlp", new MLP(dim, mlpDim, { act: "relu", rng }));
    this.norm3 = this.child("norm3", new LayerNorm(dim));
    this.norm4 = this.child("norm4", new LayerNorm(dim));
    this.crossImageToToken = this.child("cross_attn_image_to_token", new MultiHeadAttention(dim, cross));
  }

  /** Returns the updated [tokens, image]. */
  forward(tokens: Tensor, image: Tensor, tokenPe: Tensor, imagePe: Tensor): [Tensor, Tensor] {
    return graphTidy(() => this.#block(tokens, image, tokenPe, imagePe));
  }

  #block(tokens: Tensor, image: Tensor, tokenPe: Tensor, imagePe: Tensor): [Tensor, Tensor] {
    if (this.skipFirstLayerPe) {
      tokens = this.selfAttn.forward(tokens, tokens, tokens);
    } else {
      const q = add(tokens, tokenPe);
      tokens = add(tokens, this.selfAttn.forward(q, q, tokens));
    }
    tokens = this.norm1.forward(tokens);
    let q = add(tokens, tokenPe);
    let k = add(image, imagePe);
    tokens = this.norm2.forward(add(tokens, this.crossTokenToImage.forward(q, k, image)));
    tokens = this.norm3.forward(add(tokens, this.mlp.forward(tokens)));
    q = add(tokens, tokenPe);
    k = add(image, imagePe);
    image = this.norm4.forward(add(image, this.crossImageToToken.forward(k, q, tokens)));
    return [tokens, image];
  }
}

/** The full two-way transformer. */
export class TwoWayTransformer extends Module {
  /** The blocks. */
  readonly layers: ModuleList<TwoWayAttentionBlock>;
  /** Final token→image attention. */
  readonly finalAttn: MultiHeadAttention;
  /** Its norm. */
  readonly normFinal: LayerNorm;

  /** `depth` blocks of width `dim`. */
  constructor(
    depth: number,
    dim: number,
    heads: number,
    mlpDim: number,
    downsample = 2,
    rng: Rng = defaultRng(),
  ) {
    super();
    const blocks: TwoWayAttentionBlock[] = [];
    for (let i = 0; i < depth; i++) {
      blocks.push(new TwoWayAttentionBlock(dim, heads, mlpDim, downsample, i === 0, rng));
    }
    this.layers = this.child("layers", new ModuleList(blocks));
    this.finalAttn = this.child(
      "final_attn_token_to_image",
      new MultiHeadAttention(dim, { numHeads: heads, internalDim: dim / downsample, rng }),
    );
    this.normFinal = this.child("norm_final_attn", new LayerNorm(dim));
  }

  /** image (B, Ni, C) + PE, tokens (B, Nt, C) (also their PE, as SAM) -> [tokens, image]. */
  forward(image: Tensor, imagePe: Tensor, tokens: Tensor): [Tensor, Tensor] {
    let q = tokens, k = image;
    for (const l of this.layers) [q, k] = l.forward(q, k, tokens, imagePe);
    const attn = this.finalAttn.forward(add(q, tokens), add(k, imagePe), k);
    return [this.normFinal.forward(add(q, attn)), k];
  }
}

/**
 * SAM's `PositionEmbeddingRandom` for an h×w grid: coords at pixel centres mapped to [-1, 1],
 * projected by a fixed Gaussian matrix G (2, C/2), then [sin, cos](2π·coords·G) -> (h·w, C).
 * G is drawn from `rng` (std `scale`, SAM: 1) and stored by the caller as a buffer.
 */
export function randomPositionEncoding(gaussian: Float32Array, h: number, w: number, C: number): Tensor {
  const half = C / 2;
  const out = new Float32Array(h * w * C);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const cx = Math.fround(2 * Math.fround((x + 0.5) / w) - 1);
      const cy = Math.fround(2 * Math.fround((y + 0.5) / h) - 1);
      const o = (y * w + x) * C;
      for (let j = 0; j < half; j++) {
        const v = Math.fround(2 * Math.PI * Math.fround(cx * gaussian[j] + cy * gaussian[half + j]));
        out[o + j] = Math.sin(v);
        out[o + half + j] = Math.cos(v);
      }
    }
  }
  return tensor(out, [h * w, C]);
}
