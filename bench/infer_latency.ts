/**
 * Inference latency of `analyze` after the model is loaded: per image, greedy and beam 5
 * (paper defaults otherwise: 100 new tokens max, min length 5, repetition penalty 1.5), batch 1.
 * Cold start (process start to first report) is measured separately with `time` around
 * `deno task infer` (see bench/RESULTS.md).
 *
 *   .tools/deno run -A bench/infer_latency.ts --ckpt runs/X/finetune-best.safetensors --data DIR [--n 3]
 * @module
 */
import { parseArgs } from "node:util";
import { analyze, loadModel } from "../src/infer/analyze.ts";
import { readMMTT, splitPath } from "../src/data/mmtt.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    ckpt: { type: "string" },
    data: { type: "string" },
    n: { type: "string", default: "3" },
    device: { type: "string", default: "cpu" },
  },
});
if (!values.ckpt || !values.data) throw new Error("usage: --ckpt CKPT --data DIR [--n 3]");
const t0 = performance.now();
const m = await loadModel(values.ckpt, { device: values.device });
console.log(
  `load: ${((performance.now() - t0) / 1000).toFixed(2)} s (config ${m.config.name}, device ${m.device})`,
);
const recs = (await readMMTT(splitPath(values.data, "test"), values.data, { checkFiles: false })).slice(
  0,
  Number(values.n),
);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
await analyze(recs[0].imageFile, { ckpt: m, greedy: true, maxNewTokens: 5 }); // warm-up
for (const [label, o] of [["greedy", { greedy: true }], ["beam 5", { beams: 5 }]] as const) {
  const ms: number[] = [], parts: Record<string, number[]> = {}, lens: number[] = [];
  for (const r of recs) {
    const t = performance.now();
    const rep = await analyze(r.imageFile, { ckpt: m, ...o });
    ms.push(performance.now() - t);
    lens.push(m.tok.encode(rep.explanation).length);
    for (const [k, v] of Object.entries(rep.timings)) (parts[k] ??= []).push(v);
  }
  const p = Object.entries(parts).map(([k, v]) => `${k} ${median(v).toFixed(0)}`).join(", ");
  console.log(
    `${label}: median ${median(ms).toFixed(0)} ms/image over ${ms.length} (parts ms: ${p}; tokens ${
      lens.join("/")
    })`,
  );
}
