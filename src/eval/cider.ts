/**
 * CIDEr-D as pycocoevalcap's `Cider` computes it (the scorer the COCO evaluation and the
 * captioning papers report as "CIDEr"): TF-IDF n-gram vectors (n = 1..4) with document
 * frequencies from the evaluated references, clipped by the reference vector
 * (min(hyp, ref) * ref), a Gaussian length penalty with sigma = 6, averaged over n and over
 * references, times 10. Reference-code details kept exactly:
 * - "length" for the penalty is the number of *bigrams* (the reference counts n == 1 in a
 *   0-based loop), so it is max(words - 1, 0);
 * - idf uses log(max(1, df)) and log(number of images), so with a single image every weight
 *   is 0 and CIDEr is 0; a zero norm leaves the similarity at 0 instead of dividing.
 */
import { ngramCounts, ngramOrder, pySplit } from "./ngrams.ts";
import { mean } from "./rouge.ts";

const N = 4;
const SIGMA = 6;

interface Vec {
  vec: Map<string, number>[];
  norm: number[];
  length: number;
}

/** CIDEr-D corpus score and per-id scores. */
export function ciderScores(
  gts: Record<string, string[]>,
  res: Record<string, string[]>,
): { score: number; scores: number[] } {
  const ids = Object.keys(gts);
  const crefs = ids.map((id) => gts[id].map((r) => ngramCounts(pySplit(r), N)));
  const ctest = ids.map((id) => ngramCounts(pySplit(res[id][0]), N));
  const df = new Map<string, number>();
  for (const refs of crefs) {
    const seen = new Set<string>();
    for (const ref of refs) for (const g of ref.keys()) seen.add(g);
    for (const g of seen) df.set(g, (df.get(g) ?? 0) + 1);
  }
  const refLen = Math.log(ids.length);
  const toVec = (cnts: Map<string, number>): Vec => {
    const vec = Array.from({ length: N }, () => new Map<string, number>());
    const sq = new Array<number>(N).fill(0);
    let length = 0;
    for (const [g, tf] of cnts) {
      const idf = Math.log(Math.max(1, df.get(g) ?? 0));
      const n = ngramOrder(g) - 1;
      const v = tf * (refLen - idf);
      vec[n].set(g, v);
      sq[n] += v ** 2;
      if (n === 1) length += tf;
    }
    return { vec, norm: sq.map(Math.sqrt), length };
  };
  const sim = (h: Vec, r: Vec): number[] => {
    const delta = h.length - r.length;
    const val = new Array<number>(N).fill(0);
    for (let n = 0; n < N; n++) {
      for (const [g, hv] of h.vec[n]) {
        const rv = r.vec[n].get(g) ?? 0;
        val[n] += Math.min(hv, rv) * rv;
      }
      if (h.norm[n] !== 0 && r.norm[n] !== 0) val[n] /= h.norm[n] * r.norm[n];
      val[n] *= Math.E ** (-(delta ** 2) / (2 * SIGMA ** 2));
    }
    return val;
  };
  const scores: number[] = [];
  for (let i = 0; i < ids.length; i++) {
    const h = toVec(ctest[i]);
    const acc = new Array<number>(N).fill(0);
    for (const ref of crefs[i]) {
      const s = sim(h, toVec(ref));
      for (let n = 0; n < N; n++) acc[n] += s[n];
    }
    scores.push((mean(acc) / crefs[i].length) * 10);
  }
  return { score: mean(scores), scores };
}
