/**
 * The staged trainer behind `deno task train` (paper §3.4, DESIGN §1):
 *   fpn       the Forgery Prompter Network alone: ½(BCE_ω + Dice) over the 21 labels;
 *   pretrain  forgery-aware pretraining: λ1·MLM + λ2·LM + λ3·seg + λ4·ITC with ground-truth
 *             regions in the instruction and the mask prompts;
 *   finetune  the FPN frozen, its predicted regions build the instruction: LM + seg;
 *   all       the three in order, each starting from the previous stage's best weights.
 * One step: batch -> (FPN regions) -> losses -> backward -> (accumulate) -> clip -> AdamW with
 * warmup + cosine. Checkpoints (src/train/run_checkpoint.ts) hold everything an exact resume
 * needs; validation picks the best checkpoint (fpn: PLM; others: validation loss).
 * @module
 */
import { ForgeryTalker } from "../model/forgerytalker.ts";
import type { ForgeryTalkerConfig } from "../model/config.ts";
import type { MMTTRecord } from "../data/mmtt.ts";
import { type Batch, MMTTLoader } from "../data/loader.ts";
import { Tokenizer, type TokenizerJSON } from "../data/tokenizer.ts";
import { REGIONS } from "../data/regions.ts";
import { AdamW } from "./adamw.ts";
import { clipGradNorm } from "./clip.ts";
import type { ProcessGroup } from "../dist/process_group.ts";
import { broadcastParameters, GradReducer } from "../dist/ddp.ts";
import { CollectiveError } from "../dist/process_group.ts";
import { warmupCosine } from "./schedule.ts";
import { BatchNorm2d } from "../nn/batchnorm.ts";
import { Rng } from "../tensor/rng.ts";
import { tidy } from "../tensor/scope.ts";
import { memoryStats } from "../tensor/storage.ts";
import { backward, noGrad } from "../autograd/tape.ts";
import { sigmoid } from "../ops/unary.ts";
import { scale } from "../ops/elementwise.ts";
import { tensor } from "../tensor/create.ts";
import { interpolate } from "../ops/resize.ts";
import { toModelBatch } from "./model_batch.ts";
import {
  CHECKPOINT_VERSION,
  type CheckpointMeta,
  disposeCheckpoint,
  readCheckpoint,
  saveCheckpoint,
} from "./run_checkpoint.ts";
import { generate } from "../infer/generate.ts";
import { plmSample } from "../eval/plm.ts";
import { initFpnFromVision } from "./fpn_transfer.ts";
import { LossScaler } from "./loss_scale.ts";
import { withAutocast } from "../backend/cuda.ts";
import { getDefaultDevice } from "../tensor/tensor.ts";
import {
  instruction,
  OFFICIAL_TEMPLATE,
  OFFICIAL_TEMPLATE_EMPTY,
  PAPER_TEMPLATE,
} from "../model/instruction.ts";
import type { LossWeights } from "../model/forgerytalker.ts";
import type { Tensor } from "../tensor/tensor.ts";

/** A single training stage. */
export type Stage = "fpn" | "pretrain" | "finetune";

/** Options of a training run (the CLI flags). */
export interface TrainOptions {
  /** Config (name or resolved object). */
  config: ForgeryTalkerConfig;
  /** Output folder (checkpoints, log.jsonl, curves.svg). */
  out: string;
  /** Stages to run, in order. */
  stages: Stage[];
  /** Optimizer steps per stage. */
  steps: Record<Stage, number>;
  /** Peak learning rate per stage. */
  lr: Record<Stage, number>;
  /** Samples per optimizer step (batch × accumulation). */
  batchSize: number;
  /** Gradient accumulation micro-batches per step. */
  accumulate: number;
  /** Warmup steps (fraction of the stage when < 1). */
  warmup: number;
  /** AdamW weight decay (not on biases / norms / 1-D tensors). */
  weightDecay: number;
  /** Gradient clipping (L2 norm); 0 disables. */
  clip: number;
  /** Seed of everything. */
  seed: number;
  /** Pretraining loss weights λ1..λ4. */
  weights: LossWeights;
  /** Instruction regions in fine-tuning: predicted (fpn), ground truth (oracle) or none. */
  finetuneRegions: "fpn" | "gt" | "none";
  /** Seg loss variant. */
  segVariant: "paper" | "official";
  /** FPN loss ω and Dice switch. */
  fpnNegWeight: number;
  fpnDice: boolean;
  /** Components kept frozen in pretrain/finetune (paper: the pretrained image encoder and LM). */
  freeze: { vision: boolean; lm: boolean };
  /** Validate every N steps (and at the end of each stage). */
  evalEvery: number;
  /** Validation samples. */
  evalSamples: number;
  /** Save the resumable checkpoint every N steps. */
  saveEvery: number;
  /** Log a plain line every N steps (non-terminal output). */
  logEvery: number;
  /** Data workers. */
  workers: number;
  /** Augment training images (crop + flip, image and mask together). */
  augment: boolean;
  /** Skip non-finite losses instead of stopping. */
  skipNonfinite: boolean;
  /** A batch that fails to load is fatal (else skipped and counted). */
  strict: boolean;
  /** Resume from this checkpoint. */
  resume: string | null;
  /** Start from these weights (e.g. a previous run's best). */
  init: string | null;
  /**
   * Where the FPN trunk starts: its own random init (`scratch`, the default) or a copy of the
   * trained image encoder (`vision`, src/train/fpn_transfer.ts); with `vision`, `all` runs
   * pretrain -> fpn -> finetune so the encoder is trained before it is copied.
   */
  fpnInit?: "scratch" | "vision";
  /**
   * Mixed precision on CUDA (`--precision`): `bf16` / `fp16` run the forward and backward GEMMs
   * and attention with 16-bit operands (fp32 accumulation, fp32 master weights and optimizer);
   * `fp16` adds dynamic loss scaling (src/train/loss_scale.ts; skipped steps are logged and the
   * scaler's state is checkpointed). Default fp32; the CPU kernels are fp32 only.
   */
  precision?: "fp32" | "bf16" | "fp16";
  /** Stop each invocation after this many optimizer steps, saving a resumable checkpoint (0: no limit). */
  stopAfter?: number;
  /** Where progress goes. */
  print: (line: string, transient?: boolean) => void;
  /**
   * Data-parallel group (src/dist, docs/distributed.md): parameters are broadcast from rank 0 at
   * each stage start; each rank takes its DistributedSampler share of every epoch (`batchSize` is
   * per rank); gradients are averaged in buckets all-reduced while the last micro-batch's backward
   * runs; ranks agree on skipping a non-finite step; only rank 0 writes the log and checkpoints.
   * A failed or timed-out collective ends the run with an error naming the ranks that stopped.
   */
  dist?: ProcessGroup;
  /**
   * BatchNorm in training: `batch` statistics (default; with data parallelism each rank's own, and
   * rank 0's running statistics are broadcast after every step, like PyTorch DDP's
   * broadcast_buffers) or `frozen` (running statistics, nothing updated: N ranks x batch b then
   * train exactly like 1 process x batch N·b).
   */
  batchNorm?: "batch" | "frozen";
  /** Gradient bucket cap in MB for the data-parallel all-reduce (default 25, PyTorch DDP's). */
  bucketMb?: number;
  /** Called after each optimizer step (progress hooks, tests). */
  onStep?: (stage: Stage, step: number) => void;
}

/** Training state shared by the stages. */
interface RunState {
  model: ForgeryTalker;
  tok: Tokenizer;
  log: Deno.FsFile;
  interrupted: boolean;
}

/** Trains the tokenizer on the training captions plus both instruction templates. */
export function trainTokenizer(records: MMTTRecord[], vocabSize: number, seed: number): Tokenizer {
  const texts: string[] = records.map((r) => r.caption);
  for (const t of [PAPER_TEMPLATE, OFFICIAL_TEMPLATE]) {
    texts.push(t.replace("[R]", REGIONS.join(", ")));
    for (const r of REGIONS) texts.push(t.replace("[R]", r));
  }
  texts.push(OFFICIAL_TEMPLATE_EMPTY, instruction([], "paper"));
  return Tokenizer.train(texts, vocabSize, seed);
}

/** Which parameters a stage trains. */
export function stageTrainable(stage: Stage, name: string, freeze: TrainOptions["freeze"]): boolean {
  if (stage === "fpn") return name.startsWith("fpn.");
  if (name.startsWith("fpn.")) return false;
  if (freeze.vision && (name.startsWith("visual_encoder.") || name.startsWith("ln_vision."))) return false;
  if (freeze.lm && name.startsWith("t5_model.")) return false;
  return true;
}

const fmtTime = (s: number) =>
  s >= 3600
    ? `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`
    : s >= 60
    ? `${Math.floor(s / 60)}m${String(Math.floor(s % 60)).padStart(2, "0")}s`
    : `${s.toFixed(0)}s`;

/** Region scores of a batch from the FPN (eval mode, no gradient): sigmoid of its logits. */
function fpnScores(model: ForgeryTalker, images: Tensor): Float32Array {
  const was = model.fpn.training;
  model.fpn.eval();
  try {
    return noGrad(() => sigmoid(model.fpn.forward(images).logits).data().slice());
  } finally {
    model.fpn.train(was);
  }
}

/** Validation: loss terms, mask IoU, PLM and a few decoded reports. */
async function validate(
  st: RunState,
  stage: Stage,
  o: TrainOptions,
  records: MMTTRecord[],
): Promise<Record<string, number | string[]>> {
  const { model, tok } = st;
  const cfg = model.cfg;
  const loader = new MMTTLoader(records.slice(0, o.evalSamples), {
    batchSize: Math.min(o.batchSize, 16),
    size: cfg.imageSize,
    shuffle: false,
    workers: 0,
  });
  const was = model.training;
  model.eval();
  const sums: Record<string, number> = {};
  let n = 0, iouSum = 0, iouN = 0, plmSum = 0;
  const samples: string[] = [];
  try {
    for await (const b of loader.epochBatches()) {
      tidy(() => {
        const B = b.ids.length;
        const scores = stage === "finetune" ? regionScores(model, o, b) : b.labels;
        const mb = toModelBatch(b, {
          cfg,
          tok,
          regionScores: scores,
          mlm: stage === "pretrain",
          rng: new Rng(o.seed + 7),
        });
        noGrad(() => {
          const { terms } = model.losses(mb, {
            stage,
            weights: o.weights,
            segVariant: o.segVariant,
            fpnNegWeight: o.fpnNegWeight,
            fpnDice: o.fpnDice,
          });
          for (const [k, v] of Object.entries(terms)) sums[k] = (sums[k] ?? 0) + v.item() * B;
          const pred = fpnScores(model, mb.images);
          for (let i = 0; i < B; i++) {
            const p = Array.from(pred.subarray(i * 21, i * 21 + 21), (v) => (v > 0.5 ? 1 : 0));
            plmSum += plmSample(p, b.labels.subarray(i * 21, i * 21 + 21));
          }
          if (stage !== "fpn") {
            const out = model.forward(mb);
            const S = cfg.imageSize;
            const m = sigmoid(interpolate(out.maskLogits, S, S, "bilinear")).data();
            for (let i = 0; i < B; i++) {
              let inter = 0, uni = 0;
              for (let j = 0; j < S * S; j++) {
                const p = m[i * S * S + j] > 0.5, g = b.masks[i * S * S + j] > 0.5;
                if (p && g) inter++;
                if (p || g) uni++;
              }
              iouSum += uni ? inter / uni : 1;
              iouN++;
            }
            if (samples.length < 3) {
              const dec = generate(model.t5, out.encoder, out.encoderMask, {
                beams: 1,
                maxNewTokens: cfg.maxCaptionLen,
                vocabLimit: tok.vocabSize,
              });
              for (let i = 0; i < B && samples.length < 3; i++) {
                samples.push(`pred: ${tok.decode(dec[i].ids)}\n      ref:  ${b.captions[i]}`);
              }
            }
          }
        });
        n += B;
      });
    }
  } finally {
    loader.close();
    model.train(was);
  }
  const out: Record<string, number | string[]> = {};
  for (const [k, v] of Object.entries(sums)) out[`val_${k}`] = v / Math.max(1, n);
  out.val_loss = Object.entries(sums).reduce((s, [k, v]) => {
    const w = stage === "pretrain" ? (o.weights as unknown as Record<string, number>)[k] ?? 1 : 1;
    return s + (w * v) / Math.max(1, n);
  }, 0);
  out.val_plm = plmSum / Math.max(1, n);
  if (iouN) out.val_iou = iouSum / iouN;
  if (samples.length) out.samples = samples;
  return out;
}

/** The instruction's region scores for a fine-tuning batch. */
function regionScores(model: ForgeryTalker, o: TrainOptions, b: Batch): Float32Array {
  if (o.finetuneRegions === "gt") return b.labels;
  if (o.finetuneRegions === "none") return new Float32Array(b.labels.length);
  const S = model.cfg.imageSize;
  return tidy(() => fpnScores(model, tensor(b.images, [b.ids.length, 3, S, S])));
}

/** Runs the requested stages; returns the path of the last stage's best checkpoint. */
export async function train(
  o: TrainOptions,
  data: { train: MMTTRecord[]; val: MMTTRecord[] },
): Promise<string> {
  Deno.mkdirSync(o.out, { recursive: true });
  const cfg = o.config;
  let resume = o.resume ? readCheckpoint(o.resume) : null;
  if (resume && JSON.stringify(resume.meta.config) !== JSON.stringify(cfg)) {
    const name = resume.meta.config.name;
    disposeCheckpoint(resume);
    throw new Error(
      `--resume '${o.resume}': checkpoint of config '${name}' differs from the requested config '${cfg.name}'`,
    );
  }
  if (resume && !resume.meta.resumable) {
    disposeCheckpoint(resume);
    throw new Error(
      `--resume '${o.resume}': a weights-only checkpoint (use the stage's -last file to resume)`,
    );
  }
  const init = !resume && o.init ? readCheckpoint(o.init) : null;
  const tokJson: TokenizerJSON | null = resume?.meta.tokenizer ?? init?.meta.tokenizer ?? null;
  const tok = tokJson ? Tokenizer.fromJSON(tokJson) : trainTokenizer(data.train, cfg.t5.vocabSize, o.seed);
  if (tok.vocabSize > cfg.t5.vocabSize || tok.vocabSize > cfg.qformer.vocabSize) {
    throw new Error(
      `tokenizer has ${tok.vocabSize} tokens, the config's vocabularies hold ${cfg.t5.vocabSize}`,
    );
  }
  const model = new ForgeryTalker(cfg, o.seed);
  const src = resume ?? init;
  if (src) model.loadStateDict(src.model, { source: o.resume ?? o.init ?? "" });
  const log = await Deno.open(`${o.out}/log.jsonl`, { append: true, create: true });
  const st: RunState = { model, tok, log, interrupted: false };
  const onSig = () => {
    st.interrupted = true;
    o.print("interrupt: finishing this step, saving the checkpoint, then stopping");
  };
  Deno.addSignalListener("SIGINT", onSig);
  let lastBest = "";
  try {
    let startAt = 0;
    if (resume) {
      startAt = o.stages.indexOf(resume.meta.stage as Stage);
      if (startAt < 0) {
        throw new Error(
          `--resume: checkpoint stage '${resume.meta.stage}' is not among --stage ${o.stages.join(",")}`,
        );
      }
    }
    for (let si = startAt; si < o.stages.length; si++) {
      const stage = o.stages[si];
      if (si > startAt || (!resume && si > 0)) {
        // each stage starts from the previous one's best weights
        const prev = readCheckpoint(lastBest);
        model.loadStateDict(prev.model, { source: lastBest });
        disposeCheckpoint(prev);
      }
      lastBest = await runStage(st, stage, o, data, si === startAt ? resume : null);
      if (resume) {
        disposeCheckpoint(resume);
        resume = null;
      }
      if (st.interrupted) break;
    }
  } finally {
    Deno.removeSignalListener("SIGINT", onSig);
    if (resume) disposeCheckpoint(resume);
    if (init) disposeCheckpoint(init);
    log.close();
    model.dispose();
  }
  return lastBest;
}

/**
 * One 2-float all-reduce per micro-batch so the ranks decide together: whether the loss is finite
 * on every rank, and whether any rank was interrupted (Ctrl-C reaches the ranks at slightly
 * different times; stopping at different steps would leave a peer waiting in a collective).
 */
function agree(
  pg: ProcessGroup,
  lossValue: number,
  interrupted: boolean,
): { finite: boolean; stop: boolean } {
  const v = new Float32Array([Number.isFinite(lossValue) ? 0 : 1, interrupted ? 1 : 0]);
  pg.allReduceSum(v);
  return { finite: v[0] === 0, stop: v[1] > 0 };
}

/**
 * Runs a collective; a failed or timed-out one becomes an error naming the ranks that stopped
 * (the group's progress beacons) and the last checkpoint, which rank 0 wrote whole before.
 */
function guardCollective<R>(pg: ProcessGroup, lastPath: string, fn: () => R): R {
  try {
    return fn();
  } catch (e) {
    if (!(e instanceof CollectiveError)) throw e;
    const peers = pg.describePeers?.() ?? "";
    let ckpt = "no checkpoint was written yet";
    try {
      if (Deno.statSync(lastPath).isFile) ckpt = `the last checkpoint is ${lastPath}`;
    } catch { /* none yet */ }
    throw new Error(
      `data-parallel run stopped on rank ${pg.rank}/${pg.worldSize}: ${peers ? peers + "; " : ""}${ckpt}` +
        ` (resume with --resume). Cause: ${e.message}`,
      { cause: e },
    );
  }
}

async function runStage(
  st: RunState,
  stage: Stage,
  o: TrainOptions,
  data: { train: MMTTRecord[]; val: MMTTRecord[] },
  resume: ReturnType<typeof readCheckpoint> | null,
): Promise<string> {
  const { model, tok } = st;
  const cfg = model.cfg;
  const total = o.steps[stage];
  const lastPath = `${o.out}/${stage}-last.safetensors`, bestPath = `${o.out}/${stage}-best.safetensors`;
  if (stage === "fpn" && o.fpnInit === "vision" && !resume) {
    const n = initFpnFromVision(model);
    o.print(`fpn: trunk initialised from the image encoder (${n} tensors copied)`);
  }
  // trainable set
  let nTrain = 0;
  for (const [name, p] of model.uniqueNamedParameters()) {
    p.requiresGrad = stageTrainable(stage, name, o.freeze);
    if (p.requiresGrad) nTrain += p.size;
    else if (p.grad) p.grad.dispose(), p.grad = null;
  }
  const decay: [string, Tensor][] = [], noDecay: [string, Tensor][] = [];
  for (const [name, p] of model.uniqueNamedParameters()) {
    if (!p.requiresGrad) continue;
    (p.ndim < 2 || name.endsWith(".bias") ? noDecay : decay).push([name, p]);
  }
  const opt = new AdamW(
    [{ params: decay, weightDecay: o.weightDecay }, { params: noDecay, weightDecay: 0 }],
    {
      lr: o.lr[stage],
    },
  );
  const warm = o.warmup < 1 ? Math.round(o.warmup * total) : Math.round(o.warmup);
  const sched = warmupCosine({ warmupSteps: Math.min(warm, total), totalSteps: total, floor: 0.01 });
  const micro = o.batchSize / o.accumulate;
  if (!Number.isInteger(micro) || micro < 1) {
    throw new Error(`--accumulate ${o.accumulate} must divide --batch ${o.batchSize}`);
  }
  // data parallel: every rank sees the same permutation per epoch and takes its strided share
  const world = o.dist?.worldSize ?? 1;
  const isMain = !o.dist || o.dist.rank === 0;
  const trainable = model.parameters().filter((p) => p.requiresGrad);
  if (o.dist) guardCollective(o.dist, lastPath, () => broadcastParameters(trainable, o.dist!));
  const reducer = o.dist ? new GradReducer(trainable, o.dist, (o.bucketMb ?? 25) * 2 ** 20) : null;
  // BatchNorm: frozen, or batch statistics whose running values rank 0 hands to every rank
  const norms = model.namedModules().map(([, m]) => m).filter((m) => m instanceof BatchNorm2d);
  for (const m of norms) m.frozen = o.batchNorm === "frozen";
  const normStats = norms.flatMap((m) => [m.runningMean, m.runningVar]);
  const syncNormStats = () => {
    if (o.dist && o.batchNorm !== "frozen") {
      guardCollective(o.dist, lastPath, () => broadcastParameters(normStats, o.dist!));
    }
  };
  syncNormStats();
  const loader = new MMTTLoader(data.train, {
    batchSize: micro,
    size: cfg.imageSize,
    seed: o.seed,
    shuffle: true,
    augment: o.augment,
    dropLast: true,
    workers: o.workers,
    rank: o.dist?.rank ?? 0,
    worldSize: world,
  });
  if (loader.stepsPerEpoch < 1) {
    throw new Error(
      `the training split has ${data.train.length} samples, fewer than one batch of ${micro}` +
        (world > 1 ? ` on each of ${world} ranks` : ""),
    );
  }
  const mlmRng = new Rng(o.seed ^ 0x6d6c6d);
  const amp = o.precision && o.precision !== "fp32" ? o.precision : null;
  if (amp && getDefaultDevice() !== "cuda") {
    throw new Error(`--precision ${amp} needs the CUDA device (the CPU kernels compute in fp32)`);
  }
  const scaler = amp === "fp16" ? new LossScaler() : null;
  let overflows = 0;
  // samplesInEpoch: global position in the epoch's permutation (all ranks together)
  let step = 0, epoch = 0, samplesInEpoch = 0;
  let best: { score: number; step: number } | null = null;
  if (resume) {
    opt.loadStateDict(resume.optim, resume.meta.stepCount);
    model.loadRngState(resume.meta.rng.model);
    mlmRng.setState(resume.meta.rng.mlm);
    step = resume.meta.step;
    epoch = resume.meta.epoch;
    samplesInEpoch = resume.meta.samplesInEpoch ?? resume.meta.batchInEpoch * micro;
    best = resume.meta.best;
    if (scaler && resume.meta.scaler) scaler.setState(resume.meta.scaler);
    const was = resume.meta.worldSize ?? 1;
    o.print(
      `resume: stage ${stage} at step ${step} (epoch ${epoch}, sample ${samplesInEpoch} of ${data.train.length}` +
        `${was !== world ? `; written by ${was} ranks, continuing on ${world}` : ""}) from ${o.resume}`,
    );
  }
  loader.epoch = epoch;
  const meta = (resumable: boolean): CheckpointMeta => ({
    version: CHECKPOINT_VERSION,
    config: cfg,
    tokenizer: tok.toJSON(),
    stage,
    step,
    epoch,
    batchInEpoch: Math.floor(samplesInEpoch / (micro * world)),
    samplesInEpoch,
    worldSize: world,
    stepCount: opt.stepCount,
    rng: { model: model.rngState(), mlm: mlmRng.state() },
    best,
    options: { ...o, print: undefined, config: undefined, dist: undefined, onStep: undefined },
    resumable,
    ...(scaler ? { scaler: scaler.state() } : {}),
  });
  const writeLog = async (rec: Record<string, unknown>) => {
    if (isMain) await st.log.write(new TextEncoder().encode(JSON.stringify({ stage, ...rec }) + "\n"));
  };
  o.print(
    `stage ${stage}: ${total} steps of ${o.batchSize} samples${world > 1 ? ` x ${world} ranks` : ""} ` +
      `(${loader.stepsPerEpoch * micro * world} per epoch), ` +
      `lr ${o.lr[stage]}, trainable ${(nTrain / 1e6).toFixed(2)}M of ${
        (model.numParameters() / 1e6).toFixed(2)
      }M parameters`,
  );
  model.train();
  const t0 = performance.now();
  const t1 = t0;
  let seen = 0, skipped = 0, badBatches = 0, skippedInARow = 0, stepsThisRun = 0, stopAgreed = false;
  const isTty = Deno.stdout.isTerminal();
  const doValidate = async () => {
    const v = await validate(st, stage, o, data.val);
    const score = stage === "fpn" ? (v.val_plm as number) : -(v.val_loss as number);
    const improved = !best || score > best.score;
    if (improved) best = { score, step };
    await writeLog({ type: "val", step, ...v, best: improved });
    const nums = Object.entries(v).filter(([, x]) => typeof x === "number").map(([k, x]) =>
      `${k} ${(x as number).toFixed(4)}`
    );
    o.print(`[${stage}] val @${step}: ${nums.join("  ")}${improved ? "  (best)" : ""}`);
    for (const s of (v.samples as string[] | undefined) ?? []) o.print(`      ${s}`);
    if (improved && isMain) saveCheckpoint(bestPath, model, meta(false), null);
  };
  try {
    outer: while (step < total) {
      let micros = 0;
      const terms: Record<string, number> = {};
      for await (const b of loader.epochBatches(0, samplesInEpoch)) {
        samplesInEpoch += micro * world;
        // the step's last micro-batch: its backward starts the gradient all-reduce (data parallel)
        const lastMicro = micros + 1 === o.accumulate;
        let stepLoss = NaN;
        try {
          stepLoss = withAutocast(amp, () =>
            tidy(() => {
              const B = b.ids.length;
              const scores = stage === "finetune" ? regionScores(model, o, b) : b.labels;
              const mb = toModelBatch(b, {
                cfg,
                tok,
                regionScores: scores,
                mlm: stage === "pretrain",
                rng: mlmRng,
              });
              const { loss, terms: t } = model.losses(mb, {
                stage,
                weights: o.weights,
                segVariant: o.segVariant,
                fpnNegWeight: o.fpnNegWeight,
                fpnDice: o.fpnDice,
              });
              const lv = loss.item();
              // data parallel: all ranks skip (or stop) together, else their collectives would desync
              if (o.dist) {
                const a = guardCollective(o.dist, lastPath, () => agree(o.dist!, lv, st.interrupted));
                stopAgreed ||= a.stop;
                if (!a.finite) return Number.isFinite(lv) ? NaN : lv;
              }
              if (!Number.isFinite(lv)) return lv;
              for (const [k, v] of Object.entries(t)) terms[k] = (terms[k] ?? 0) + v.item() / o.accumulate;
              const unscaled = o.accumulate > 1 ? scale(loss, 1 / o.accumulate) : loss;
              const root = scaler ? scaler.scaleLoss(unscaled) : unscaled;
              if (reducer && lastMicro) {
                guardCollective(
                  o.dist!,
                  lastPath,
                  () => backward(root, { onGradReady: reducer.onGradReady }),
                );
              } else backward(root);
              seen += B;
              return lv;
            }));
        } catch (e) {
          // a data-parallel failure is never a bad batch, whatever words its message holds
          if (o.strict || (e as Error).cause instanceof CollectiveError) throw e;
          if (!/image|mask|PNG|JPEG|decode/i.test((e as Error).message)) throw e;
          badBatches++;
          o.print(`skipping a batch that failed to load (${badBatches} so far): ${(e as Error).message}`);
          continue;
        }
        if (!Number.isFinite(stepLoss)) {
          if (!o.skipNonfinite) {
            throw new Error(
              `non-finite loss (${stepLoss}${
                o.dist ? ", here or on another rank" : ""
              }) at ${stage} step ${step}; ` +
                `the last good checkpoint is ${lastPath} ` +
                `(use --skip-nonfinite to skip such steps, or a lower --lr)`,
            );
          }
          skipped++;
          if (++skippedInARow >= 20) {
            throw new Error(
              `20 non-finite losses in a row at ${stage} step ${step}; stopping (last good checkpoint: ${lastPath})`,
            );
          }
          model.zeroGrad();
          continue;
        }
        if (++micros < o.accumulate) continue;
        micros = 0;
        opt.setLrFactor(sched(step));
        if (reducer) guardCollective(o.dist!, lastPath, () => reducer.finish());
        const params = model.parameters().filter((p) => p.requiresGrad && p.grad);
        // fp16: skip the update when a scaled gradient overflowed; clip against the scaled norm
        // (same coefficient) and let AdamW undo the scale, so no extra pass over the gradients
        const finite = scaler ? scaler.check(params) : true;
        const k = scaler ? scaler.scale : 1;
        const gnorm = !finite ? Infinity : o.clip > 0 ? clipGradNorm(params, o.clip * k) / k : NaN;
        if (finite) opt.step(scaler ? scaler.unscale() : 1);
        else overflows++;
        scaler?.update();
        model.zeroGrad();
        syncNormStats();
        step++;
        skippedInARow = 0;
        o.dist?.markProgress?.(`${stage} step ${step}`);
        o.onStep?.(stage, step);
        const stopAfterHit = !!o.stopAfter && ++stepsThisRun >= o.stopAfter && step < total;
        // data parallel: stop on the step the ranks agreed on (a signal seen after this step's
        // agreement is passed on by the next one; stopAfter is the same everywhere)
        const stopNow = stopAfterHit || (o.dist ? stopAgreed : st.interrupted);
        if (stopNow) st.interrupted = true;
        const loss = Object.entries(terms).reduce((s, [k, v]) => {
          const w = stage === "pretrain" ? (o.weights as unknown as Record<string, number>)[k] ?? 1 : 1;
          return s + w * v;
        }, 0);
        const now = performance.now();
        const rate = seen / ((now - t1) / 1000);
        const eta = ((total - step) * o.batchSize) / Math.max(rate, 1e-9);
        await writeLog({
          type: "train",
          step,
          epoch,
          lr: opt.groups[0].lr,
          loss,
          ...terms,
          grad_norm: gnorm,
          ...(scaler ? { loss_scale: scaler.scale, overflow_steps: overflows } : {}),
          samples_per_s: rate,
          elapsed_s: (now - t0) / 1000,
          peak_mb: memoryStats().peakBytes / 2 ** 20,
        });
        const termStr = Object.entries(terms).map(([k, v]) => `${k} ${v.toFixed(3)}`).join(" ");
        const bar = "█".repeat(Math.round((20 * step) / total)).padEnd(20, "·");
        const line = `[${stage}] ${step}/${total} ${bar} loss ${loss.toFixed(4)} (${termStr}) ${
          rate.toFixed(1)
        } samples/s ETA ${fmtTime(eta)}`;
        if (isTty) o.print(line, true);
        else if (step % o.logEvery === 0 || step === total) o.print(line);
        for (const k of Object.keys(terms)) delete terms[k];
        if (step % o.evalEvery === 0 && step < total) await doValidate();
        if ((step % o.saveEvery === 0 || stopNow) && isMain) {
          saveCheckpoint(lastPath, model, meta(true), opt);
        }
        if (stopNow) {
          o.print(`stopped at ${stage} step ${step}; resume with --resume ${lastPath}`);
          break outer;
        }
        if (step >= total) break outer;
      }
      epoch++;
      samplesInEpoch = 0;
      loader.epoch = epoch;
    }
    if (!st.interrupted) {
      await doValidate();
      if (isMain) saveCheckpoint(lastPath, model, meta(true), opt);
      o.print(
        `stage ${stage} done: ${step} steps in ${fmtTime((performance.now() - t0) / 1000)}` +
          (skipped ? `, ${skipped} non-finite steps skipped` : "") +
          (badBatches ? `, ${badBatches} bad batches skipped` : "") +
          `; best ${bestPath}`,
      );
    }
  } finally {
    loader.close();
    opt.dispose();
  }
  return bestPath;
}
