/**
 * A seeded random `ModelBatch` of the right shapes for a config: tests, benchmarks and the
 * PyTorch twin use it to exercise every path without a dataset. Images are N(0, 1) (already
 * "normalised"), token ids are drawn from the ids above the byte tokens, every row ends with
 * EOS and rows get different amounts of padding so masks matter.
 * @module
 */
import { intTensor, randn, tensor } from "../tensor/create.ts";
import { Rng } from "../tensor/rng.ts";
import type { ForgeryTalkerConfig } from "./config.ts";
import type { ModelBatch } from "./forgerytalker.ts";
import { IGNORE } from "./losses.ts";

/** Lengths of the example batch's token sequences. */
export interface ExampleLengths {
  /** Instruction tokens (default 24). */
  instruction?: number;
  /** Caption tokens (default 32). */
  caption?: number;
}

/** A random batch of `B` samples for `cfg` (deterministic in `seed`). */
export function exampleBatch(
  cfg: ForgeryTalkerConfig,
  B: number,
  seed = 1,
  len: ExampleLengths = {},
): ModelBatch {
  const rng = new Rng(seed);
  const S = cfg.imageSize, Ti = len.instruction ?? 24, Tc = len.caption ?? 32;
  const V = Math.min(cfg.t5.vocabSize, cfg.qformer.vocabSize);
  const tok = () => 5 + rng.int(V - 5);
  const seqs = (T: number) => {
    const ids = new Int32Array(B * T), mask = new Float32Array(B * T);
    for (let b = 0; b < B; b++) {
      const n = Math.max(2, T - ((b * 5) % Math.max(1, T - 2)));
      for (let t = 0; t < n; t++) ids[b * T + t] = t === n - 1 ? 1 : tok(), mask[b * T + t] = 1;
    }
    return { ids, mask };
  };
  const instr = seqs(Ti), cap = seqs(Tc), mlm = seqs(Tc);
  const decIn = new Int32Array(B * Tc), targets = new Int32Array(B * Tc), mlmT = new Int32Array(B * Tc);
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < Tc; t++) {
      const i = b * Tc + t;
      targets[i] = cap.mask[i] ? cap.ids[i] : IGNORE;
      decIn[i] = t === 0 ? 0 : cap.mask[i - 1] ? cap.ids[i - 1] : 0;
      mlmT[i] = mlm.mask[i] && rng.uniform() < 0.3 ? mlm.ids[i] : IGNORE;
      if (mlmT[i] !== IGNORE) mlm.ids[i] = 4; // <mask>
    }
  }
  const labels = Float32Array.from({ length: B * cfg.numRegions }, () => (rng.uniform() < 0.2 ? 1 : 0));
  const masks = new Float32Array(B * S * S);
  for (let b = 0; b < B; b++) {
    const x0 = rng.int(S / 2), y0 = rng.int(S / 2), w = 20 + rng.int(S / 3), h = 20 + rng.int(S / 3);
    for (let y = y0; y < Math.min(S, y0 + h); y++) {
      for (let x = x0; x < Math.min(S, x0 + w); x++) masks[b * S * S + y * S + x] = 1;
    }
  }
  return {
    images: randn([B, 3, S, S], rng),
    regions: tensor(labels, [B, cfg.numRegions]),
    labels: tensor(labels, [B, cfg.numRegions]),
    instrIds: intTensor(instr.ids, [B, Ti]),
    instrMask: tensor(instr.mask, [B, Ti]),
    decoderIn: intTensor(decIn, [B, Tc]),
    targets: intTensor(targets, [B, Tc]),
    masks: tensor(masks, [B, 1, S, S]),
    mlmIds: intTensor(mlm.ids, [B, Tc]),
    mlmMask: tensor(mlm.mask, [B, Tc]),
    mlmTargets: intTensor(mlmT, [B, Tc]),
  };
}
