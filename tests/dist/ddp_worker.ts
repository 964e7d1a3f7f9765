/**
 * One rank of the data-parallel test (tests/dist/ddp_test.ts starts it): a 2-layer MLP trained with
 * SGD on a fixed synthetic regression set. The global batch (16) is split over WORLD_SIZE ranks by
 * DistributedSampler; gradients are averaged with allReduceGradients. Env: RANK, WORLD_SIZE,
 * MASTER_PORT, FT_DIST_STORE, FT_TEST_OUT (rank 0 writes final params JSON), FT_TEST_STEPS,
 * FT_TEST_RESUME (params JSON + start step), FT_TEST_CKPT_AT (rank 0 writes a checkpoint after that
 * step), FT_TEST_DIE_RANK/FT_TEST_DIE_STEP (that rank exits abruptly at that step), FT_TEST_OVERLAP=1
 * (GradReducer: buckets all-reduced from the tape's onGradReady while backward runs; rank 0 writes
 * the per-step count of buckets launched during backward to FT_TEST_OUT.stats.json).
 */
import { Linear } from "../../src/nn/linear.ts";
import { Module } from "../../src/nn/module.ts";
import { SGD } from "../../src/train/sgd.ts";
import { manualSeed } from "../../src/tensor/rng.ts";
import { tensor } from "../../src/tensor/create.ts";
import { mean } from "../../src/ops/reduce.ts";
import { mul, pow, sub } from "../../src/ops/elementwise.ts";
import { backward } from "../../src/autograd/tape.ts";
import type { Tensor } from "../../src/tensor/tensor.ts";
import { initProcessGroup, readDistEnv } from "../../src/dist/process_group.ts";
import {
  allReduceGradients,
  broadcastParameters,
  DistributedSampler,
  GradReducer,
} from "../../src/dist/ddp.ts";

class Mlp extends Module {
  readonly l1: Linear;
  readonly l2: Linear;
  constructor() {
    super();
    this.l1 = this.child("l1", new Linear(6, 8));
    this.l2 = this.child("l2", new Linear(8, 4));
  }
  forward(x: Tensor): Tensor {
    const h = this.l1.forward(x);
    return this.l2.forward(mul(h, h));
  }
}

const GLOBAL_BATCH = 16;
const N = 96;
const env = readDistEnv();
const steps = Number(Deno.env.get("FT_TEST_STEPS") ?? "5");
const dieRank = Number(Deno.env.get("FT_TEST_DIE_RANK") ?? "-1");
const dieStep = Number(Deno.env.get("FT_TEST_DIE_STEP") ?? "-1");
const ckptAt = Number(Deno.env.get("FT_TEST_CKPT_AT") ?? "-1");
const out = Deno.env.get("FT_TEST_OUT");
const overlap = Deno.env.get("FT_TEST_OVERLAP") === "1";
const resume = Deno.env.get("FT_TEST_RESUME");

manualSeed(123);
const model = new Mlp();
const params = model.parameters();
let start = 0;
if (resume) {
  const ck = JSON.parse(Deno.readTextFileSync(resume)) as { step: number; params: number[][] };
  ck.params.forEach((v, i) => params[i].set(v));
  start = ck.step;
}
const pg = env.worldSize > 1 ? await initProcessGroup({ env, timeoutMs: 20_000 }) : null;
if (pg) {
  // make the non-zero ranks start from different weights: broadcast must fix it
  if (pg.rank !== 0) { for (const p of params) p.set(Array.from(p.data(), (v) => v + 1)); }
  broadcastParameters(params, pg);
}
const opt = new SGD(params, { lr: 0.05 });
const sampler = new DistributedSampler(N, env.rank, env.worldSize, { shuffle: true, seed: 7 });
const local = GLOBAL_BATCH / env.worldSize;
const order = sampler.indices(0);
// 160-byte buckets (40 floats): l2's bias + weight, then l1's bias, then l1's weight
const reducer = pg && overlap ? new GradReducer(params, pg, 160) : null;
const launchedInBackward: number[] = [];
// per step: buckets started after each parameter the tape reported (proves launches mid-backward)
const launchTrace: number[][] = [];
for (let step = start; step < steps; step++) {
  if (step === dieStep && env.rank === dieRank) Deno.exit(9);
  const idx = order.slice(step * local, (step + 1) * local);
  const xs: number[] = [];
  const ys: number[] = [];
  for (const i of idx) {
    for (let j = 0; j < 6; j++) xs.push(Math.sin(i * 0.37 + j));
    for (let j = 0; j < 4; j++) ys.push(Math.cos(i * 0.11 * (j + 1)));
  }
  const x = tensor(xs, [local, 6]);
  const y = tensor(ys, [local, 4]);
  model.zeroGrad();
  const loss = mean(pow(sub(model.forward(x), y), 2));
  if (reducer) {
    const trace: number[] = [];
    launchTrace.push(trace);
    backward(loss, {
      onGradReady: (leaf) => {
        reducer.onGradReady(leaf);
        trace.push(reducer.launched);
      },
    });
    launchedInBackward.push(reducer.finish().launchedInBackward);
  } else {
    backward(loss);
    if (pg) allReduceGradients(params, pg, 40); // small buckets: exercises several all-reduces
  }
  opt.step();
  if (step + 1 === ckptAt && env.rank === 0 && out) {
    const ck = { step: step + 1, params: params.map((p) => Array.from(p.data())) };
    Deno.writeTextFileSync(out + ".ckpt.json", JSON.stringify(ck));
  }
}
// the async API by hand: poll until done, then wait collects the status; the sum is over ranks
let asyncSum: number[] = [];
if (pg?.allReduceSumAsync && overlap) {
  const buf = new Float32Array([env.rank + 1, 10]);
  const work = pg.allReduceSumAsync(buf);
  let polls = 0;
  while (!work.done()) polls++, Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1);
  work.wait();
  asyncSum = Array.from(buf);
  if (polls > 10_000) throw new Error(`async all-reduce polled ${polls} times`);
}
if (env.rank === 0 && out && reducer) {
  Deno.writeTextFileSync(
    out + ".stats.json",
    JSON.stringify({ buckets: reducer.bucketCount, launchedInBackward, launchTrace, asyncSum }),
  );
}
if (env.rank === 0 && out) {
  Deno.writeTextFileSync(
    out,
    JSON.stringify(params.map((p) => Array.from(p.data()))),
  );
}
pg?.destroy();
