"""Trains small SentencePiece unigram models (nmt_nfkc) with Debian's python3-sentencepiece and
encodes a few thousand varied strings, for tests/data/sentencepiece_test.ts.

usage: /usr/bin/python3 tests/data/sentencepiece_fixtures.py OUT_DIR
Writes OUT_DIR/plain.model (T5-like ids: pad 0, eos 1, unk 2, user symbols), OUT_DIR/bytes.model
(the same with byte_fallback) and OUT_DIR/cases.json: [{text, plain, bytes, plain_dec, bytes_dec,
norm}] where the lists are the library's ids and the *_dec strings its decode of them.
"""
import json
import os
import random
import sys

import sentencepiece as spm

out = sys.argv[1]
rng = random.Random(1234)

regions = ["eye", "pupil", "lip", "mouth", "nose", "ear", "cheek", "forehead", "chin", "jaw", "eyebrow",
           "tooth", "tongue", "beard", "mustache", "skin", "hair", "wrinkle", "freckle", "scar", "dimple"]
faults = ["blurred edges", "unnatural color", "inconsistent lighting", "missing texture", "visible seams",
          "asymmetric shape", "smudged outline", "over-smoothed skin", "mismatched shadows", "jagged boundary"]
accented = ["café", "naïve", "résumé", "Crème brûlée", "Ångström", "Ærøskøbing", "jalapeño", "façade",
            "Zürich", "São Paulo", "Dvořák", "Łódź", "İstanbul", "coöperate", "Éire"]
cjk = ["人脸伪造检测", "目の周りが不自然です", "입술 색이 이상합니다", "鼻子的边缘模糊", "深度伪造", "東京タワー"]
emoji = ["🙂", "👍🏽", "👨‍👩‍👧", "🇫🇷", "❤️", "🤖", "😀😃😄"]
odd = ["ﬁne", "①②③", "ＦＵＬＬＷＩＤＴＨ", "½ cup", "x²+y²", "Ⅻ", "ｶﾀｶﾅ", "™", "…", "Å", "e\u0301", "\u00a0nbsp\u00a0",
       "tab\there", "zero\u200bwidth", "bom\ufeffhere", "ctl\x01\x02\x7f", "line\nbreak", "cr\r\nlf", "\u3000ideo space",
       "soft\u00adhyphen", "rtl \u202eabc", "ﷺ", "ǅungla"]


def caption():
    r = rng.sample(regions, rng.randint(1, 3))
    f = rng.choice(faults)
    t = rng.choice([
        f"The {r[0]} shows {f}.",
        f"Around the {' and '.join(r)}, there are {f} and {rng.choice(faults)}.",
        f"These facial areas may be manipulated by AI: [R]. Please describe the specific issues in these areas.",
        f"{r[0].capitalize()} region: {f}; confidence {rng.randint(0, 100)}%.",
    ])
    return t


corpus = []
for _ in range(4000):
    corpus.append(caption())
for _ in range(600):
    corpus.append(" ".join(rng.choice(accented + cjk[:3] + odd[:6] + [caption()]) for _ in range(rng.randint(1, 4))))
syll = ["ka", "ro", "mi", "ten", "sha", "lu", "vor", "nex", "qui", "bel", "dra", "o", "i", "st", "ph"]
for _ in range(3000):  # pseudo-words so the vocabulary has something to learn
    corpus.append(" ".join("".join(rng.choice(syll) for _ in range(rng.randint(1, 4))) for _ in range(rng.randint(3, 12))))
train_path = os.path.join(out, "train.txt")
with open(train_path, "w", encoding="utf-8") as f:
    for line in corpus:
        f.write(line.replace("\n", " ").replace("\r", " ") + "\n")

common = dict(input=train_path, model_type="unigram", vocab_size=700, hard_vocab_limit=False, normalization_rule_name="nmt_nfkc",
              character_coverage=0.995, pad_id=0, eos_id=1, unk_id=2, bos_id=-1,
              user_defined_symbols=["[R]", "<sep>"], num_threads=1, seed_sentencepiece_size=20000,
              max_sentencepiece_length=12)
spm.SentencePieceTrainer.train(model_prefix=os.path.join(out, "plain"), **common)
spm.SentencePieceTrainer.train(model_prefix=os.path.join(out, "bytes"), byte_fallback=True, **common)
plain = spm.SentencePieceProcessor(model_file=os.path.join(out, "plain.model"))
byts = spm.SentencePieceProcessor(model_file=os.path.join(out, "bytes.model"))

pool = accented + cjk + emoji + odd + regions + faults
texts = ["", " ", "   ", "\t\n", "a", "[R]", "[R][R]x[R]", "<sep> a <sep>", "  leading and trailing  ",
         "multiple     inner    spaces", "x" * 300, "supercalifragilisticexpialidocious" * 4,
         "Pneumonoultramicroscopicsilicovolcanoconiosis", "ThisIsAVeryLongCamelCaseIdentifierWithoutSpaces"]
for _ in range(1500):
    texts.append(caption())
for _ in range(1500):
    parts = [rng.choice(pool) if rng.random() < 0.6 else caption() for _ in range(rng.randint(1, 5))]
    sep = rng.choice([" ", "  ", "", "\t", " \u3000 ", "\n"])
    texts.append(sep.join(parts))
for _ in range(300):  # random code points, including rare planes and unassigned ones
    texts.append("".join(chr(rng.choice([rng.randint(0x20, 0x7e), rng.randint(0xa0, 0x2fff), rng.randint(0x3000, 0xd7ff),
                                         rng.randint(0xe000, 0xfffd), rng.randint(0x10000, 0x2ffff)]))
                         for _ in range(rng.randint(1, 20))))
import re  # noqa: E402


def hf_style(t):
    """HF tokenizers' added-token rule: split on the user symbols first, encode each piece between."""
    ids = []
    for part in re.split(r"(\[R\]|<sep>)", t):
        if part in ("[R]", "<sep>"):
            ids.append(plain.piece_to_id(part))
        elif part:
            ids += plain.encode(part)
    return ids


cases = []
for t in texts:
    a, b = plain.encode(t), byts.encode(t)
    cases.append({"text": t, "plain": a, "bytes": b, "plain_dec": plain.decode(a), "bytes_dec": byts.decode(b),
                  "pieces": plain.encode(t, out_type=str), "hf": hf_style(t)})


def proto_fields(b):
    """(field, wire, value) of a protobuf message: a decoder independent of the TypeScript one."""
    i = 0

    def varint():
        nonlocal i
        v = shift = 0
        while True:
            c = b[i]
            i += 1
            v |= (c & 0x7F) << shift
            shift += 7
            if not c & 0x80:
                return v

    while i < len(b):
        key = varint()
        f, w = key >> 3, key & 7
        if w == 0:
            yield f, w, varint()
        elif w == 2:
            n = varint()
            yield f, w, b[i:i + n]
            i += n
        elif w == 5:
            yield f, w, b[i:i + 4]
            i += 4
        elif w == 1:
            yield f, w, b[i:i + 8]
            i += 8


# an HF tokenizer.json the way transformers' T5 converter writes one (Unigram + Precompiled + Metaspace)
proto = open(os.path.join(out, "plain.model"), "rb").read()
charsmap = b""
for f, w, v in proto_fields(proto):
    if f == 3:
        for g, _, x in proto_fields(v):
            if g == 2:
                charsmap = x
import base64  # noqa: E402
vocab = [[plain.id_to_piece(i), plain.get_score(i)] for i in range(plain.get_piece_size())]
added = [{"id": i, "content": plain.id_to_piece(i), "special": True} for i in range(plain.get_piece_size())
         if plain.is_control(i) or plain.is_unknown(i)]
# user-defined symbols: non-special added tokens that skip normalization (newer converters do this)
added += [{"id": plain.piece_to_id(p), "content": p, "special": False, "normalized": False} for p in ["[R]", "<sep>"]]
tj = {"version": "1.0", "added_tokens": added,
      "normalizer": {"type": "Sequence", "normalizers": [
          {"type": "Precompiled", "precompiled_charsmap": base64.b64encode(charsmap).decode()},
          {"type": "Replace", "pattern": {"Regex": " {2,}"}, "content": " "}]},
      "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
          {"type": "WhitespaceSplit"}, {"type": "Metaspace", "replacement": "\u2581", "add_prefix_space": True}]},
      "model": {"type": "Unigram", "unk_id": plain.unk_id(), "vocab": vocab, "byte_fallback": False}}
json.dump(tj, open(os.path.join(out, "tokenizer.json"), "w"))
json.dump(cases, open(os.path.join(out, "cases.json"), "w", encoding="utf-8"), ensure_ascii=True)
print("ok", len(cases))
