/**
 * Vision Transformer pieces: patch embedding, a pre-norm block, and the trunk.
 * x (B, 3, S, S) -> tokens (B, 1 + N, dim), N = (S / patch)², CLS first, learned positions.
 *
 * Two attention layouts, matching the checkpoints we may load later:
 * - `"eva"`: one fused qkv Linear without bias plus separate `q_bias` / `v_bias` (EVA ViT-g,
 *   BLIP-2's image encoder: keys get no bias);
 * - `"separate"`: query / key / value / out Linears with biases (the official FPN's ViT-H/14).
 * @module
 */
import type { Tensor } from "../tensor/tensor.ts";
import { defaultRng, type Rng } from "../tensor/rng.ts";
import { truncNormal, zeros } from "../tensor/create.ts";
import { fmtShape } from "../tensor/shape.ts";
import { keep } from "../tensor/scope.ts";
import { add } from "../ops/elementwise.ts";
import { concat, expand, permute, reshape } from "../ops/shape_ops.ts";
import { linear } from "../ops/linear.ts";
import { attention } from "../ops/attention.ts";
import { graphTidy } from "../autograd/tape.ts";
import { Module, ModuleList } from "./module.ts";
import { Linear } from "./linear.ts";
import { LayerNorm } from "./norm.ts";
import { MLP } from "./mlp.ts";
import { Conv2d } from "./conv.ts";
import { headsOf, MultiHeadAttention } from "./attention.ts";
import type { Activation } from "./activation.ts";

/** Attention layout of a ViT block. */
export type VitAttentionKind = "eva" | "separate";

/** EVA-style self-attention: fused qkv weight, q and v biases only. x (B, T, dim) -> (B, T, dim). */
export class EvaSelfAttention extends Module {
  /** (3·dim, dim), no bias. */
  readonly qkv: Linear;
  /** (dim). */
  readonly qBias: Tensor;
  /** (dim). */
  readonly vBias: Tensor;
  /** (dim, dim) + bias. */
  readonly proj: Linear;
  readonly #kZero: Tensor;
  /** Width / heads. */
  readonly headDim: number;

  /** `dim` split over `heads`. */
  constructor(readonly dim: number, readonly heads: number, rng: Rng = defaultRng()) {
    super();
    this.headDim = dim / heads;
    this.qkv = this.child("qkv", new Linear(dim, 3 * dim, { bias: false, init: "trunc_normal", rng }));
    this.qBias = this.param("q_bias", zeros([dim]));
    this.vBias = this.param("v_bias", zeros([dim]));
    this.proj = this.child("proj", new Linear(dim, dim, { init: "trunc_normal", rng }));
    // keys get no bias: a constant zero slice, not a parameter or buffer (not in checkpoints)
    this.#kZero = keep(zeros([dim]));
  }

  override dispose(): void {
    super.dispose();
    this.#kZero.dispose();
  }

  /** x (B, T, dim) -> (B, T, dim). */
  forward(x: Tensor): Tensor {
    const [B, T] = x.shape;
    // graphTidy: qkv is freed at once (the backward reads the q, k, v copies)
    return graphTidy(() => {
      const bias = concat([this.qBias, this.#kZero, this.vBias], 0); // (3·dim)
      const qkv = linear(x, this.qkv.weight, bias); // (B, T, 3·dim)
      // q, k, v (B, H, T, hd), each by one strided copy out of qkv (B, T, 3, H, hd)
      const part = (i: number) => headsOf(qkv, 3, i, this.heads, this.headDim);
      const o = attention(part(0), part(1), part(2)); // (B, H, T, hd)
      return this.proj.forward(reshape(permute(o, [0, 2, 1, 3]), [B, T, this.dim]));
    });
  }
}

/** Options of `ViTBlock`. */
export interface ViTBlockOptions {
  /** Attention layout (default "eva"). */
  attention?: VitAttentionKind;
  /** LayerNorm epsilon (default 1e-6). */
  eps?: number;
  /** MLP activation (default exact GELU). */
  act?: Activation;
  /** Seeded generator. */
  rng?: Rng;
}

/** Pre-norm transformer block: x + attn(norm1(x)), then x + mlp(norm2(x)). */
export class ViTBlock extends Module {
  /** Before attention. */
  readonly norm1: LayerNorm;
  /** Self-attention (EVA or separate layout). */
  readonly attn: EvaSelfAttention | MultiHeadAttention;
  /** Before the MLP. */
  readonly norm2: LayerNorm;
  /** fc1 -> GELU -> fc2. */
  readonly mlp: MLP;

  /** `dim` wide, `heads` heads, MLP `mlpDim`. */
  constructor(dim: number, heads: number, mlpDim: number, opts: ViTBlockOptions = {}) {
    super();
    const rng = opts.rng ?? defaultRng();
    const eps = opts.eps ?? 1e-6;
    this.norm1 = this.child("norm1", new LayerNorm(dim, { eps }));
    this.attn = this.child(
      "attn",
      (opts.attention ?? "eva") === "eva"
        ? new EvaSelfAttention(dim, heads, rng)
        : new MultiHeadAttention(dim, { numHeads: heads, init: "trunc_normal", rng }),
    );
    this.norm2 = this.child("norm2", new LayerNorm(dim, { eps }));
    this.mlp = this.child(
      "mlp",
      new MLP(dim, mlpDim, { act: opts.act ?? "gelu", init: "trunc_normal", rng }),
    );
  }

  /** x (B, T, dim) -> (B, T, dim). */
  forward(x: Tensor): Tensor {
    // graphTidy: the branch outputs consumed only by the residual adds are freed at once
    return graphTidy(() => {
      const h = this.norm1.forward(x);
      const y = add(x, this.attn instanceof EvaSelfAttention ? this.attn.forward(h) : this.attn.forward(h));
      return add(y, this.mlp.forward(this.norm2.forward(y)));
    });
  }
}

/** Options of `VisionTransformer`. */
export interface VisionTransformerOptions extends ViTBlockOptions {
  /** Input side in pixels (square). */
  imageSize: number;
  /** Patch side. */
  patchSize: number;
  /** Token width. */
  dim: number;
  /** Blocks. */
  depth: number;
  /** Heads. */
  heads: number;
  /** MLP width. */
  mlpDim: number;
  /** A final LayerNorm (`norm`) after the last block (default false: BLIP-2 puts ln_vision outside). */
  finalNorm?: boolean;
}

/** Patch embedding + CLS + learned positions + pre-norm blocks (+ optional final norm). */
export class VisionTransformer extends Module {
  /** Conv k = s = patch: (B, 3, S, S) -> (B, dim, S/p, S/p). */
  readonly patchEmbed: Conv2d;
  /** (1, 1, dim). */
  readonly clsToken: Tensor;
  /** (1, 1 + N, dim). */
  readonly posEmbed: Tensor;
  /** The blocks. */
  readonly blocks: ModuleList<ViTBlock>;
  /** Final norm or null. */
  readonly norm: LayerNorm | null;
  /** Patches per side. */
  readonly grid: number;

  /** See `VisionTransformerOptions`. */
  constructor(readonly opts: VisionTransformerOptions) {
    super();
    const rng = opts.rng ?? defaultRng();
    this.grid = opts.imageSize / opts.patchSize;
    if (!Number.isInteger(this.grid)) {
      throw new Error(
        `VisionTransformer: imageSize ${opts.imageSize} is not a multiple of patch ${opts.patchSize}`,
      );
    }
    const p = opts.patchSize;
    this.patchEmbed = this.child("patch_embed", new Conv2d(3, opts.dim, p, { stride: p, rng }));
    this.clsToken = this.param("cls_token", truncNormal([1, 1, opts.dim], rng, 0.02));
    this.posEmbed = this.param("pos_embed", truncNormal([1, 1 + this.grid * this.grid, opts.dim], rng, 0.02));
    const blocks: ViTBlock[] = [];
    for (let i = 0; i < opts.depth; i++) {
      blocks.push(new ViTBlock(opts.dim, opts.heads, opts.mlpDim, { ...opts, rng }));
    }
    this.blocks = this.child("blocks", new ModuleList(blocks));
    this.norm = opts.finalNorm
      ? this.child("norm", new LayerNorm(opts.dim, { eps: opts.eps ?? 1e-6 }))
      : null;
  }

  /** Tokens before any block: images (B, 3, S, S) -> (B, 1 + N, dim) with positions added. */
  embed(images: Tensor): Tensor {
    const S = this.opts.imageSize;
    if (images.ndim !== 4 || images.shape[1] !== 3 || images.shape[2] !== S || images.shape[3] !== S) {
      throw new Error(`VisionTransformer: images ${fmtShape(images.shape)}: expected (B, 3, ${S}, ${S})`);
    }
    const B = images.shape[0];
    // graphTidy: the patch grid and its copies are read by no backward: freed at once
    return graphTidy(() => {
      const p = this.patchEmbed.forward(images); // (B, dim, g, g)
      const tokens = permute(reshape(p, [B, this.opts.dim, this.grid * this.grid]), [0, 2, 1]); // (B, N, dim)
      const cls = expand(this.clsToken, [B, 1, this.opts.dim]);
      return add(concat([cls, tokens], 1), this.posEmbed);
    });
  }

  /** images (B, 3, S, S) -> (B, 1 + N, dim) after every block (and the final norm if any). */
  forward(images: Tensor): Tensor {
    let x = this.embed(images);
    for (const b of this.blocks) x = b.forward(x);
    return this.norm ? this.norm.forward(x) : x;
  }
}
