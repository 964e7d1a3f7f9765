/**
 * Where the explanation names facial regions: character spans of every synonym of the 21
 * classes (the official table, matched as whole words like `regionLabels`), so the page can
 * highlight them without shipping a second copy of the synonym table. Overlapping matches
 * ("buccal" is both mouth and cheek) become one span listing both regions.
 * @module
 */
import { REGION_SYNONYMS, REGIONS } from "../data/regions.ts";

/** One highlighted stretch of the explanation: [start, end) in UTF-16 units. */
export interface RegionSpan {
  start: number;
  end: number;
  /** Region classes the words name, in REGIONS order. */
  regions: string[];
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

const MATCHERS: RegExp[] = REGIONS.map((r) => {
  const alts = [...REGION_SYNONYMS[r]].sort((a, b) => b.length - a.length).map(escapeRe).join("|");
  return new RegExp(`(?<![\\p{L}\\p{N}_])(?:${alts})(?![\\p{L}\\p{N}_])`, "giu");
});

/** The region-word spans of `text`, sorted and non-overlapping. */
export function regionSpans(text: string): RegionSpan[] {
  const raw: RegionSpan[] = [];
  MATCHERS.forEach((re, i) => {
    for (const m of text.matchAll(re)) {
      raw.push({ start: m.index!, end: m.index! + m[0].length, regions: [REGIONS[i]] });
    }
  });
  raw.sort((a, b) => a.start - b.start || b.end - a.end);
  const out: RegionSpan[] = [];
  for (const s of raw) {
    const last = out[out.length - 1];
    if (last && s.start < last.end) {
      last.end = Math.max(last.end, s.end);
      for (const r of s.regions) if (!last.regions.includes(r)) last.regions.push(r);
    } else out.push({ ...s, regions: [...s.regions] });
  }
  for (const s of out) s.regions.sort((a, b) => REGIONS.indexOf(a as never) - REGIONS.indexOf(b as never));
  return out;
}
