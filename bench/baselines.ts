/**
 * Baselines scored on the same split as ForgeryTalker (docs/train.md):
 * - `cnn+template`: the stand-in CoordConv CNN localizer (src/baselines/cnn_localizer.ts) trained on
 *   the training split, its masks, and the template caption "The <regions> show signs of manipulation."
 * - `nn-retrieval` (needs --ckpt): the caption of the training sample whose ground-truth regions best
 *   match the regions ForgeryTalker's FPN predicts (label-set IoU, ties to the first), CNN masks.
 *
 *   .tools/deno run -A bench/baselines.ts --data data/synth5k --out runs/baselines [--ckpt C] [--steps 600]
 *
 * Writes OUT/<name>/pred.json + masks and OUT/<name>/report.json, prints the paper's columns.
 */
import { parseArgs } from "node:util";
import { join, resolve } from "node:path";
import { loadSplit } from "../src/baselines/split_data.ts";
import { Localizer } from "../src/baselines/cnn_localizer.ts";
import { predictSplit, type PredRecord } from "../src/baselines/template_predict.ts";
import { DEMO_DEFAULTS, train as trainLocalizer } from "../src/baselines/localizer_baseline.ts";
import { Rng } from "../src/tensor/rng.ts";
import { tensor, withoutRandomInit } from "../src/tensor/create.ts";
import { tidy } from "../src/tensor/scope.ts";
import { noGrad } from "../src/autograd/tape.ts";
import { sigmoid } from "../src/ops/unary.ts";
import { evaluate } from "../src/eval/evaluator.ts";
import { formatTable } from "../src/eval/report.ts";
import { readMMTT, splitPath } from "../src/data/mmtt.ts";
import { buildBatch } from "../src/data/batch.ts";
import { disposeCheckpoint, readCheckpoint } from "../src/train/run_checkpoint.ts";
import { ForgeryTalker } from "../src/model/forgerytalker.ts";

const { values: v } = parseArgs({
  options: {
    data: { type: "string" },
    out: { type: "string", default: "runs/baselines" },
    ckpt: { type: "string" },
    steps: { type: "string", default: "600" },
    input: { type: "string", default: "96" },
    split: { type: "string", default: "test" },
    reuse: { type: "boolean", default: false },
  },
});
if (!v.data) {
  console.error("baselines: --data DIR is required");
  Deno.exit(2);
}
const data = resolve(v.data), out = resolve(v.out!), split = v.split as "test" | "eval";
const input = Number(v.input);
Deno.mkdirSync(out, { recursive: true });

async function score(name: string, predFile: string): Promise<void> {
  const rep = await evaluate({ predFile, dataDir: data, split });
  Deno.writeTextFileSync(join(out, name, "report.json"), JSON.stringify(rep, null, 1));
  console.log(`\n${name} (${split} split)\n${formatTable(rep.rows)}`);
}

// 1. the stand-in CNN localizer + template captions (--reuse: an earlier run's predictions)
const cnnDir = join(out, "cnn+template");
let cnnPreds: PredRecord[];
if (v.reuse) {
  cnnPreds = JSON.parse(Deno.readTextFileSync(join(cnnDir, "pred.json")));
} else {
  const t0 = performance.now();
  const trainSet = await loadSplit(data, "train", input);
  const testSet = await loadSplit(data, split, input);
  const net = new Localizer(new Rng(0).fork(1));
  const steps = Number(v.steps);
  trainLocalizer(
    net,
    trainSet,
    { ...DEMO_DEFAULTS, steps, input, batch: 32, lr: 2e-3, quiet: false },
    console.log,
  );
  cnnPreds = await predictSplit(net, testSet, {
    predFile: join(cnnDir, "pred.json"),
    maskDir: join(cnnDir, "masks"),
    batch: 32,
  });
  console.log(`cnn trained and predicted in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
  await score("cnn+template", join(cnnDir, "pred.json"));
}

// 2. nearest-neighbour caption retrieval by the FPN's predicted regions
if (v.ckpt) {
  const ck = readCheckpoint(resolve(v.ckpt));
  const model = withoutRandomInit(() => new ForgeryTalker(ck.meta.config, 0)); // strict load follows
  model.loadStateDict(ck.model);
  disposeCheckpoint(ck);
  model.eval();
  const S = model.cfg.imageSize, R = 21;
  const trainRecs = await readMMTT(splitPath(data, "train"), data);
  const testRecs = await readMMTT(splitPath(data, split), data);
  const byId = new Map(cnnPreds.map((p) => [p.instance_id, p]));
  const nn: PredRecord[] = [];
  for (let b0 = 0; b0 < testRecs.length; b0 += 32) {
    const recs = testRecs.slice(b0, b0 + 32);
    const batch = buildBatch(
      recs.map((r) => ({
        id: r.instance_id,
        imageFile: r.imageFile,
        maskFile: r.maskFile,
        caption: r.caption,
        multilabel: r.multilabel,
        seed: 0,
      })),
      S,
      false,
    );
    const probs = noGrad(() =>
      tidy(() =>
        sigmoid(model.fpn.forward(tensor(batch.images, [recs.length, 3, S, S])).logits).data().slice()
      )
    );
    recs.forEach((r, i) => {
      const pred = Array.from(probs.subarray(i * R, i * R + R), (p) => (p > 0.5 ? 1 : 0));
      let best = 0, bestScore = -1;
      trainRecs.forEach((t, j) => {
        let inter = 0, uni = 0;
        for (let k = 0; k < R; k++) {
          if (pred[k] && t.multilabel[k]) inter++;
          if (pred[k] || t.multilabel[k]) uni++;
        }
        const s = uni ? inter / uni : 1;
        if (s > bestScore) bestScore = s, best = j;
      });
      const cnn = byId.get(r.instance_id)!;
      nn.push({ ...cnn, caption: trainRecs[best].caption, multilabel: pred });
    });
  }
  model.dispose();
  Deno.mkdirSync(join(out, "nn-retrieval"), { recursive: true });
  // beside the CNN's masks: predicted-mask paths must stay inside the predictions file's folder
  const nnFile = join(cnnDir, "pred_nn_retrieval.json");
  Deno.writeTextFileSync(nnFile, JSON.stringify(nn, null, 1));
  await score("nn-retrieval", nnFile);
}
