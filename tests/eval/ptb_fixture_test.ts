// The PTB tokenizer against the real CoreNLP 3.4.1 PTBTokenizer driven as pycocoevalcap does it
// (tests/fixtures/eval/ptb_3_4_1.json; provenance in its `description` and the fixtures README):
// every single-caption case as the last caption of a run (`tokens`) and as a caption followed by
// another one (`tokens_followed`), and every multi-caption run (`batch_cases`), exact strings.
import { assertEquals } from "./assert_helpers.ts";
import {
  PTB_PUNCTUATIONS,
  ptbTokenize,
  ptbTokenizerOutput,
  ptbTokenizeRun,
} from "../../src/eval/ptb_tokenizer.ts";

interface Case {
  input: string;
  tokens: string;
  tokens_followed: string;
}
interface BatchCase {
  inputs: string[];
  tokens: string[];
  raw_stdout_lines: string[];
  tokens_if_run_alone: string[];
}
const fixture: { punctuation_removed: string[]; cases: Case[]; batch_cases: BatchCase[] } = JSON.parse(
  Deno.readTextFileSync(new URL("../fixtures/eval/ptb_3_4_1.json", import.meta.url)),
);

Deno.test("ptb fixture: the file holds what the issue describes", () => {
  assertEquals(fixture.cases.length, 473);
  assertEquals(fixture.batch_cases.length, 18);
  assertEquals([...PTB_PUNCTUATIONS].sort(), [...fixture.punctuation_removed].sort());
});

Deno.test("ptb fixture: every caption alone (last line of its run) = tokens", () => {
  const bad: string[] = [];
  for (const c of fixture.cases) {
    const got = ptbTokenize(c.input);
    if (got !== c.tokens) {
      bad.push(`${JSON.stringify(c.input)}: got ${JSON.stringify(got)}, want ${JSON.stringify(c.tokens)}`);
    }
  }
  assertEquals(bad, []);
});

Deno.test("ptb fixture: every caption followed by another = tokens_followed", () => {
  const bad: string[] = [];
  for (const c of fixture.cases) {
    const [got, next] = ptbTokenizeRun([c.input, "x"]);
    if (got !== c.tokens_followed) {
      bad.push(
        `${JSON.stringify(c.input)}: got ${JSON.stringify(got)}, want ${JSON.stringify(c.tokens_followed)}`,
      );
    }
    // A caption holding a line break of its own shifts "x" off its line.
    if (!/[\r\v\f\u2028\u2029]/.test(c.input)) assertEquals(next, "x", JSON.stringify(c.input));
  }
  assertEquals(bad, []);
});

Deno.test("ptb fixture: multi-caption runs (line pairing, look-ahead into the next caption)", () => {
  for (const b of fixture.batch_cases) {
    const what = JSON.stringify(b.inputs);
    assertEquals(ptbTokenizeRun(b.inputs), b.tokens, what);
    assertEquals(b.inputs.map(ptbTokenize), b.tokens_if_run_alone, what);
    // The raw tokenizer output, before pycocoevalcap's pairing and punctuation filter.
    const joined = b.inputs.map((s) => s.replaceAll("\n", " ")).join("\n");
    assertEquals(ptbTokenizerOutput(joined).split("\n"), b.raw_stdout_lines, what);
  }
});

Deno.test("ptb fixture: the whole case list as one run = followed results, last one alone", () => {
  // Only cases without their own line breaks: those would shift every later line.
  const plain = fixture.cases.filter((c) => !/[\r\v\f\u2028\u2029]/.test(c.input));
  const got = ptbTokenizeRun(plain.map((c) => c.input));
  // A case may also look into the next one (e.g. "A." before "The"); none of these do.
  const want = plain.map((c, i) => (i === plain.length - 1 ? c.tokens : c.tokens_followed));
  assertEquals(got, want);
});
