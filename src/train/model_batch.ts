/**
 * Turns a loader `Batch` (images, masks, labels, captions as host arrays) into the model's
 * `ModelBatch` tensors: the instruction from the chosen region scores, caption ids for
 * teacher forcing (targets −100 at padding), and the Q-Former MLM inputs (region words and a
 * random 15 % of the other caption tokens replaced by <mask>, drawn from a seeded stream).
 *
 * Region sources: `gt` (pretraining, and the `--fpn-gt` oracle), `fpn` (the FPN's
 * predictions, thresholded at 0.5: fine-tuning and inference), `none` (the `--no-fpn`
 * ablation: no regions in the instruction or the mask prompts).
 * @module
 */
import { intTensor, tensor } from "../tensor/create.ts";
import type { Tensor } from "../tensor/tensor.ts";
import type { Batch } from "../data/loader.ts";
import { SPECIAL_TOKENS, type Tokenizer } from "../data/tokenizer.ts";
import { regionLabels, REGIONS } from "../data/regions.ts";
import type { Rng } from "../tensor/rng.ts";
import type { ModelBatch } from "../model/forgerytalker.ts";
import { IGNORE } from "../model/losses.ts";
import { instruction, selectedRegions } from "../model/instruction.ts";
import type { ForgeryTalkerConfig } from "../model/config.ts";

/** Where the instruction's regions come from. */
export type RegionSource = "gt" | "fpn" | "none";

/** Token ids of texts, right-padded with 0, with a 0/1 mask; too-long texts keep their end. */
export function padIds(
  seqs: number[][],
  maxLen: number,
  keep: "start" | "end" = "start",
): { ids: Int32Array; mask: Float32Array; T: number } {
  const cut = seqs.map((
    s,
  ) => (s.length <= maxLen ? s : keep === "start" ? s.slice(0, maxLen) : s.slice(s.length - maxLen)));
  const T = Math.max(1, ...cut.map((s) => s.length));
  const ids = new Int32Array(cut.length * T), mask = new Float32Array(cut.length * T);
  cut.forEach((s, b) => {
    ids.set(s, b * T);
    mask.fill(1, b * T, b * T + s.length);
  });
  return { ids, mask, T };
}

/** Caption ids (with </s>) as decoder inputs (shifted right, start 0) and targets (−100 pads). */
export function captionTensors(
  tok: Tokenizer,
  captions: readonly string[],
  maxLen: number,
): { decoderIn: Tensor; targets: Tensor } {
  const seqs = captions.map((c) => {
    const ids = tok.encode(c, { eos: true });
    // keep the end-of-sequence token when truncating so the model learns to stop
    return ids.length <= maxLen ? ids : [...ids.slice(0, maxLen - 1), SPECIAL_TOKENS.eos];
  });
  const { ids, mask, T } = padIds(seqs, maxLen);
  const B = captions.length;
  const decIn = new Int32Array(B * T), targets = new Int32Array(B * T);
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) {
      const i = b * T + t;
      targets[i] = mask[i] ? ids[i] : IGNORE;
      decIn[i] = t === 0 ? SPECIAL_TOKENS.pad : mask[i - 1] ? ids[i - 1] : SPECIAL_TOKENS.pad;
    }
  }
  return { decoderIn: intTensor(decIn, [B, T]), targets: intTensor(targets, [B, T]) };
}

/** Instruction ids for the given region scores (B × 21 host values). */
export function instructionTensors(
  tok: Tokenizer,
  scores: ArrayLike<number>,
  B: number,
  cfg: ForgeryTalkerConfig,
): { instrIds: Tensor; instrMask: Tensor; texts: string[] } {
  const texts: string[] = [];
  for (let b = 0; b < B; b++) {
    const row = Array.from({ length: REGIONS.length }, (_, i) => scores[b * REGIONS.length + i]);
    texts.push(instruction(selectedRegions(row), cfg.template));
  }
  // the official code truncates instructions from the left (keeps the end)
  const { ids, mask, T } = padIds(
    texts.map((t) => tok.encode(t, { eos: true })),
    cfg.maxInstructionLen,
    "end",
  );
  return { instrIds: intTensor(ids, [B, T]), instrMask: tensor(mask, [B, T]), texts };
}

/**
 * Q-Former MLM inputs from captions: tokens of words naming a region are always masked (the
 * official code's region-term masking), other tokens with probability 0.15.
 */
export function mlmTensors(
  tok: Tokenizer,
  captions: readonly string[],
  maxLen: number,
  rng: Rng,
): { mlmIds: Tensor; mlmMask: Tensor; mlmTargets: Tensor } {
  const B = captions.length;
  const seqs: number[][] = [], force: boolean[][] = [];
  for (const c of captions) {
    // group the caption's tokens into words (a piece starting with ▁ opens a word) so the
    // tokens of region words can be found; ids are exactly the caption's encoding
    const ids = tok.encode(c), f = new Array<boolean>(ids.length).fill(false);
    let start = 0;
    const flush = (end: number) => {
      const word = ids.slice(start, end).map((id) => tok.idToToken(id)).join("").replaceAll("\u2581", " ");
      if (regionLabels(word).some((v) => v > 0)) f.fill(true, start, end);
    };
    for (let i = 1; i <= ids.length; i++) {
      if (i === ids.length || tok.idToToken(ids[i]).startsWith("\u2581")) {
        flush(i);
        start = i;
      }
    }
    ids.push(SPECIAL_TOKENS.eos), f.push(false);
    seqs.push(ids.slice(0, maxLen));
    force.push(f.slice(0, maxLen));
  }
  const { ids, mask, T } = padIds(seqs, maxLen);
  const targets = new Int32Array(B * T).fill(IGNORE);
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) {
      const i = b * T + t;
      if (!mask[i] || ids[i] === SPECIAL_TOKENS.eos) continue;
      if (force[b][t] || rng.uniform() < 0.15) {
        targets[i] = ids[i];
        ids[i] = SPECIAL_TOKENS.mask;
      }
    }
  }
  return {
    mlmIds: intTensor(ids, [B, T]),
    mlmMask: tensor(mask, [B, T]),
    mlmTargets: intTensor(targets, [B, T]),
  };
}

/** Everything `toModelBatch` needs besides the batch. */
export interface BatchContext {
  cfg: ForgeryTalkerConfig;
  tok: Tokenizer;
  /** Region scores (B × 21) for the instruction: labels, FPN predictions or zeros. */
  regionScores: Float32Array;
  /** Build the MLM inputs (pretraining). */
  mlm: boolean;
  /** Stream of the MLM masking. */
  rng: Rng;
}

/** The model batch of a loader batch. The caller disposes the tensors (e.g. inside `tidy`). */
export function toModelBatch(b: Batch, ctx: BatchContext): ModelBatch & { instructions: string[] } {
  const B = b.ids.length, S = ctx.cfg.imageSize, R = REGIONS.length;
  const regions = ctx.regionScores.map((v) => (v > 0.5 ? 1 : 0));
  const instr = instructionTensors(ctx.tok, regions, B, ctx.cfg);
  const cap = captionTensors(ctx.tok, b.captions, ctx.cfg.maxCaptionLen);
  const out: ModelBatch & { instructions: string[] } = {
    images: tensor(b.images, [B, 3, S, S]),
    masks: tensor(b.masks, [B, 1, S, S]),
    labels: tensor(b.labels, [B, R]),
    regions: tensor(regions, [B, R]),
    instrIds: instr.instrIds,
    instrMask: instr.instrMask,
    instructions: instr.texts,
    ...cap,
  };
  if (ctx.mlm) Object.assign(out, mlmTensors(ctx.tok, b.captions, ctx.cfg.maxCaptionLen, ctx.rng));
  return out;
}
