/**
 * The Q-Former (BLIP-2 / InstructBLIP): a BERT-style post-norm transformer whose input is
 * `numQueries` learned query tokens followed by instruction (or caption) tokens. Queries and
 * text share each layer's bidirectional self-attention (text padding masked); on every
 * `crossAttentionFreq`-th layer the query positions alone cross-attend to the image tokens;
 * queries and text then go through separate feed-forwards. Text gets learned positions;
 * queries get none (they are positions themselves). An MLM head reads the text stream.
 *
 * queries out (B, Q, d), text out (B, T, d); image (B, N, visionDim).
 * @module
 */
import type { Tensor } from "../tensor/tensor.ts";
import { defaultRng, type Rng } from "../tensor/rng.ts";
import { arange, ones, truncNormal } from "../tensor/create.ts";
import { fmtShape } from "../tensor/shape.ts";
import { add } from "../ops/elementwise.ts";
import { concat, expand, slice } from "../ops/shape_ops.ts";
import { dropout } from "../ops/dropout.ts";
import { graphTidy } from "../autograd/tape.ts";
import { Module, ModuleList } from "./module.ts";
import { Linear } from "./linear.ts";
import { LayerNorm } from "./norm.ts";
import { Embedding } from "./embedding.ts";
import { MLP } from "./mlp.ts";
import { MultiHeadAttention } from "./attention.ts";
import type { QFormerConfig } from "../model/config.ts";

/** Attention + dense output + post-norm (BERT's BertAttention with BertSelfOutput). */
class PostNormAttention extends Module {
  readonly attn: MultiHeadAttention;
  readonly norm: LayerNorm;
  constructor(dim: number, heads: number, kvDim: number, eps: number, rng: Rng) {
    super();
    this.attn = this.child(
      "attention",
      new MultiHeadAttention(dim, { numHeads: heads, kvDim, init: "trunc_normal", rng }),
    );
    this.norm = this.child("LayerNorm", new LayerNorm(dim, { eps }));
  }
  /** norm(x + drop(attn(x, kv))). */
  forward(x: Tensor, kv: Tensor, mask: Tensor | null, p: number, rng: Rng): Tensor {
    return graphTidy(() => {
      const a = this.attn.forward(x, kv, kv, { keyPaddingMask: mask });
      return this.norm.forward(add(x, dropout(a, p, { training: this.training && p > 0, rng })));
    });
  }
}

/** Feed-forward + post-norm (BERT's intermediate + output). */
class PostNormFF extends Module {
  readonly mlp: MLP;
  readonly norm: LayerNorm;
  constructor(dim: number, hidden: number, eps: number, rng: Rng) {
    super();
    this.mlp = this.child("mlp", new MLP(dim, hidden, { act: "gelu", init: "trunc_normal", rng }));
    this.norm = this.child("LayerNorm", new LayerNorm(dim, { eps }));
  }
  forward(x: Tensor, p: number, rng: Rng): Tensor {
    return graphTidy(() =>
      this.norm.forward(
        add(x, dropout(this.mlp.forward(x), p, { training: this.training && p > 0, rng })),
      )
    );
  }
}

/** One Q-Former layer. */
export class QFormerLayer extends Module {
  /** Joint self-attention over queries + text. */
  readonly selfAttn: PostNormAttention;
  /** Query -> image cross-attention (every crossAttentionFreq-th layer) or null. */
  readonly crossAttn: PostNormAttention | null;
  /** Feed-forward of the text positions. */
  readonly ffText: PostNormFF;
  /** Feed-forward of the query positions. */
  readonly ffQuery: PostNormFF;

  /** Layer `index` of a Q-Former with `cfg`, cross-attending to `visionDim`-wide tokens. */
  constructor(readonly cfg: QFormerConfig, index: number, visionDim: number, rng: Rng) {
    super();
    const { dim, heads, mlpDim, eps } = cfg;
    this.selfAttn = this.child("attention", new PostNormAttention(dim, heads, dim, eps, rng));
    this.crossAttn = index % cfg.crossAttentionFreq === 0
      ? this.child("crossattention", new PostNormAttention(dim, heads, visionDim, eps, rng))
      : null;
    this.ffText = this.child("ffn", new PostNormFF(dim, mlpDim, eps, rng));
    this.ffQuery = this.child("ffn_query", new PostNormFF(dim, mlpDim, eps, rng));
  }

  /** x (B, Q + T, d), mask (B, Q + T) or null, image (B, N, dv) -> (B, Q + T, d). */
  forward(x: Tensor, Q: number, mask: Tensor | null, image: Tensor, p: number, rng: Rng): Tensor {
    const L = x.shape[1];
    return graphTidy(() => {
      const h = this.selfAttn.forward(x, x, mask, p, rng);
      let q = L === Q ? h : slice(h, 1, 0, Q);
      if (this.crossAttn) q = this.crossAttn.forward(q, image, null, p, rng);
      q = this.ffQuery.forward(q, p, rng);
      if (L === Q) return q;
      const t = this.ffText.forward(slice(h, 1, Q, L), p, rng);
      return concat([q, t], 1);
    });
  }
}

/** What the Q-Former returns. */
export interface QFormerOutput {
  /** (B, Q, d). */
  queries: Tensor;
  /** (B, T, d) or null without text. */
  text: Tensor | null;
}

/** The Q-Former with its query tokens, text embeddings and MLM head. */
export class QFormer extends Module {
  /** (1, Q, d) learned queries. */
  readonly queryTokens: Tensor;
  /** (vocab, d). */
  readonly wordEmbeddings: Embedding;
  /** (maxTextLen, d). */
  readonly positionEmbeddings: Embedding;
  /** Embedding LayerNorm (applied to queries and text alike, as LAVIS). */
  readonly embNorm: LayerNorm;
  /** The layers. */
  readonly layers: ModuleList<QFormerLayer>;
  /** d -> vocab (the official code's plain linear MLM head). */
  readonly mlmHead: Linear;
  /** Dropout stream (saved in checkpoints via Module.rngState). */
  readonly rng: Rng;

  /** Builds the Q-Former for image tokens `visionDim` wide. */
  constructor(readonly cfg: QFormerConfig, readonly visionDim: number, rng: Rng = defaultRng()) {
    super();
    this.queryTokens = this.param("query_tokens", truncNormal([1, cfg.numQueries, cfg.dim], rng, 0.02));
    this.wordEmbeddings = this.child(
      "word_embeddings",
      new Embedding(cfg.vocabSize, cfg.dim, { std: 0.02, rng }),
    );
    this.positionEmbeddings = this.child(
      "position_embeddings",
      new Embedding(cfg.maxTextLen, cfg.dim, { std: 0.02, rng }),
    );
    this.embNorm = this.child("LayerNorm", new LayerNorm(cfg.dim, { eps: cfg.eps }));
    const layers: QFormerLayer[] = [];
    for (let i = 0; i < cfg.depth; i++) layers.push(new QFormerLayer(cfg, i, visionDim, rng));
    this.layers = this.child("layer", new ModuleList(layers));
    this.mlmHead = this.child("mlm_head", new Linear(cfg.dim, cfg.vocabSize, { init: "trunc_normal", rng }));
    this.rng = rng.fork(0xd0);
  }

  /**
   * image (B, N, visionDim); text ids (B, T) int32 with mask (B, T) (1 keep, 0 pad), or null
   * for queries only -> query and text features.
   */
  forward(image: Tensor, textIds: Tensor | null, textMask: Tensor | null, p = 0): QFormerOutput {
    const B = image.shape[0], { numQueries: Q, dim } = this.cfg;
    if (image.ndim !== 3 || image.shape[2] !== this.visionDim) {
      throw new Error(`QFormer: image ${fmtShape(image.shape)}: expected (B, N, ${this.visionDim})`);
    }
    let x = expand(this.queryTokens, [B, Q, dim]);
    let mask: Tensor | null = null;
    if (textIds) {
      const T = textIds.shape[1];
      if (textIds.ndim !== 2 || textIds.shape[0] !== B || textIds.dtype !== "int32") {
        throw new Error(
          `QFormer: text ids ${fmtShape(textIds.shape)} ${textIds.dtype}: expected int32 (${B}, T)`,
        );
      }
      if (T > this.cfg.maxTextLen) {
        throw new Error(`QFormer: ${T} text tokens exceed maxTextLen ${this.cfg.maxTextLen}`);
      }
      const pos = arange(0, T, 1, { dtype: "int32", device: image.device });
      const t = add(this.wordEmbeddings.forward(textIds), this.positionEmbeddings.forward(pos));
      x = concat([x, t], 1);
      if (textMask) mask = concat([ones([B, Q], { device: image.device }), textMask], 1);
    }
    x = dropout(this.embNorm.forward(x), p, { training: this.training && p > 0, rng: this.rng });
    for (const l of this.layers) x = l.forward(x, Q, mask, image, p, this.rng);
    const L = x.shape[1];
    return { queries: L === Q ? x : slice(x, 1, 0, Q), text: L === Q ? null : slice(x, 1, Q, L) };
  }
}
