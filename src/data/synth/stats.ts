/** Dataset statistics of a synthetic set (the paper's Figure 3 quantities) and their printout. */
import { REGIONS } from "../regions.ts";

/** One written sample as the generator reports it. */
export interface SynthRecord {
  index: number;
  image_id: string;
  instance_id: string;
  img_path: string;
  mask_path: string;
  caption: string;
  multilabel: number[];
  /** Absent for an untouched image. */
  forgery_type?: string;
  strong: boolean;
  maskFraction: number;
}

/** What stats.json holds. */
export interface SynthStats {
  n: number;
  seed: number;
  size: number;
  seconds: number;
  samplesPerSecond: number;
  splits: Record<string, number>;
  typeProportions: Record<string, number>;
  strongFraction: number;
  regionFrequency: Record<string, number>;
  partsPerImage: Record<string, number>;
  captionWords: { mean: number; min: number; max: number; histogram: Record<string, number> };
  maskFraction: { mean: number; min: number; max: number };
  /** Share of untouched images (requested and realised). */
  realShare: { requested: number; realised: number };
  /** Per forgery type: region classes by share of that type's images, most frequent first. */
  regionRankingByType: Record<string, [string, number][]>;
  /** Share of forged images naming 2–5 regions. */
  twoToFiveRegions: number;
  /** Distinct word 4-grams / all word 4-grams over the captions (lower-cased). */
  fourGramDiversity: number;
  /** Reference shape of MMTT, side by side (qualitative where the paper gives a figure only). */
  mmtt: typeof MMTT_REFERENCE;
}

/**
 * MMTT's shape as its paper's Figure 3 and text describe it (the exact bar heights are not
 * published as numbers; these are the properties the generator is tuned to reproduce).
 */
export const MMTT_REFERENCE = {
  typeOrder: "inpaint_diffusion and face_swap most common, then attribute_edit and inpaint_patch",
  topRegionsInEveryLocalisedFamily: ["eyebrow", "eye", "lip"],
  regionsPerImage: "2-5 common",
  captionWords: { mean: 27, max: 120 },
  frequentPhrases: ["skin tone", "facial skin", "nose bridge"],
  fourGramDiversity: "well above 0.13 (the issue's floor for template captions)",
} as const;

/** Distinct / total lower-cased word 4-grams over `captions`. */
export function fourGramDiversity(captions: string[]): number {
  const seen = new Set<string>();
  let total = 0;
  for (const c of captions) {
    const w = c.toLowerCase().replace(/[.,;:!?]/g, " ").split(/\s+/).filter(Boolean);
    for (let i = 0; i + 4 <= w.length; i++) {
      seen.add(`${w[i]} ${w[i + 1]} ${w[i + 2]} ${w[i + 3]}`);
      total++;
    }
  }
  return total ? seen.size / total : 0;
}

/** Compute the statistics of a set. */
export function computeStats(
  recs: SynthRecord[],
  splits: string[],
  seconds: number,
  meta: { seed: number; size: number; realShare?: number },
): SynthStats {
  const n = recs.length;
  const frac = (c: number) => (n ? c / n : 0);
  const types: Record<string, number> = {};
  const regions: Record<string, number> = Object.fromEntries(REGIONS.map((r) => [r, 0]));
  const parts: Record<string, number> = {};
  const hist: Record<string, number> = {};
  const split: Record<string, number> = {};
  let words = 0, wMin = Infinity, wMax = 0, strong = 0, mSum = 0, mMin = Infinity, mMax = 0;
  const byType: Record<string, { n: number; regions: Record<string, number> }> = {};
  let nReal = 0, twoToFive = 0;
  recs.forEach((r, i) => {
    const t = r.forgery_type ?? "untouched";
    types[t] = (types[t] ?? 0) + 1;
    if (!r.forgery_type) nReal++;
    const bt = byType[t] ??= { n: 0, regions: {} };
    bt.n++;
    let nr = 0;
    r.multilabel.forEach((v, j) => {
      if (v) (bt.regions[REGIONS[j]] = (bt.regions[REGIONS[j]] ?? 0) + 1), nr++;
    });
    if (r.forgery_type && nr >= 2 && nr <= 5) twoToFive++;
    split[splits[i]] = (split[splits[i]] ?? 0) + 1;
    let k = 0;
    r.multilabel.forEach((v, j) => {
      if (v) {
        regions[REGIONS[j]]++;
        k++;
      }
    });
    parts[String(k)] = (parts[String(k)] ?? 0) + 1;
    const w = r.caption.split(/\s+/).filter(Boolean).length;
    words += w;
    wMin = Math.min(wMin, w);
    wMax = Math.max(wMax, w);
    const b = `${Math.floor(w / 10) * 10}-${Math.floor(w / 10) * 10 + 9}`;
    hist[b] = (hist[b] ?? 0) + 1;
    if (r.strong) strong++;
    mSum += r.maskFraction;
    mMin = Math.min(mMin, r.maskFraction);
    mMax = Math.max(mMax, r.maskFraction);
  });
  const norm = (o: Record<string, number>) =>
    Object.fromEntries(Object.entries(o).map(([k, v]) => [k, +frac(v).toFixed(4)]));
  return {
    n,
    seed: meta.seed,
    size: meta.size,
    seconds: +seconds.toFixed(2),
    samplesPerSecond: +(n / seconds).toFixed(2),
    splits: split,
    typeProportions: norm(types),
    strongFraction: +frac(strong).toFixed(4),
    regionFrequency: norm(regions),
    partsPerImage: norm(parts),
    captionWords: { mean: +(words / Math.max(1, n)).toFixed(2), min: wMin, max: wMax, histogram: hist },
    maskFraction: { mean: +(mSum / Math.max(1, n)).toFixed(4), min: +mMin.toFixed(4), max: +mMax.toFixed(4) },
    realShare: { requested: meta.realShare ?? 0, realised: +frac(nReal).toFixed(4) },
    regionRankingByType: Object.fromEntries(
      Object.entries(byType).filter(([t]) => t !== "untouched").map(([t, v]) => [
        t,
        Object.entries(v.regions).sort((a, b) => b[1] - a[1]).map(([r, c]) => [r, +(c / v.n).toFixed(3)]),
      ]),
    ),
    twoToFiveRegions: +(twoToFive / Math.max(1, n - nReal)).toFixed(4),
    fourGramDiversity: +fourGramDiversity(recs.map((r) => r.caption)).toFixed(4),
    mmtt: MMTT_REFERENCE,
  };
}

function bar(f: number): string {
  return "#".repeat(Math.round(f * 40));
}

/** A text summary: type proportions, region frequencies, parts per image, caption lengths. */
export function formatStats(s: SynthStats): string {
  const L: string[] = [];
  L.push(
    `synthetic MMTT: ${s.n} samples at ${s.size}x${s.size}, seed ${s.seed}, ${s.seconds} s (${s.samplesPerSecond}/s)`,
  );
  L.push(`splits: ${Object.entries(s.splits).map(([k, v]) => `${k} ${v}`).join(", ")}`);
  L.push("forgery types:");
  for (const [k, v] of Object.entries(s.typeProportions)) {
    L.push(`  ${k.padEnd(18)} ${(v * 100).toFixed(1).padStart(5)}% ${bar(v)}`);
  }
  L.push(`strong (obvious) manipulations: ${(s.strongFraction * 100).toFixed(1)}%`);
  L.push("region frequency (share of images naming it):");
  const regs = Object.entries(s.regionFrequency).sort((a, b) => b[1] - a[1]).filter(([, v]) => v > 0);
  for (const [k, v] of regs) L.push(`  ${k.padEnd(10)} ${(v * 100).toFixed(1).padStart(5)}% ${bar(v)}`);
  L.push("regions per image:");
  for (const [k, v] of Object.entries(s.partsPerImage).sort()) {
    L.push(`  ${k} ${(v * 100).toFixed(1).padStart(5)}% ${bar(v)}`);
  }
  L.push(`caption words: mean ${s.captionWords.mean}, min ${s.captionWords.min}, max ${s.captionWords.max}`);
  const hist = Object.entries(s.captionWords.histogram).sort((a, b) => parseInt(a[0]) - parseInt(b[0]));
  for (const [k, v] of hist) L.push(`  ${k.padStart(7)} ${String(v).padStart(6)} ${bar(v / s.n)}`);
  L.push(
    `mask area: mean ${(s.maskFraction.mean * 100).toFixed(2)}% of the image (min ${
      (s.maskFraction.min * 100).toFixed(2)
    }%, max ${(s.maskFraction.max * 100).toFixed(2)}%)`,
  );
  L.push(
    `untouched images: ${(s.realShare.realised * 100).toFixed(1)}% (requested ${
      s.realShare.requested * 100
    }%)`,
  );
  L.push("side by side with MMTT (paper, Figure 3):");
  const ranked = Object.entries(s.typeProportions).filter(([t]) => t !== "untouched").sort((a, b) =>
    b[1] - a[1]
  );
  L.push(`  type order      ours: ${ranked.map(([t]) => t).join(" > ")}`);
  L.push(`                  MMTT: ${s.mmtt.typeOrder}`);
  for (const [t, r] of Object.entries(s.regionRankingByType)) {
    L.push(`  top regions     ${t}: ${r.slice(0, 3).map(([x]) => x).join(", ")}`);
  }
  L.push(
    `                  MMTT: ${s.mmtt.topRegionsInEveryLocalisedFamily.join(", ")} in every localised family`,
  );
  L.push(
    `  2-5 regions     ours: ${
      (s.twoToFiveRegions * 100).toFixed(1)
    }% of forged images; MMTT: ${s.mmtt.regionsPerImage}`,
  );
  L.push(
    `  caption words   ours: mean ${s.captionWords.mean}, max ${s.captionWords.max}; MMTT: mean ≈ 27, max ≤ 120`,
  );
  L.push(`  4-gram div.     ours: ${s.fourGramDiversity}; MMTT: ${s.mmtt.fourGramDiversity}`);
  return L.join("\n");
}
