/**
 * METEOR 1.5's `-norm` text normalizer for English (Moses-tokenizer based, with METEOR's
 * additions: quote/dash normalization, dashes between words removed, dots dropped from
 * mixed abbreviations such as "u.s." -> "us"). Our own port of its rules, applied in the
 * same order, with Java regex semantics (\p{Digit} and \p{Lower} are ASCII).
 * The COCO evaluation feeds METEOR PTB-tokenized text, so most rules are no-ops there; the
 * ones that still fire are hyphen splitting ("close-up" -> "close up") and apostrophe
 * splitting ("n't" -> "n 't", "'s" -> "' s").
 */
import { ENGLISH_NONBREAKING_PREFIXES } from "./nonbreaking.ts";

const ALPHA = "A-Za-z\u0160\u017d\u0161\u017e\u0178\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u017e" +
  "\u0400-\u04ff\u0500-\u0527\ua640-\ua66e\ua67e-\ua697\u1d00-\u1d7f";
const ALNUM = "0-9" + ALPHA;

const R_SEP_OTHER = new RegExp(`([^${ALNUM} \\t\\n\\x0B\\f\\r.'\`,\\-\u2018\u2019])`, "gu");
const R_MULTI_DOT = /\.([.]+)/g;
const R_MULTI_DOT2 = /DOTMULTI\.([^.])/g;
const R_COMMA = /([^0-9]),([^0-9])/g;
const R_COMMA2 = /([0-9]),([^0-9])/g;
const R_COMMA3 = /([^0-9]),([0-9])/g;
const R_QUOTE_NORM = /([`\u2018\u2019])/g;
const R_QUOTE_NORM2 = /([\u201c\u201d]|'')/g;
const R_RM_DASH = new RegExp(`([${ALNUM}.])-([${ALNUM}])`, "gu");
const R_CONT_EN = new RegExp(`([^${ALPHA}])'([^${ALPHA}])`, "gu");
const R_CONT_EN2 = new RegExp(`([^${ALPHA}0-9])'([${ALPHA}])`, "gu");
const R_CONT_EN3 = new RegExp(`([${ALPHA}])'([^${ALPHA}])`, "gu");
const R_CONT_EN4 = new RegExp(`([${ALPHA}])'([${ALPHA}])`, "gu");
const R_CONT_EN5 = /([0-9])'([s])/g;
const R_WHITE = /[ \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+/g;
const R_NBP1 = new RegExp(`[${ALPHA}]`, "u");

/** Java's StringTokenizer default delimiters. */
function javaTokens(s: string): string[] {
  return s.split(/[ \t\n\r\f]+/).filter((t) => t.length > 0);
}

/** Java `String.trim()`: strips code points <= U+0020 at both ends. */
function javaTrim(s: string): string {
  let a = 0;
  let b = s.length;
  while (a < b && s.charCodeAt(a) <= 32) a++;
  while (b > a && s.charCodeAt(b - 1) <= 32) b--;
  return s.slice(a, b);
}

/** Java `replaceAll` applies matches left to right without overlap, like JS /g replace. */
function rep(s: string, re: RegExp, by: string): string {
  return s.replace(re, by);
}

/** Normalize one line as `Normalizer.normalizeLine(line, LANG_EN, keepPunctuation=true)`. */
export function meteorNormalize(line: string): string {
  let w = " " + line + " ";
  w = rep(w, R_SEP_OTHER, " $1 ");
  w = rep(w, R_MULTI_DOT, " DOTMULTI$1");
  while (w.includes("DOTMULTI.")) {
    w = rep(w, R_MULTI_DOT2, "DOTDOTMULTI $1");
    w = w.split("DOTMULTI.").join("DOTDOTMULTI");
  }
  w = rep(w, R_COMMA, "$1 , $2");
  w = rep(w, R_COMMA2, "$1 , $2");
  w = rep(w, R_COMMA3, "$1 , $2");
  w = rep(w, R_QUOTE_NORM, "'");
  w = rep(w, R_QUOTE_NORM2, ' " ');
  w = w.split("\u2013").join("-");
  w = w.split("--").join("-");
  w = rep(w, R_RM_DASH, "$1 $2");
  w = rep(w, R_CONT_EN, "$1 ' $2");
  w = rep(w, R_CONT_EN2, "$1 ' $2");
  w = rep(w, R_CONT_EN3, "$1 ' $2");
  w = rep(w, R_CONT_EN4, "$1 '$2");
  w = rep(w, R_CONT_EN5, "$1 '$2");
  const words = javaTokens(w);
  let sb = "";
  for (let i = 0; i < words.length; i++) {
    const word = words[i];
    if (word.length > 1 && word.endsWith(".")) {
      const pre = word.slice(0, -1);
      const type = ENGLISH_NONBREAKING_PREFIXES.get(pre);
      const next = words[i + 1];
      if (pre.includes(".") && R_NBP1.test(pre)) {
        sb += word.split(".").join("");
      } else if (type === 1 || (next !== undefined && /^[a-z]/.test(next))) {
        sb += word;
      } else if (type === 2 && next !== undefined && /^[0-9]+/.test(next)) {
        sb += word;
      } else {
        sb += pre + " .";
      }
    } else {
      sb += word;
    }
    sb += " ";
  }
  w = sb;
  while (w.includes("DOTDOTMULTI")) w = w.split("DOTDOTMULTI").join("DOTMULTI.");
  w = w.split("DOTMULTI").join(".");
  return javaTrim(w.replace(R_WHITE, " "));
}
