/**
 * A scanner that tokenizes English the way Stanford CoreNLP 3.4.1's `PTBTokenizer` does with
 * its default (PTB3-escaping) options plus `tokenizeNLs`, i.e. as pycocoevalcap runs it with
 * `-preserveLines`. Our own implementation of the behaviour of its lexer; the token shapes
 * live in ./patterns.ts.
 *
 * Matching discipline (that of the reference scanner): at every position each rule is
 * tried; the longest match wins and ties go to the earlier rule. A rule may demand right
 * context (`look`): the context counts toward the match length but is not consumed. Some
 * rules give back part of what they matched (`cannot` -> `can` + `not`; the period of
 * `etc.` at a sentence end is both kept on the word and returned as its own token).
 *
 * Cost: each token start tries only the rules that can begin with its character, each once,
 * with a sticky regex that reads the token and a bounded right context; the few shapes that
 * could read far past a token are ruled out in O(1) by a per-text table (`Reach`). So
 * tokenizing is linear in the text length. Bench: bench/ptb_tokenizer_bench.ts; tests:
 * tests/eval/ptb_fixture_test.ts, tests/eval/tokenizer_test.ts.
 */
import * as P from "./patterns.ts";

/** Marker for a line break token in the output of `lexPtb`. */
export const PTB_NEWLINE: unique symbol = Symbol("PTB newline");

/** A lexer token: its text after PTB normalisation, or a line break. */
export type PtbToken = string | typeof PTB_NEWLINE;

/** What a rule does with its matched text (`text` = the consumed part, without right context). */
type Action = (text: string) => { emit: PtbToken | null; keep?: number };

interface Rule {
  /** Debug name. */
  name: string;
  /** Sticky regexes, one per alternative; group `m` is the consumed part. */
  res: RegExp[];
  /** Hand-written alternatives (no right context): match length at a position, or -1. */
  fns: ((text: string, pos: number) => number)[];
  act: Action;
  /** Characters a match can start with (a superset); null = any. Only used to skip rules. */
  first: RegExp | null;
  /** Cheap necessary condition on the text at `pos` (see `Reach`); null = none. */
  guard: ((reach: Reach, pos: number) => boolean) | null;
}

/**
 * Per-text facts that let the rules able to read far past a token fail at once: the e-mail
 * shape (needs an `@` before the next space-like stop), the hyphenated shape (needs a `-`
 * right after its run of letters, digits, `.` and `,`) and tags (need a `>` somewhere
 * ahead). Without them a long run such as `a,a,a,...` would cost O(run length) per token,
 * O(n^2) in all.
 */
interface Reach {
  /** 1 where an `@` occurs at or after i before any e-mail stop character. */
  atAhead: Uint8Array;
  /** 1 where the run of [A-Za-z0-9.,\u00AD] starting at i is followed by `-`. */
  dashAhead: Uint8Array;
  /** 1 where a `>` occurs at or after i. */
  gtAhead: Uint8Array;
}

const EMAIL_STOP = /[ \t\n\f\r"<>|(){}\u00A0]/;
const HYPHENATED_RUN = /[A-Za-z0-9.,\u00AD]/;

function reachOf(text: string): Reach {
  const n = text.length;
  const atAhead = new Uint8Array(n + 1);
  const dashAhead = new Uint8Array(n + 1);
  const gtAhead = new Uint8Array(n + 1);
  for (let i = n - 1; i >= 0; i--) {
    const c = text[i];
    gtAhead[i] = c === ">" ? 1 : gtAhead[i + 1];
    atAhead[i] = c === "@" ? 1 : EMAIL_STOP.test(c) ? 0 : atAhead[i + 1];
    dashAhead[i] = HYPHENATED_RUN.test(c) ? dashAhead[i + 1] : c === "-" ? 1 : 0;
  }
  return { atAhead, dashAhead, gtAhead };
}

// An e-mail may open with "<" or "&lt;" (a stop character) before its first letter.
const emailGuard = (r: Reach, pos: number) =>
  r.atAhead[pos] === 1 || r.atAhead[pos + 1] === 1 ||
  r.atAhead[Math.min(pos + 4, r.atAhead.length - 1)] === 1;
const hyphenatedGuard = (r: Reach, pos: number) => r.dashAhead[pos] === 1;
const tagGuard = (r: Reach, pos: number) => r.gtAhead[pos] === 1;
const GUARDS: Readonly<Record<string, (r: Reach, pos: number) => boolean>> = {
  "email": emailGuard,
  "hyphenated": hyphenatedGuard,
  "hyphenated.": hyphenatedGuard,
  "sgml": tagGuard,
};

const SOFT_HYPHEN = /\u00AD/g;
/** Drop soft hyphens (they only mark a possible line break); never leave a token empty. */
function noSoftHyphens(s: string): string {
  if (s.indexOf("\u00AD") < 0) return s;
  const out = s.replace(SOFT_HYPHEN, "");
  return out.length === 0 ? "-" : out;
}
const AMP_ENTITY = /&amp;/gi;
const nbsp = (s: string) => s.replaceAll(" ", "\u00A0");
const parens = (s: string) => s.replaceAll("(", "-LRB-").replaceAll(")", "-RRB-");

/** PTB (LaTeX-style) quotes; `left` when the quote probably opens. */
function latexQuotes(s: string, left: boolean): string {
  return s
    .replace(/&apos;|'/g, left ? "`" : "'")
    .replace(/"|&quot;/g, left ? "``" : "''")
    .replace(/[\u0091\u2018\u201B\u2039]/g, "`")
    .replace(/[\u0092\u2019\u203A]/g, "'")
    .replace(/[\u0093\u201C\u00AB]/g, "``")
    .replace(/[\u0094\u201D\u00BB]/g, "''");
}

const FRACTION_TEXT: Readonly<Record<string, string>> = {
  "\u00BC": "1/4",
  "\u00BD": "1/2",
  "\u00BE": "3/4",
  "\u2153": "1/3",
  "\u2154": "2/3",
};

const same: Action = (t) => ({ emit: t });
const skip: Action = () => ({ emit: null });
const fixed = (s: string): Action => () => ({ emit: s });
/** Emit all but the last `n` characters and rescan those. */
const giveBack = (n: number): Action => (t) => ({ emit: t.slice(0, t.length - n), keep: t.length - n });
/** Emit the whole match but rescan its final period as a token of its own. */
const periodTwice: Action = (t) => ({ emit: t, keep: t.length - 1 });
const quotes = (left: boolean): Action => (t) => ({ emit: latexQuotes(t, left) });

function rule(
  name: string,
  main: string | readonly string[],
  act: Action,
  look: string | undefined,
  first: string | null,
): Rule {
  const alts = typeof main === "string" ? [main] : main;
  const res = alts.map((m) =>
    new RegExp(
      look === undefined ? `(?<m>${P.caseless(m)})` : `(?<m>${P.caseless(m)})(?:${P.caseless(look)})`,
      "uy",
    )
  );
  const guard = GUARDS[name] ?? null;
  return { name, res, fns: [], act, first: first === null ? null : new RegExp(`^(?:${first})`, "u"), guard };
}

// First-character classes for skipping rules that cannot start at a position (supersets).
const F_LETTER = `${P.PLAIN_LETTER}|${P.EXTRA_LETTER}|&`;
const F_ALNUM = `${F_LETTER}|${P.DIGIT}`;
const F_APOS = String.raw`['\u0092\u2019&]`;
const F_ASCII = "[A-Za-z]";

// The rules in priority order (earlier wins a tie in length).
const RULES: Rule[] = [
  rule("c++", String.raw`c\+\+`, same, undefined, "[cC]"),
  rule("c#", "[cfCF]#", same, undefined, "[cfCF]"),
  rule("cannot", "cannot", giveBack(3), undefined, "[cC]"),
  rule("'twas", "'twas", giveBack(3), undefined, "'"),
  rule("'tis", "'tis", giveBack(2), undefined, "'"),
  rule("gonna", "gonna|gotta|lemme|gimme|wanna", giveBack(2), undefined, "[gGlLwW]"),
  rule("sgml", P.SGML, (t) => ({ emit: nbsp(t) }), undefined, "<"),
  rule(
    "dash-entity",
    String.raw`&(?:MD|mdash|ndash);|[\u0096\u0097\u2013\u2014\u2015]`,
    fixed("--"),
    undefined,
    String.raw`[&\u0096\u0097\u2013-\u2015]`,
  ),
  rule("amp", "&amp;", fixed("&"), undefined, "&"),
  rule("punct-entity", String.raw`&(?:HT|TL|UR|LR|QC|QL|QR|odq|cdq|#[0-9]+);`, same, undefined, "&"),
  rule("word+clitic", P.WORD, (t) => ({ emit: noSoftHyphens(t) }), P.CLITIC, F_LETTER),
  rule("word+n't", P.NEG_STEM, (t) => ({ emit: noSoftHyphens(t) }), P.NEG, String.raw`[A-Za-z\u00AD]`),
  rule("word", P.WORD, (t) => ({ emit: noSoftHyphens(t) }), undefined, F_LETTER),
  rule("apostrophe-word", P.APOSTROPHE_WORDS, same, undefined, `${F_LETTER}|${F_APOS}`),
  rule("y'", String.raw`y${P.APOS}`, same, P.PLAIN_LETTER, "[yY]"),
  rule("url", P.FULL_URL, same, undefined, "[hH]"),
  {
    name: "likely-url",
    res: [],
    fns: P.LIKELY_URLS.map((shape) => (text: string, pos: number) => P.longestSegmented(shape, text, pos)),
    act: same,
    first: null,
    guard: null,
  },
  rule("email", P.EMAIL, same, undefined, "[&<a-zA-Z0-9]"),
  rule("twitter", P.TWITTER, same, undefined, "[@#]"),
  rule("clitic", P.CLITIC, quotes(false), "[^A-Za-z]", F_APOS),
  rule("n't", P.NEG, quotes(false), "[^A-Za-z]", "[nN]"),
  rule("date", P.DATE, same, undefined, P.DIGIT),
  rule(
    "number",
    P.NUMBERS,
    (t) => ({ emit: noSoftHyphens(t) }),
    undefined,
    String.raw`[\-+.:,\u00AD\u066B\u066C]|${P.DIGIT}`,
  ),
  rule(
    "subsup",
    P.SUBSUP,
    same,
    undefined,
    String.raw`[\u207A\u207B\u208A\u208B\u2070\u00B9\u00B2\u00B3\u2074-\u2079\u2080-\u2089]`,
  ),
  rule("fraction", P.FRACTION, (t) => ({ emit: nbsp(t) }), undefined, P.DIGIT),
  rule(
    "fraction-char",
    P.FRACTION_CHAR,
    (t) => ({ emit: FRACTION_TEXT[t] ?? t }),
    undefined,
    P.FRACTION_CHAR,
  ),
  rule("special", P.SPECIALS, (t) => ({ emit: t.replace(AMP_ENTITY, "&") }), undefined, "[\\-cCpPaAsS]"),
  rule("slash-word", P.SLASH_WORD, same, undefined, "[A-Za-z0-9]"),
  rule("dollar", P.DOLLARS, same, undefined, "[A-Z$#]"),
  rule(
    "currency",
    P.CURRENCY_CHAR,
    (t) => ({
      emit: t.replace(/\u00A2/g, "cents").replace(/\u00A3/g, "#").replace(/[\u0080\u00A4\u20A0\u20AC]/g, "$"),
    }),
    undefined,
    P.CURRENCY_CHAR,
  ),
  // An acronym before a sentence-starting word: "A." splits into "A" "."; longer ones keep
  // their period and return it again as a token.
  rule(
    "acronym-end",
    P.ACRO_ALTS.map((a) => String.raw`(?:${a})\.`),
    (t) => (t.length === 2 ? giveBack(1)(t) : periodTwice(t)),
    P.SENTENCE_START,
    F_ASCII,
  ),
  rule("number-abbrev", P.NUMBER_ABBREV, same, String.raw`${P.SPACENL}?(?=[\0-\uFFFF])\p{Nd}`, F_ASCII),
  rule("pty.", String.raw`(?:pt[eyEY]|co)\.`, same, `${P.SPACE}(?:ltd|lim)`, F_ASCII),
  rule("abbrev-end", P.ABBREV_LOWER, periodTwice, P.SENTENCE_END, F_ASCII),
  rule("abbrev", P.ABBREV_LOWER, same, "[^][^]", F_ASCII),
  rule("abbrev-eof", P.ABBREV_LOWER, periodTwice, undefined, F_ASCII),
  rule("title.", P.ABBREV_TITLES.map((a) => String.raw`(?:${a})\.`), same, undefined, F_ASCII),
  rule("title", P.ABBREV_TITLES, same, P.SPACE, F_ASCII),
  rule("acro", P.ACRO_ALTS, same, P.SPACENL, F_ASCII),
  rule("'90", String.raw`${P.APOS}[0-9][0-9]`, same, P.SPACENL, F_APOS),
  rule("filename", P.FILENAME, same, String.raw`${P.SPACENL}|[.?!,]`, F_ALNUM),
  rule("word.", String.raw`${P.WORD}\.`, (t) => ({ emit: noSoftHyphens(t) }), P.INSENTP, F_LETTER),
  rule("phone", P.PHONES, (t) => ({ emit: parens(nbsp(t)) }), undefined, "[(+0-9]"),
  rule("open-dquote", P.DOUBLE_QUOTE, quotes(true), "[A-Za-z0-9$]", '["&]'),
  rule("dquote", P.DOUBLE_QUOTE, quotes(false), undefined, '["&]'),
  rule("del", String.raw`\u007F`, skip, undefined, String.raw`\u007F`),
  rule("<", "<|&lt;", fixed("<"), undefined, "[<&]"),
  rule(">", ">|&gt;", fixed(">"), undefined, "[>&]"),
  rule("smiley", P.SMILEY, (t) => ({ emit: parens(t) }), "[^A-Za-z0-9]", "[<>:;=]"),
  rule("asian-smiley", P.ASIAN_SMILEYS, (t) => ({ emit: parens(t) }), undefined, String.raw`[\^x=~<>'\-(]`),
  rule("{", String.raw`\{`, fixed("-LCB-"), undefined, String.raw`\{`),
  rule("}", String.raw`\}`, fixed("-RCB-"), undefined, String.raw`\}`),
  rule("[", String.raw`\[`, fixed("-LSB-"), undefined, String.raw`\[`),
  rule("]", String.raw`\]`, fixed("-RSB-"), undefined, String.raw`\]`),
  rule("(", String.raw`\(`, fixed("-LRB-"), undefined, String.raw`\(`),
  rule(")", String.raw`\)`, fixed("-RRB-"), undefined, String.raw`\)`),
  rule(
    "hyphens",
    String.raw`-+`,
    (t) => ({ emit: t.length === 3 || t.length === 4 ? "--" : t }),
    undefined,
    "-",
  ),
  rule("ellipsis", P.ELLIPSES, fixed("..."), undefined, String.raw`[.\u0085\u2026]`),
  rule("marks", ["@+", "#+", "_+"], same, undefined, "[@#_]"),
  rule("asterisks", [String.raw`\*+`, String.raw`(?:\\\*){1,3}`], same, undefined, String.raw`[*\\]`),
  rule("insentp", P.INSENTP, same, undefined, P.INSENTP),
  rule("?!", "[?!]+", same, undefined, "[?!]"),
  rule(
    "period",
    String.raw`[.\u00A1\u00BF\u037E\u0589\u061F\u06D4\u0700-\u0702\u07FA\u3002]`,
    same,
    undefined,
    null,
  ),
  rule("=", "=", same, undefined, "="),
  rule("/", String.raw`\/`, same, undefined, "/"),
  rule(
    "hyphenated.",
    String.raw`${P.HYPHENATED}\.`,
    (t) => ({ emit: noSoftHyphens(t) }),
    P.INSENTP,
    "[A-Za-z0-9]",
  ),
  rule("hyphenated", P.HYPHENATED, (t) => ({ emit: noSoftHyphens(t) }), undefined, "[A-Za-z0-9]"),
  rule("thing.", String.raw`${P.THING}\.`, same, P.INSENTP, P.PLAIN_ALNUM),
  rule("thing", P.THING, same, undefined, P.PLAIN_ALNUM),
  rule(
    "caps-amp.",
    String.raw`${P.CAPS_AMP}\.`,
    (t) => ({ emit: t.replace(AMP_ENTITY, "&") }),
    P.INSENTP,
    "[A-Z]",
  ),
  rule("caps-amp", P.CAPS_AMP, (t) => ({ emit: t.replace(AMP_ENTITY, "&") }), undefined, "[A-Z]"),
  rule("open-squote", "'", quotes(true), String.raw`[A-Za-z][^ \t\n\r\u00A0]`, "'"),
  rule("clitic-eof", P.CLITIC, quotes(false), undefined, F_APOS),
  rule("n't-eof", P.NEG, quotes(false), undefined, "[nN]"),
  rule("quote", P.QUOTE_FORMS, quotes(false), undefined, null),
  rule("duck-feet", "<<|>>", same, undefined, "[<>]"),
  rule("symbol", P.MISC_SYMBOL, same, undefined, P.MISC_SYMBOL),
  rule("space", String.raw`\0|${P.SPACE}+|[\u200B\u200E\u200F\uFEFF]`, skip, undefined, null),
  rule("newline", P.NEWLINE, () => ({ emit: PTB_NEWLINE }), undefined, null),
  rule("nbsp-entity", "&nbsp;", skip, undefined, "&"),
  // Anything else is untokenizable and deleted (the reference warns once and drops it).
  rule("other", String.raw`[^\n]`, skip, undefined, null),
];

// Rules that can start with a given code point, filled on first use.
const byFirstChar = new Map<number, Rule[]>();

/**
 * Tokenize `text` into PTB tokens (case preserved, not filtered); line breaks become
 * `PTB_NEWLINE`. Matches CoreNLP 3.4.1 `PTBTokenizer` with `tokenizeNLs`.
 */
export function lexPtb(text: string): PtbToken[] {
  const out: PtbToken[] = [];
  const n = text.length;
  const reach = reachOf(text);
  let pos = 0;
  while (pos < n) {
    let bestLen = 0;
    let bestMain = "";
    let best: Rule | null = null;
    const cp = text.codePointAt(pos)!;
    let candidates = byFirstChar.get(cp);
    if (candidates === undefined) {
      const ch = String.fromCodePoint(cp);
      candidates = RULES.filter((r) => r.first === null || r.first.test(ch));
      byFirstChar.set(cp, candidates);
    }
    for (const r of candidates) {
      if (r.guard !== null && !r.guard(reach, pos)) continue;
      for (const fn of r.fns) {
        const len = fn(text, pos);
        if (len > bestLen) {
          bestLen = len;
          bestMain = text.slice(pos, pos + len);
          best = r;
        }
      }
      for (const re of r.res) {
        re.lastIndex = pos;
        const m = re.exec(text);
        if (m !== null && m[0].length > bestLen) {
          bestLen = m[0].length;
          bestMain = m.groups!.m;
          best = r;
        }
      }
    }
    if (best === null || bestMain.length === 0) {
      throw new Error(
        `lexPtb: no rule matches at offset ${pos} of ${JSON.stringify(text.slice(pos, pos + 20))}`,
      );
    }
    const { emit, keep } = best.act(bestMain);
    if (emit !== null) out.push(emit);
    pos += keep ?? bestMain.length;
  }
  return out;
}
