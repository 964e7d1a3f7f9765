// PTB tokenizer throughput (src/eval/ptb/lexer.ts): a 5,000-caption run of the fixture
// captions, and inputs that stress backtracking (long unbroken tokens, unterminated tags).
// Run: .tools/deno bench --allow-read bench/ptb_tokenizer_bench.ts
import { ptbTokenizeRun } from "../src/eval/ptb_tokenizer.ts";

const fixture: { cases: { input: string }[] } = JSON.parse(
  Deno.readTextFileSync(new URL("../tests/fixtures/eval/ptb_3_4_1.json", import.meta.url)),
);
const plain = fixture.cases.map((c) => c.input).filter((s) => !/[\r\v\f\u2028\u2029]/.test(s));
const captions = Array.from({ length: 5000 }, (_, i) => plain[i % plain.length]);
const chars = captions.reduce((n, s) => n + s.length + 1, 0);
console.log(`run of ${captions.length} captions, ${chars} characters`);

Deno.bench("ptbTokenizeRun: 5,000 fixture captions", () => {
  ptbTokenizeRun(captions);
});

const stress: Record<string, string> = {
  "20k-char word": "a".repeat(20_000),
  "20k chars of 'a.'": "a.".repeat(10_000),
  "unterminated tag <a a a ...": "<a" + " a".repeat(10_000),
  "20k hyphens": "-".repeat(20_000),
  "20k chars of 'x '": "x ".repeat(10_000),
};
for (const [name, text] of Object.entries(stress)) {
  Deno.bench(`ptbTokenizeRun: ${name}`, () => {
    ptbTokenizeRun([text]);
  });
}
