/**
 * The T5 decoder step on the `tiny` config, per token: our fused step (one native call,
 * src/ops/t5_decode_step.ts), our op-by-op step (FT_T5_FUSED=0: the same kernels, ~90 ops), and
 * PyTorch's cached step (the twin's `t5_step`, HF use_cache semantics, bench/forgerytalker_torch.py)
 * on the same weights and encoder output; 40 steps from the start token, batch 1 (greedy) and 5
 * (beam rows), medians over alternating rounds in one run, ratios ours / torch.
 *
 *   .tools/deno run --allow-all bench/t5_decode_step_bench.ts [--rounds 5] [--tokens 40] [--skip-torch]
 *
 * PyTorch runs at its best CPU configuration here: the faster of 1 thread and all cores (small ops
 * often run faster on one), OPENBLAS_CORETYPE unset.
 * Needs /usr/bin/python3 with python3-torch (apt-get install python3-torch) unless --skip-torch.
 */
import { parseArgs } from "node:util";
import { ForgeryTalker } from "../src/model/forgerytalker.ts";
import { saveModule, saveSafetensors } from "../src/train/checkpoint.ts";
import { noGrad } from "../src/autograd/tape.ts";
import { tidy } from "../src/tensor/scope.ts";
import { intTensor, ones, randn } from "../src/tensor/create.ts";
import { Rng } from "../src/tensor/rng.ts";
import type { Tensor } from "../src/tensor/tensor.ts";

const { values } = parseArgs({
  options: {
    rounds: { type: "string", default: "5" },
    tokens: { type: "string", default: "40" },
    "skip-torch": { type: "boolean", default: false },
  },
});
const rounds = Number(values.rounds), tokens = Number(values.tokens);
const threads = navigator.hardwareConcurrency;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const model = new ForgeryTalker({ name: "tiny", dropout: 0 }, 0);
model.eval();
const t5 = model.t5;
const Te = model.cfg.qformer.numQueries + 24; // queries + an instruction's tokens
const dir = Deno.makeTempDirSync({ prefix: "ft_t5step_" });
Deno.writeTextFileSync(`${dir}/config.json`, JSON.stringify(model.cfg));
saveModule(`${dir}/model.safetensors`, model);

/** ms per token of `tokens` cached steps for `rows` rows, ours (fused or op path). */
function ours(enc: Tensor, mask: Tensor, fused: boolean): number {
  Deno.env.set("FT_T5_FUSED", fused ? "1" : "0");
  const rows = enc.shape[0];
  return noGrad(() =>
    tidy(() => {
      const cache = t5.startDecode(enc, mask, tokens);
      try {
        const t0 = performance.now();
        for (let t = 0; t < tokens; t++) {
          tidy(() => t5.decodeStep(intTensor(new Array(rows).fill((t * 7) % 100), [rows, 1]), cache).data());
        }
        return (performance.now() - t0) / tokens;
      } finally {
        for (const kv of cache.self) kv.dispose();
      }
    })
  );
}

function torch(rows: number, reps: number, threads: number): number[] {
  const env: Record<string, string> = { ...Deno.env.toObject(), OMP_NUM_THREADS: String(threads) };
  delete env.OPENBLAS_CORETYPE;
  const code = `
import sys, json, time, torch
sys.path.insert(0, "bench")
from forgerytalker_torch import Twin, read_safetensors
torch.set_num_threads(${threads})
cfg = json.load(open("${dir}/config.json"))
tw = Twin(cfg, read_safetensors("${dir}/model.safetensors"))
e = read_safetensors("${dir}/enc${rows}.safetensors")
out = []
with torch.no_grad():
    cross = tw.t5_cross_kv(e["enc"])
    for r in range(${reps} + 1):
        cache = [None] * cfg["t5"]["decoderLayers"]
        t0 = time.perf_counter()
        for t in range(${tokens}):
            tw.t5_step(torch.full((${rows},), (t * 7) % 100), cross, cache, e["mask"])
        if r > 0:
            out.append((time.perf_counter() - t0) / ${tokens} * 1000)
print(json.dumps(out))`;
  const r = new Deno.Command("/usr/bin/python3", { args: ["-c", code], env, clearEnv: true }).outputSync();
  if (!r.success) throw new Error(new TextDecoder().decode(r.stderr));
  return JSON.parse(new TextDecoder().decode(r.stdout));
}

console.log(
  `T5 decoder step, tiny (d ${t5.cfg.dModel}, ${t5.cfg.decoderLayers} layers, vocab ${t5.cfg.vocabSize}),`,
);
console.log(
  `${Te} encoder positions, ${tokens} steps, ${threads} threads: ms per token (median of ${rounds} rounds)`,
);
for (const rows of [1, 5]) {
  const enc = randn([rows, Te, t5.cfg.dModel], new Rng(rows));
  const mask = ones([rows, Te]);
  saveSafetensors(`${dir}/enc${rows}.safetensors`, { enc, mask });
  ours(enc, mask, true), ours(enc, mask, false); // warm-up
  // PyTorch's best configuration for these small ops may be one thread: both are measured
  const fused: number[] = [], ops: number[] = [], theirs: Record<number, number[]> = { 1: [], [threads]: [] };
  for (let r = 0; r < rounds; r++) {
    fused.push(ours(enc, mask, true));
    ops.push(ours(enc, mask, false));
    if (!values["skip-torch"]) {
      for (const th of new Set([1, threads])) theirs[th].push(...torch(rows, 1, th));
    }
  }
  const f = median(fused), o = median(ops);
  let line = `  ${rows} row${rows > 1 ? "s" : " "}: fused ${f.toFixed(3)}   op path ${
    o.toFixed(3)
  } (fused/op ${(f / o).toFixed(2)})`;
  if (!values["skip-torch"]) {
    const [th, best] = Object.entries(theirs).map(([k, v]) => [Number(k), median(v)]).sort((a, b) =>
      a[1] - b[1]
    )[0];
    line += `   torch cached ${best.toFixed(3)} (${th} thread${th > 1 ? "s" : ""})   fused/torch ${
      (f / best).toFixed(2)
    }`;
  }
  console.log(line);
  enc.dispose(), mask.dispose();
}
Deno.env.delete("FT_T5_FUSED");
Deno.removeSync(dir, { recursive: true });
