/**
 * The demo's prediction step: run the trained localizer on a split, write one probability
 * mask PNG per sample (at the ground-truth size, 8-bit = p·255) and PRED.json in the
 * evaluator's format. The caption is a clearly-labelled *template baseline* that names the
 * regions the region head predicts; real explanations come with the report decoder later.
 * @module
 */
import { join, relative } from "node:path";
import { tensor } from "../tensor/create.ts";
import { tidy } from "../tensor/scope.ts";
import { noGrad } from "../autograd/tape.ts";
import { sigmoid } from "../ops/unary.ts";
import { interpolate } from "../ops/resize.ts";
import { slice } from "../ops/shape_ops.ts";
import { REGIONS } from "../data/regions.ts";
import { writeFileAtomic, writePng } from "../data/image_io.ts";
import { probeImage } from "../data/image_probe.ts";
import type { Localizer } from "./cnn_localizer.ts";
import type { InMemorySplit } from "./split_data.ts";

/** What every template caption is built from (printed by the demo, so nobody mistakes it). */
export const CAPTION_BASELINE =
  'template baseline: "The <predicted regions> show(s) signs of manipulation." (real explanations come with the report decoder in a later issue)';

/** "eye", "eye and lip", "eye, lip and nose". */
function joinNames(names: string[]): string {
  if (names.length <= 1) return names.join("");
  return `${names.slice(0, -1).join(", ")} and ${names[names.length - 1]}`;
}

/** The template caption for a set of region names (at least one). */
export function templateCaption(regions: string[]): string {
  if (regions.length === 0) return "No manipulated facial region was identified.";
  const verb = regions.length === 1 ? "shows" : "show";
  return `The ${joinNames(regions)} ${verb} signs of manipulation.`;
}

/**
 * Region labels from the head's probabilities: every class ≥ `threshold`; when none is,
 * the single most likely class (every synthetic sample is manipulated somewhere).
 */
export function pickRegions(probs: ArrayLike<number>, threshold = 0.5): number[] {
  const out = Array.from(probs, (p) => (p >= threshold ? 1 : 0));
  if (!out.includes(1)) {
    let best = 0;
    for (let i = 1; i < probs.length; i++) if (probs[i] > probs[best]) best = i;
    out[best] = 1;
  }
  return out;
}

/** One PRED.json record. */
export interface PredRecord {
  image_id: string;
  instance_id: string;
  caption: string;
  mask_path: string;
  multilabel: number[];
}

/**
 * Predict every record of `split` in batches of `batch`; writes `<maskDir>/<instance_id>.png`
 * and `predFile` (mask paths relative to its folder). Returns the records.
 */
export async function predictSplit(
  net: Localizer,
  split: InMemorySplit,
  opts: { predFile: string; maskDir: string; batch: number },
): Promise<PredRecord[]> {
  await Deno.mkdir(opts.maskDir, { recursive: true });
  const S = split.size, hw = S * S, N = split.records.length, R = REGIONS.length;
  const base = join(opts.predFile, "..");
  const out: PredRecord[] = [];
  net.eval();
  for (let b0 = 0; b0 < N; b0 += opts.batch) {
    const B = Math.min(opts.batch, N - b0);
    const recs = split.records.slice(b0, b0 + B);
    // Ground-truth size of this batch (a synthetic set has one size; resize per sample otherwise).
    const sizes = await Promise.all(recs.map((r) => gtSize(r.maskFile ?? r.imageFile)));
    const { maps, regionProbs } = noGrad(() =>
      tidy(() => {
        const x = tensor(split.images.subarray(b0 * 3 * hw, (b0 + B) * 3 * hw), [B, 3, S, S]);
        const o = net.forward(x);
        const maps = sizes.map(([h, w], i) =>
          Float32Array.from(sigmoid(interpolate(slice(o.mask, 0, i, i + 1), h, w, "bilinear")).data())
        );
        return { maps, regionProbs: Float32Array.from(sigmoid(o.regions).data()) };
      })
    );
    for (let i = 0; i < B; i++) {
      const r = recs[i], [h, w] = sizes[i];
      const labels = pickRegions(regionProbs.subarray(i * R, i * R + R));
      const file = join(opts.maskDir, `${r.instance_id}.png`);
      await writePng(file, { width: w, height: h, channels: 1, data: toBytes(maps[i]) }, 1);
      out.push({
        image_id: r.image_id,
        instance_id: r.instance_id,
        caption: templateCaption(REGIONS.filter((_, j) => labels[j] === 1)),
        mask_path: relative(base, file),
        multilabel: labels,
      });
    }
  }
  await writeFileAtomic(opts.predFile, new TextEncoder().encode(JSON.stringify(out, null, 1) + "\n"));
  return out;
}

/**
 * Probabilities -> bytes (round(p·255)). The evaluator reads a PNG whose maximum is ≤ 1 as a
 * 0/1 mask, so a map that is almost all zero (max byte 1, p < 0.004 everywhere) is written as
 * all zero: both binarise to an empty mask at 0.5.
 */
function toBytes(p: Float32Array): Uint8Array {
  const out = new Uint8Array(p.length);
  let max = 0;
  for (let i = 0; i < p.length; i++) {
    const v = Math.round(Math.min(1, Math.max(0, p[i])) * 255);
    out[i] = v;
    if (v > max) max = v;
  }
  if (max <= 1) out.fill(0);
  return out;
}

/** [height, width] of an image file (header only). */
async function gtSize(path: string): Promise<[number, number]> {
  const f = await Deno.open(path, { read: true });
  try {
    const head = new Uint8Array(65536);
    let off = 0;
    while (off < head.length) {
      const n = await f.read(head.subarray(off));
      if (n === null) break;
      off += n;
    }
    const p = probeImage(head.subarray(0, off), path);
    return [p.height, p.width];
  } finally {
    f.close();
  }
}
