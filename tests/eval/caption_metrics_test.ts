// BLEU / ROUGE-L / CIDEr-D on hand-derived examples and edge corpora (see fixtures/eval/README.md).
import { assert, assertAlmostEquals, assertEquals, assertThrows } from "./assert_helpers.ts";
import { bleuScores } from "../../src/eval/bleu.ts";
import { lcsLength, rougeL, rougeScores } from "../../src/eval/rouge.ts";
import { ciderScores } from "../../src/eval/cider.ts";
import { captionMetrics } from "../../src/eval/caption_metrics.ts";

const close = (a: number, b: number, tol = 1e-9) => assertAlmostEquals(a, b, tol);
const fixture = JSON.parse(
  Deno.readTextFileSync(new URL("../fixtures/eval/caption_reference.json", import.meta.url)),
);

Deno.test("BLEU: identical sentence scores 1 up to the reference's smoothing constants", () => {
  const b = bleuScores({ a: ["the cat sat on the mat"] }, { a: ["the cat sat on the mat"] });
  for (let n = 1; n <= 4; n++) close(b[n - 1], 1);
});

Deno.test("BLEU: short candidate, brevity penalty and tiny/small smoothing (hand-derived)", () => {
  // 1-grams 2/2, 2-grams 1/1, 3- and 4-grams 0/0 -> (1e-15)/(1e-9); BP = exp(1 - 3/2).
  const b = bleuScores({ a: ["the cat sat"] }, { a: ["the cat"] });
  const bp = Math.exp(1 - 1 / ((2 + 1e-15) / (3 + 1e-9)));
  const p1 = (2 + 1e-15) / (2 + 1e-9), p2 = (1 + 1e-15) / (1 + 1e-9), p0 = 1e-15 / 1e-9;
  close(b[0], p1 * bp, 1e-15);
  close(b[1], Math.sqrt(p1 * p2) * bp, 1e-15);
  close(b[2], (p1 * p2 * p0) ** (1 / 3) * bp, 1e-15);
  close(b[3], (p1 * p2 * p0 * p0) ** (1 / 4) * bp, 1e-15);
});

Deno.test("BLEU: closest reference length, ties to the shorter one", () => {
  // testlen 3; refs of length 2 and 4 are equally close -> 2 is used -> no brevity penalty.
  const b = bleuScores({ a: ["x y", "x y z w"] }, { a: ["x y z"] });
  close(b[0], 1);
});

Deno.test("ROUGE-L: LCS and F-measure with beta 1.2 (hand-derived)", () => {
  assertEquals(lcsLength(["a", "b", "c", "d"], ["a", "c", "e"]), 2);
  // P = 2/4, R = 2/3 -> (1 + 1.44) P R / (R + 1.44 P)
  const p = 0.5, r = 2 / 3;
  close(rougeL("a b c d", ["a c e"]), (2.44 * p * r) / (r + 1.44 * p));
  // Max precision and max recall are taken over references independently.
  close(rougeL("a b", ["a", "a b c d"]), (2.44 * 1 * 1) / (1 + 1.44 * 1));
  assertEquals(rougeL("", ["a b"]), 0);
  assertEquals(rougeScores({ x: ["a"] }, { x: ["a"] }).score, 1);
});

Deno.test("CIDEr: a single image scores 0 (log(1) idf)", () => {
  assertEquals(ciderScores({ a: ["a cat on a mat"] }, { a: ["a cat on a mat"] }).score, 0);
});

Deno.test("CIDEr: an n-gram in every image's references has idf 0", () => {
  // 'a' occurs in the references of both images: its weight is log(2) - log(2) = 0, so a
  // candidate made only of 'a' has a zero vector and scores 0.
  const gts = { x: ["a dog"], y: ["a cat"] };
  const s = ciderScores(gts, { x: ["a"], y: ["a"] });
  assertEquals(s.scores, [0, 0]);
});

Deno.test("CIDEr: hand-derived two-image value", () => {
  // Image x: hyp = ref = "dog runs": unigrams dog, runs and bigram "dog runs" each have
  // df 1 -> weight log 2; n=1,2 cosine 1; n=3,4 empty -> 0. Mean over n = 0.5, x10 = 5.
  // Image y: hyp "cat" vs ref "cat sleeps": unigram cosine = (log2)^2 / (log2 * sqrt(2) log2)
  // = 1/sqrt(2); bigram length delta = 0 - 1 -> penalty exp(-1/72) on every n.
  const s = ciderScores({ x: ["dog runs"], y: ["cat sleeps"] }, { x: ["dog runs"], y: ["cat"] });
  close(s.scores[0], 5);
  close(s.scores[1], ((1 / Math.SQRT2) * Math.exp(-1 / 72) / 4) * 10);
  close(s.score, (s.scores[0] + s.scores[1]) / 2);
});

Deno.test("captionMetrics: candidates that tokenize to nothing", () => {
  const m = captionMetrics({ a: ["A dog."], b: ["A cat."] }, { a: ["..."], b: [""] });
  assert(m.Bleu_1 < 1e-9);
  assertEquals(m.ROUGE_L, 0);
  assertEquals(m.CIDEr, 0);
  assertEquals(m.METEOR, 0);
});

Deno.test("captionMetrics: multi-reference corpus matches the reference derivation", () => {
  const m = captionMetrics(fixture.gts, fixture.res, { tokenized: true, skipMeteor: true });
  for (const k of ["Bleu_1", "Bleu_2", "Bleu_3", "Bleu_4", "ROUGE_L", "CIDEr"] as const) {
    close(m[k], fixture.expected[k]);
  }
});

Deno.test("captionMetrics: ids must match and res holds one caption", () => {
  assertThrows(() => captionMetrics({ a: ["x"] }, { b: ["x"] }), /same ids/);
  assertThrows(() => captionMetrics({ a: ["x"] }, { a: ["x", "y"] }), /exactly one/);
});

// --- Raw captions through the tokenizer (expected tokens from tests/fixtures/eval/ptb_3_4_1.json) ---

const ptbFixture: { cases: { input: string; tokens: string; tokens_followed: string }[] } = JSON.parse(
  Deno.readTextFileSync(new URL("../fixtures/eval/ptb_3_4_1.json", import.meta.url)),
);

Deno.test("captionMetrics: raw captions score as their real-tokenizer tokens (BLEU, ROUGE-L, CIDEr)", () => {
  // 12 images, 3 raw references and 1 raw candidate each, taken from the tokenizer fixture.
  // Expected: the same metrics on the tokens the real CoreNLP 3.4.1 run produced, which for
  // every caption but the last of a run is `tokens_followed` (pycocoevalcap tokenizes the
  // references in one run and the candidates in another).
  const pool = ptbFixture.cases.filter((c) => !/[\r\v\f\u2028\u2029]/.test(c.input)).slice(0, 200);
  const raw = { gts: {} as Record<string, string[]>, res: {} as Record<string, string[]> };
  const tok = { gts: {} as Record<string, string[]>, res: {} as Record<string, string[]> };
  const nImg = 12;
  for (let i = 0; i < nImg; i++) {
    const refs = [0, 1, 2].map((j) => pool[i * 16 + j]);
    const cand = pool[i * 16 + 3 + (i % 5)];
    raw.gts[`img${i}`] = refs.map((c) => c.input);
    raw.res[`img${i}`] = [cand.input];
    tok.gts[`img${i}`] = refs.map((c, j) => (i === nImg - 1 && j === 2 ? c.tokens : c.tokens_followed));
    tok.res[`img${i}`] = [i === nImg - 1 ? cand.tokens : cand.tokens_followed];
  }
  const got = captionMetrics(raw.gts, raw.res, { skipMeteor: true });
  const want = captionMetrics(tok.gts, tok.res, { tokenized: true, skipMeteor: true });
  for (const k of ["Bleu_1", "Bleu_2", "Bleu_3", "Bleu_4", "ROUGE_L", "CIDEr"] as const) {
    close(got[k], want[k], 1e-12);
  }
  assert(want.Bleu_1 > 0 && want.CIDEr > 0, "the corpus must have overlap for the check to mean something");
});

Deno.test("captionMetrics: punctuation, clitics and brackets are tokenized before BLEU/ROUGE-L", () => {
  // "The dog's (red) toy!" -> "the dog 's -lrb- red -rrb- toy": identical to the candidate.
  const m = captionMetrics({ a: ["The dog's (red) toy!"] }, { a: ["the dog 's -LRB- red -RRB- toy"] }, {
    skipMeteor: true,
  });
  close(m.Bleu_4, 1, 1e-6);
  close(m.ROUGE_L, 1);
  // and/or stays one token in 3.4.1; "a/b" vs "a / b" therefore do not match as unigrams.
  const s = captionMetrics({ a: ["eye and/or nose"] }, { a: ["eye and / or nose"] }, { skipMeteor: true });
  // ROUGE-L: LCS 2 ("eye", "nose"); P = 2/5, R = 2/3.
  const p = 2 / 5, r = 2 / 3;
  close(s.ROUGE_L, (2.44 * p * r) / (r + 1.44 * p));
});

Deno.test("captionMetrics: run-level tokenization (look-ahead past a caption, line shifts)", () => {
  // Image b's first reference is followed by its second one in the reference run, so its ":)"
  // stays ":-rrb-"; b's candidate is the last caption of the candidate run, where ":)" splits
  // into ":" (removed) and "-rrb-". ROUGE-L for b: LCS 4 of 5 both ways -> F = 0.8; a = 1.
  const m = captionMetrics(
    { a: ["red eye"], b: ["The mouth is edited :)", "The eyes are fine."] },
    { a: ["red eye"], b: ["The mouth is edited :)"] },
    { skipMeteor: true },
  );
  close(m.ROUGE_L, (1 + 0.8) / 2);
  // A "\r" inside a reference makes an extra output line: image a gets the two halves of its
  // first reference, and image b gets a's second reference instead of its own.
  const shifted = captionMetrics(
    { a: ["red eye\rblue eye", "green nose"], b: ["smeared mouth"] },
    { a: ["red eye"], b: ["smeared mouth"] },
    { skipMeteor: true },
  );
  const expected = captionMetrics(
    { a: ["red eye", "blue eye"], b: ["green nose"] },
    { a: ["red eye"], b: ["smeared mouth"] },
    { tokenized: true, skipMeteor: true },
  );
  for (const k of ["Bleu_1", "Bleu_4", "ROUGE_L", "CIDEr"] as const) close(shifted[k], expected[k], 1e-12);
  close(shifted.ROUGE_L, 0.5); // a: exact match (1), b: nothing in common (0)
});
