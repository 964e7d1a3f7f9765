/**
 * The Snowball English ("Porter2") stemmer, as bundled with METEOR 1.5
 * (org.tartarus.snowball.ext.englishStemmer): our own implementation of the published
 * algorithm, in its 2006 form (R1 exceptions gener/commun/arsen only). METEOR's stem stage
 * matches two different words whose stems are equal.
 */

const VOWELS = "aeiouy";
const isVowel = (c: string | undefined): boolean => c !== undefined && VOWELS.includes(c);
const DOUBLES = ["bb", "dd", "ff", "gg", "mm", "nn", "pp", "rr", "tt"];
const LI_ENDINGS = "cdeghkmnrt";

const EXCEPTION1: Readonly<Record<string, string>> = {
  skis: "ski",
  skies: "sky",
  dying: "die",
  lying: "lie",
  tying: "tie",
  idly: "idl",
  gently: "gentl",
  ugly: "ugli",
  early: "earli",
  only: "onli",
  singly: "singl",
  sky: "sky",
  news: "news",
  howe: "howe",
  atlas: "atlas",
  cosmos: "cosmos",
  bias: "bias",
  andes: "andes",
};
const EXCEPTION2 = new Set([
  "inning",
  "outing",
  "canning",
  "herring",
  "earring",
  "proceed",
  "exceed",
  "succeed",
]);

/** Position after the first non-vowel that follows a vowel, searching from `from`. */
function regionStart(w: string, from: number): number {
  for (let i = from + 1; i < w.length; i++) {
    if (!isVowel(w[i]) && isVowel(w[i - 1])) return i + 1;
  }
  return w.length;
}

/** Short syllable ending at the end of `w`. */
function endsShortSyllable(w: string): boolean {
  const n = w.length;
  if (n === 2) return isVowel(w[0]) && !isVowel(w[1]);
  if (n < 3) return false;
  const c = w[n - 1];
  return !isVowel(w[n - 3]) && isVowel(w[n - 2]) && !isVowel(c) && c !== "w" && c !== "x" &&
    c !== "Y";
}

/** Longest suffix of `w` among `list`, or "" if none. */
function longest(w: string, list: readonly string[]): string {
  let best = "";
  for (const s of list) if (s.length > best.length && w.endsWith(s)) best = s;
  return best;
}

const STEP2: ReadonlyArray<[string, string]> = [
  ["tional", "tion"],
  ["enci", "ence"],
  ["anci", "ance"],
  ["abli", "able"],
  ["entli", "ent"],
  ["izer", "ize"],
  ["ization", "ize"],
  ["ational", "ate"],
  ["ation", "ate"],
  ["ator", "ate"],
  ["alism", "al"],
  ["aliti", "al"],
  ["alli", "al"],
  ["fulness", "ful"],
  ["ousli", "ous"],
  ["ousness", "ous"],
  ["iveness", "ive"],
  ["iviti", "ive"],
  ["biliti", "ble"],
  ["bli", "ble"],
  ["ogi", "og"],
  ["fulli", "ful"],
  ["lessli", "less"],
  ["li", ""],
];
const STEP3: ReadonlyArray<[string, string]> = [
  ["tional", "tion"],
  ["ational", "ate"],
  ["alize", "al"],
  ["icate", "ic"],
  ["iciti", "ic"],
  ["ical", "ic"],
  ["ful", ""],
  ["ness", ""],
  ["ative", ""],
];
const STEP4 = [
  "al",
  "ance",
  "ence",
  "er",
  "ic",
  "able",
  "ible",
  "ant",
  "ement",
  "ment",
  "ent",
  "ism",
  "ate",
  "iti",
  "ous",
  "ive",
  "ize",
  "ion",
];

/** Stem one lower-case word with the Snowball English algorithm. */
export function snowballStem(word: string): string {
  if (word.length <= 2) return word;
  const exc = EXCEPTION1[word];
  if (exc !== undefined) return exc;
  let w = word.startsWith("'") ? word.slice(1) : word;
  // Mark consonant y: initial y, or y after a vowel.
  let marked = "";
  for (let i = 0; i < w.length; i++) {
    marked += w[i] === "y" && (i === 0 || isVowel(marked[i - 1])) ? "Y" : w[i];
  }
  w = marked;
  let r1 = regionStart(w, 0);
  for (const p of ["gener", "commun", "arsen"]) {
    if (w.startsWith(p)) r1 = p.length;
  }
  const r2 = regionStart(w, r1);
  const inR1 = (suffix: string) => w.length - suffix.length >= r1;
  const inR2 = (suffix: string) => w.length - suffix.length >= r2;

  // Step 0: apostrophe suffixes.
  const s0 = longest(w, ["'", "'s", "'s'"]);
  if (s0) w = w.slice(0, -s0.length);

  // Step 1a.
  const s1a = longest(w, ["sses", "ied", "ies", "s", "us", "ss"]);
  if (s1a === "sses") w = w.slice(0, -2);
  else if (s1a === "ied" || s1a === "ies") w = w.slice(0, -3) + (w.length > 4 ? "i" : "ie");
  else if (s1a === "s") {
    // Delete if the part before the letter preceding the s holds a vowel.
    const before = w.slice(0, -2);
    if ([...before].some(isVowel)) w = w.slice(0, -1);
  }
  if (EXCEPTION2.has(w)) return w;

  // Step 1b.
  const s1b = longest(w, ["eed", "eedly", "ed", "edly", "ing", "ingly"]);
  if (s1b === "eed" || s1b === "eedly") {
    if (inR1(s1b)) w = w.slice(0, -s1b.length) + "ee";
  } else if (s1b) {
    const stem = w.slice(0, -s1b.length);
    if ([...stem].some(isVowel)) {
      w = stem;
      if (w.endsWith("at") || w.endsWith("bl") || w.endsWith("iz")) w += "e";
      else if (DOUBLES.some((d) => w.endsWith(d))) w = w.slice(0, -1);
      else if (r1 >= w.length && endsShortSyllable(w)) w += "e";
    }
  }

  // Step 1c: y/Y -> i after a non-vowel that is not the first letter.
  if (w.length > 2 && (w.endsWith("y") || w.endsWith("Y")) && !isVowel(w[w.length - 2])) {
    w = w.slice(0, -1) + "i";
  }

  // Step 2.
  const s2 = longest(w, STEP2.map((p) => p[0]));
  if (s2 && inR1(s2)) {
    if (s2 === "ogi") {
      if (w[w.length - 4] === "l") w = w.slice(0, -3) + "og";
    } else if (s2 === "li") {
      if (LI_ENDINGS.includes(w[w.length - 3])) w = w.slice(0, -2);
    } else {
      w = w.slice(0, -s2.length) + STEP2.find((p) => p[0] === s2)![1];
    }
  }

  // Step 3.
  const s3 = longest(w, STEP3.map((p) => p[0]));
  if (s3 && inR1(s3)) {
    if (s3 === "ative") {
      if (inR2(s3)) w = w.slice(0, -5);
    } else {
      w = w.slice(0, -s3.length) + STEP3.find((p) => p[0] === s3)![1];
    }
  }

  // Step 4.
  const s4 = longest(w, STEP4);
  if (s4 && inR2(s4)) {
    if (s4 === "ion") {
      const c = w[w.length - 4];
      if (c === "s" || c === "t") w = w.slice(0, -3);
    } else {
      w = w.slice(0, -s4.length);
    }
  }

  // Step 5.
  if (w.endsWith("e")) {
    if (inR2("e") || (inR1("e") && !endsShortSyllable(w.slice(0, -1)))) w = w.slice(0, -1);
  } else if (w.endsWith("l") && inR2("l") && w[w.length - 2] === "l") {
    w = w.slice(0, -1);
  }
  return w.replace(/Y/g, "y");
}
