/**
 * The stand-in baseline: a small CoordConv CNN localizer (src/baselines/cnn_localizer.ts) trained
 * from scratch on a synthetic MMTT set, its masks and regions, and a template caption naming the
 * regions (src/baselines/template_predict.ts), scored by the evaluator. It is NOT ForgeryTalker:
 * it was the project's first demo and now serves only as the labelled "CNN + template" baseline
 * of docs/train.md and bench/baselines.ts.
 *
 *   .tools/deno run -A src/baselines/localizer_baseline.ts [--out runs/localizer_baseline] [--n 120]
 *     [--steps 240] [--seed 0] [--device auto|cpu|cuda] [--size 128] [--input 64] [--batch 16] [--lr 0.003]
 */
import { join, resolve } from "node:path";
import { parseFlags } from "../cli/flags.ts";
import { Rng } from "../tensor/rng.ts";
import { tensor } from "../tensor/create.ts";
import { tidy } from "../tensor/scope.ts";
import { getDefaultDevice, setDefaultDevice } from "../tensor/tensor.ts";
import { backward, noGrad } from "../autograd/tape.ts";
import { useDevice } from "../backend/device.ts";
import { AdamW } from "../train/adamw.ts";
import { clipGradNorm } from "../train/clip.ts";
import { decayGroups } from "../train/freeze.ts";
import { warmupCosine } from "../train/schedule.ts";
import { loadModule, saveModule } from "../train/checkpoint.ts";
import { evaluate, type EvaluationReport } from "../eval/evaluator.ts";
import { formatTable } from "../eval/report.ts";
import { writeFileAtomic } from "../data/image_io.ts";
import { REGIONS } from "../data/regions.ts";
import { ensureDataset, type InMemorySplit, loadSplit, sampleBatch } from "./split_data.ts";
import { Localizer, localizerLoss } from "./cnn_localizer.ts";
import { CAPTION_BASELINE, predictSplit } from "./template_predict.ts";

const USAGE =
  "usage: deno run -A src/baselines/localizer_baseline.ts [--out DIR] [--n N] [--steps N] [--seed S] [--device auto|cpu|cuda] " +
  "[--size PX] [--input PX] [--batch B] [--lr LR] [--quiet]";

/** Settings of one baseline run (the CLI flags). */
export interface DemoOptions {
  /** Output folder (default runs/localizer_baseline). */
  out: string;
  /** Synthetic samples (8:1:1 train/eval/test). */
  n: number;
  /** Training steps. */
  steps: number;
  /** Seed of data, init, batching and augmentation. */
  seed: number;
  /** auto | cpu | cuda. */
  device: string;
  /** Side of the generated images (the generator's --size). */
  size: number;
  /** Side of the localizer's input (multiple of 8, ≤ size). */
  input: number;
  /** Batch size. */
  batch: number;
  /** Peak learning rate (AdamW, warmup-cosine). */
  lr: number;
  /** Fewer lines (no per-step losses). */
  quiet: boolean;
}

/** Defaults: sized to finish in about two minutes on a 2-core machine. */
export const DEMO_DEFAULTS: DemoOptions = {
  out: "runs/localizer_baseline",
  n: 120,
  steps: 240,
  seed: 0,
  device: "auto",
  size: 128,
  input: 64,
  batch: 16,
  lr: 3e-3,
  quiet: false,
};

function num(name: string, v: string | undefined, def: number, check: (x: number) => boolean, what: string) {
  if (v === undefined) return def;
  const x = Number(v);
  if (v.trim() === "" || !Number.isFinite(x) || !check(x)) {
    throw new Error(`--${name}: expected ${what}, got '${v}'`);
  }
  return x;
}

const intAtLeast = (m: number) => (x: number) => Number.isInteger(x) && x >= m;

/** Parses the flags; null for --help. Throws a one-line Error on bad input. */
export function parseDemoArgs(args: string[]): DemoOptions | null {
  // parseFlags: parseArgs with its errors as one plain sentence, and `--n -5` read as a value.
  const values = parseFlags(args, {
    out: { type: "string" },
    n: { type: "string" },
    steps: { type: "string" },
    seed: { type: "string" },
    device: { type: "string" },
    size: { type: "string" },
    input: { type: "string" },
    batch: { type: "string" },
    lr: { type: "string" },
    quiet: { type: "boolean", default: false },
    help: { type: "boolean", short: "h", default: false },
  }) as {
    out?: string;
    n?: string;
    steps?: string;
    seed?: string;
    device?: string;
    size?: string;
    input?: string;
    batch?: string;
    lr?: string;
    quiet: boolean;
    help: boolean;
  };
  if (values.help) return null;
  const d = DEMO_DEFAULTS;
  const o: DemoOptions = {
    out: values.out ?? d.out,
    n: num("n", values.n, d.n, intAtLeast(10), "an integer ≥ 10 (the test split needs a sample)"),
    steps: num("steps", values.steps, d.steps, intAtLeast(1), "an integer ≥ 1"),
    seed: num("seed", values.seed, d.seed, intAtLeast(0), "an integer ≥ 0"),
    device: values.device ?? d.device,
    size: num("size", values.size, d.size, intAtLeast(32), "an integer ≥ 32"),
    input: num(
      "input",
      values.input,
      d.input,
      (x) => intAtLeast(16)(x) && x % 8 === 0,
      "a multiple of 8 ≥ 16",
    ),
    batch: num("batch", values.batch, d.batch, intAtLeast(2), "an integer ≥ 2 (batch norm)"),
    lr: num("lr", values.lr, d.lr, (x) => x > 0 && x < 1, "a number in (0, 1)"),
    quiet: values.quiet,
  };
  if (!["auto", "cpu", "cuda"].includes(o.device)) {
    throw new Error(`--device: expected auto, cpu or cuda, got '${o.device}'`);
  }
  if (values.input === undefined) o.input = Math.min(o.input, Math.floor(o.size / 8) * 8);
  if (o.input > o.size) throw new Error(`--input ${o.input}: must not exceed --size ${o.size}`);
  if (!o.out.trim()) throw new Error("--out: expected a folder path, got ''");
  return o;
}

/** Training summary kept in report.json. */
interface TrainSummary {
  steps: number;
  batch: number;
  input: number;
  lr: number;
  parameters: number;
  /** Total loss of every step. */
  losses: number[];
  /** Mean of the first / last min(10, steps/4) steps. */
  firstLoss: number;
  lastLoss: number;
  /** Loss on the eval split, BN in eval mode, after training. */
  evalLoss: number;
  msPerStep: number;
}

const mean = (a: number[]) => a.reduce((s, v) => s + v, 0) / Math.max(1, a.length);

/** Trains the stand-in localizer (also the mask baseline of bench/baselines.ts). */
export function train(
  net: Localizer,
  data: InMemorySplit,
  o: DemoOptions,
  log: (s: string) => void,
): TrainSummary {
  const rng = new Rng(o.seed).fork(2);
  const S = o.input, N = data.records.length, B = Math.min(o.batch, N);
  const opt = new AdamW(decayGroups(net, 1e-4), { lr: o.lr });
  const sched = warmupCosine({
    warmupSteps: Math.max(1, Math.round(o.steps * 0.05)),
    totalSteps: o.steps,
    floor: 0.05,
  });
  const every = Math.max(1, Math.round(o.steps / 12));
  const losses: number[] = [];
  let order: number[] = [], pos = N;
  const t0 = performance.now();
  try {
    net.train();
    for (let s = 0; s < o.steps; s++) {
      if (pos + B > N) {
        order = rng.shuffle(Array.from({ length: N }, (_, i) => i));
        pos = 0;
      }
      const batch = sampleBatch(data, order.slice(pos, pos + B), rng);
      pos += B;
      opt.setLrFactor(sched(s));
      const [total, m, r] = tidy(() => {
        const x = tensor(batch.images, [B, 3, S, S]);
        const y = tensor(batch.masks, [B, 1, S, S]);
        const l = tensor(batch.labels, [B, REGIONS.length]);
        const loss = localizerLoss(net.forward(x), y, l);
        backward(loss.total);
        return [loss.total.item(), loss.mask.item(), loss.regions.item()];
      });
      if (!Number.isFinite(total)) {
        throw new Error(`training diverged at step ${s + 1} (loss ${total}); try a lower --lr`);
      }
      clipGradNorm(net.parameters(), 5);
      opt.step();
      opt.zeroGrad();
      losses.push(total);
      if (!o.quiet && ((s + 1) % every === 0 || s === 0 || s + 1 === o.steps)) {
        const now = performance.now();
        const done = s + 1;
        const rate = (now - t0) / done;
        log(
          `  step ${String(done).padStart(String(o.steps).length)}/${o.steps}  loss ${total.toFixed(4)} ` +
            `(mask ${m.toFixed(4)}, regions ${r.toFixed(4)})  lr ${(o.lr * sched(s)).toExponential(2)}  ` +
            `${rate.toFixed(0)} ms/step, eta ${((o.steps - done) * rate / 1000).toFixed(0)} s`,
        );
      }
    }
  } finally {
    opt.dispose();
  }
  const ms = (performance.now() - t0) / o.steps;
  const k = Math.max(1, Math.min(10, Math.floor(o.steps / 4)));
  return {
    steps: o.steps,
    batch: B,
    input: S,
    lr: o.lr,
    parameters: net.numParameters(),
    losses,
    firstLoss: mean(losses.slice(0, k)),
    lastLoss: mean(losses.slice(-k)),
    evalLoss: NaN,
    msPerStep: ms,
  };
}

/** Loss over a whole split in eval mode (batches of `batch`). */
function splitLoss(net: Localizer, data: InMemorySplit, batch: number): number {
  const S = data.size, hw = S * S, N = data.records.length, R = REGIONS.length;
  net.eval();
  let sum = 0;
  for (let b0 = 0; b0 < N; b0 += batch) {
    const B = Math.min(batch, N - b0);
    sum += B * noGrad(() =>
      tidy(() => {
        const x = tensor(data.images.subarray(b0 * 3 * hw, (b0 + B) * 3 * hw), [B, 3, S, S]);
        const y = tensor(data.masks.subarray(b0 * hw, (b0 + B) * hw), [B, 1, S, S]);
        const l = tensor(data.labels.subarray(b0 * R, (b0 + B) * R), [B, R]);
        return localizerLoss(net.forward(x), y, l).total.item();
      })
    );
  }
  return sum / N;
}

/** Paths of everything the demo writes. */
export interface DemoFiles {
  data: string;
  checkpoint: string;
  predDir: string;
  predFile: string;
  report: string;
}

/** What `runDemo` returns (also the `demo` part of report.json, minus the evaluation). */
export interface DemoResult {
  options: DemoOptions;
  device: string;
  files: DemoFiles;
  train: TrainSummary;
  evaluation: EvaluationReport;
  timings: Record<string, number>;
}

/** Runs the four steps with `o`; progress lines go to `log`. */
export async function runDemo(
  o: DemoOptions,
  log: (line: string) => void = console.log,
): Promise<DemoResult> {
  const tStart = performance.now();
  const timings: Record<string, number> = {};
  const lap = (name: string, t: number) => (timings[name] = Math.round(performance.now() - t) / 1000);
  const out = resolve(o.out);
  const files: DemoFiles = {
    data: join(out, "data"),
    checkpoint: join(out, "localizer.safetensors"),
    predDir: join(out, "pred"),
    predFile: join(out, "PRED.json"),
    report: join(out, "report.json"),
  };
  try {
    await Deno.mkdir(out, { recursive: true });
  } catch (e) {
    throw new Error(`--out '${o.out}': cannot create the folder (${(e as Error).message})`);
  }
  log(`Stand-in localizer baseline (seed ${o.seed}, output ${out})`);
  const prevDevice = getDefaultDevice();
  const device = useDevice(o.device, (msg) => log(`  ${msg}`));
  log(`  device: ${device}`);
  log(
    "A labelled baseline, not ForgeryTalker: a small CNN localizer trained from scratch + template captions.",
  );
  try {
    // 1. data
    let t = performance.now();
    log(`[1/4] synthetic MMTT set: ${o.n} samples, ${o.size}x${o.size}, seed ${o.seed}`);
    await ensureDataset(files.data, { n: o.n, seed: o.seed, size: o.size }, log);
    const trainSet = await loadSplit(files.data, "train", o.input);
    const evalSet = await loadSplit(files.data, "eval", o.input);
    const testSet = await loadSplit(files.data, "test", o.input);
    log(
      `  splits: train ${trainSet.records.length}, eval ${evalSet.records.length}, test ${testSet.records.length}` +
        ` (loaded at ${o.input}x${o.input})`,
    );
    lap("data_s", t);

    // 2. train
    t = performance.now();
    const net = new Localizer(new Rng(o.seed).fork(1));
    let summary: TrainSummary;
    try {
      log(
        `[2/4] training the stand-in localizer (${net.numParameters().toLocaleString("en-US")} parameters; ` +
          `CoordConv + conv/BN/relu encoder, ConvTranspose2d/bilinear decoder, 21-way region head)`,
      );
      log(
        `  loss = ½(BCE ω=0.2 + soft Dice) on masks + BCE on regions; AdamW lr ${o.lr}, warmup-cosine, ` +
          `${o.steps} steps of ${Math.min(o.batch, trainSet.records.length)}`,
      );
      summary = train(net, trainSet, o, log);
      summary.evalLoss = splitLoss(net, evalSet, o.batch);
      log(
        `  loss ${summary.firstLoss.toFixed(4)} -> ${summary.lastLoss.toFixed(4)} ` +
          `(first/last ${Math.min(10, Math.max(1, Math.floor(o.steps / 4)))} steps, ` +
          `${(summary.firstLoss / summary.lastLoss).toFixed(2)}x lower); eval-split loss ${
            summary.evalLoss.toFixed(4)
          }; ${summary.msPerStep.toFixed(0)} ms/step`,
      );
      saveModule(files.checkpoint, net, {
        format: "forgerytalker-demo-localizer",
        input: String(o.input),
        steps: String(o.steps),
        seed: String(o.seed),
        lastLoss: summary.lastLoss.toFixed(6),
      });
      log(`  saved ${files.checkpoint}`);
    } finally {
      net.dispose();
    }
    lap("train_s", t);

    // 3. predict with the reloaded checkpoint
    t = performance.now();
    log(`[3/4] predicting the test split (${testSet.records.length} images) with the reloaded checkpoint`);
    const model = new Localizer(new Rng(0));
    try {
      loadModule(files.checkpoint, model);
      await predictSplit(model, testSet, {
        predFile: files.predFile,
        maskDir: files.predDir,
        batch: o.batch,
      });
    } finally {
      model.dispose();
    }
    log(`  captions: ${CAPTION_BASELINE}`);
    log(`  wrote ${testSet.records.length} masks to ${files.predDir}/ and ${files.predFile}`);
    lap("predict_s", t);

    // 4. evaluate
    t = performance.now();
    log("[4/4] evaluating (COCO caption metrics, mask IoU / precision / recall, PLM; values x100)");
    const evaluation = await evaluate({
      predFile: files.predFile,
      dataDir: files.data,
      split: "test",
      onIssue: (line) => log(`  warning: ${line}`),
    });
    log(formatTable(evaluation.rows));
    lap("eval_s", t);
    timings.total_s = Math.round(performance.now() - tStart) / 1000;
    const result: DemoResult = { options: o, device, files, train: summary, evaluation, timings };
    const json = {
      ...evaluation,
      demo: {
        note: "Stand-in localizer baseline (not ForgeryTalker); captions are a template naming the " +
          "predicted regions.",
        captionBaseline: CAPTION_BASELINE,
        options: o,
        device,
        files,
        train: summary,
        timings,
      },
    };
    await writeFileAtomic(files.report, new TextEncoder().encode(JSON.stringify(json, null, 2) + "\n"));
    log(
      "Caption columns score the template baseline against the references: a floor, not a model result.",
    );
    log(`Done in ${timings.total_s.toFixed(1)} s. Files:`);
    log(`  data        ${files.data}/`);
    log(`  checkpoint  ${files.checkpoint}`);
    log(`  masks       ${files.predDir}/`);
    log(`  predictions ${files.predFile}`);
    log(`  report      ${files.report}`);
    log(`  re-score:   deno task eval --pred ${files.predFile} --data ${files.data} --out report2.json`);
    return result;
  } finally {
    setDefaultDevice(prevDevice);
  }
}

/** CLI entry: parse, run, print; returns the exit code (0 ok, 1 failed, 2 usage). */
export async function main(args: string[], log: (line: string) => void = console.log): Promise<number> {
  let o: DemoOptions | null;
  try {
    o = parseDemoArgs(args);
  } catch (e) {
    console.error(`localizer baseline: ${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  if (!o) {
    log(USAGE);
    return 0;
  }
  try {
    await runDemo(o, log);
    return 0;
  } catch (e) {
    console.error(`localizer baseline: ${(e as Error).message}`);
    return 1;
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
