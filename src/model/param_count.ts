/**
 * Parameter counts per component computed from a config alone (no weights allocated), so
 * `deno task train --config paper --dry-run` can size the 5B-parameter model on a laptop.
 * tests/model/param_count_test.ts checks every formula against instantiated modules.
 *
 * Published references for the `paper` config (docs/model.md has the arithmetic):
 * - Flan-T5-XL: 2,849,757,184 (Hugging Face `google/flan-t5-xl`, num_parameters()).
 * - EVA ViT-g/14 as BLIP-2 uses it (39 of EVA's 40 blocks): EVA reports 1,011M for 40 blocks.
 * - ViT-H/14 (the official FPN's trunk): 632M in the ViT paper (Table 1, 1000-class head).
 * - InstructBLIP's Q-Former: the layer shapes of LAVIS' Qformer.py (BERT-base, 32 queries,
 *   cross-attention every 2nd layer, vocab 30523, `cls = None`); BLIP-2 rounds it to 188M.
 * @module
 */
import type { ForgeryTalkerConfig, FPNConfig, QFormerConfig, T5Config, ViTConfig } from "./config.ts";

const lin = (i: number, o: number, bias = true) => i * o + (bias ? o : 0);
const ln = (d: number) => 2 * d;

/** Separate-q/k/v multi-head attention (our MultiHeadAttention): width d, internal e, kv width kv. */
const mha = (d: number, e = d, kv = d) => lin(d, e) + 2 * lin(kv, e) + lin(e, d);

/** A ViT trunk: patch embedding, CLS, positions, blocks (EVA or separate attention), optional final norm. */
export function vitParams(
  v: ViTConfig,
  imageSize: number,
  layout: "eva" | "separate",
  finalNorm: boolean,
): number {
  const n = (imageSize / v.patchSize) ** 2;
  const embed = lin(3 * v.patchSize * v.patchSize, v.dim) + v.dim + (1 + n) * v.dim;
  const attn = layout === "eva" ? lin(v.dim, 3 * v.dim, false) + 2 * v.dim + lin(v.dim, v.dim) : mha(v.dim);
  const block = 2 * ln(v.dim) + attn + lin(v.dim, v.mlpDim) + lin(v.mlpDim, v.dim);
  return embed + v.depth * block + (finalNorm ? ln(v.dim) : 0);
}

/** The FPN: ViT-H-style trunk (+ final norm), conv branch (CoordConv 7->d, BN, conv 5×5, BN), head. */
export function fpnParams(
  f: FPNConfig,
  imageSize: number,
  numRegions: number,
): { trunk: number; convBranch: number; head: number } {
  const d = f.dim;
  return {
    trunk: vitParams(f, imageSize, "separate", true),
    convBranch: (7 * d * 9 + d) + 2 * d + (d * d * 25 + d) + 2 * d,
    head: lin(d, numRegions),
  };
}

/** The Q-Former: queries, text embeddings + LayerNorm, layers, MLM head. */
export function qformerParams(q: QFormerConfig, visionDim: number): { body: number; mlmHead: number } {
  const d = q.dim;
  const embeddings = q.numQueries * d + q.vocabSize * d + q.maxTextLen * d + ln(d);
  const ff = lin(d, q.mlpDim) + lin(q.mlpDim, d) + ln(d);
  let layers = 0;
  for (let i = 0; i < q.depth; i++) {
    layers += mha(d) + ln(d) + 2 * ff;
    if (i % q.crossAttentionFreq === 0) layers += mha(d, d, visionDim) + ln(d);
  }
  return { body: embeddings + layers, mlmHead: lin(d, q.vocabSize) };
}

/** T5ForConditionalGeneration. */
export function t5Params(t: T5Config): number {
  const d = t.dModel, inner = t.heads * t.dKv;
  const attn = 4 * d * inner + d;
  const ff = 2 * d * t.dFf + t.dFf * d + d;
  const rel = t.relBuckets * t.heads;
  const enc = t.encoderLayers * (attn + ff) + rel + d;
  const dec = t.decoderLayers * (2 * attn + ff) + rel + d;
  return t.vocabSize * d + enc + dec + (t.tied ? 0 : d * t.vocabSize);
}

/** Mask decoder (SAM or token-MLP). */
export function maskDecoderParams(c: ForgeryTalkerConfig): number {
  const m = c.maskDecoder, C = m.dim, e = C / m.downsample, vd = c.vision.dim;
  const block = mha(C) + 4 * ln(C) + 2 * mha(C, e) + lin(C, m.mlpDim) + lin(m.mlpDim, C);
  const twoWay = m.depth * block + mha(C, e) + ln(C);
  const prompts = c.numRegions * C + C;
  const deep = (i: number, h: number, o: number) => lin(i, h) + lin(h, h) + lin(h, o);
  if (m.kind === "token-mlp") {
    return lin(vd, C) + prompts + mha(C) + C + twoWay + deep(C, C, m.maskSize ** 2) +
      deep(C, C, c.numRegions + 1);
  }
  const upscale = (C * (C / 4) * 4 + C / 4) + 2 * (C / 4) + ((C / 4) * (C / 8) * 4 + C / 8);
  return lin(vd, C) + ln(C) + lin(c.qformer.dim, C) + mha(C) + ln(C) + prompts + C + twoWay + upscale +
    deep(C, C, C / 8);
}

/** Trainable parameter counts of every top-level component and the total. */
export function countParameters(c: ForgeryTalkerConfig): Record<string, number> {
  const fpn = fpnParams(c.fpn, c.imageSize, c.numRegions);
  const qf = qformerParams(c.qformer, c.vision.dim);
  const out: Record<string, number> = {
    visual_encoder: vitParams(c.vision, c.imageSize, "eva", false),
    ln_vision: ln(c.vision.dim),
    fpn: fpn.trunk + fpn.convBranch + fpn.head,
    Qformer: qf.body + qf.mlmHead,
    t5_proj: lin(c.qformer.dim, c.t5.dModel),
    t5_model: t5Params(c.t5),
    mask_decoder: maskDecoderParams(c),
    text_proj: lin(c.t5.dModel, c.vision.dim),
  };
  if (c.learnTemperature) out.logit_scale = 1;
  out.total = Object.values(out).reduce((a, b) => a + b, 0);
  return out;
}
