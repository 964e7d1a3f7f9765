// PTB tokenization as the COCO caption evaluation does it (lower-case, punctuation removed).
import { assertEquals } from "./assert_helpers.ts";
import { ptbTokenize, ptbTokens } from "../../src/eval/ptb_tokenizer.ts";

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
