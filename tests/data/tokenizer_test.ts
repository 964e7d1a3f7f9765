import assert from "node:assert/strict";
import {
  bpeMerge,
  instructionTexts,
  MAX_WORD_CHARS,
  normalizeText,
  SPECIAL_TOKENS,
  Tokenizer,
} from "../../src/data/tokenizer.ts";

const CAPTIONS = [
  "The left eyebrow is thicker than the right one with blurry edges.",
  "Her lips have an unnatural colour and the texture looks flat.",
  "The man's nose has been widened. Also, the skin looks overly smooth.",
  "Both eyes look oversized, making the face asymmetric.",
];

Deno.test("tokenizer: round trip, specials, determinism, JSON", () => {
  const texts = [...CAPTIONS, ...instructionTexts()];
  const t = Tokenizer.train(texts, 400);
  assert.ok(t.vocabSize > 261 && t.vocabSize <= 400);
  assert.deepEqual(SPECIAL_TOKENS, { pad: 0, eos: 1, unk: 2, bos: 3, mask: 4 });
  for (const s of [...CAPTIONS, "  Ünïcödé   naïve 😀 text\twith  spaces ", "unseen WORDS: 12345!"]) {
    assert.equal(t.decode(t.encode(s)), normalizeText(s));
  }
  const ids = t.encode(CAPTIONS[0], { bos: true, eos: true });
  assert.equal(ids[0], 3);
  assert.equal(ids.at(-1), 1);
  assert.ok(ids.length < CAPTIONS[0].length / 1.5, `merges compress training text: ${ids.length} ids`);
  const t2 = Tokenizer.train(texts, 400);
  assert.deepEqual(t2.toJSON(), t.toJSON());
  const t3 = Tokenizer.fromJSON(JSON.parse(JSON.stringify(t.toJSON())));
  assert.deepEqual(t3.encode(CAPTIONS[1]), t.encode(CAPTIONS[1]));
  assert.throws(() => Tokenizer.fromJSON({ type: "x" } as never), /expected type/);
});

// The textbook BPE loop (rescan for the lowest-rank pair, leftmost on ties): the reference.
function naiveMerge(chars: string[], ranks: Map<string, number>): string[] {
  const parts = chars.slice();
  for (;;) {
    let bestJ = -1, bestR = Infinity;
    for (let j = 0; j + 1 < parts.length; j++) {
      const r = ranks.get(parts[j] + "\u0000" + parts[j + 1]);
      if (r !== undefined && r < bestR) [bestR, bestJ] = [r, j];
    }
    if (bestJ < 0) return parts;
    parts.splice(bestJ, 2, parts[bestJ] + parts[bestJ + 1]);
  }
}

Deno.test("tokenizer: heap BPE merge equals the naive loop on random words", () => {
  let s = 7;
  const rnd = (n: number) => (s = (s * 1103515245 + 12345) >>> 0) % n;
  const alphabet = "abcab";
  const texts = Array.from(
    { length: 300 },
    () =>
      Array.from({ length: 8 }, () => Array.from({ length: 1 + rnd(12) }, () => alphabet[rnd(5)]).join(""))
        .join(" "),
  );
  const t = Tokenizer.train(texts, 330);
  const ranks = new Map(t.toJSON().merges.map(([a, b], i) => [a + "\u0000" + b, i]));
  assert.ok(ranks.size > 30, `${ranks.size} merges`);
  for (let k = 0; k < 500; k++) {
    const w = Array.from({ length: 1 + rnd(40) }, () => alphabet[rnd(5)]);
    if (k % 2) w[0] = "\u2581" + w[0];
    assert.deepEqual(bpeMerge(w, ranks), naiveMerge(w, ranks), w.join(""));
  }
});

Deno.test("tokenizer: long words are linear-ish, capped, and round-trip (1M characters)", () => {
  const t = Tokenizer.train([...CAPTIONS, ...instructionTexts()], 400);
  const ranks = new Map(t.toJSON().merges.map(([a, b], i) => [a + "\u0000" + b, i]));
  // the merge itself on a 112k-symbol word, no cap (the old loop took > 120 s)
  const long = Array.from("theeyebrow".repeat(11200));
  let t0 = performance.now();
  const merged = bpeMerge(long, ranks);
  const ms = performance.now() - t0;
  assert.equal(merged.join(""), long.join(""));
  assert.ok(ms < 3000, `112k-symbol merge took ${ms.toFixed(0)} ms`);
  // encode cuts words at MAX_WORD_CHARS; a 1M-character word neither overflows the stack nor stalls
  const huge = "x".repeat(1_000_000);
  t0 = performance.now();
  const ids = t.encode(huge);
  assert.ok(performance.now() - t0 < 10_000, "1M-character word encodes in seconds");
  assert.equal(t.decode(ids), huge);
  assert.equal(MAX_WORD_CHARS, 256);
  // the cut happens at exactly MAX_WORD_CHARS code points: two pieces encode like two words
  const w = "eyebrow".repeat(60); // 420 chars
  assert.deepEqual(t.encode(w), [...t.encode(w.slice(0, 256)), ...t.encode(w.slice(256))]);
});

Deno.test("tokenizer: fromJSON without (or with bad) merges is a clear error", () => {
  const j = Tokenizer.train(CAPTIONS, 300).toJSON();
  const { merges: _m, ...noMerges } = j;
  assert.throws(
    () => Tokenizer.fromJSON(noMerges as never),
    /^Error: tokenizer JSON: 'merges' is missing; expected \[left, right\] string pairs$/,
  );
  assert.throws(
    () => Tokenizer.fromJSON({ ...j, merges: [["a", "b"], ["c"]] } as never),
    /^Error: tokenizer JSON: merges\[1\] is \["c"\], expected a \[left, right\] string pair$/,
  );
  assert.throws(
    () => Tokenizer.fromJSON({ ...j, tokens: [1, 2] } as never),
    /'tokens' must be an array of non-empty strings/,
  );
});
