/**
 * N-gram counting shared by BLEU and CIDEr, mirroring pycocoevalcap's `precook`: the
 * sentence is split on whitespace and every n-gram for n = 1..4 is counted. N-gram keys
 * join words with a single space (tokens never contain spaces).
 */

/** Counts of all n-grams (n = 1..maxN) of a whitespace-split sentence, keyed "w1 w2 ...". */
export function ngramCounts(words: readonly string[], maxN = 4): Map<string, number> {
  const counts = new Map<string, number>();
  for (let k = 1; k <= maxN; k++) {
    for (let i = 0; i + k <= words.length; i++) {
      const key = words.slice(i, i + k).join(" ");
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
  }
  return counts;
}

/** Python's `str.split()` with no argument: split on runs of whitespace, drop empties. */
export function pySplit(s: string): string[] {
  const t = s.trim();
  return t === "" ? [] : t.split(/\s+/);
}

/** Number of words in an n-gram key. */
export function ngramOrder(key: string): number {
  let n = 1;
  for (let i = 0; i < key.length; i++) if (key.charCodeAt(i) === 32) n++;
  return n;
}
