/**
 * METEOR 1.5 scoring as the COCO evaluation runs it (`-l en -norm`, task "rank"):
 * alpha 0.85, beta 0.2, gamma 0.6, delta 0.75, module weights exact 1.0 / stem 0.6 /
 * synonym 0.8 (/ paraphrase 0.6, absent here). Per segment the best-scoring reference's
 * sufficient statistics are kept (pycocoevalcap's SCORE lines); the corpus score is
 * computed from the summed statistics (its EVAL line), where a segment that matched its
 * reference perfectly in one chunk contributes no chunks, as in MeteorStats.addStats.
 */
import { align, type AlignerConfig, MODULE_EXACT, MODULE_STEM, MODULE_SYNONYM } from "./aligner.ts";
import { meteorNormalize } from "./normalizer.ts";
import { snowballStem } from "./stemmer.ts";
import { DEFAULT_FUNCTION_WORDS } from "./function_words.ts";
import { loadMeteorSynonyms, loadWordNet, type SynonymDictionary } from "./synonyms.ts";

/** METEOR's English "rank" parameters. */
export const METEOR_PARAMS = { alpha: 0.85, beta: 0.2, gamma: 0.6, delta: 0.75 } as const;
/** Scoring weights per stage: exact, stem, synonym, paraphrase. */
export const METEOR_WEIGHTS = [1.0, 0.6, 0.8, 0.6] as const;
const STAGES = 4; // MeteorStats always carries four stage slots

/** Sufficient statistics of one segment (or a sum of segments). */
export interface MeteorStats {
  testLength: number;
  referenceLength: number;
  testFunctionWords: number;
  referenceFunctionWords: number;
  testContent: number[];
  referenceContent: number[];
  testFunction: number[];
  referenceFunction: number[];
  chunks: number;
  testWordMatches: number;
  referenceWordMatches: number;
}

/** Precision, recall, fragmentation penalty and score derived from statistics. */
export interface MeteorScore {
  precision: number;
  recall: number;
  fMean: number;
  fragPenalty: number;
  score: number;
}

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
const testTotal = (s: MeteorStats) => sum(s.testContent) + sum(s.testFunction);
const refTotal = (s: MeteorStats) => sum(s.referenceContent) + sum(s.referenceFunction);

/** MeteorScorer.computeMetrics. */
export function meteorFromStats(s: MeteorStats): MeteorScore {
  const { alpha, beta, gamma, delta } = METEOR_PARAMS;
  const tLen = delta * (s.testLength - s.testFunctionWords) + (1 - delta) * s.testFunctionWords;
  const rLen = delta * (s.referenceLength - s.referenceFunctionWords) +
    (1 - delta) * s.referenceFunctionWords;
  let tm = 0;
  let rm = 0;
  for (let i = 0; i < STAGES; i++) tm += s.testContent[i] * METEOR_WEIGHTS[i] * delta;
  for (let i = 0; i < STAGES; i++) rm += s.referenceContent[i] * METEOR_WEIGHTS[i] * delta;
  for (let i = 0; i < STAGES; i++) tm += s.testFunction[i] * METEOR_WEIGHTS[i] * (1 - delta);
  for (let i = 0; i < STAGES; i++) rm += s.referenceFunction[i] * METEOR_WEIGHTS[i] * (1 - delta);
  const precision = tm / tLen;
  const recall = rm / rLen;
  const fMean = 1 / ((1 - alpha) / precision + alpha / recall);
  const frag = testTotal(s) === s.testLength && refTotal(s) === s.referenceLength && s.chunks === 1
    ? 0
    : s.chunks / ((s.testWordMatches + s.referenceWordMatches) / 2);
  const fragPenalty = gamma * frag ** beta;
  const raw = fMean * (1 - fragPenalty);
  const score = Number.isNaN(raw) ? 0 : Math.max(raw, 0);
  return { precision, recall, fMean, fragPenalty, score };
}

/** Where METEOR's language resources come from. */
export interface MeteorResources {
  functionWords: ReadonlySet<string>;
  synonyms: SynonymDictionary | null;
  /** Human-readable description of the sources, for reports. */
  source: string;
}

let cached: MeteorResources | null = null;

/**
 * Load METEOR's resources once: function words (FT_METEOR_FUNCTION_WORDS or our list) and
 * the synonym dictionary (FT_METEOR_SYNONYM_DIR with METEOR's own files, else WordNet 3.0
 * from FT_WORDNET_DIR or /usr/share/wordnet). Without WordNet the synonym stage is skipped
 * and `source` says so.
 */
export function meteorResources(): MeteorResources {
  if (cached) return cached;
  const env = (k: string) => {
    try {
      return Deno.env.get(k);
    } catch {
      return undefined; // no --allow-env: use the defaults
    }
  };
  const fwFile = env("FT_METEOR_FUNCTION_WORDS");
  const functionWords = new Set(
    fwFile ? Deno.readTextFileSync(fwFile).split(/\r?\n/) : DEFAULT_FUNCTION_WORDS,
  );
  let synonyms: SynonymDictionary | null = null;
  let synSource = "none (WordNet not found)";
  const meteorDir = env("FT_METEOR_SYNONYM_DIR");
  const wnDir = env("FT_WORDNET_DIR") ?? "/usr/share/wordnet";
  if (meteorDir) {
    synonyms = loadMeteorSynonyms(meteorDir);
    synSource = `METEOR synonym files (${meteorDir})`;
  } else {
    try {
      synonyms = loadWordNet(wnDir);
      synSource = `WordNet 3.0 (${wnDir})`;
    } catch {
      synonyms = null;
    }
  }
  cached = {
    functionWords,
    synonyms,
    source: `function words: ${fwFile ?? "built-in list"}; synonyms: ${synSource}`,
  };
  return cached;
}

function configFor(res: MeteorResources): AlignerConfig {
  return {
    modules: [MODULE_EXACT, MODULE_STEM, MODULE_SYNONYM],
    stem: snowballStem,
    synonyms: res.synonyms,
    functionWords: res.functionWords,
    searchWeights: [1.0, 0.5, 0.5, 0.5],
    beamSize: 40,
  };
}

/** Statistics of a test sentence against one reference (both already normalized). */
function statsFor(test: string, ref: string, cfg: AlignerConfig): MeteorStats {
  const words1 = test.split(/[ \t\n\r\f]+/).filter((w) => w.length > 0);
  const words2 = ref.split(/[ \t\n\r\f]+/).filter((w) => w.length > 0);
  const a = align(words1, words2, cfg);
  const pad = (xs: number[]) => [...xs, ...new Array<number>(STAGES - xs.length).fill(0)];
  return {
    testLength: words1.length,
    referenceLength: words2.length,
    testFunctionWords: a.functionWords1,
    referenceFunctionWords: a.functionWords2,
    testContent: pad(a.contentMatches1),
    referenceContent: pad(a.contentMatches2),
    testFunction: pad(a.functionMatches1),
    referenceFunction: pad(a.functionMatches2),
    chunks: a.numChunks,
    testWordMatches: sum(a.contentMatches1) + sum(a.functionMatches1),
    referenceWordMatches: sum(a.contentMatches2) + sum(a.functionMatches2),
  };
}

/**
 * Segment statistics as METEOR's `SCORE ||| ref ... ||| hyp` returns them: the hypothesis
 * is cleaned like pycocoevalcap's wrapper, all strings are normalized and lower-cased,
 * and the reference with the highest score wins (first one on ties).
 */
export function meteorSegmentStats(
  hypothesis: string,
  references: readonly string[],
  res: MeteorResources = meteorResources(),
): MeteorStats {
  const cfg = configFor(res);
  const clean = (s: string) => s.replace(/\|\|\|/g, "");
  const test = meteorNormalize(clean(hypothesis).replace(/ {2}/g, " ").trim()).toLowerCase();
  let best: MeteorStats | null = null;
  let bestScore = -1;
  for (const r of references) {
    const ref = meteorNormalize(r.trim()).toLowerCase();
    const st = statsFor(test, ref, cfg);
    const sc = meteorFromStats(st).score;
    if (sc > bestScore) {
      best = st;
      bestScore = sc;
    }
  }
  return best!;
}

/** MeteorStats.addStats: sum statistics; perfect single-chunk segments add no chunks. */
export function addMeteorStats(acc: MeteorStats, s: MeteorStats): void {
  acc.testLength += s.testLength;
  acc.referenceLength += s.referenceLength;
  acc.testFunctionWords += s.testFunctionWords;
  acc.referenceFunctionWords += s.referenceFunctionWords;
  for (let i = 0; i < STAGES; i++) {
    acc.testContent[i] += s.testContent[i];
    acc.referenceContent[i] += s.referenceContent[i];
    acc.testFunction[i] += s.testFunction[i];
    acc.referenceFunction[i] += s.referenceFunction[i];
  }
  if (!(testTotal(s) === s.testLength && refTotal(s) === s.referenceLength && s.chunks === 1)) {
    acc.chunks += s.chunks;
  }
  acc.testWordMatches += s.testWordMatches;
  acc.referenceWordMatches += s.referenceWordMatches;
}

/** Empty statistics to accumulate into. */
export function emptyMeteorStats(): MeteorStats {
  const z = () => new Array<number>(STAGES).fill(0);
  return {
    testLength: 0,
    referenceLength: 0,
    testFunctionWords: 0,
    referenceFunctionWords: 0,
    testContent: z(),
    referenceContent: z(),
    testFunction: z(),
    referenceFunction: z(),
    chunks: 0,
    testWordMatches: 0,
    referenceWordMatches: 0,
  };
}

/** Corpus METEOR (pycocoevalcap's value) and per-segment scores. */
export function meteorScores(
  gts: Record<string, string[]>,
  res: Record<string, string[]>,
  resources: MeteorResources = meteorResources(),
): { score: number; scores: number[] } {
  const acc = emptyMeteorStats();
  const scores: number[] = [];
  for (const id of Object.keys(gts)) {
    const st = meteorSegmentStats(res[id][0], gts[id], resources);
    scores.push(meteorFromStats(st).score);
    addMeteorStats(acc, st);
  }
  return { score: meteorFromStats(acc).score, scores };
}
