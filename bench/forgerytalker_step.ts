/**
 * One ForgeryTalker training step (pretraining losses: MLM + LM + seg + ITC; forward,
 * backward, AdamW) on the `tiny` config, ours vs the PyTorch twin (bench/forgerytalker_torch.py)
 * on the same weights and batch, alternating rounds in one run; plus inference latency per
 * image (greedy and beam-5 report, mask, regions) after load.
 *
 *   .tools/deno run --allow-all bench/forgerytalker_step.ts [--batch 16] [--rounds 3] [--steps 3]
 *     [--infer-only] [--infer-reps 3] [--device cpu|cuda|auto]   (cuda: not yet run on a GPU)
 *
 * Prints median step times, the ratio ours / torch, and peak RSS of each process (VmHWM); then
 * inference per image (batch 1: the image part = FPN + image encoder + Q-Former + mask decoder +
 * T5 encoder, and the report: greedy and beam 5, 40 tokens forced), ours and the twin's
 * alternating. The twin decodes with a key/value cache (bench/forgerytalker_torch.py `Steps`) and
 * runs the inference rows at 1 thread and at all cores, each row reporting its faster one.
 * PyTorch runs at its best CPU configuration here: all cores as threads (torch.set_num_threads),
 * OPENBLAS_CORETYPE unset. Needs /usr/bin/python3 with python3-torch (apt-get install python3-torch).
 */
import { parseArgs } from "node:util";
import { ForgeryTalker } from "../src/model/forgerytalker.ts";
import { exampleBatch } from "../src/model/example_batch.ts";
import { AdamW } from "../src/train/adamw.ts";
import { saveModule, saveSafetensors } from "../src/train/checkpoint.ts";
import { backward, noGrad } from "../src/autograd/tape.ts";
import { tidy } from "../src/tensor/scope.ts";
import { generate } from "../src/infer/generate.ts";
import { useDevice } from "../src/backend/device.ts";
import type { Tensor } from "../src/tensor/tensor.ts";

const { values } = parseArgs({
  options: {
    batch: { type: "string", default: "16" },
    rounds: { type: "string", default: "3" },
    steps: { type: "string", default: "3" },
    config: { type: "string", default: "tiny" },
    "skip-torch": { type: "boolean", default: false },
    "infer-only": { type: "boolean", default: false },
    "infer-reps": { type: "string", default: "3" },
    device: { type: "string", default: "cpu" },
  },
});
const B = Number(values.batch), rounds = Number(values.rounds), steps = Number(values.steps);
const threads = navigator.hardwareConcurrency;

function vmHWM(): number {
  const s = Deno.readTextFileSync("/proc/self/status");
  return Number(/VmHWM:\s+(\d+)/.exec(s)![1]) / 1024;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

// ours on --device (cpu | cuda | auto); the twin always runs on the CPU
const device = useDevice(values.device, (m) => console.log(m));
const model = new ForgeryTalker({ name: values.config, dropout: 0 }, 0);
model.train();
const batch = exampleBatch(model.cfg, B, 1);
const dir = Deno.makeTempDirSync({ prefix: "ft_bench_" });
Deno.writeTextFileSync(`${dir}/config.json`, JSON.stringify(model.cfg));
saveModule(`${dir}/model.safetensors`, model);
saveSafetensors(`${dir}/batch.safetensors`, batch as unknown as Record<string, Tensor>);
const opt = new AdamW(model.uniqueNamedParameters(), { lr: 1e-4, weightDecay: 0.05 });

function oursSteps(n: number): number[] {
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    tidy(() => {
      model.zeroGrad();
      backward(model.losses(batch, { stage: "pretrain" }).loss);
      opt.step();
    });
    times.push(performance.now() - t0);
  }
  return times;
}

function torchSteps(n: number): { times: number[]; peakMB: number } {
  const env: Record<string, string> = { ...Deno.env.toObject(), OMP_NUM_THREADS: String(threads) };
  delete env.OPENBLAS_CORETYPE;
  const code = `
import sys, json, resource, runpy
sys.argv = ["x", "bench", "${dir}", "${B}", "${n}", "${threads}"]
import io, contextlib
buf = io.StringIO()
with contextlib.redirect_stdout(buf):
    runpy.run_path("bench/forgerytalker_torch.py", run_name="__main__")
r = json.loads(buf.getvalue())
# VmHWM, not ru_maxrss: after fork + exec, ru_maxrss can report the parent's (Deno's) peak
r["peakMB"] = int([l for l in open("/proc/self/status") if l.startswith("VmHWM")][0].split()[1]) / 1024
print(json.dumps(r))`;
  const r = new Deno.Command("/usr/bin/python3", { args: ["-c", code], env, clearEnv: true }).outputSync();
  if (!r.success) throw new Error(new TextDecoder().decode(r.stderr));
  const j = JSON.parse(new TextDecoder().decode(r.stdout));
  return { times: j.times.map((s: number) => s * 1000), peakMB: j.peakMB };
}

if (!values["infer-only"]) trainingRows();

function trainingRows(): void {
  oursSteps(1); // warm-up: allocator buckets, optimizer state
  const ours: number[] = [], theirs: number[] = [];
  let torchPeak = 0;
  for (let r = 0; r < rounds; r++) {
    ours.push(...oursSteps(steps));
    if (!values["skip-torch"]) {
      const t = torchSteps(steps + 1);
      theirs.push(...t.times.slice(1)); // first step: allocations, lazy init
      torchPeak = Math.max(torchPeak, t.peakMB);
    }
  }
  const mo = median(ours);
  console.log(
    `${values.config} training step, batch ${B} (pretrain losses, fwd+bwd+AdamW), ours on ${device}, ${threads} threads`,
  );
  console.log(
    `  ours  median ${mo.toFixed(0)} ms  (${(B / mo * 1000).toFixed(1)} samples/s)  peak RSS ${
      vmHWM().toFixed(0)
    } MB`,
  );
  if (theirs.length) {
    const mt = median(theirs);
    console.log(
      `  torch median ${mt.toFixed(0)} ms  (${(B / mt * 1000).toFixed(1)} samples/s)  peak RSS ${
        torchPeak.toFixed(0)
      } MB`,
    );
    console.log(`  ratio ours/torch ${(mo / mt).toFixed(2)}`);
  }
}

// inference after load: one image; the image part, then the report (greedy or beam 5)
model.eval();
function inferOnce(): { image: number; greedy: number; beam: number } {
  const one = exampleBatch(model.cfg, 1, 9);
  const r = { image: 0, greedy: 0, beam: 0 };
  noGrad(() =>
    tidy(() => {
      const t0 = performance.now();
      model.fpn.forward(one.images).logits.data();
      const image = model.encodeImage(one.images);
      const q = model.queries(image, one.instrIds, one.instrMask);
      model.maskDecoder.forward({ image, regions: one.regions, queries: q }).data();
      const { enc, mask } = model.encodeReport(q, one.instrIds, one.instrMask);
      enc.data();
      const t1 = performance.now();
      generate(model.t5, enc, mask, { beams: 1, maxNewTokens: 40, minLength: 40 });
      const t2 = performance.now();
      generate(model.t5, enc, mask, { beams: 5, maxNewTokens: 40, minLength: 40 });
      const t3 = performance.now();
      Object.assign(r, { image: t1 - t0, greedy: t2 - t1, beam: t3 - t2 });
    })
  );
  for (const t of Object.values(one)) (t as Tensor).dispose();
  return r;
}
function torchInfer(reps: number, threads: number): { image: number[]; greedy: number[]; beam: number[] } {
  const env: Record<string, string> = { ...Deno.env.toObject(), OMP_NUM_THREADS: String(threads) };
  delete env.OPENBLAS_CORETYPE;
  const r = new Deno.Command("/usr/bin/python3", {
    args: ["bench/forgerytalker_torch.py", "infer", dir, String(reps), String(threads)],
    env,
    clearEnv: true,
  }).outputSync();
  if (!r.success) throw new Error(new TextDecoder().decode(r.stderr));
  const j = JSON.parse(new TextDecoder().decode(r.stdout));
  const ms = (xs: number[]) => xs.map((x) => x * 1000);
  return { image: ms(j.image), greedy: ms(j.greedy), beam: ms(j.beam) };
}
inferOnce(); // warm-up
const inferReps = Number(values["infer-reps"]);
const mine = { image: [] as number[], greedy: [] as number[], beam: [] as number[] };
// the twin at both thread counts (batch-1 inference is small ops: one thread may be its best)
const twinBy = new Map<number, { image: number[]; greedy: number[]; beam: number[] }>();
for (const th of new Set([1, threads])) twinBy.set(th, { image: [], greedy: [], beam: [] });
for (let r = 0; r < rounds; r++) {
  for (let i = 0; i < inferReps; i++) {
    const o = inferOnce();
    mine.image.push(o.image), mine.greedy.push(o.greedy), mine.beam.push(o.beam);
  }
  if (!values["skip-torch"]) {
    for (const [th, acc] of twinBy) {
      const t = torchInfer(inferReps, th);
      acc.image.push(...t.image), acc.greedy.push(...t.greedy), acc.beam.push(...t.beam);
    }
  }
}
// per row, the twin's faster thread count (totals: the faster configuration as a whole)
const pick = (f: (x: { image: number[]; greedy: number[]; beam: number[] }) => number[]) => {
  let best: number[] = [], bestTh = 0;
  for (const [th, acc] of twinBy) {
    const v = f(acc);
    if (v.length && (!best.length || median(v) < median(best))) best = v, bestTh = th;
  }
  return { v: best, th: bestTh };
};
console.log(
  `inference per image after load, batch 1, 40 report tokens, ours ${threads} threads, the twin's faster of ${
    [...twinBy.keys()].join(" and ")
  } threads per row (median ms)`,
);
const row = (label: string, a: number[], b: { v: number[]; th: number }) =>
  console.log(
    `  ${label.padEnd(34)} ours ${median(a).toFixed(1).padStart(7)}` +
      (b.v.length
        ? `   twin ${median(b.v).toFixed(1).padStart(7)} (${b.th}t)   ratio ${
          (median(a) / median(b.v)).toFixed(2)
        }`
        : ""),
  );
const sum = (x: number[], y: number[]) => x.map((v, i) => v + y[i]);
row("image part (FPN..T5 encoder)", mine.image, pick((t) => t.image));
row("greedy report", mine.greedy, pick((t) => t.greedy));
row("beam-5 report", mine.beam, pick((t) => t.beam));
row("total, greedy", sum(mine.image, mine.greedy), pick((t) => sum(t.image, t.greedy)));
row("total, beam 5", sum(mine.image, mine.beam), pick((t) => sum(t.image, t.beam)));
Deno.removeSync(dir, { recursive: true });
