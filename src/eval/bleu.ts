/**
 * Corpus BLEU-1..4 exactly as pycocoevalcap's `Bleu` computes it: clipped n-gram counts
 * summed over the corpus, the "closest" reference length per segment (ties go to the
 * shorter reference), and the reference code's smoothing constants (tiny = 1e-15 added to
 * matches, small = 1e-9 to guesses) which make an empty candidate score ~0, not NaN.
 */
import { ngramCounts, ngramOrder, pySplit } from "./ngrams.ts";

const TINY = 1e-15;
const SMALL = 1e-9;

/** BLEU-1..4 (raw scale) of one candidate per id against its references. */
export function bleuScores(
  gts: Record<string, string[]>,
  res: Record<string, string[]>,
  n = 4,
): number[] {
  const guess = new Array<number>(n).fill(0);
  const correct = new Array<number>(n).fill(0);
  let testLen = 0;
  let refLen = 0;
  for (const id of Object.keys(gts)) {
    const refs = gts[id];
    const hyp = res[id][0];
    const refLens: number[] = [];
    const maxCounts = new Map<string, number>();
    for (const ref of refs) {
      const words = pySplit(ref);
      refLens.push(words.length);
      for (const [g, c] of ngramCounts(words, n)) {
        if (c > (maxCounts.get(g) ?? 0)) maxCounts.set(g, c);
      }
    }
    const words = pySplit(hyp);
    const tl = words.length;
    // "closest": min over (|l - testlen|, l), i.e. ties resolved towards the shorter ref.
    let best = refLens[0];
    for (const l of refLens) {
      const d = Math.abs(l - tl);
      const bd = Math.abs(best - tl);
      if (d < bd || (d === bd && l < best)) best = l;
    }
    testLen += tl;
    refLen += best;
    for (let k = 1; k <= n; k++) guess[k - 1] += Math.max(0, tl - k + 1);
    for (const [g, c] of ngramCounts(words, n)) {
      correct[ngramOrder(g) - 1] += Math.min(maxCounts.get(g) ?? 0, c);
    }
  }
  const out: number[] = [];
  const ratio = (testLen + TINY) / (refLen + SMALL);
  for (let nn = 1; nn <= n; nn++) {
    let b = 1;
    for (let k = 0; k < nn; k++) b *= (correct[k] + TINY) / (guess[k] + SMALL);
    let score = b ** (1 / nn);
    if (ratio < 1) score *= Math.exp(1 - 1 / ratio);
    out.push(score);
  }
  return out;
}
