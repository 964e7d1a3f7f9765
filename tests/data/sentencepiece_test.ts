/**
 * SentencePiece unigram against the C++ library itself: Debian's python3-sentencepiece trains
 * two small nmt_nfkc models at test time (tests/data/sentencepiece_fixtures.py; one with byte
 * fallback, both with user-defined symbols) and encodes ~3,300 varied strings (captions,
 * accents, CJK, emoji, control characters, odd whitespace, long words, random code points).
 * Our ids and decodes must equal the library's exactly; an HF-style tokenizer.json of the same
 * model (written by Python with its own protobuf walk) must give the same ids too.
 * Run: .tools/deno test --allow-all tests/data/sentencepiece_test.ts
 */
import { assertEquals, assertOk, assertThrows } from "../assert.ts";
import { SentencePieceTokenizer } from "../../src/data/sentencepiece.ts";

const PY = "/usr/bin/python3";

interface Case {
  text: string;
  plain: number[];
  bytes: number[];
  plain_dec: string;
  bytes_dec: string;
  pieces: string[];
  /** The library's ids after splitting on the user symbols first: what HF tokenizers returns. */
  hf: number[];
}

async function fixtures(): Promise<{ dir: string; cases: Case[] } | null> {
  try {
    if (Deno.permissions.querySync({ name: "run", command: PY }).state !== "granted") return null;
    const probe = await new Deno.Command(PY, { args: ["-c", "import sentencepiece"], stderr: "null" })
      .output();
    if (!probe.success) return null;
  } catch {
    return null;
  }
  const dir = Deno.makeTempDirSync({ prefix: "ft_spm_" });
  const script = new URL("./sentencepiece_fixtures.py", import.meta.url).pathname;
  const res = await new Deno.Command(PY, { args: [script, dir], stdout: "piped", stderr: "piped" }).output();
  if (!res.success) {
    throw new Error(`sentencepiece_fixtures.py failed: ${new TextDecoder().decode(res.stderr)}`);
  }
  return { dir, cases: JSON.parse(Deno.readTextFileSync(`${dir}/cases.json`)) };
}

const fx = await fixtures();

function compare(
  sp: SentencePieceTokenizer,
  cases: Case[],
  key: "plain" | "bytes" | "hf",
  what: string,
): void {
  let bad = 0;
  const first: string[] = [];
  for (const c of cases) {
    const ids = sp.encode(c.text);
    if (ids.length !== c[key].length || ids.some((v, i) => v !== c[key][i])) {
      if (bad++ < 3) {
        first.push(
          `${JSON.stringify(c.text)}: ours ${JSON.stringify(ids)} library ${JSON.stringify(c[key])}`,
        );
      }
    }
  }
  assertEquals(
    bad,
    0,
    `${what}: ${bad} of ${cases.length} strings differ from the library, e.g.\n${first.join("\n")}`,
  );
}

if (!fx) {
  Deno.test("sentencepiece: skipped (/usr/bin/python3 with python3-sentencepiece not available)", () => {});
} else {
  const { dir, cases } = fx;

  Deno.test("sentencepiece: ids and decodes equal the C++ library on every string (plain + byte fallback)", () => {
    assertOk(cases.length > 3000, "a few thousand strings");
    const plain = SentencePieceTokenizer.fromFile(`${dir}/plain.model`);
    const bytes = SentencePieceTokenizer.fromFile(`${dir}/bytes.model`);
    assertEquals([plain.padId, plain.eosId, plain.unkId, plain.bosId], [0, 1, 2, -1]);
    assertOk(bytes.byteFallback && !plain.byteFallback, "byte_fallback flag read from trainer_spec");
    compare(plain, cases, "plain", "plain.model");
    compare(bytes, cases, "bytes", "bytes.model");
    for (const c of cases) {
      assertEquals(plain.decode(c.plain), c.plain_dec, `decode ${JSON.stringify(c.text)}`);
      assertEquals(bytes.decode(c.bytes), c.bytes_dec, `byte decode ${JSON.stringify(c.text)}`);
    }
    assertEquals(plain.encodeAsPieces(cases[5].text), cases[5].pieces);
    // the unknown-character cases exist and byte fallback really produced byte pieces
    assertOk(cases.some((c) => c.plain.includes(2)), "some strings hit <unk>");
    assertOk(cases.some((c) => c.bytes.some((id) => /^<0x/.test(bytes.idToPiece(id)))), "byte pieces used");
  });

  Deno.test("sentencepiece: the same model as an HF tokenizer.json gives HF tokenizers' ids", () => {
    // HF splits added tokens ([R], <sep>) out before normalizing and encodes the text between
    // them separately; the fixture's "hf" ids model that with the C++ library, and
    // HF tokenizers@0.23.2 itself agreed with them on all 3,314 strings when checked by hand
    // (see docs/checkpoints.md). Strings without those symbols equal the plain library ids.
    const sp = SentencePieceTokenizer.fromTokenizerJson(Deno.readTextFileSync(`${dir}/tokenizer.json`));
    compare(sp, cases, "hf", "tokenizer.json");
    const plainOnly = cases.filter((c) => !c.text.includes("[R]") && !c.text.includes("<sep>"));
    compare(sp, plainOnly, "plain", "tokenizer.json (no user symbols)");
    assertEquals(sp.encode("[R]"), [sp.pieceToId("[R]")]);
  });

  Deno.test("sentencepiece: T5 conventions — </s> appended, <extra_id_N> sentinels above the pieces", () => {
    const t5 = SentencePieceTokenizer.fromFile(`${dir}/plain.model`, { extraIds: 100 });
    const n = t5.pieces.length;
    assertEquals(t5.size, n + 100);
    assertEquals(t5.pieceToId("<extra_id_0>"), n + 99);
    assertEquals(t5.pieceToId("<extra_id_99>"), n);
    assertEquals(t5.idToPiece(n + 99), "<extra_id_0>");
    const plainIds = t5.encode("the nose");
    const ids = t5.encode("the nose <extra_id_0> is blurred", { addEos: true });
    assertEquals(ids.slice(0, plainIds.length), plainIds);
    assertOk(ids.includes(n + 99), "sentinel kept whole");
    assertEquals(ids[ids.length - 1], 1);
    assertEquals(t5.decode(ids), "the nose<extra_id_0> is blurred");
    assertThrows(() => t5.idToPiece(n + 100), Error, "outside");
  });

  Deno.test("sentencepiece: malformed and unsupported models fail with the file name", () => {
    const bytes = Deno.readFileSync(`${dir}/plain.model`);
    assertThrows(
      () => SentencePieceTokenizer.fromModelProto(bytes.subarray(0, 1001), { what: "cut.model" }),
      Error,
      "cut.model",
    );
    assertThrows(
      () =>
        SentencePieceTokenizer.fromModelProto(new Uint8Array([0x12, 0x02, 0x18, 0x02]), {
          what: "bpe.model",
        }),
      Error,
      "bpe.model: model_type 2 is not unigram",
    );
    assertThrows(
      () => SentencePieceTokenizer.fromTokenizerJson({ model: { type: "BPE" } }),
      Error,
      "expected Unigram",
    );
  });

  Deno.test({ name: "sentencepiece fixtures: cleanup", fn: () => Deno.removeSync(dir, { recursive: true }) });
}
