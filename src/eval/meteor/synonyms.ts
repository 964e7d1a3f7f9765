/**
 * METEOR's synonym dictionary: word -> WordNet synsets, plus inflected form -> base forms
 * (WordNet exception lists) and METEOR's own suffix-stripping morphology for regular forms.
 * Two data sources, both read from disk at load time (never downloaded):
 * - METEOR's own files (english.exceptions / english.synsets from METEOR 1.5's
 *   resources/synonym) when FT_METEOR_SYNONYM_DIR points at them;
 * - otherwise the WordNet 3.0 database of Debian's `wordnet-base` package
 *   (/usr/share/wordnet, or FT_WORDNET_DIR), from which we derive the same maps:
 *   lemma -> synset ids from index.{noun,verb,adj,adv} and form -> bases from *.exc.
 * Synset ids are what METEOR's english.synsets holds: the bare Princeton WordNet 3.0 byte
 * offset, without the part of speech, so a noun and a verb synset at the same offset count
 * as one (METEOR matches e.g. "got" with "lower" through get.v and low.a at 01215421).
 * Debian patched two glosses, which moves 16,229 verb and 14,023 adjective offsets; when the
 * data files show that layout we map the offsets back (see `debianOffsetFix`), which makes
 * the derived dictionary equal to METEOR's (checked word by word, see docs/eval.md).
 */

/** The lookups SynonymMatcher needs. */
export interface SynonymDictionary {
  /** Synset ids of a word as listed (empty when unknown). */
  synSets(word: string): ReadonlySet<number>;
  /** Synset ids of the word's base form(s) (exception list, else suffix morphology). */
  stemSynSets(word: string): ReadonlySet<number>;
}

const EMPTY: ReadonlySet<number> = new Set();

// WordNet 3 morphology suffix table, as used by METEOR's SynonymDictionary.morph.
const SUFX = [
  "s",
  "ses",
  "xes",
  "zes",
  "ches",
  "shes",
  "men",
  "ies",
  "s",
  "ies",
  "es",
  "es",
  "ed",
  "ed",
  "ing",
  "ing",
  "er",
  "est",
  "er",
  "est",
];
const ADDR = [
  "",
  "s",
  "x",
  "z",
  "ch",
  "sh",
  "man",
  "y",
  "",
  "y",
  "e",
  "",
  "e",
  "",
  "e",
  "",
  "",
  "",
  "e",
  "e",
];

class Dictionary implements SynonymDictionary {
  constructor(
    private readonly wordToSynsets: Map<string, Set<number>>,
    private readonly wordToBases: Map<string, string[]>,
  ) {}

  synSets(word: string): ReadonlySet<number> {
    return this.wordToSynsets.get(word) ?? EMPTY;
  }

  stemSynSets(word: string): ReadonlySet<number> {
    const bases = this.wordToBases.get(word);
    if (bases !== undefined) {
      const set = new Set<number>();
      for (const b of bases) for (const s of this.synSets(b)) set.add(s);
      return set;
    }
    return this.synSets(this.morph(word));
  }

  /** METEOR's morph(): first suffix rule whose result is a known word; else "". */
  private morph(word: string): string {
    if (word.endsWith("ss") || word.length <= 2) return word;
    for (let i = 0; i < SUFX.length; i++) {
      if (word.endsWith(SUFX[i])) {
        const cand = word.slice(0, word.length - SUFX[i].length) + ADDR[i];
        if (this.wordToSynsets.has(cand)) return cand;
      }
    }
    return "";
  }
}

const POS_FILES = ["noun", "verb", "adj", "adv"] as const;

/** True when `file` has a synset line starting at byte `offset` (lines begin with their offset). */
function lineAt(file: string, offset: number): boolean {
  let f: Deno.FsFile | null = null;
  try {
    f = Deno.openSync(file, { read: true });
    f.seekSync(offset, Deno.SeekMode.Start);
    const buf = new Uint8Array(9);
    const n = f.readSync(buf);
    return n === 9 && new TextDecoder().decode(buf) === `${String(offset).padStart(8, "0")} `;
  } catch {
    return false;
  } finally {
    f?.close();
  }
}

/**
 * Map a Debian `wordnet-base` (1:3.0-37) offset back to the Princeton WordNet 3.0 offset.
 * Debian's patched data.verb is 18 bytes longer from the synset at 00613036 up to the one
 * before 02422967, and data.adj 1 byte longer from 01681478 on. The fix is applied only if
 * those synsets really start at those bytes (so original Princeton files are left alone).
 */
function debianOffsetFix(dir: string): (pos: (typeof POS_FILES)[number], offset: number) => number {
  const debian = lineAt(`${dir}/data.verb`, 613036) && lineAt(`${dir}/data.verb`, 2422967) &&
    lineAt(`${dir}/data.adj`, 1681478);
  if (!debian) return (_pos, o) => o;
  return (pos, o) => {
    if (pos === "verb" && o >= 613036 && o < 2422967) return o - 18;
    if (pos === "adj" && o >= 1681478) return o - 1;
    return o;
  };
}

/** Build the dictionary from a WordNet 3.0 database directory (index.*, *.exc, data.* files). */
export function loadWordNet(dir: string): SynonymDictionary {
  const wordToSynsets = new Map<string, Set<number>>();
  const wordToBases = new Map<string, string[]>();
  const fix = debianOffsetFix(dir);
  for (const pos of POS_FILES) {
    const text = Deno.readTextFileSync(`${dir}/index.${pos}`);
    for (const line of text.split("\n")) {
      if (line.length === 0 || line[0] === " ") continue; // licence header lines
      const f = line.split(" ");
      const lemma = f[0];
      const synsetCnt = Number(f[2]);
      const pCnt = Number(f[3]);
      const first = 4 + pCnt + 2;
      let set = wordToSynsets.get(lemma);
      if (!set) wordToSynsets.set(lemma, set = new Set());
      for (let k = 0; k < synsetCnt; k++) set.add(fix(pos, Number(f[first + k])));
    }
    const exc = Deno.readTextFileSync(`${dir}/${pos}.exc`);
    for (const line of exc.split("\n")) {
      const f = line.split(" ").filter((x) => x.length > 0);
      if (f.length < 2) continue;
      let bases = wordToBases.get(f[0]);
      if (!bases) wordToBases.set(f[0], bases = []);
      bases.push(...f.slice(1));
    }
  }
  return new Dictionary(wordToSynsets, wordToBases);
}

/** Build the dictionary from METEOR's own english.exceptions / english.synsets files. */
export function loadMeteorSynonyms(dir: string): SynonymDictionary {
  const wordToSynsets = new Map<string, Set<number>>();
  const wordToBases = new Map<string, string[]>();
  const exc = Deno.readTextFileSync(`${dir}/english.exceptions`).split(/\r?\n/);
  for (let i = 0; i + 1 < exc.length; i += 2) {
    for (const form of exc[i + 1].split(/[ \t\f]+/).filter((x) => x)) {
      let bases = wordToBases.get(form);
      if (!bases) wordToBases.set(form, bases = []);
      bases.push(exc[i]);
    }
  }
  const syn = Deno.readTextFileSync(`${dir}/english.synsets`).split(/\r?\n/);
  for (let i = 0; i + 1 < syn.length; i += 2) {
    wordToSynsets.set(syn[i], new Set(syn[i + 1].split(/[ \t\f]+/).filter((x) => x).map(Number)));
  }
  return new Dictionary(wordToSynsets, wordToBases);
}
