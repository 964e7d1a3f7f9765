/**
 * A tiny inference fixture built through the library (fast, no training): a synthetic MMTT
 * set of small images, a tokenizer trained on its captions, and an untrained `tiny`
 * ForgeryTalker saved as a version-1 checkpoint. Built once per test process.
 * @module
 */
import { join } from "node:path";
import { generateDataset } from "../../src/data/synth/generate.ts";
import { readMMTT, splitPath } from "../../src/data/mmtt.ts";
import { ForgeryTalker } from "../../src/model/forgerytalker.ts";
import { CHECKPOINT_VERSION, saveCheckpoint } from "../../src/train/run_checkpoint.ts";
import { trainTokenizer } from "../../src/train/trainer.ts";

/** Paths of the fixture. */
export interface Fixture {
  dir: string;
  data: string;
  ckpt: string;
  /** A few PNG images of the set. */
  images: string[];
}

let pending: Promise<Fixture> | null = null;

/** The shared fixture (seeded: identical on every run). */
export function fixture(): Promise<Fixture> {
  return pending ??= build();
}

async function build(): Promise<Fixture> {
  const dir = await Deno.makeTempDir({ prefix: "ft_infer_test_" });
  const data = join(dir, "data");
  await generateDataset({ out: data, n: 20, seed: 5, size: 64, workers: 0, quiet: true });
  const train = await readMMTT(splitPath(data, "train"), data, { checkFiles: false });
  const model = new ForgeryTalker("tiny", 11);
  const tok = trainTokenizer(train, model.cfg.t5.vocabSize, 0);
  const ckpt = join(dir, "tiny.safetensors");
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
  const images = train.slice(0, 3).map((r) => r.imageFile);
  return { dir, data, ckpt, images };
}
