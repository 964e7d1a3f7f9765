/**
 * The COCO caption evaluation's tokenizer: Stanford PTBTokenizer (CoreNLP 3.4.1) run as
 * `-preserveLines -lowerCase`, then pycocoevalcap's filter that drops the punctuation tokens
 * in `PUNCTUATIONS`. Our own re-implementation of the PTB lexer rules that matter for
 * captions (clitics, brackets, quotes, numbers, dashes, ellipses, unicode punctuation).
 *
 * Quirks kept on purpose because the reference has them:
 * - `-lowerCase` lower-cases *every* token, including `-LRB-`, while the filter list is
 *   upper-case, so brackets survive as `-lrb-` / `-rrb-` / `-lsb-` ... tokens.
 * - PTB3 escaping puts a backslash before `/` and `*`.
 * Not replicated: CoreNLP's British→American respelling ("americanize"); see docs/eval.md.
 */

/** pycocoevalcap's `PUNCTUATIONS`: tokens removed after tokenization (case-sensitive). */
export const PTB_PUNCTUATIONS: ReadonlySet<string> = new Set([
  "''",
  "'",
  "``",
  "`",
  "-LRB-",
  "-RRB-",
  "-LCB-",
  "-RCB-",
  ".",
  "?",
  "!",
  ",",
  ":",
  "-",
  "--",
  "...",
  ";",
]);

// Characters that belong inside a word token (letters, digits, marks, and the joiners the
// PTB lexer keeps inside words: hyphen, period, apostrophe, ampersand-in-abbrev, slash).
const LETTER = /[\p{L}\p{M}\p{N}_]/u;
const SPACE = /[\s\u00a0\u2000-\u200b\u2028\u2029\u202f\u205f\u3000\ufeff]/u;

// Clitics split off the end of a word (PTB: "he's" -> "he 's", "don't" -> "do n't").
const CLITICS = ["'s", "'re", "'ve", "'ll", "'d", "'m"];
// Whole words the PTB lexer splits in two.
const SPLIT_WORDS: Readonly<Record<string, [string, string]>> = {
  cannot: ["can", "not"],
  gonna: ["gon", "na"],
  gotta: ["got", "ta"],
  wanna: ["wan", "na"],
  lemme: ["lem", "me"],
  gimme: ["gim", "me"],
  "'tis": ["'t", "is"],
  "'twas": ["'t", "was"],
};
// Abbreviations that keep their final period (a subset of PTBLexer's ABBREV lists).
const ABBREVIATIONS = new Set([
  "mr",
  "mrs",
  "ms",
  "dr",
  "prof",
  "st",
  "jr",
  "sr",
  "vs",
  "etc",
  "inc",
  "ltd",
  "co",
  "corp",
  "no",
  "e.g",
  "i.e",
]);

const BRACKETS: Readonly<Record<string, string>> = {
  "(": "-LRB-",
  ")": "-RRB-",
  "[": "-LSB-",
  "]": "-RSB-",
  "{": "-LCB-",
  "}": "-RCB-",
};

/** Split a word that may carry a clitic or negation into PTB tokens (case preserved). */
function splitWord(word: string, out: string[]): void {
  const lower = word.toLowerCase();
  const split = SPLIT_WORDS[lower];
  if (split) {
    out.push(word.slice(0, split[0].length), word.slice(split[0].length));
    return;
  }
  if (lower.length > 3 && lower.endsWith("n't")) {
    out.push(word.slice(0, -3), word.slice(-3));
    return;
  }
  for (const c of CLITICS) {
    if (lower.length > c.length && lower.endsWith(c)) {
      out.push(word.slice(0, -c.length), word.slice(-c.length));
      return;
    }
  }
  out.push(word);
}

/** PTB3 escaping of `/` and `*` inside a token. */
function escapeToken(t: string): string {
  return t.replace(/([/*])/g, "\\$1");
}

/** Tokenize one line the way PTBTokenizer does, before lower-casing and filtering. */
export function ptbTokens(line: string): string[] {
  // Normalise the unicode quote, dash and ellipsis forms the lexer maps to PTB tokens.
  const s = line
    .replace(/[\u2018\u2019\u201a\u201b\u2032]/g, "'")
    .replace(/[\u201c\u201d\u201e\u201f\u00ab\u00bb\u2033]/g, '"')
    .replace(/\u2026/g, "...")
    .replace(/[\u2013\u2014\u2015]/g, "--")
    .replace(/&amp;/gi, "&");
  const out: string[] = [];
  let i = 0;
  let openDouble = true;
  const n = s.length;
  while (i < n) {
    const ch = s[i];
    if (SPACE.test(ch)) {
      i++;
      continue;
    }
    const leadingApostrophe = ch === "'" && /^'(tis|twas|em|\d+s?)(?![\p{L}\p{N}])/iu.test(s.slice(i, i + 8));
    if (LETTER.test(ch) || leadingApostrophe || (ch === "$" && i + 1 < n && LETTER.test(s[i + 1]))) {
      // A word: letters/digits joined by internal hyphens, periods, apostrophes, slashes,
      // commas/colons between digits (numbers like 1,000 and 10:30).
      let j = i + 1;
      if (ch === "$") {
        out.push("$");
        i++;
        continue;
      }
      while (j < n) {
        const c = s[j];
        if (LETTER.test(c)) {
          j++;
        } else if (
          (c === "-" || c === "/" || c === "&") && j + 1 < n && LETTER.test(s[j + 1]) &&
          LETTER.test(s[j - 1])
        ) {
          j++;
        } else if (c === "'" && j + 1 < n && LETTER.test(s[j + 1])) {
          j++;
        } else if ((c === "," || c === ":") && /\d/.test(s[j - 1]) && j + 1 < n && /\d/.test(s[j + 1])) {
          j++;
        } else if (c === "." && j + 1 < n && LETTER.test(s[j + 1])) {
          j++;
        } else {
          break;
        }
      }
      let word = s.slice(i, j);
      // Trailing period: kept on abbreviations with internal periods (u.s.) and known
      // abbreviations; otherwise it is its own token.
      if (j < n && s[j] === "." && !(j + 1 < n && s[j + 1] === ".")) {
        const core = word.toLowerCase();
        if (/^(\p{L}\.)+\p{L}$/u.test(word) || ABBREVIATIONS.has(core)) {
          word += ".";
          j++;
        }
      }
      // Possessive plural "dogs'": the apostrophe is a separate token.
      if (j < n && s[j] === "'" && /s$/i.test(word) && !(j + 1 < n && LETTER.test(s[j + 1]))) {
        splitWord(word, out);
        out.push("'");
        i = j + 1;
        continue;
      }
      splitWord(word, out);
      i = j;
      continue;
    }
    if (ch === ".") {
      let j = i;
      while (j < n && s[j] === ".") j++;
      out.push(j - i >= 2 ? "..." : ".");
      i = j;
      continue;
    }
    if (ch === "-") {
      let j = i;
      while (j < n && s[j] === "-") j++;
      out.push(j - i >= 2 ? "--" : "-");
      i = j;
      continue;
    }
    if (ch === '"') {
      out.push(openDouble ? "``" : "''");
      openDouble = !openDouble;
      i++;
      continue;
    }
    if (ch === "'") {
      if (s[i + 1] === "'") {
        out.push("''");
        i += 2;
      } else {
        // An opening single quote follows a space or the line start.
        out.push(i === 0 || SPACE.test(s[i - 1]) ? "`" : "'");
        i++;
      }
      continue;
    }
    if (ch === "`") {
      if (s[i + 1] === "`") {
        out.push("``");
        i += 2;
      } else {
        out.push("`");
        i++;
      }
      continue;
    }
    if (BRACKETS[ch]) {
      out.push(BRACKETS[ch]);
      i++;
      continue;
    }
    // Any other symbol (or a surrogate pair) is a token of its own.
    const cp = s.codePointAt(i)!;
    const sym = String.fromCodePoint(cp);
    out.push(sym);
    i += sym.length;
  }
  return out.map(escapeToken);
}

/**
 * Tokenize a caption as the COCO caption evaluation does: PTB tokens, lower-cased, with the
 * punctuation tokens removed, joined by single spaces. Newlines count as spaces (the
 * reference replaces them before tokenizing). An empty or all-punctuation caption gives "".
 */
export function ptbTokenize(text: string): string {
  const tokens = ptbTokens(text.replace(/[\r\n]/g, " "));
  const kept: string[] = [];
  for (const t of tokens) {
    const lower = t.toLowerCase();
    if (!PTB_PUNCTUATIONS.has(lower)) kept.push(lower);
  }
  return kept.join(" ");
}
