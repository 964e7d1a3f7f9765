/**
 * `captionMetrics(gts, res)`: the COCO caption evaluation (pycocoevalcap's COCOEvalCap)
 * on its raw scale. Both sides are PTB-tokenized first, each side in one tokenizer run as
 * pycocoevalcap does (so run-level effects match it, see ptb_tokenizer.ts), then BLEU-1..4,
 * METEOR, ROUGE-L and CIDEr(-D) are computed over the ids of `gts`.
 */
import { ptbTokenizeRun } from "./ptb_tokenizer.ts";
import { bleuScores } from "./bleu.ts";
import { rougeScores } from "./rouge.ts";
import { ciderScores } from "./cider.ts";
import { meteorScores } from "./meteor/scorer.ts";

/** The scores pycocoevalcap reports, raw scale (multiply by 100 for papers' tables). */
export interface CaptionScores {
  Bleu_1: number;
  Bleu_2: number;
  Bleu_3: number;
  Bleu_4: number;
  METEOR: number;
  ROUGE_L: number;
  CIDEr: number;
}

/** Options for `captionMetrics`. */
export interface CaptionMetricOptions {
  /** Inputs are already PTB-tokenized (skip tokenization). */
  tokenized?: boolean;
  /** Skip METEOR (reported as NaN), e.g. when only n-gram metrics are needed quickly. */
  skipMeteor?: boolean;
}

/**
 * Score one candidate per id (`res[id] = [caption]`) against its references (`gts[id]`).
 * Ids must match exactly, as in the reference code; every id needs at least one reference.
 */
export function captionMetrics(
  gts: Record<string, string[]>,
  res: Record<string, string[]>,
  opts: CaptionMetricOptions = {},
): CaptionScores {
  const gk = Object.keys(gts);
  const rk = Object.keys(res);
  if (gk.length === 0) throw new Error("captionMetrics: no ids to score");
  const missing = gk.filter((k) => !(k in res));
  const extra = rk.filter((k) => !(k in gts));
  if (missing.length || extra.length) {
    throw new Error(
      `captionMetrics: gts and res must have the same ids (missing in res: ${
        missing.slice(0, 5).join(", ") || "none"
      }; extra in res: ${extra.slice(0, 5).join(", ") || "none"})`,
    );
  }
  for (const k of gk) {
    if (!Array.isArray(res[k]) || res[k].length !== 1) {
      throw new Error(`captionMetrics: res['${k}'] must hold exactly one caption`);
    }
    if (!Array.isArray(gts[k]) || gts[k].length === 0) {
      throw new Error(`captionMetrics: gts['${k}'] must hold at least one reference`);
    }
  }
  const { g, r } = opts.tokenized ? copySides(gk, gts, res) : tokenizeSides(gk, gts, res);
  const bleu = bleuScores(g, r);
  return {
    Bleu_1: bleu[0],
    Bleu_2: bleu[1],
    Bleu_3: bleu[2],
    Bleu_4: bleu[3],
    METEOR: opts.skipMeteor ? NaN : meteorScores(g, r).score,
    ROUGE_L: rougeScores(g, r).score,
    CIDEr: ciderScores(g, r).score,
  };
}

/** Pre-tokenized input: copy both sides as they are. */
function copySides(
  ids: string[],
  gts: Record<string, string[]>,
  res: Record<string, string[]>,
): { g: Record<string, string[]>; r: Record<string, string[]> } {
  const g: Record<string, string[]> = {};
  const r: Record<string, string[]> = {};
  for (const k of ids) {
    g[k] = gts[k].slice();
    r[k] = res[k].slice();
  }
  return { g, r };
}

/**
 * Tokenize the references in one run and the candidates in another, both in the order of
 * `ids` (= `Object.keys(gts)`; pycocoevalcap builds both dicts in the same image-id order),
 * and hand the output lines back to the captions in that order.
 */
function tokenizeSides(
  ids: string[],
  gts: Record<string, string[]>,
  res: Record<string, string[]>,
): { g: Record<string, string[]>; r: Record<string, string[]> } {
  const refLines = ptbTokenizeRun(ids.flatMap((k) => gts[k]));
  const candLines = ptbTokenizeRun(ids.map((k) => res[k][0]));
  const g: Record<string, string[]> = {};
  const r: Record<string, string[]> = {};
  let at = 0;
  ids.forEach((k, i) => {
    g[k] = refLines.slice(at, at + gts[k].length);
    at += gts[k].length;
    r[k] = [candLines[i]];
  });
  return { g, r };
}
