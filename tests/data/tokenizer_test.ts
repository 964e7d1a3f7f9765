import assert from "node:assert/strict";
import { instructionTexts, normalizeText, SPECIAL_TOKENS, Tokenizer } from "../../src/data/tokenizer.ts";

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
