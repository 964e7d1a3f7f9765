/**
 * METEOR's synonym dictionary: word -> WordNet synsets, plus inflected form -> base forms
 * (WordNet exception lists) and METEOR's own suffix-stripping morphology for regular forms.
 * Two data sources, both read from disk at load time (never downloaded):
 * - METEOR's own files (english.exceptions / english.synsets, from the 1.5 jar's
 *   resources/synonym) when FT_METEOR_SYNONYM_DIR points at them (exact);
 * - otherwise the WordNet 3.0 database of Debian's `wordnet-base` package
 *   (/usr/share/wordnet, or FT_WORDNET_DIR), from which we derive the same maps:
 *   lemma -> synset ids from index.{noun,verb,adj,adv} and form -> bases from *.exc.
 *   Synset ids are offset*4 + part of speech so offsets of different files never collide.
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

/** Build the dictionary from a WordNet 3.0 database directory (index.* and *.exc files). */
export function loadWordNet(dir: string): SynonymDictionary {
  const wordToSynsets = new Map<string, Set<number>>();
  const wordToBases = new Map<string, string[]>();
  POS_FILES.forEach((pos, p) => {
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
      for (let k = 0; k < synsetCnt; k++) set.add(Number(f[first + k]) * 4 + p);
    }
    const exc = Deno.readTextFileSync(`${dir}/${pos}.exc`);
    for (const line of exc.split("\n")) {
      const f = line.split(" ").filter((x) => x.length > 0);
      if (f.length < 2) continue;
      let bases = wordToBases.get(f[0]);
      if (!bases) wordToBases.set(f[0], bases = []);
      bases.push(...f.slice(1));
    }
  });
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
