/**
 * `deno task train`: the paper's staged training (src/train/trainer.ts).
 *
 *   deno task train --config tiny --data DIR --out runs/X [--stage fpn|pretrain|finetune|all]
 *   deno task train --config paper --dry-run      # parameter count per component, no weights
 *
 * Ablations: --no-fpn (instructions without regions), --fpn-gt (oracle regions), --no-pretrain,
 * --loss-ratio 2:1:1:1, --decoder sam|token-mlp, --template paper|official, --seg-loss official,
 * --fpn-neg-weight 1, --no-fpn-dice. Run `deno task train --help` for every flag.
 * @module
 */
import { parseArgs } from "node:util";
import { resolve } from "node:path";
import { type ForgeryTalkerConfig, resolveConfig } from "../model/config.ts";
import { countParameters } from "../model/param_count.ts";
import { readMMTT, splitPath } from "../data/mmtt.ts";
import { type Stage, train, type TrainOptions } from "../train/trainer.ts";
import { useDevice } from "../backend/device.ts";
import { writeCurves } from "../train/plot.ts";

const HELP = `deno task train --data DIR --out runs/X [options]

  --config NAME          tiny | small | base | paper (default tiny)
  --set JSON             config overrides, e.g. '{"t5":{"decoderLayers":2}}'
  --stage S              fpn | pretrain | finetune | all (default all)
  --steps N[,N,N]        optimizer steps per stage (fpn,pretrain,finetune; default 300,600,900)
  --lr X[,X,X]           peak learning rate per stage (default 1e-3,3e-4,3e-4)
  --batch N              samples per step (default 16); --accumulate K micro-batches per step
  --warmup X             warmup steps, or a fraction of the stage when < 1 (default 0.05)
  --weight-decay X       AdamW decay on weights (default 0.05); --clip X grad-norm clip (default 1)
  --seed N               seed of weights, data order, augmentation, dropout (default 0)
  --loss-ratio A:B:C:D   pretraining λ for MLM:LM:seg:ITC (default 2:1:1:1)
  --no-fpn               fine-tune with instructions that name no region (ablation)
  --fpn-gt               fine-tune with ground-truth regions (oracle ablation)
  --precision P          fp32 | bf16 | fp16: mixed precision on CUDA (fp16 with dynamic loss scaling;
                         default fp32, the only choice on the CPU)
  --fpn-init I           scratch | vision: start the FPN trunk from the trained image encoder
                         (with --stage all the order becomes pretrain -> fpn -> finetune; default scratch)
  --no-pretrain          skip the pretraining stage
  --decoder K            sam (paper) | token-mlp (official code)
  --template T           paper | official instruction wording
  --seg-loss V           paper (BCE + Dice) | official (BCE, pos_weight 2)
  --fpn-neg-weight X     ω on the FPN's negative labels (default 0.2); --no-fpn-dice drops Dice
  --freeze F             none | paper (image encoder + T5 frozen) | auto (paper with --init, else none)
  --init CKPT            start from these weights
  --resume CKPT          continue a run exactly (a *-last.safetensors file)
  --eval-every N         validate every N steps (default 100); --eval-samples N (default 64)
  --save-every N         resumable checkpoint every N steps (default 50)
  --log-every N          plain progress line every N steps when not on a terminal (default 10)
  --workers N            image decoding workers (default 1); --no-augment
  --skip-nonfinite       skip steps whose loss is NaN/inf (default: stop, checkpoints intact)
  --strict               a corrupt image is fatal (default: skip its batch and count it)
  --device D             auto | cpu | cuda (default auto)
  --stop-after N         stop this invocation after N steps with a resumable checkpoint (time-boxed runs)
  --nproc N              data-parallel: start N local worker processes (Gloo; docs/distributed.md)
  --nnodes N --node-rank I --master-addr HOST --master-port P   multi-node (FT_DIST_STORE on a shared folder)
  --bucket-mb X          data-parallel gradient bucket cap in MB (default 25, PyTorch DDP's)
  --dist-timeout S       seconds a collective may wait for a peer before the run stops (default 600)
  --bn M                 batch (default) | frozen: BatchNorm uses running statistics while training
  --dry-run              print parameter counts per component and exit (no weights allocated)`;

/** A usage error: printed as one line, exit code 2. */
class UsageError extends Error {}

function fail(msg: string): never {
  throw new UsageError(msg);
}

function num(v: string | undefined, name: string, def: number, int = false): number {
  if (v === undefined) return def;
  const x = Number(v);
  if (!Number.isFinite(x) || (int && !Number.isInteger(x)) || x < 0) {
    fail(`--${name} must be a non-negative ${int ? "integer" : "number"}, got '${v}'`);
  }
  return x;
}

function perStage(
  v: string | undefined,
  name: string,
  def: [number, number, number],
  int: boolean,
): Record<Stage, number> {
  const parts = v === undefined ? def : v.split(",").map((s) => num(s, name, 0, int));
  if (parts.length === 1) parts.push(parts[0], parts[0]);
  if (parts.length !== 3) fail(`--${name} takes one value or three (fpn,pretrain,finetune), got '${v}'`);
  return { fpn: parts[0], pretrain: parts[1], finetune: parts[2] };
}

/** Runs the CLI with `args`; returns the exit code (0 ok, 1 failed, 2 usage, 130 interrupted). */
export async function main(args: string[]): Promise<number> {
  try {
    return await run(args);
  } catch (e) {
    console.error(`${e instanceof UsageError ? "train" : "\ntrain"}: ${(e as Error).message}`);
    return e instanceof UsageError ? 2 : 1;
  }
}

async function run(args: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      options: {
        config: { type: "string", default: "tiny" },
        set: { type: "string" },
        data: { type: "string" },
        out: { type: "string" },
        stage: { type: "string", default: "all" },
        steps: { type: "string" },
        lr: { type: "string" },
        batch: { type: "string" },
        accumulate: { type: "string" },
        warmup: { type: "string" },
        "weight-decay": { type: "string" },
        clip: { type: "string" },
        seed: { type: "string" },
        "loss-ratio": { type: "string" },
        "no-fpn": { type: "boolean", default: false },
        "fpn-gt": { type: "boolean", default: false },
        "fpn-init": { type: "string", default: "scratch" },
        precision: { type: "string", default: "fp32" },
        "no-pretrain": { type: "boolean", default: false },
        decoder: { type: "string" },
        template: { type: "string" },
        "seg-loss": { type: "string", default: "paper" },
        "fpn-neg-weight": { type: "string" },
        "no-fpn-dice": { type: "boolean", default: false },
        freeze: { type: "string", default: "auto" },
        init: { type: "string" },
        resume: { type: "string" },
        "eval-every": { type: "string" },
        "eval-samples": { type: "string" },
        "save-every": { type: "string" },
        "log-every": { type: "string" },
        workers: { type: "string" },
        "no-augment": { type: "boolean", default: false },
        "skip-nonfinite": { type: "boolean", default: false },
        strict: { type: "boolean", default: false },
        device: { type: "string", default: "auto" },
        "dry-run": { type: "boolean", default: false },
        "stop-after": { type: "string" },
        nproc: { type: "string" },
        nnodes: { type: "string" },
        "node-rank": { type: "string" },
        "master-addr": { type: "string" },
        "master-port": { type: "string" },
        "bucket-mb": { type: "string" },
        "dist-timeout": { type: "string" },
        bn: { type: "string", default: "batch" },
        help: { type: "boolean", short: "h", default: false },
      },
      strict: true,
      allowPositionals: false,
    });
  } catch (e) {
    fail(`${(e as Error).message.replace(/\. To specify.*$/s, "")} (see --help)`);
  }
  const v = parsed.values;
  if (v.help) {
    console.log(HELP);
    return 0;
  }
  let overrides: Record<string, unknown> = {};
  if (v.set) {
    try {
      overrides = JSON.parse(v.set);
    } catch (e) {
      fail(`--set is not valid JSON (${(e as Error).message})`);
    }
  }
  if (v.decoder) {
    if (v.decoder !== "sam" && v.decoder !== "token-mlp") {
      fail(`--decoder must be sam or token-mlp, got '${v.decoder}'`);
    }
    overrides.maskDecoder = { ...(overrides.maskDecoder as object ?? {}), kind: v.decoder };
  }
  if (v.template) {
    if (v.template !== "paper" && v.template !== "official") {
      fail(`--template must be paper or official, got '${v.template}'`);
    }
    overrides.template = v.template;
  }
  let cfg: ForgeryTalkerConfig;
  try {
    cfg = resolveConfig({ ...overrides, name: v.config } as Partial<ForgeryTalkerConfig>);
  } catch (e) {
    fail((e as Error).message);
  }
  if (v["dry-run"]) {
    const counts = countParameters(cfg);
    console.log(`config ${cfg.name}: parameters per component (no weights allocated)`);
    for (const [k, n] of Object.entries(counts)) {
      console.log(`  ${k.padEnd(16)} ${n.toLocaleString("en-US").padStart(16)}  (${(n / 1e6).toFixed(2)}M)`);
    }
    console.log(`  fp32 weights ${(counts.total * 4 / 2 ** 30).toFixed(2)} GiB; AdamW state doubles that`);
    return 0;
  }
  // data parallel (docs/distributed.md): the launcher re-runs this script once per local rank
  const nproc = num(v.nproc, "nproc", 1, true), nnodes = num(v.nnodes, "nnodes", 1, true);
  if ((nproc > 1 || nnodes > 1) && !Deno.env.get("FT_DIST_CHILD")) {
    const { launchWorkers } = await import("../dist/launch.ts");
    const launcherFlags = new Set(["--nproc", "--nnodes", "--node-rank", "--master-addr", "--master-port"]);
    const isLauncherFlag = (a: string | undefined) => a !== undefined && launcherFlags.has(a.split("=")[0]);
    const rest = args.filter((a, i) =>
      !isLauncherFlag(a) && !(launcherFlags.has(args[i - 1]) && !a.includes("="))
    );
    return await launchWorkers({
      nproc,
      nnodes,
      nodeRank: num(v["node-rank"], "node-rank", 0, true),
      masterAddr: v["master-addr"],
      masterPort: v["master-port"] ? num(v["master-port"], "master-port", 29500, true) : undefined,
      args: rest,
    });
  }
  const { readDistEnv, initProcessGroup } = await import("../dist/process_group.ts");
  const distEnv = readDistEnv();
  // the timeout must exceed the slowest rank's step (a collective waits for it), hence minutes
  const distTimeout = num(v["dist-timeout"], "dist-timeout", 600);
  if (distTimeout <= 0) fail("--dist-timeout must be > 0 seconds");
  if (v.bn !== "batch" && v.bn !== "frozen") fail(`--bn must be batch or frozen, got '${v.bn}'`);
  const bucketMb = num(v["bucket-mb"], "bucket-mb", 25);
  if (bucketMb <= 0) fail("--bucket-mb must be > 0");
  const dist = distEnv.worldSize > 1
    ? await initProcessGroup({ env: distEnv, timeoutMs: distTimeout * 1000 })
    : undefined;
  if (!v.data) fail("--data DIR is required (an MMTT-format folder, e.g. from `deno task synth`)");
  if (!v.out) fail("--out DIR is required (e.g. runs/tiny)");
  if (v["fpn-init"] !== "scratch" && v["fpn-init"] !== "vision") {
    fail(`--fpn-init must be scratch or vision, got '${v["fpn-init"]}'`);
  }
  const fpnInit = v["fpn-init"] as "scratch" | "vision";
  if (!["fp32", "bf16", "fp16"].includes(v.precision!)) {
    fail(`--precision must be fp32, bf16 or fp16, got '${v.precision}'`);
  }
  const order: Stage[] = fpnInit === "vision"
    ? ["pretrain", "fpn", "finetune"]
    : ["fpn", "pretrain", "finetune"];
  const stages: Stage[] = v.stage === "all"
    ? order.filter((s) => !(s === "pretrain" && v["no-pretrain"]) && !(s === "fpn" && v["no-fpn"]))
    : ["fpn", "pretrain", "finetune"].includes(v.stage!)
    ? [v.stage as Stage]
    : fail(`--stage must be fpn, pretrain, finetune or all, got '${v.stage}'`);
  if (v["no-fpn"] && v["fpn-gt"]) fail("--no-fpn and --fpn-gt exclude each other");
  const ratio = (v["loss-ratio"] ?? "2:1:1:1").split(":").map(Number);
  if (ratio.length !== 4 || ratio.some((x) => !Number.isFinite(x) || x < 0)) {
    fail(`--loss-ratio takes four non-negative numbers like 2:1:1:1, got '${v["loss-ratio"]}'`);
  }
  if (v["seg-loss"] !== "paper" && v["seg-loss"] !== "official") fail(`--seg-loss must be paper or official`);
  if (!["none", "paper", "auto"].includes(v.freeze!)) {
    fail(`--freeze must be none, paper or auto, got '${v.freeze}'`);
  }
  const freezePaper = v.freeze === "paper" || (v.freeze === "auto" && !!v.init);
  const dataDir = resolve(v.data);
  try {
    if (!Deno.statSync(dataDir).isDirectory) fail(`--data '${v.data}' is not a folder`);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) fail(`--data '${v.data}' does not exist`);
    throw e;
  }
  const device = useDevice(v.device, (m) => console.log(m));
  const trainRecs = await readMMTT(splitPath(dataDir, "train"), dataDir).catch((e): never =>
    fail((e as Error).message)
  );
  const valRecs = await readMMTT(splitPath(dataDir, "eval"), dataDir).catch((e): never =>
    fail((e as Error).message)
  );
  if (!trainRecs.length) fail(`the training split of '${v.data}' is empty`);
  if (!valRecs.length) fail(`the eval split of '${v.data}' is empty`);
  const batch = num(v.batch, "batch", 16, true);
  if (batch < 1) fail("--batch must be at least 1");
  const encoder = new TextEncoder();
  const opts: TrainOptions = {
    config: cfg,
    out: resolve(v.out),
    stages,
    steps: perStage(v.steps, "steps", [300, 600, 900], true),
    lr: perStage(v.lr, "lr", [1e-3, 3e-4, 3e-4], false),
    batchSize: batch,
    accumulate: Math.max(1, num(v.accumulate, "accumulate", 1, true)),
    warmup: num(v.warmup, "warmup", 0.05),
    weightDecay: num(v["weight-decay"], "weight-decay", 0.05),
    clip: num(v.clip, "clip", 1),
    seed: num(v.seed, "seed", 0, true),
    weights: { mlm: ratio[0], lm: ratio[1], seg: ratio[2], contrastive: ratio[3] },
    finetuneRegions: v["no-fpn"] ? "none" : v["fpn-gt"] ? "gt" : "fpn",
    fpnInit,
    precision: v.precision as "fp32" | "bf16" | "fp16",
    segVariant: v["seg-loss"] as "paper" | "official",
    fpnNegWeight: num(v["fpn-neg-weight"], "fpn-neg-weight", 0.2),
    fpnDice: !v["no-fpn-dice"],
    freeze: { vision: freezePaper, lm: freezePaper },
    evalEvery: Math.max(1, num(v["eval-every"], "eval-every", 100, true)),
    evalSamples: Math.max(1, num(v["eval-samples"], "eval-samples", 64, true)),
    saveEvery: Math.max(1, num(v["save-every"], "save-every", 50, true)),
    logEvery: Math.max(1, num(v["log-every"], "log-every", 10, true)),
    workers: num(v.workers, "workers", 1, true),
    augment: !v["no-augment"],
    skipNonfinite: v["skip-nonfinite"]!,
    strict: v.strict!,
    resume: v.resume ? resolve(v.resume) : null,
    init: v.init ? resolve(v.init) : null,
    stopAfter: num(v["stop-after"], "stop-after", 0, true),
    dist,
    bucketMb,
    batchNorm: v.bn as "batch" | "frozen",
    print: (line, transient) => {
      if (dist && dist.rank !== 0) return; // one progress output: rank 0's
      // on a terminal the progress bar redraws one line; elsewhere every line is plain
      const clear = Deno.stdout.isTerminal() ? "\r\x1b[2K" : "";
      Deno.stdout.writeSync(encoder.encode(transient ? `${clear}${line}` : `${clear}${line}\n`));
    },
  };
  if (!freezePaper && v.freeze === "auto") {
    console.log(
      "random init: the image encoder and T5 train too (the paper freezes them because they are pretrained; --freeze paper forces it)",
    );
  }
  console.log(
    `train: ${cfg.name} on ${device}, ${trainRecs.length} train / ${valRecs.length} eval samples, stages ${
      stages.join(" -> ")
    }`,
  );
  const best = await train(opts, { train: trainRecs, val: valRecs });
  writeCurves(`${opts.out}/log.jsonl`, `${opts.out}/curves.svg`);
  console.log(`\nbest checkpoint: ${best}\ncurves: ${opts.out}/curves.svg, log: ${opts.out}/log.jsonl`);
  return 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
