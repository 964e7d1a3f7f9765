/**
 * The standalone evaluator behind `deno task eval`: scores a predictions file against an
 * MMTT split's ground truth (captions, masks, region labels) and builds the report.
 * Masks are streamed (a small pool of concurrent reads; only per-image pixel counts are
 * kept), so memory stays flat on 15,000+ image splits. Problems with predictions are
 * collected as one line each and counted; with `strict` the first one is fatal.
 * Missing predictions are scored as an empty caption and an empty mask; an unreadable
 * predicted mask is scored as empty.
 */
import { readMMTT, type SPLIT_FILES, splitPath } from "../data/mmtt.ts";
import { readImage, toGray } from "../data/image_io.ts";
import { regionLabels } from "../data/regions.ts";
import { ptbTokenizeRun } from "./ptb_tokenizer.ts";
import { bleuScores } from "./bleu.ts";
import { rougeScores } from "./rouge.ts";
import { ciderScores } from "./cider.ts";
import {
  addMeteorStats,
  emptyMeteorStats,
  meteorFromStats,
  meteorResources,
  meteorSegmentStats,
  type MeteorStats,
} from "./meteor/scorer.ts";
import { type GtMask, MaskAccumulator, maskCounts, type ProbMap } from "./mask_metrics.ts";
import { plmSample } from "./plm.ts";
import { readPredictions, sampleKey } from "./predictions.ts";
import type { ReportRow } from "./report.ts";

/** Inputs of one evaluation run. */
export interface EvaluateOptions {
  predFile: string;
  dataDir: string;
  split: keyof typeof SPLIT_FILES;
  strict?: boolean;
  /** Called with (done, total) as images are scored. */
  onProgress?: (done: number, total: number) => void;
  /** Called once per issue line as it is found. */
  onIssue?: (line: string) => void;
  /** Concurrent mask reads (default 8). */
  concurrency?: number;
  /** Decode every image and mask of the split first (readMMTT's `verify`). */
  verify?: boolean;
  /** Accept split and prediction paths outside their root folders. */
  allowOutside?: boolean;
}

/** The JSON report written by the CLI. */
export interface EvaluationReport {
  split: string;
  dataDir: string;
  predFile: string;
  images: number;
  predictions: number;
  issues: Record<string, number>;
  issueLines: string[];
  rows: ReportRow[];
  meteorResources: string;
  seconds: number;
}

/** Thrown in strict mode on the first problem with the predictions. */
export class PredictionIssue extends Error {}

const MAX_ISSUE_LINES = 200;

/** Decode a predicted mask PNG into a probability map (8-bit /255; a 0/1 image as-is). */
async function readProbMap(path: string): Promise<ProbMap> {
  const img = toGray(await readImage(path));
  let max = 0;
  for (let i = 0; i < img.data.length; i++) if (img.data[i] > max) max = img.data[i];
  const scale = max <= 1 ? 1 : 1 / 255;
  const data = new Float32Array(img.data.length);
  for (let i = 0; i < data.length; i++) data[i] = img.data[i] * scale;
  return { width: img.width, height: img.height, data };
}

async function readGt(path: string): Promise<GtMask> {
  const img = toGray(await readImage(path));
  return { width: img.width, height: img.height, data: img.data };
}

/** Run the evaluation and build the report. */
export async function evaluate(opts: EvaluateOptions): Promise<EvaluationReport> {
  const t0 = performance.now();
  const issues: Record<string, number> = {
    missing: 0,
    duplicate: 0,
    unknown: 0,
    bad_record: 0,
    unreadable_mask: 0,
  };
  const issueLines: string[] = [];
  const report = (kind: string, line: string) => {
    if (opts.strict) throw new PredictionIssue(line);
    issues[kind] = (issues[kind] ?? 0) + 1;
    if (issueLines.length < MAX_ISSUE_LINES) issueLines.push(line);
    opts.onIssue?.(line);
  };

  const records = await readMMTT(splitPath(opts.dataDir, opts.split), opts.dataDir, {
    checkFiles: false,
    verify: opts.verify,
    allowOutside: opts.allowOutside,
  });
  if (records.length === 0) throw new Error(`split '${opts.split}' in '${opts.dataDir}' has no records`);
  const preds = await readPredictions(opts.predFile, { allowOutside: opts.allowOutside });
  for (const is of preds.issues) report(is.kind, is.line);
  const known = new Set(records.map((r) => sampleKey(r.image_id, r.instance_id)));
  for (const key of preds.byKey.keys()) {
    if (!known.has(key)) report("unknown", `prediction for ${key}: not in split '${opts.split}' (ignored)`);
  }

  const n = records.length;
  const counts = new Int32Array(n * 3);
  const plms = new Float64Array(n);
  // pycocoevalcap tokenizes all references in one run and all candidates in another; a caption's
  // tokens can depend on its neighbours in the run (src/eval/ptb_tokenizer.ts)
  const tokRef: string[] = ptbTokenizeRun(records.map((r) => r.caption));
  const tokHyp: string[] = ptbTokenizeRun(
    records.map((r) => preds.byKey.get(sampleKey(r.image_id, r.instance_id))?.caption ?? ""),
  );
  let next = 0;
  let done = 0;
  const worker = async () => {
    while (next < n) {
      const i = next++;
      const rec = records[i];
      const key = sampleKey(rec.image_id, rec.instance_id);
      const pred = preds.byKey.get(key);
      if (!pred) report("missing", `no prediction for ${key} (scored as empty caption and mask)`);
      let pm: ProbMap | null = null;
      if (pred?.maskFile) {
        try {
          pm = await readProbMap(pred.maskFile);
        } catch (e) {
          report("unreadable_mask", `mask of ${key}: ${(e as Error).message} (scored as empty)`);
        }
      }
      let gt: GtMask | null = null;
      if (rec.maskFile) {
        try {
          gt = await readGt(rec.maskFile);
        } catch (e) {
          throw new Error(`ground-truth mask of ${key}: ${(e as Error).message}`);
        }
      }
      const w = gt?.width ?? pm?.width ?? 1;
      const h = gt?.height ?? pm?.height ?? 1;
      gt ??= { width: w, height: h, data: new Uint8Array(w * h) };
      pm ??= { width: w, height: h, data: new Float32Array(w * h) };
      const c = maskCounts(pm, gt);
      counts[i * 3] = c.tp;
      counts[i * 3 + 1] = c.fp;
      counts[i * 3 + 2] = c.fn;
      const predLabels = pred?.multilabel ?? regionLabels(pred?.caption ?? "");
      plms[i] = plmSample(predLabels, rec.multilabel);
      done++;
      opts.onProgress?.(done, n);
    }
  };
  await Promise.all(Array.from({ length: opts.concurrency ?? 8 }, worker));

  // METEOR statistics once per image; every group sums its own.
  const res = meteorResources();
  const mstats: MeteorStats[] = tokRef.map((ref, i) => meteorSegmentStats(tokHyp[i], [ref], res));

  const groups = new Map<string, number[]>([["all", records.map((_, i) => i)]]);
  records.forEach((r, i) => {
    if (r.forgery_type === undefined) return;
    const g = groups.get(r.forgery_type) ?? [];
    g.push(i);
    groups.set(r.forgery_type, g);
  });
  const rows: ReportRow[] = [];
  for (const [name, idx] of groups) rows.push(scoreGroup(name, idx, tokRef, tokHyp, mstats, counts, plms));
  return {
    split: opts.split,
    dataDir: opts.dataDir,
    predFile: opts.predFile,
    images: n,
    predictions: preds.total,
    issues,
    issueLines,
    rows,
    meteorResources: res.source,
    seconds: (performance.now() - t0) / 1000,
  };
}

function scoreGroup(
  name: string,
  idx: number[],
  tokRef: string[],
  tokHyp: string[],
  mstats: MeteorStats[],
  counts: Int32Array,
  plms: Float64Array,
): ReportRow {
  const g: Record<string, string[]> = {};
  const r: Record<string, string[]> = {};
  for (const i of idx) {
    g[String(i)] = [tokRef[i]];
    r[String(i)] = [tokHyp[i]];
  }
  const bleu = bleuScores(g, r);
  const acc = emptyMeteorStats();
  for (const i of idx) addMeteorStats(acc, mstats[i]);
  const masks = new MaskAccumulator();
  let plmSum = 0;
  for (const i of idx) {
    masks.addCounts({ tp: counts[i * 3], fp: counts[i * 3 + 1], fn: counts[i * 3 + 2] });
    plmSum += plms[i];
  }
  const m = masks.result();
  return {
    name,
    n: idx.length,
    CIDEr: ciderScores(g, r).score * 100,
    METEOR: meteorFromStats(acc).score * 100,
    "BLEU-1": bleu[0] * 100,
    "BLEU-2": bleu[1] * 100,
    "BLEU-3": bleu[2] * 100,
    "BLEU-4": bleu[3] * 100,
    "ROUGE-L": rougeScores(g, r).score * 100,
    IoU: m.iou * 100,
    Precision: m.precision * 100,
    Recall: m.recall * 100,
    PLM: (plmSum / idx.length) * 100,
    cIoU: m.cumulativeIoU * 100,
  };
}
