/**
 * The noise-residual probe: a one-line high-pass filter (|4·g − up − down − left − right| on
 * the grey image) used as a per-pixel forgery score, and its pixel AUC against the masks,
 * pooled over a batch. A generator without shortcuts keeps it near 0.5 (no learning needed
 * to localise forgeries would mean the forged pixels carry a residual signature).
 */
import type { Image } from "../image_io.ts";

const BINS = 4096;

/** Add one image's high-pass scores (by mask value) to the histograms `pos` and `neg`. */
export function addProbe(image: Image, mask: Image, pos: Float64Array, neg: Float64Array): void {
  const { width: w, height: h, data } = image;
  if (mask.width !== w || mask.height !== h) throw new Error("probe: image and mask sizes differ");
  const g = new Float32Array(w * h);
  for (let i = 0; i < w * h; i++) g[i] = (data[i * 3] + data[i * 3 + 1] + data[i * 3 + 2]) / 3;
  for (let y = 1; y < h - 1; y++) {
    for (let x = 1; x < w - 1; x++) {
      const i = y * w + x;
      const r = Math.abs(4 * g[i] - g[i - 1] - g[i + 1] - g[i - w] - g[i + w]);
      const b = Math.min(BINS - 1, Math.round(r * 4));
      if (mask.data[i]) pos[b]++;
      else neg[b]++;
    }
  }
}

/** New empty histograms for `addProbe`. */
export function probeHistograms(): { pos: Float64Array; neg: Float64Array } {
  return { pos: new Float64Array(BINS), neg: new Float64Array(BINS) };
}

/** AUC (ties count half) of the scores whose histograms are `pos` and `neg`; NaN if one is empty. */
export function aucFromHistograms(pos: Float64Array, neg: Float64Array): number {
  let np = 0, nn = 0;
  for (let b = 0; b < pos.length; b++) (np += pos[b]), (nn += neg[b]);
  if (!np || !nn) return NaN;
  let below = 0, s = 0;
  for (let b = 0; b < pos.length; b++) {
    s += pos[b] * (below + 0.5 * neg[b]);
    below += neg[b];
  }
  return s / (np * nn);
}
