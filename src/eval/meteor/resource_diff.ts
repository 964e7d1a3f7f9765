/**
 * Compare two sets of METEOR resources (function words + synonym dictionary) on a list of
 * captions: which caption words change class (function vs content), which word pairs match
 * in the synonym stage under one dictionary but not the other, and the METEOR score of a
 * caption corpus under each. Used to document how our substitutes (closed-class list,
 * Debian WordNet 3.0) differ from METEOR 1.5's own files; see docs/eval.md.
 *
 * CLI (after `eval "$(bash scripts/meteor_resources.sh PATH_TO_METEOR)"` has set
 * FT_METEOR_FUNCTION_WORDS and FT_METEOR_SYNONYM_DIR):
 *   .tools/deno run --allow-read --allow-env src/eval/meteor/resource_diff.ts [--captions FILE.json]
 * A = our built-in function words + WordNet 3.0 (FT_WORDNET_DIR or /usr/share/wordnet),
 * B = METEOR's files; captions default to the PTB fixture's inputs (a JSON array also works).
 */
import { DEFAULT_FUNCTION_WORDS } from "./function_words.ts";
import { loadMeteorSynonyms, loadWordNet, type SynonymDictionary } from "./synonyms.ts";
import { type MeteorResources, meteorScores } from "./scorer.ts";
import { meteorNormalize } from "./normalizer.ts";
import { ptbTokenizeRun } from "../ptb_tokenizer.ts";

/** What differs between resource sets `a` and `b` on a caption vocabulary. */
export interface ResourceDiff {
  /** Distinct words of the captions (after PTB tokenization and METEOR normalization). */
  vocabulary: number;
  /** Words that are function words under `a` only / under `b` only. */
  functionOnlyA: string[];
  functionOnlyB: string[];
  /** Unordered word pairs (`w1 w2`) matched by the synonym stage under `a` only / `b` only. */
  synonymOnlyA: string[];
  synonymOnlyB: string[];
  /** Corpus METEOR (each caption scored against its neighbours) under `a` and `b`. */
  meteorA: number;
  meteorB: number;
}

/** The synonym stage's test: do the words share a synset (directly or via a base form)? */
function synonymSets(d: SynonymDictionary | null, w: string): Set<number> {
  if (d === null) return new Set();
  const s = new Set(d.synSets(w));
  for (const x of d.stemSynSets(w)) s.add(x);
  return s;
}

function synonymPairs(d: SynonymDictionary | null, vocab: string[]): Set<string> {
  const sets = vocab.map((w) => synonymSets(d, w));
  const out = new Set<string>();
  for (let i = 0; i < vocab.length; i++) {
    for (let j = i + 1; j < vocab.length; j++) {
      for (const x of sets[i]) {
        if (sets[j].has(x)) {
          out.add(`${vocab[i]} ${vocab[j]}`);
          break;
        }
      }
    }
  }
  return out;
}

/** Compare resource sets `a` and `b` on `captions` (raw, untokenized). */
export function compareMeteorResources(
  captions: readonly string[],
  a: MeteorResources,
  b: MeteorResources,
): ResourceDiff {
  const lines = ptbTokenizeRun(captions).map((l) => meteorNormalize(l).toLowerCase());
  const vocab = [...new Set(lines.flatMap((l) => l.split(" ")).filter((w) => w.length > 0))].sort();
  const pa = synonymPairs(a.synonyms, vocab);
  const pb = synonymPairs(b.synonyms, vocab);
  // Corpus: caption i scored against captions i+1 and i+2 as references.
  const gts: Record<string, string[]> = {};
  const res: Record<string, string[]> = {};
  for (let i = 0; i + 2 < lines.length; i++) {
    gts[`c${i}`] = [lines[i + 1], lines[i + 2]];
    res[`c${i}`] = [lines[i]];
  }
  return {
    vocabulary: vocab.length,
    functionOnlyA: vocab.filter((w) => a.functionWords.has(w) && !b.functionWords.has(w)),
    functionOnlyB: vocab.filter((w) => b.functionWords.has(w) && !a.functionWords.has(w)),
    synonymOnlyA: [...pa].filter((p) => !pb.has(p)),
    synonymOnlyB: [...pb].filter((p) => !pa.has(p)),
    meteorA: meteorScores(gts, res, a).score,
    meteorB: meteorScores(gts, res, b).score,
  };
}

if (import.meta.main) {
  const args = Deno.args;
  const opt = (k: string) => {
    const i = args.indexOf(k);
    return i >= 0 ? args[i + 1] : undefined;
  };
  const fwFile = Deno.env.get("FT_METEOR_FUNCTION_WORDS");
  const synDir = Deno.env.get("FT_METEOR_SYNONYM_DIR");
  if (!fwFile || !synDir) {
    console.error(
      'resource_diff: set FT_METEOR_FUNCTION_WORDS and FT_METEOR_SYNONYM_DIR first: eval "$(bash scripts/meteor_resources.sh PATH_TO_METEOR)"',
    );
    Deno.exit(2);
  }
  const capFile = opt("--captions") ??
    new URL("../../../tests/fixtures/eval/ptb_3_4_1.json", import.meta.url);
  const parsed = JSON.parse(Deno.readTextFileSync(capFile));
  const captions: string[] = Array.isArray(parsed)
    ? parsed
    : parsed.cases.map((c: { input: string }) => c.input).filter((s: string) =>
      !/[\r\v\f\u2028\u2029]/.test(s)
    );
  const wn = Deno.env.get("FT_WORDNET_DIR") ?? "/usr/share/wordnet";
  const ours: MeteorResources = {
    functionWords: new Set(DEFAULT_FUNCTION_WORDS),
    synonyms: loadWordNet(wn),
    source: `built-in function words; WordNet 3.0 (${wn})`,
  };
  const theirs: MeteorResources = {
    functionWords: new Set(Deno.readTextFileSync(fwFile).split(/\r?\n/)),
    synonyms: loadMeteorSynonyms(synDir),
    source: `METEOR 1.5 files (${fwFile}, ${synDir})`,
  };
  const d = compareMeteorResources(captions, ours, theirs);
  console.log(`A = ${ours.source}\nB = ${theirs.source}`);
  console.log(`captions: ${captions.length}, vocabulary: ${d.vocabulary}`);
  console.log(`function word in A only (${d.functionOnlyA.length}): ${d.functionOnlyA.join(" ")}`);
  console.log(`function word in B only (${d.functionOnlyB.length}): ${d.functionOnlyB.join(" ")}`);
  console.log(`synonym pairs in A only (${d.synonymOnlyA.length}): ${d.synonymOnlyA.join(", ")}`);
  console.log(`synonym pairs in B only (${d.synonymOnlyB.length}): ${d.synonymOnlyB.join(", ")}`);
  console.log(`corpus METEOR: A ${d.meteorA.toFixed(6)}, B ${d.meteorB.toFixed(6)}`);
}
