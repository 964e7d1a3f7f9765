/**
 * Load check of the analyst server (issue 16): 100 sequential and 10 concurrent uploads of a
 * synthetic forged face to POST /api/analyze on 127.0.0.1, no failures allowed; prints the
 * latency percentiles (client round trip; for the burst also the queue wait) as a Markdown
 * table for bench/RESULTS.md.
 *
 *   deno run --allow-all bench/serve_load.ts [--ckpt C] [--greedy] [--max-new-tokens N] [--seq 100] [--conc 10]
 *
 * Without --ckpt a random-weight `tiny` checkpoint is built in a temp folder (its explanation
 * runs to the token limit, the slow case); with one, that model (e.g. models/default.safetensors).
 */
import { join } from "node:path";
import { parseArgs } from "node:util";
import { generateDataset } from "../src/data/synth/generate.ts";
import { readMMTT, splitPath } from "../src/data/mmtt.ts";
import { ForgeryTalker } from "../src/model/forgerytalker.ts";
import { CHECKPOINT_VERSION, saveCheckpoint } from "../src/train/run_checkpoint.ts";
import { trainTokenizer } from "../src/train/trainer.ts";
import { startServer } from "../src/serve/server.ts";
import { startWorkerEngine } from "../src/serve/engine.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    ckpt: { type: "string" },
    greedy: { type: "boolean", default: false },
    "max-new-tokens": { type: "string" },
    seq: { type: "string", default: "100" },
    conc: { type: "string", default: "10" },
  },
});
const dir = await Deno.makeTempDir({ prefix: "ft_serve_load_" });
const data = join(dir, "data");
await generateDataset({ out: data, n: 10, seed: 7, size: 256, workers: 0, quiet: true });
const train = await readMMTT(splitPath(data, "train"), data, { checkFiles: false });
let ckpt = values.ckpt;
if (!ckpt) {
  const model = new ForgeryTalker("tiny", 11);
  const tok = trainTokenizer(train, model.cfg.t5.vocabSize, 0);
  ckpt = join(dir, "tiny.safetensors");
  saveCheckpoint(ckpt, model, {
    version: CHECKPOINT_VERSION,
    config: model.cfg,
    tokenizer: tok.toJSON(),
    stage: "finetune",
    step: 0,
    epoch: 0,
    batchInEpoch: 0,
    stepCount: 0,
    rng: { model: {}, mlm: { s: [1, 2, 3, 4], spare: null } },
    best: null,
    options: { finetuneRegions: "fpn" },
    resumable: false,
  }, null);
  for (const [, t] of model.stateDict()) t.dispose();
}
const engine = await startWorkerEngine(ckpt);
const maxNewTokens = values["max-new-tokens"] ? Number(values["max-new-tokens"]) : undefined;
const server = startServer({
  engine,
  hostname: "127.0.0.1",
  port: 0,
  decoding: { greedy: values.greedy, maxNewTokens },
});
const images = await Promise.all(train.slice(0, 8).map((r) => Deno.readFile(r.imageFile)));
let failures = 0;

async function post(i: number): Promise<{ ms: number; queueMs: number; modelMs: number; serverMs: number }> {
  const fd = new FormData();
  fd.append("image", new File([images[i % images.length]], `face${i}.png`, { type: "image/png" }));
  const t0 = performance.now();
  const res = await fetch(`${server.url}api/analyze`, { method: "POST", body: fd });
  const body = await res.json();
  const ms = performance.now() - t0;
  if (res.status !== 200) {
    failures++;
    console.error(`request ${i}: ${res.status} ${body.error}`);
    return { ms, queueMs: 0, modelMs: 0, serverMs: 0 };
  }
  return {
    ms,
    queueMs: body.timings.queueMs,
    modelMs: body.report.timings.total,
    serverMs: body.timings.serverMs,
  };
}

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
}
const f = (x: number) => x.toFixed(0);

await post(0); // warm-up (first forward allocates the caching allocator's buffers)
const nSeq = Number(values.seq), nConc = Number(values.conc);
const seq: Awaited<ReturnType<typeof post>>[] = [];
const t0 = performance.now();
for (let i = 0; i < nSeq; i++) seq.push(await post(i));
const seqWall = performance.now() - t0;
const t1 = performance.now();
const conc = await Promise.all(Array.from({ length: nConc }, (_, i) => post(i)));
const concWall = performance.now() - t1;
await server.shutdown();
await engine.close();
await Deno.remove(dir, { recursive: true });

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const dec = `${values.greedy ? "greedy" : "beam 5"}${maxNewTokens ? `, ≤ ${maxNewTokens} tokens` : ""}`;
console.log(
  `model ${engine.info.config} (${values.ckpt ?? "random weights"}), ${dec}, ${engine.info.device}`,
);
console.log(
  `| run | n | failures | p50 ms | p90 ms | p99 ms | mean model ms | mean server overhead ms | wall s |`,
);
console.log(`|---|---|---|---|---|---|---|---|---|`);
const row = (name: string, xs: typeof seq, wall: number) =>
  console.log(
    `| ${name} | ${xs.length} | ${failures} | ${f(pct(xs.map((x) => x.ms), 50))} | ${
      f(pct(xs.map((x) => x.ms), 90))
    } | ${f(pct(xs.map((x) => x.ms), 99))} | ${f(mean(xs.map((x) => x.modelMs)))} | ${
      f(mean(xs.map((x) => x.serverMs - x.modelMs - x.queueMs)))
    } | ${(wall / 1000).toFixed(1)} |`,
  );
row("sequential", seq, seqWall);
row("concurrent (one burst)", conc, concWall);
console.log(
  `burst queue wait ms: p50 ${f(pct(conc.map((x) => x.queueMs), 50))}, max ${
    f(Math.max(...conc.map((x) => x.queueMs)))
  }`,
);
if (failures) {
  console.error(`${failures} request(s) failed`);
  Deno.exit(1);
}
