// PTB tokenization as the COCO caption evaluation does it (lower-case, punctuation removed).
import { assertEquals } from "./assert_helpers.ts";
import { javaLowerCase, ptbTokenize, ptbTokenizerOutput, ptbTokens } from "../../src/eval/ptb_tokenizer.ts";

const cases: [string, string][] = [
  ["A man's dog can't run.", "a man 's dog ca n't run"],
  ["They'll say I'm gonna win, won't they?", "they 'll say i 'm gon na win wo n't they"],
  ["You cannot; we've tried.", "you can not we 've tried"],
  ["The dogs' toys", "the dogs toys"],
  ["a (small) [red] {box}", "a -lrb- small -rrb- -lsb- red -rsb- -lcb- box -rcb-"],
  ["He said \"hello\" and 'bye'", "he said hello and bye"],
  ["It costs $1,000.50 or 3.5 at 10:30", "it costs $ 1,000.50 or 3.5 at 10:30"],
  // Multi-character punctuation is not on pycocoevalcap's list, so "!?" stays.
  ["The U.S. flag -- wow... really!?", "the u.s. flag wow really !?"],
  ["close-up of a well-known face", "close-up of a well-known face"],
  // 3.4.1 does not escape "/" or "*" (escapeForwardSlashAsterisk is false in that version).
  ["and/or 5*3", "and/or 5 * 3"],
  ["Don\u2019t \u201cquote\u201d me\u2026 \u2014 ok", "do n't quote me ok"],
  ["line one\nline two", "line one line two"],
  ["Caf\u00e9 na\u00efve", "caf\u00e9 na\u00efve"],
  ["", ""],
  ["  . , ; : ! ?  ", ""],
];

Deno.test("ptbTokenize: clitics, brackets, quotes, numbers, unicode, newlines, empty", () => {
  for (const [input, want] of cases) assertEquals(ptbTokenize(input), want, JSON.stringify(input));
});

Deno.test("ptbTokens keeps the PTB bracket and quote tokens before filtering", () => {
  // A double quote opens (``) only before a letter, digit or $; before "(" it closes ('').
  assertEquals(ptbTokens('"(a)"'), ["''", "-LRB-", "a", "-RRB-", "''"]);
  assertEquals(ptbTokens('"a"'), ["``", "a", "''"]);
});

// Outputs below were produced by the real CoreNLP 3.4.1 PTBTokenizer (compiled from the v3.4.1
// sources, run as pycocoevalcap does) and by Java 17's String.toLowerCase(Locale.ENGLISH) while
// differential-testing this port; they cover cases the fixture file does not.
Deno.test("ptbTokenizerOutput: longest match where greedy regexes would stop early", () => {
  const cases: [string, string][] = [
    // The likely-URL host takes fewer segments so that the path can follow (U+00A0 inside).
    ["www.example.cN'To.uk/path2.pn\u00a0g", "www.example.cn'to.uk/path2.pn\u00a0g"],
    // Acronym shapes: the longest alternative wins over "a.k.a".
    ["a.k.a.t.", "a.k.a.t."],
    ["a.k.a.J.R.R. d'ArcTolk:-(ien", "a.k.a.j.r.r. d'arctolk : - -lrb- ien"],
    ['a.k.a.e.g. "x" \u2026\t   \u00bb', "a.k.a.e.g. `` x '' ... ''"],
    // "&amp;" (any case) inside capitals joined by & is one joiner, not "&" + "Amp".
    ["U&Amp;S$\nR&D&Amp;Cap'n", "u&s $\nr&d&c ap 'n"],
    // Before an Other_Uppercase letter (Roman numeral) "Co." also ends the sentence.
    ["Co.\n\u2160x", "co. .\nx"], // (the numeral itself is untokenizable and dropped)
    // Java lower-cases a capital sigma before CJK as final.
    ["iΟΔΟΣ左眼s", "iοδος左眼s"],
  ];
  for (const [input, want] of cases) assertEquals(ptbTokenizerOutput(input), want, JSON.stringify(input));
});

Deno.test("javaLowerCase: Java's final-sigma rule (word boundaries, not Unicode's)", () => {
  const cases: [string, string][] = [
    ["\u039f\u0394\u039f\u03a3", "\u03bf\u03b4\u03bf\u03c2"], // ΟΔΟΣ -> οδος (final)
    ["\u039f\u0394\u039f\u03a3-RRB", "\u03bf\u03b4\u03bf\u03c3-rrb"], // hyphen joins the word
    ["\u039f\u0394\u039f\u03a3_es", "\u03bf\u03b4\u03bf\u03c3_es"],
    ["\u039f\u0394\u039f\u03a3/a", "\u03bf\u03b4\u03bf\u03c2/a"], // slash ends it
    ["\u039f\u0394\u039f\u03a3__a", "\u03bf\u03b4\u03bf\u03c2__a"], // two joiners end it
    ["\u039f\u0394\u039f\u03a31a", "\u03bf\u03b4\u03bf\u03c31a"], // digits are in the word
    ["\u03a3", "\u03c3"],
    ["1\u03a3", "1\u03c3"],
    ["\u00aa\u03a3", "\u00aa\u03c3"], // ª is not "cased" to Java
    ["\u0130stanbul", "i\u0307stanbul"],
  ];
  for (const [input, want] of cases) assertEquals(javaLowerCase(input), want, JSON.stringify(input));
});
