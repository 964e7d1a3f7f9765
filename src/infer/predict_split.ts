/**
 * Model-driven predictions over an MMTT split, written in the `--pred` format that
 * `deno task eval` scores (src/eval/predictions.ts): PRED.json (one record per sample:
 * image_id, instance_id, caption = the explanation, mask_path, multilabel = the FPN's regions
 * at 0.5) and masks/ (the model-resolution S×S probability map binarised at 0.5, 0/255 PNG;
 * the evaluator resizes it to the ground truth with nearest — the official protocol).
 * Robustness variants degrade the image before preprocessing (src/data/transforms.ts).
 * @module
 */
import { join } from "node:path";
import { readMMTT, type SPLIT_FILES, splitPath } from "../data/mmtt.ts";
import { encodePng, readImage, toRgb, writeFileAtomic } from "../data/image_io.ts";
import { type Degradation, degrade, preprocessImage } from "../data/transforms.ts";
import { REGIONS } from "../data/regions.ts";
import { type AnalyzeOptions, decodingSettings, type LoadedModel, runModel } from "./analyze.ts";

/** Where the instruction's regions come from at evaluation (ablations). */
export type EvalRegions = "fpn" | "gt" | "none";

/** Options of `predictSplit`. */
export interface PredictSplitOptions {
  model: LoadedModel;
  dataDir: string;
  split: keyof typeof SPLIT_FILES;
  /** Folder for PRED.json and masks/ (created). */
  outDir: string;
  /** Images per model batch (default 8). */
  batch?: number;
  /** Decoding settings (defaults: beam 5, 100 new tokens, ...). */
  decoding?: AnalyzeOptions;
  degradation?: Degradation;
  /** Region source override (default: the model's own, i.e. the FPN unless trained without). */
  regions?: EvalRegions;
  /** Only the first N records (quick checks). */
  limit?: number;
  onProgress?: (done: number, total: number) => void;
}

/** File-name-safe form of a sample id. */
function safe(id: string): string {
  return id.replace(/[^A-Za-z0-9._-]/g, "_");
}

/** Runs the model over the split and writes PRED.json + masks; returns the PRED.json path. */
export async function predictSplit(
  o: PredictSplitOptions,
): Promise<{ predFile: string; n: number; seconds: number }> {
  const t0 = performance.now();
  let records = await readMMTT(splitPath(o.dataDir, o.split), o.dataDir, { checkFiles: false });
  if (o.limit !== undefined) records = records.slice(0, o.limit);
  if (!records.length) throw new Error(`split '${o.split}' in '${o.dataDir}' has no records`);
  const m = o.model, S = m.config.imageSize, R = REGIONS.length;
  const dec = decodingSettings(o.decoding ?? {});
  const bs = o.batch ?? 8;
  await Deno.mkdir(join(o.outDir, "masks"), { recursive: true });
  const preds: Record<string, unknown>[] = [];
  for (let s = 0; s < records.length; s += bs) {
    const chunk = records.slice(s, s + bs), B = chunk.length;
    const pixels = new Float32Array(B * 3 * S * S);
    for (let b = 0; b < B; b++) {
      let img = toRgb(await readImage(chunk[b].imageFile));
      if (o.degradation) img = degrade(img, o.degradation);
      preprocessImage(img, S, pixels, b * 3 * S * S);
    }
    let override: Float32Array | undefined;
    if (o.regions === "gt") {
      override = Float32Array.from(chunk.flatMap((r) => r.multilabel.map((v) => (v > 0 ? 1 : 0))));
    } else if (o.regions === "none") override = new Float32Array(B * R);
    else if (o.regions === "fpn" && m.regionSource === "none") {
      throw new Error(`regions 'fpn' requested but '${m.path}' was trained without FPN regions`);
    }
    const res = runModel(m, pixels, B, dec, 0.5, override);
    for (let b = 0; b < B; b++) {
      const rec = chunk[b];
      const gray = new Uint8Array(S * S);
      for (let i = 0; i < S * S; i++) gray[i] = res.maskProbs[b * S * S + i] >= 0.5 ? 255 : 0;
      const rel = `masks/${safe(rec.image_id)}__${safe(rec.instance_id)}.png`;
      await writeFileAtomic(join(o.outDir, rel), encodePng({ width: S, height: S, channels: 1, data: gray }));
      const multilabel = Array.from(res.regionProbs.subarray(b * R, (b + 1) * R), (v) => (v > 0.5 ? 1 : 0));
      preds.push({
        image_id: rec.image_id,
        instance_id: rec.instance_id,
        caption: res.explanations[b].text,
        mask_path: rel,
        multilabel,
      });
    }
    o.onProgress?.(Math.min(records.length, s + B), records.length);
  }
  const predFile = join(o.outDir, "predictions.json");
  await writeFileAtomic(predFile, new TextEncoder().encode(JSON.stringify(preds, null, 1) + "\n"));
  return { predFile, n: records.length, seconds: (performance.now() - t0) / 1000 };
}
