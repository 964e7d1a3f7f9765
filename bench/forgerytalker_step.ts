/**
 * One ForgeryTalker training step (pretraining losses: MLM + LM + seg + ITC; forward,
 * backward, AdamW) on the `tiny` config, ours vs the PyTorch twin (bench/forgerytalker_torch.py)
 * on the same weights and batch, alternating rounds in one run; plus inference latency per
 * image (greedy and beam-5 report, mask, regions) after load.
 *
 *   .tools/deno run --allow-all bench/forgerytalker_step.ts [--batch 16] [--rounds 3] [--steps 3]
 *
 * Prints median step times, the ratio ours / torch, and peak RSS of each process (VmHWM).
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
import type { Tensor } from "../src/tensor/tensor.ts";

const { values } = parseArgs({
  options: {
    batch: { type: "string", default: "16" },
    rounds: { type: "string", default: "3" },
    steps: { type: "string", default: "3" },
    config: { type: "string", default: "tiny" },
    "skip-torch": { type: "boolean", default: false },
  },
});
const B = Number(values.batch), rounds = Number(values.rounds), steps = Number(values.steps);
const threads = navigator.hardwareConcurrency;

function vmHWM(): number {
  const s = Deno.readTextFileSync("/proc/self/status");
  return Number(/VmHWM:\s+(\d+)/.exec(s)![1]) / 1024;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

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
  `${values.config} training step, batch ${B} (pretrain losses, fwd+bwd+AdamW), ${threads} threads`,
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

// inference after load: one image, FPN + image encoder + Q-Former + mask + report
model.eval();
function inferOnce(beams: number): number {
  const one = exampleBatch(model.cfg, 1, 9);
  const t0 = performance.now();
  noGrad(() =>
    tidy(() => {
      const fp = model.fpn.forward(one.images).logits.data();
      void fp;
      const image = model.encodeImage(one.images);
      const q = model.queries(image, one.instrIds, one.instrMask);
      model.maskDecoder.forward({ image, regions: one.regions, queries: q }).data();
      const { enc, mask } = model.encodeReport(q, one.instrIds, one.instrMask);
      generate(model.t5, enc, mask, { beams, maxNewTokens: 40, minLength: 40 });
    })
  );
  const dt = performance.now() - t0;
  for (const t of Object.values(one)) (t as Tensor).dispose();
  return dt;
}
for (const beams of [1, 5]) {
  inferOnce(beams);
  const ts = [inferOnce(beams), inferOnce(beams), inferOnce(beams)];
  console.log(
    `  inference per image, ${beams === 1 ? "greedy" : "beam 5"}, 40 report tokens: median ${
      median(ts).toFixed(0)
    } ms`,
  );
}
Deno.removeSync(dir, { recursive: true });
