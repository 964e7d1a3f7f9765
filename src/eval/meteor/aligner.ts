/**
 * METEOR 1.5's aligner (edu.cmu.meteor.aligner.Aligner), re-implemented: stage matchers
 * (exact, stem, synonym; paraphrase absent, see docs/eval.md) collect candidate one-word
 * matches, unambiguous ones are fixed, and a beam search (width 40) resolves the rest,
 * ranking partial alignments by weighted match count, then chunks, then distance.
 * Reference quirks reproduced on purpose, because they change which alignment wins:
 * - words are compared by Java String.hashCode() keys, as the reference does;
 * - the search's weighted match counters are Java ints updated with `+=` of
 *   length * weight, so the 0.5-weighted stem/synonym matches truncate to 0 in the ranking;
 * - the distance of a newly extended path is added to the *parent* path (a bug in 1.5),
 *   so later siblings and the skip path inherit it.
 */
import type { SynonymDictionary } from "./synonyms.ts";

/** Module ids, in METEOR's order. */
export const MODULE_EXACT = 0;
/** Stem module id. */
export const MODULE_STEM = 1;
/** Synonym module id. */
export const MODULE_SYNONYM = 2;

/** One candidate match: reference word `start` (line 2) to test word `matchStart` (line 1). */
interface Match {
  module: number;
  start: number;
  length: number;
  matchStart: number;
  matchLength: number;
}

/** Result of aligning a test sentence (line 1) with one reference (line 2). */
export interface Alignment {
  words1: string[];
  words2: string[];
  /** Indices of function words in each line. */
  functionWords1: number;
  functionWords2: number;
  /** Per module: content/function matches in line 1 and line 2. */
  contentMatches1: number[];
  contentMatches2: number[];
  functionMatches1: number[];
  functionMatches2: number[];
  line1Matches: number;
  line2Matches: number;
  numChunks: number;
}

/** Resources and modules an aligner runs with. */
export interface AlignerConfig {
  modules: number[];
  stem: (w: string) => string;
  synonyms: SynonymDictionary | null;
  functionWords: ReadonlySet<string>;
  /** Weights used to rank partial alignments (METEOR sets 1.0 / 0.5 / 0.5 / 0.5). */
  searchWeights: number[];
  beamSize: number;
}

/** Java's String.hashCode over UTF-16 code units. */
export function javaHash(s: string): number {
  let h = 0;
  for (let i = 0; i < s.length; i++) h = (Math.imul(h, 31) + s.charCodeAt(i)) | 0;
  return h;
}

interface Partial {
  matches: (Match | null)[];
  matchCount: number;
  matches1: number;
  matches2: number;
  allMatches1: number;
  allMatches2: number;
  chunks: number;
  idx: number;
  lastMatchEnd: number;
  distance: number;
  used1: boolean[];
  used2: boolean[];
}

function copyPartial(p: Partial): Partial {
  return { ...p, matches: p.matches.slice(), used1: p.used1.slice(), used2: p.used2.slice() };
}

// Java int `+=` with a double right-hand side: add in double, truncate toward zero.
const intAdd = (a: number, b: number): number => Math.trunc(a + b);

function compareTotal(x: Partial, y: Partial): number {
  const matchDiff = (y.matches1 + y.matches2) - (x.matches1 + x.matches2);
  if (matchDiff > 0) return 1;
  if (matchDiff < 0) return -1;
  const chunkDiff = x.chunks - y.chunks;
  if (chunkDiff !== 0) return chunkDiff;
  return x.distance - y.distance;
}

function isUsed(p: Partial, m: Match): boolean {
  for (let i = 0; i < m.length; i++) if (p.used2[m.start + i]) return true;
  for (let i = 0; i < m.matchLength; i++) if (p.used1[m.matchStart + i]) return true;
  return false;
}

function setUsed(p: Partial, m: Match): void {
  for (let i = 0; i < m.length; i++) p.used2[m.start + i] = true;
  for (let i = 0; i < m.matchLength; i++) p.used1[m.matchStart + i] = true;
}

/** Align test words (line 1) with reference words (line 2). */
export function align(words1: string[], words2: string[], cfg: AlignerConfig): Alignment {
  const keys1 = words1.map(javaHash);
  const keys2 = words2.map(javaHash);
  const matches: Match[][] = words2.map(() => []);
  const cov1 = new Int32Array(words1.length);
  const cov2 = new Int32Array(words2.length);
  const add = (module: number, i: number, j: number) => {
    matches[j].push({ module, start: j, length: 1, matchStart: i, matchLength: 1 });
    cov1[i]++;
    cov2[j]++;
  };
  // Identical sentences need only the exact stage (the reference avoids beam errors so).
  const identical = words1.length === words2.length && keys1.every((k, i) => k === keys2[i]);
  const modsUsed = identical ? 1 : cfg.modules.length;
  for (let modNum = 0; modNum < modsUsed; modNum++) {
    const module = cfg.modules[modNum];
    if (module === MODULE_EXACT) {
      for (let j = 0; j < words2.length; j++) {
        for (let i = 0; i < words1.length; i++) if (keys1[i] === keys2[j]) add(modNum, i, j);
      }
    } else if (module === MODULE_STEM) {
      const s1 = words1.map((w) => javaHash(cfg.stem(w)));
      const s2 = words2.map((w) => javaHash(cfg.stem(w)));
      for (let j = 0; j < words2.length; j++) {
        for (let i = 0; i < words1.length; i++) {
          if (s1[i] === s2[j] && keys1[i] !== keys2[j]) add(modNum, i, j);
        }
      }
    } else if (module === MODULE_SYNONYM && cfg.synonyms) {
      const syn = cfg.synonyms;
      const sets = (w: string) => {
        const s = new Set(syn.synSets(w));
        for (const x of syn.stemSynSets(w)) s.add(x);
        return s;
      };
      const sy1 = words1.map(sets);
      const sy2 = words2.map(sets);
      for (let j = 0; j < words2.length; j++) {
        for (let i = 0; i < words1.length; i++) {
          if (keys1[i] === keys2[j]) continue;
          let hit = false;
          for (const x of sy1[i]) {
            if (sy2[j].has(x)) {
              hit = true;
              break;
            }
          }
          if (hit) add(modNum, i, j);
        }
      }
    }
  }

  const start: Partial = {
    matches: new Array<Match | null>(words2.length).fill(null),
    matchCount: 0,
    matches1: 0,
    matches2: 0,
    allMatches1: 0,
    allMatches2: 0,
    chunks: 0,
    idx: 0,
    lastMatchEnd: -1,
    distance: 0,
    used1: new Array<boolean>(words1.length).fill(false),
    used2: new Array<boolean>(words2.length).fill(false),
  };
  // One-to-one, non-overlapping matches are fixed up front.
  for (let i = 0; i < matches.length; i++) {
    if (matches[i].length !== 1) continue;
    const m = matches[i][0];
    let overlap = false;
    for (let j = 0; j < m.length; j++) if (cov2[i + j] !== 1) overlap = true;
    for (let j = 0; j < m.matchLength; j++) if (cov1[m.matchStart + j] !== 1) overlap = true;
    if (!overlap) {
      start.matches[i] = m;
      setUsed(start, m);
    }
  }
  const best = resolve(matches, start, cfg);

  const fw1 = words1.map((w) => cfg.functionWords.has(w.toLowerCase()));
  const fw2 = words2.map((w) => cfg.functionWords.has(w.toLowerCase()));
  const nMod = cfg.modules.length;
  const c1 = new Array<number>(nMod).fill(0);
  const c2 = new Array<number>(nMod).fill(0);
  const f1 = new Array<number>(nMod).fill(0);
  const f2 = new Array<number>(nMod).fill(0);
  for (const m of best.matches) {
    if (!m) continue;
    for (let j = 0; j < m.matchLength; j++) {
      if (fw1[m.matchStart + j]) f1[m.module]++;
      else c1[m.module]++;
    }
    for (let j = 0; j < m.length; j++) {
      if (fw2[m.start + j]) f2[m.module]++;
      else c2[m.module]++;
    }
  }
  const cc = countAndChunks(best.matches);
  return {
    words1,
    words2,
    functionWords1: fw1.filter(Boolean).length,
    functionWords2: fw2.filter(Boolean).length,
    contentMatches1: c1,
    contentMatches2: c2,
    functionMatches1: f1,
    functionMatches2: f2,
    line1Matches: cc[0],
    line2Matches: cc[1],
    numChunks: cc[2],
  };
}

/** Beam search over the ambiguous matches, left to right over line 2. */
function resolve(sMatches: Match[][], start: Partial, cfg: AlignerConfig): Partial {
  const w = cfg.searchWeights;
  let paths: Partial[];
  let next: Partial[] = [start];
  for (let current = 0; current <= sMatches.length; current++) {
    paths = next;
    next = [];
    paths.sort(compareTotal); // stable, like Java's Collections.sort
    for (let rank = 0; rank < cfg.beamSize && rank < paths.length; rank++) {
      const path = paths[rank];
      if (current === sMatches.length) {
        if (path.lastMatchEnd !== -1) path.chunks++;
        next.push(path);
        continue;
      }
      if (path.used2[current]) {
        if (current < path.idx) {
          next.push(path);
        } else if (path.matches[path.idx] !== null) {
          const m = path.matches[path.idx]!;
          path.matchCount++;
          path.matches1 = intAdd(path.matches1, m.matchLength * w[m.module]);
          path.matches2 = intAdd(path.matches2, m.length * w[m.module]);
          path.allMatches1 += m.matchLength;
          path.allMatches2 += m.length;
          if (path.lastMatchEnd !== -1 && m.matchStart !== path.lastMatchEnd) path.chunks++;
          path.idx = m.start + m.length;
          path.lastMatchEnd = m.matchStart + m.matchLength;
          path.distance += Math.abs(m.start - m.matchStart);
          next.push(path);
        }
        continue;
      }
      for (const m of sMatches[current]) {
        if (isUsed(path, m)) continue;
        const np = copyPartial(path);
        setUsed(np, m);
        np.matches[current] = m;
        np.matchCount++;
        np.matches1 = intAdd(np.matches1, m.matchLength * w[m.module]);
        np.matches2 = intAdd(np.matches2, m.length * w[m.module]);
        np.allMatches1 += m.matchLength;
        np.allMatches2 += m.length;
        if (np.lastMatchEnd !== -1 && m.matchStart !== np.lastMatchEnd) np.chunks++;
        np.idx = m.start + m.length;
        np.lastMatchEnd = m.matchStart + m.matchLength;
        path.distance += Math.abs(m.start - m.matchStart);
        next.push(np);
      }
      if (path.lastMatchEnd !== -1) {
        path.chunks++;
        path.lastMatchEnd = -1;
      }
      path.idx++;
      next.push(path);
    }
    if (next.length === 0) next.push(paths[0]);
  }
  next.sort(compareTotal);
  return next[0];
}

/** Matches in line 1 and line 2 and the number of chunks of a final alignment. */
function countAndChunks(matches: (Match | null)[]): [number, number, number] {
  let m1 = 0;
  let m2 = 0;
  let chunks = 0;
  let idx = 0;
  let lastMatchEnd = -1;
  while (idx < matches.length) {
    const m = matches[idx];
    if (m === null) {
      if (lastMatchEnd !== -1) {
        chunks++;
        lastMatchEnd = -1;
      }
      idx++;
    } else {
      m1 += m.matchLength;
      m2 += m.length;
      if (lastMatchEnd !== -1 && m.matchStart !== lastMatchEnd) chunks++;
      idx = m.start + m.length;
      lastMatchEnd = m.matchStart + m.matchLength;
    }
  }
  if (lastMatchEnd !== -1) chunks++;
  return [m1, m2, chunks];
}
