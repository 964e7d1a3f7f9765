/**
 * The micro ForgeryTalker config (64² images, 2-layer trunks) and default trainer options the
 * trainer tests share (tests/train/trainer_test.ts, tests/cuda/train_precision_test.ts,
 * tests/dist/train_worker.ts).
 */
import { resolveConfig } from "../../src/model/config.ts";
import type { Stage, TrainOptions } from "../../src/train/trainer.ts";

/** A config small enough for a few training steps in a test. */
export const MICRO = resolveConfig({
  name: "tiny",
  imageSize: 64,
  vision: { dim: 64, depth: 2, heads: 2, mlpDim: 128, patchSize: 8 },
  fpn: { dim: 64, depth: 2, heads: 2, mlpDim: 128, patchSize: 8 },
  qformer: { dim: 64, depth: 2, heads: 2, mlpDim: 128, numQueries: 8 },
  maskDecoder: { dim: 64, heads: 2, mlpDim: 128 },
  t5: { dModel: 64, dKv: 16, heads: 4, dFf: 128, encoderLayers: 2, decoderLayers: 2 },
} as never);

/** Trainer options for MICRO: 4 steps per stage, batch 4, seed 3, no workers; `over` wins. */
export function microOptions(out: string, stages: Stage[], over: Partial<TrainOptions> = {}): TrainOptions {
  return {
    config: MICRO,
    out,
    stages,
    steps: { fpn: 4, pretrain: 4, finetune: 4 },
    lr: { fpn: 1e-3, pretrain: 3e-4, finetune: 3e-4 },
    batchSize: 4,
    accumulate: 1,
    warmup: 1,
    weightDecay: 0.05,
    clip: 1,
    seed: 3,
    weights: { mlm: 2, lm: 1, seg: 1, contrastive: 1 },
    finetuneRegions: "fpn",
    segVariant: "paper",
    fpnNegWeight: 0.2,
    fpnDice: true,
    freeze: { vision: false, lm: false },
    evalEvery: 1000,
    evalSamples: 2,
    saveEvery: 2,
    logEvery: 1000,
    workers: 0,
    augment: true,
    skipNonfinite: false,
    strict: false,
    resume: null,
    init: null,
    print: () => {},
    ...over,
  };
}
