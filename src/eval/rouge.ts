/**
 * ROUGE-L as pycocoevalcap's `Rouge` computes it: per image, the LCS with each reference
 * gives precision and recall; the maxima over references combine into an F-measure with
 * beta = 1.2; the corpus score is the mean over images. Sentences are split on a single
 * space exactly like the reference (so an empty caption is one empty token).
 */

const BETA = 1.2;

/** Length of the longest common subsequence of two token arrays. */
export function lcsLength(a: readonly string[], b: readonly string[]): number {
  const [long, short] = a.length >= b.length ? [a, b] : [b, a];
  let prev = new Int32Array(short.length + 1);
  let cur = new Int32Array(short.length + 1);
  for (let i = 1; i <= long.length; i++) {
    for (let j = 1; j <= short.length; j++) {
      cur[j] = long[i - 1] === short[j - 1] ? prev[j - 1] + 1 : Math.max(prev[j], cur[j - 1]);
    }
    [prev, cur] = [cur, prev];
  }
  return prev[short.length];
}

/** ROUGE-L of one candidate against its references. */
export function rougeL(candidate: string, refs: readonly string[]): number {
  const c = candidate.split(" ");
  let precMax = 0;
  let recMax = 0;
  for (const ref of refs) {
    const r = ref.split(" ");
    const lcs = lcsLength(r, c);
    precMax = Math.max(precMax, lcs / c.length);
    recMax = Math.max(recMax, lcs / r.length);
  }
  if (precMax === 0 || recMax === 0) return 0;
  return ((1 + BETA ** 2) * precMax * recMax) / (recMax + BETA ** 2 * precMax);
}

/** Corpus ROUGE-L (mean over ids) and the per-id scores. */
export function rougeScores(
  gts: Record<string, string[]>,
  res: Record<string, string[]>,
): { score: number; scores: number[] } {
  const scores = Object.keys(gts).map((id) => rougeL(res[id][0], gts[id]));
  return { score: mean(scores), scores };
}

/** Arithmetic mean (NaN for an empty list, like numpy). */
export function mean(xs: readonly number[]): number {
  let s = 0;
  for (const x of xs) s += x;
  return s / xs.length;
}
