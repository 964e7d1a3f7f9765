/**
 * ForgeryTalker (DESIGN §1): image encoder (ViT + ln_vision), Forgery Prompter Network,
 * Q-Former fed with the instruction, mask decoder (SAM or token-MLP) and T5 report decoder.
 *
 * Data flow for a batch of B images (S×S, CLIP-normalised):
 *   image tokens  I = ln_vision(ViT(x))                      (B, 1 + N, dv)
 *   FPN           logits (B, 21) -> region scores r (predicted, or ground truth / oracle)
 *   instruction   text from r (src/model/instruction.ts), tokenised by the caller
 *   Q-Former      queries (B, Q, dq) [+ text (B, T, dq)] = QF(I, instruction)
 *   mask          decoder(I, r, queries) -> logits (B, 1, h, w)
 *   report        T5 encoder over [t5_proj(queries); embed(instruction)], decoder -> (B, Tc, V)
 * Losses per stage are assembled in `ForgeryTalker.losses`.
 * @module
 */
import type { Tensor } from "../tensor/tensor.ts";
import { Rng } from "../tensor/rng.ts";
import { filled, ones } from "../tensor/create.ts";
import { fmtShape } from "../tensor/shape.ts";
import { add, scale } from "../ops/elementwise.ts";
import { concat, reshape, slice } from "../ops/shape_ops.ts";
import { mean } from "../ops/reduce.ts";
import { Module } from "../nn/module.ts";
import { Linear } from "../nn/linear.ts";
import { LayerNorm } from "../nn/norm.ts";
import { VisionTransformer } from "../nn/vit.ts";
import { QFormer } from "../nn/qformer.ts";
import { T5 } from "../nn/t5.ts";
import { ForgeryPrompter } from "./fpn.ts";
import { type MaskDecoder, SamMaskDecoder, TokenMlpMaskDecoder } from "./mask_decoder.ts";
import { contrastiveLoss, fpnLoss, segLoss, tokenLoss } from "./losses.ts";
import { type ForgeryTalkerConfig, gridSide, resolveConfig } from "./config.ts";

/** One prepared batch (see src/model/batch.ts for building it from records). */
export interface ModelBatch {
  /** (B, 3, S, S) CLIP-normalised images. */
  images: Tensor;
  /** (B, 21) region scores (0/1 or probabilities) behind the instruction and the mask prompts. */
  regions: Tensor;
  /** (B, Ti) int32 instruction ids (ending with </s>, padded with 0). */
  instrIds: Tensor;
  /** (B, Ti) float32: 1 token, 0 padding. */
  instrMask: Tensor;
  /** (B, Tc) int32 decoder inputs: the caption shifted right, starting with pad (0). */
  decoderIn?: Tensor;
  /** (B, Tc) int32 caption targets with −100 at padding. */
  targets?: Tensor;
  /** (B, 1, S, S) float32 ground-truth masks in {0, 1}. */
  masks?: Tensor;
  /** (B, 21) float32 ground-truth region labels. */
  labels?: Tensor;
  /** (B, Tm) int32 masked caption ids for the Q-Former MLM (pretraining). */
  mlmIds?: Tensor;
  /** (B, Tm) float32 mask of `mlmIds`. */
  mlmMask?: Tensor;
  /** (B, Tm) int32 MLM targets (−100 where not masked). */
  mlmTargets?: Tensor;
}

/** Loss weights λ1..λ4 of pretraining (MLM, LM, seg, contrastive); paper best 2:1:1:1. */
export interface LossWeights {
  mlm: number;
  lm: number;
  seg: number;
  contrastive: number;
}

/** Options of `ForgeryTalker.losses`. */
export interface LossOptions {
  /** "pretrain" (MLM + LM + seg + ITC), "finetune" (LM + seg) or "fpn" (the FPN alone). */
  stage: "pretrain" | "finetune" | "fpn";
  /** Pretraining weights (default 2:1:1:1). */
  weights?: LossWeights;
  /** Seg loss variant (official: BCE pos_weight 2). */
  segVariant?: "paper" | "official";
  /** FPN loss ω on negatives (default 0.2). */
  fpnNegWeight?: number;
  /** FPN Dice term (default true). */
  fpnDice?: boolean;
}

/** Every loss term (scalars) and the total. */
export interface LossTerms {
  /** The weighted total to backpropagate. */
  loss: Tensor;
  /** Individual terms present in this stage. */
  terms: Record<string, Tensor>;
}

/** What a forward pass produces for inspection and tests. */
export interface ForwardOutput {
  /** (B, 1 + N, dv). */
  image: Tensor;
  /** (B, Q, dq). */
  queries: Tensor;
  /** (B, 1, h, w) mask logits. */
  maskLogits: Tensor;
  /** (B, Te, d) T5 encoder output. */
  encoder: Tensor;
  /** (B, Te) encoder mask. */
  encoderMask: Tensor;
  /** (B, Tc, V) caption logits when decoder inputs were given. */
  lmLogits: Tensor | null;
}

/** The whole model. */
export class ForgeryTalker extends Module {
  /** The resolved config. */
  readonly cfg: ForgeryTalkerConfig;
  /** Image encoder trunk (EVA layout, no final norm). */
  readonly visual: VisionTransformer;
  /** BLIP-2's ln_vision. */
  readonly lnVision: LayerNorm;
  /** Forgery Prompter Network. */
  readonly fpn: ForgeryPrompter;
  /** Q-Former. */
  readonly qformer: QFormer;
  /** Q-Former width -> T5 width. */
  readonly t5Proj: Linear;
  /** Report decoder. */
  readonly t5: T5;
  /** Mask decoder. */
  readonly maskDecoder: MaskDecoder;
  /** T5 width -> vision width for the contrastive term (official `text_proj`). */
  readonly textProj: Linear;
  /** log(1/τ) when the temperature is learned, else null. */
  readonly logitScale: Tensor | null;

  /** Builds the model from a config name or object; weights drawn from `seed`. */
  constructor(config: string | Partial<ForgeryTalkerConfig> | ForgeryTalkerConfig = "tiny", seed = 0) {
    super();
    const cfg = this.cfg = resolveConfig(config as ForgeryTalkerConfig);
    const root = new Rng(seed);
    const v = cfg.vision;
    this.visual = this.child(
      "visual_encoder",
      new VisionTransformer({
        imageSize: cfg.imageSize,
        patchSize: v.patchSize,
        dim: v.dim,
        depth: v.depth,
        heads: v.heads,
        mlpDim: v.mlpDim,
        eps: v.eps,
        attention: "eva",
        rng: root.fork(1),
      }),
    );
    this.lnVision = this.child("ln_vision", new LayerNorm(v.dim));
    this.fpn = this.child("fpn", new ForgeryPrompter(cfg.fpn, cfg.imageSize, cfg.numRegions, root.fork(2)));
    this.qformer = this.child("Qformer", new QFormer(cfg.qformer, v.dim, root.fork(3)));
    this.t5Proj = this.child("t5_proj", new Linear(cfg.qformer.dim, cfg.t5.dModel, { rng: root.fork(4) }));
    this.t5 = this.child("t5_model", new T5(cfg.t5, root.fork(5)));
    const md = cfg.maskDecoder;
    this.maskDecoder = this.child(
      "mask_decoder",
      md.kind === "sam"
        ? new SamMaskDecoder(md, v.dim, cfg.qformer.dim, gridSide(cfg), cfg.numRegions, root.fork(6))
        : new TokenMlpMaskDecoder(md, v.dim, cfg.numRegions, root.fork(6)),
    );
    this.textProj = this.child("text_proj", new Linear(cfg.t5.dModel, v.dim, { rng: root.fork(7) }));
    this.logitScale = cfg.learnTemperature
      ? this.param("logit_scale", filled([1], Math.log(1 / cfg.temperature)))
      : null;
  }

  /** ln_vision(ViT(images)): (B, 3, S, S) -> (B, 1 + N, dv). */
  encodeImage(images: Tensor): Tensor {
    return this.lnVision.forward(this.visual.forward(images));
  }

  /** Q-Former queries for an instruction: -> (B, Q, dq). */
  queries(image: Tensor, instrIds: Tensor, instrMask: Tensor): Tensor {
    return this.qformer.forward(image, instrIds, instrMask, this.cfg.dropout).queries;
  }

  /** T5 encoder over [t5_proj(queries); embed(instruction)] -> output and its mask. */
  encodeReport(queries: Tensor, instrIds: Tensor, instrMask: Tensor): { enc: Tensor; mask: Tensor } {
    const B = queries.shape[0], Q = queries.shape[1];
    const embeds = concat([this.t5Proj.forward(queries), this.t5.embed(instrIds)], 1);
    const mask = concat([ones([B, Q], { device: queries.device }), instrMask], 1);
    return { enc: this.t5.encode(embeds, mask, this.cfg.dropout), mask };
  }

  /** The whole forward pass of the report/mask branch (teacher-forced when `decoderIn` is given). */
  forward(b: ModelBatch): ForwardOutput {
    this.#check(b);
    const image = this.encodeImage(b.images);
    const queries = this.queries(image, b.instrIds, b.instrMask);
    const maskLogits = this.maskDecoder.forward({ image, regions: b.regions, queries });
    const { enc, mask } = this.encodeReport(queries, b.instrIds, b.instrMask);
    const lmLogits = b.decoderIn ? this.t5.decode(b.decoderIn, enc, mask, this.cfg.dropout) : null;
    return { image, queries, maskLogits, encoder: enc, encoderMask: mask, lmLogits };
  }

  /** The stage's loss terms and their weighted total. */
  losses(b: ModelBatch, o: LossOptions): LossTerms {
    if (o.stage === "fpn") {
      if (!b.labels) throw new Error("ForgeryTalker.losses: the fpn stage needs `labels`");
      const fpn = fpnLoss(this.fpn.forward(b.images).logits, b.labels, {
        negWeight: o.fpnNegWeight,
        dice: o.fpnDice,
      });
      return { loss: fpn, terms: { fpn } };
    }
    if (!b.masks || !b.targets || !b.decoderIn) {
      throw new Error(`ForgeryTalker.losses: stage ${o.stage} needs masks, decoderIn and targets`);
    }
    const out = this.forward(b);
    const lm = tokenLoss(out.lmLogits!, b.targets);
    const seg = segLoss(out.maskLogits, b.masks, { variant: o.segVariant });
    if (o.stage === "finetune") return { loss: add(lm, seg), terms: { lm, seg } };
    const w = o.weights ?? { mlm: 2, lm: 1, seg: 1, contrastive: 1 };
    if (!b.mlmIds || !b.mlmMask || !b.mlmTargets) {
      throw new Error("ForgeryTalker.losses: the pretrain stage needs mlmIds, mlmMask and mlmTargets");
    }
    // MLM: a second Q-Former pass over the masked caption, read by the MLM head
    const qf = this.qformer.forward(out.image, b.mlmIds, b.mlmMask, this.cfg.dropout);
    const mlm = tokenLoss(this.qformer.mlmHead.forward(qf.text!), b.mlmTargets);
    // ITC: image CLS vs the pooled, T5-projected queries mapped back to the vision width
    const B = out.image.shape[0], dv = this.cfg.vision.dim;
    const imageCls = reshape(slice(out.image, 1, 0, 1), [B, dv]);
    const pooled = mean(this.t5Proj.forward(out.queries), 1); // (B, d)
    const itc = contrastiveLoss(
      imageCls,
      this.textProj.forward(pooled),
      this.cfg.temperature,
      this.logitScale,
    );
    const loss = add(
      add(scale(mlm, w.mlm), scale(lm, w.lm)),
      add(scale(seg, w.seg), scale(itc, w.contrastive)),
    );
    return { loss, terms: { mlm, lm, seg, contrastive: itc } };
  }

  #check(b: ModelBatch): void {
    const S = this.cfg.imageSize;
    const B = b.images.shape[0];
    if (
      b.images.ndim !== 4 || b.images.shape[1] !== 3 || b.images.shape[2] !== S || b.images.shape[3] !== S
    ) {
      throw new Error(`ForgeryTalker: images ${fmtShape(b.images.shape)}: expected (B, 3, ${S}, ${S})`);
    }
    if (b.regions.ndim !== 2 || b.regions.shape[0] !== B || b.regions.shape[1] !== this.cfg.numRegions) {
      throw new Error(
        `ForgeryTalker: regions ${fmtShape(b.regions.shape)}: expected (${B}, ${this.cfg.numRegions})`,
      );
    }
    if (b.instrIds.ndim !== 2 || b.instrIds.shape[0] !== B || b.instrIds.dtype !== "int32") {
      throw new Error(
        `ForgeryTalker: instrIds ${fmtShape(b.instrIds.shape)} ${b.instrIds.dtype}: expected int32 (${B}, T)`,
      );
    }
  }
}
