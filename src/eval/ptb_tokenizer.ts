/**
 * The COCO caption evaluation's tokenizer, as pycocoevalcap runs it: all captions of one
 * side (references or candidates) have `\n` replaced by a space, are joined with `\n` into
 * one file, tokenized by Stanford CoreNLP 3.4.1 `PTBTokenizer -preserveLines -lowerCase`,
 * and the output lines are paired back with the captions in order; each line then loses the
 * 17 punctuation tokens of `PTB_PUNCTUATIONS`.
 *
 * Run-level effects kept on purpose because the reference has them:
 * - Some lexer rules look past the end of a caption, so a caption's tokens can depend on
 *   whether it is the last one of the run (`you're` -> `you re` only when last; a smiley
 *   `:)` splits only at the very end) and on the next caption's first word (`A.` + `The`).
 * - `\r`, U+2028, U+2029, `\v`, `\f` (and U+0085 only inside... never: it lexes as an
 *   ellipsis) are line breaks to the lexer, so they add output lines and every later caption
 *   of the run is paired with the wrong line; surplus lines are dropped.
 * - `-lowerCase` lower-cases every token, including `-LRB-`, while the filter list is upper
 *   case, so brackets survive as `-lrb-` etc.; `/` and `*` are not escaped in 3.4.1.
 * The lexer itself is in ./ptb/lexer.ts.
 */
import { lexPtb, PTB_NEWLINE } from "./ptb/lexer.ts";

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

/**
 * PTB tokens of `text` before lower-casing and filtering (line breaks dropped), e.g.
 * `ptbTokens('"(a)"')` = ``["``", "-LRB-", "a", "-RRB-", "''"]``.
 */
export function ptbTokens(text: string): string[] {
  return lexPtb(text).filter((t): t is string => t !== PTB_NEWLINE);
}

// Java's final-sigma test works on words as its (legacy) word BreakIterator sees them: letters,
// marks and digits join, and so does one of - – _ ' " . ‧ or the soft hyphen between a word
// character and a letter (measured against Java 17: "ΟΔΟΣ-RRB" keeps σ, "ΟΔΟΣ/A" gets ς).
// "Cased" is Java's: Lu, Ll, Lt and a few Other_Lowercase/Uppercase ranges (not ª or º).
const WORD_CHAR = /[\p{L}\p{M}\p{Nd}]/u;
// Kana and CJK ideographs are words of their own to that BreakIterator (Java 17 ranges).
const IDEOGRAPHIC = /[\u3005\u3041-\u3094\u30a1-\u30fe\u4e00-\u9fa5\uf900-\ufa2d]/;
const MID_WORD = /[\p{Pd}\u00AD\u2027"'._]/u;
const LETTER_CHAR = /\p{L}/u;
const CASED =
  /[\p{Lu}\p{Ll}\p{Lt}\u02B0-\u02B8\u02C0\u02C1\u02E0-\u02E4\u0345\u037A\u1D2C-\u1D61\u2160-\u217F\u24B6-\u24E9]/u;

const MID_NUM = /["',.\u066B]/;
const DIGIT_CHAR = /\p{Nd}/u;
const MARK = /\p{M}/u;

/** Does the non-word character at `i` join the word characters on both sides (Java's rule)? */
function joins(t: string, i: number): boolean {
  let l = i - 1;
  while (l >= 0 && MARK.test(t[l])) l--;
  // Marks right after the joiner attach to it and make it an ordinary character.
  const r = i + 1;
  if (l < 0 || r >= t.length) return false;
  const c = t[i];
  if (MID_WORD.test(c) && LETTER_CHAR.test(t[l]) && LETTER_CHAR.test(t[r])) return true;
  return MID_NUM.test(c) && DIGIT_CHAR.test(t[l]) && DIGIT_CHAR.test(t[r]);
}

/** Is the capital sigma at `k` word-final by Java's rule (a cased letter before, none after)? */
function javaFinalSigma(t: string, k: number): boolean {
  let casedBefore = false;
  for (let i = k - 1; i >= 0; i--) {
    const c = t[i];
    if (IDEOGRAPHIC.test(c)) break;
    if (WORD_CHAR.test(c)) {
      if (CASED.test(c)) {
        casedBefore = true;
        break;
      }
    } else if (!joins(t, i)) break;
  }
  if (!casedBefore) return false;
  for (let i = k + 1; i < t.length; i++) {
    const c = t[i];
    if (IDEOGRAPHIC.test(c)) break;
    if (WORD_CHAR.test(c)) {
      if (CASED.test(c)) return false;
    } else if (!joins(t, i)) break;
  }
  return true;
}

/**
 * Java `String.toLowerCase(Locale.ENGLISH)`: JS `toLowerCase` except for the context rule of
 * capital sigma, where Java decides "final" (ς) by word boundaries rather than by Unicode's
 * case-ignorable rule.
 */
export function javaLowerCase(t: string): string {
  if (t.indexOf("\u03A3") < 0) return t.toLowerCase();
  let out = "";
  let from = 0;
  for (let k = t.indexOf("\u03A3"); k >= 0; k = t.indexOf("\u03A3", k + 1)) {
    out += t.slice(from, k).toLowerCase() + (javaFinalSigma(t, k) ? "\u03C2" : "\u03C3");
    from = k + 1;
  }
  return out + t.slice(from).toLowerCase();
}

/**
 * What `PTBTokenizer -preserveLines -lowerCase` writes for `text`: tokens lower-cased as Java
 * does (`javaLowerCase`) and joined by single spaces, one output line per line break token.
 */
export function ptbTokenizerOutput(text: string): string {
  const parts: string[] = [];
  let lineStart = true;
  for (const t of lexPtb(text)) {
    if (t === PTB_NEWLINE) {
      parts.push("\n");
      lineStart = true;
    } else {
      if (!lineStart) parts.push(" ");
      parts.push(javaLowerCase(t));
      lineStart = false;
    }
  }
  return parts.join("");
}

// Python's str.rstrip() with no argument: trailing characters for which str.isspace() holds
// (that set includes the separators U+001C..U+001F, hence the control characters).
// deno-lint-ignore no-control-regex
const PY_TRAILING_SPACE = /[\t\n\v\f\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+$/;

/** pycocoevalcap's per-line post-processing: rstrip, split on ' ', drop punctuation tokens. */
function filterLine(line: string): string {
  return line.replace(PY_TRAILING_SPACE, "").split(" ").filter((w) => !PTB_PUNCTUATIONS.has(w)).join(" ");
}

/**
 * Tokenize several captions in ONE run, exactly as pycocoevalcap's `PTBTokenizer.tokenize`
 * does for all captions of one side: result `i` is output line `i` (see the module note on
 * line breaks shifting later captions).
 */
export function ptbTokenizeRun(captions: readonly string[]): string[] {
  if (captions.length === 0) return [];
  const joined = captions.map((c) => c.replaceAll("\n", " ")).join("\n");
  const lines = ptbTokenizerOutput(joined).split("\n");
  // The lexer never drops a line break, so there are always at least as many lines.
  if (lines.length < captions.length) {
    throw new Error(`ptbTokenizeRun: ${lines.length} output lines for ${captions.length} captions`);
  }
  return captions.map((_, i) => filterLine(lines[i]));
}

/**
 * Tokenize one caption as the COCO caption evaluation does when it is the only (or last)
 * caption of its run: PTB tokens, lower-cased, punctuation tokens removed, joined by single
 * spaces. An empty or all-punctuation caption gives "".
 */
export function ptbTokenize(text: string): string {
  return ptbTokenizeRun([text])[0];
}
