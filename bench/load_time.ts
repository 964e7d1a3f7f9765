/**
 * Model load time, split: read the checkpoint (file -> tensors; all, as before, or the weights only), build the module tree (with the
 * random init, as before, or without it, as `loadModel` now does), strict loadStateDict; and
 * `loadModel` as a whole (sha256 of the file included). Median of `--reps` runs.
 *
 *   .tools/deno run --allow-all bench/load_time.ts --ckpt runs/tiny/finetune-best.safetensors [--reps 3]
 * @module
 */
import { parseArgs } from "node:util";
import { disposeCheckpoint, readCheckpoint } from "../src/train/run_checkpoint.ts";
import { ForgeryTalker } from "../src/model/forgerytalker.ts";
import { withoutRandomInit } from "../src/tensor/create.ts";
import { loadModel, unloadModel } from "../src/infer/analyze.ts";

const { values } = parseArgs({
  options: { ckpt: { type: "string" }, reps: { type: "string", default: "3" } },
});
if (!values.ckpt) throw new Error("usage: --ckpt CKPT [--reps 3]");
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const t: Record<string, number[]> = {};
const time = <T>(k: string, f: () => T): T => {
  const t0 = performance.now();
  const r = f();
  (t[k] ??= []).push(performance.now() - t0);
  return r;
};
for (let r = 0; r < Number(values.reps); r++) {
  disposeCheckpoint(
    time("readCheckpoint, weights only", () => readCheckpoint(values.ckpt!, { optimizer: false })),
  );
  const c = time("readCheckpoint, all", () => readCheckpoint(values.ckpt!));
  for (const skip of [false, true]) {
    const label = skip ? "build without init" : "build with random init";
    const m = time(
      label,
      () =>
        skip
          ? withoutRandomInit(() => new ForgeryTalker(c.meta.config, 0))
          : new ForgeryTalker(c.meta.config, 0),
    );
    time("loadStateDict", () => m.loadStateDict(c.model));
    for (const [, p] of m.stateDict()) p.dispose();
  }
  disposeCheckpoint(c);
  const t0 = performance.now();
  const lm = await loadModel(values.ckpt);
  (t["loadModel (all)"] ??= []).push(performance.now() - t0);
  unloadModel(lm);
}
for (const [k, v] of Object.entries(t)) {
  console.log(
    `${k.padEnd(24)} first ${v[0].toFixed(0).padStart(5)} ms   median ${median(v).toFixed(0).padStart(5)} ms`,
  );
}
