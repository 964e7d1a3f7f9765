/**
 * Training checkpoints: ONE safetensors file holding the weights (`model.<name>`), the optimizer
 * state (`optim.state.<name>.<key>`, only in resumable checkpoints) and, in the metadata, a
 * JSON `forgerytalker` record: format version, config, tokenizer, stage, position (step,
 * epoch, batch in epoch), RNG states, best score. One file means one atomic write (temp +
 * fsync + rename, src/train/checkpoint.ts): a crash or a full disk leaves the previous
 * checkpoint intact. `deno task infer --ckpt` reads the same files (weights + config + tokenizer).
 * @module
 */
import type { LossScalerState } from "./loss_scale.ts";
import type { Tensor } from "../tensor/tensor.ts";
import { loadSafetensors, saveSafetensors } from "./checkpoint.ts";
import type { ForgeryTalkerConfig } from "../model/config.ts";
import type { TokenizerJSON } from "../data/tokenizer.ts";
import type { RngState } from "../tensor/rng.ts";
import type { Module } from "../nn/module.ts";
import type { Optimizer } from "./optimizer.ts";

/** Checkpoint format version (bump on incompatible changes). */
export const CHECKPOINT_VERSION = 1;

/** What a checkpoint records besides tensors. */
export interface CheckpointMeta {
  /** Format version. */
  version: number;
  /** Model config. */
  config: ForgeryTalkerConfig;
  /** The tokenizer (shared by the Q-Former and the T5). */
  tokenizer: TokenizerJSON;
  /** Stage that wrote it. */
  stage: string;
  /** Optimizer steps done in this stage. */
  step: number;
  /** Epoch in progress and batches of it already consumed (per rank; resume position). */
  epoch: number;
  batchInEpoch: number;
  /**
   * Samples of the epoch consumed by all ranks together (its global position; absent in older
   * checkpoints, which mean batchInEpoch × micro-batch). A resume with another world size starts here.
   */
  samplesInEpoch?: number;
  /** Data-parallel ranks of the run that wrote it (absent: 1). */
  worldSize?: number;
  /** Optimizer's global step counter. */
  stepCount: number;
  /** Model dropout streams, the MLM masking stream. */
  rng: { model: Record<string, RngState>; mlm: RngState };
  /** Best validation score so far in this stage and its step. */
  best: { score: number; step: number } | null;
  /** Training options of the run (for reproducibility and resume checks). */
  options: Record<string, unknown>;
  /** Whether optimizer state is included (resumable). */
  resumable: boolean;
  /** The fp16 loss scaler's state (`--precision fp16` runs only). */
  scaler?: LossScalerState;
}

/** Writes a checkpoint atomically. */
export function saveCheckpoint(
  path: string,
  model: Module,
  meta: CheckpointMeta,
  opt: Optimizer | null,
): void {
  const tensors = new Map<string, Tensor>();
  for (const [k, t] of model.stateDict()) tensors.set(`model.${k}`, t);
  if (opt) { for (const [k, t] of opt.stateDict()) tensors.set(`optim.${k}`, t); }
  saveSafetensors(path, tensors, { forgerytalker: JSON.stringify({ ...meta, resumable: !!opt }) });
}

/** A checkpoint read back: metadata, model tensors, optimizer tensors (caller disposes). */
export interface LoadedCheckpoint {
  meta: CheckpointMeta;
  model: Map<string, Tensor>;
  optim: Map<string, Tensor>;
}

/**
 * Reads a checkpoint; a file that is not one of ours (or of another version) is a clear error.
 * `optimizer: false` leaves the optimizer state in the file (inference: a resumable checkpoint
 * holds twice the model's size in AdamW moments); `optim` is then empty.
 */
export function readCheckpoint(path: string, opts: { optimizer?: boolean } = {}): LoadedCheckpoint {
  const keep = opts.optimizer === false ? (name: string) => !name.startsWith("optim.") : undefined;
  const { tensors, metadata } = loadSafetensors(path, keep);
  const raw = metadata.forgerytalker;
  const fail = (msg: string): never => {
    for (const t of tensors.values()) t.dispose();
    throw new Error(`checkpoint '${path}': ${msg}`);
  };
  if (!raw) fail("not a ForgeryTalker checkpoint (no 'forgerytalker' metadata)");
  let meta: CheckpointMeta;
  try {
    meta = JSON.parse(raw);
  } catch (e) {
    return fail(`corrupt metadata (${(e as Error).message})`);
  }
  if (meta.version !== CHECKPOINT_VERSION) {
    fail(`format version ${meta.version}, this build reads version ${CHECKPOINT_VERSION}`);
  }
  const model = new Map<string, Tensor>(), optim = new Map<string, Tensor>();
  for (const [k, t] of tensors) {
    if (k.startsWith("model.")) model.set(k.slice(6), t);
    else if (k.startsWith("optim.")) optim.set(k.slice(6), t);
    else t.dispose();
  }
  return { meta, model, optim };
}

/** Frees a loaded checkpoint's tensors. */
export function disposeCheckpoint(c: LoadedCheckpoint): void {
  for (const t of c.model.values()) t.dispose();
  for (const t of c.optim.values()) t.dispose();
}
