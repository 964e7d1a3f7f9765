/**
 * `deno task demo [--ckpt C] [--out runs/demo] [--n 5] [--seed 7] [--size 256] [--greedy | --beams N]
 *  [--device auto|cpu|cuda] [--quiet]`
 *
 * The one-command tour of the real system with the bundled model (models/default.safetensors):
 * 1. makes `n` forged synthetic faces (one of each forgery family first) and one untouched face
 *    with the generator (src/data/synth), plus a real public-domain photograph forged by the
 *    real-photo mode (src/data/photos; `--no-photo` skips it), written as a small MMTT set in OUT/data;
 * 2. runs ForgeryTalker on every image (src/infer/analyze.ts): the FPN's regions, the mask
 *    decoder's mask and the T5 report decoder's explanation;
 * 3. writes OUT/<name>.mask.png, .overlay.png and .json (the same files `deno task infer`
 *    writes), prints each explanation beside its ground truth;
 * 4. scores the handful with the evaluator (the paper's columns) into OUT/report.json.
 * @module
 */
import { join, resolve } from "node:path";
import { parseFlags } from "./flags.ts";
import { encodePng, readImage, writeFileAtomic } from "../data/image_io.ts";
import { generateSample, type SynthSample } from "../data/synth/sample.ts";
import { REGIONS } from "../data/regions.ts";
import { BUNDLED_PHOTOS, forgePhoto } from "../data/photos/forge.ts";
import {
  analyzeBatch,
  DEFAULT_CHECKPOINT,
  defaultCheckpoint,
  loadModel,
  type Report,
  unloadModel,
} from "../infer/analyze.ts";
import { maskPng, writeOutputs } from "../infer/outputs.ts";
import { evaluate, type EvaluationReport } from "../eval/evaluator.ts";
import { formatTable } from "../eval/report.ts";

const USAGE = "usage: deno task demo [--ckpt C] [--out DIR] [--n N] [--seed S] [--size PX] " +
  "[--greedy | --beams N] [--device auto|cpu|cuda] [--no-photo] [--quiet]";

/** Settings of one demo run (the CLI flags). */
export interface DemoOptions {
  /** Checkpoint (default: the bundled model). */
  ckpt: string | null;
  /** Output folder. */
  out: string;
  /** Forged faces (an untouched one is added). */
  n: number;
  /** Generator seed. */
  seed: number;
  /** Side of the generated images. */
  size: number;
  /** Beam width (1 = greedy). */
  beams: number;
  /** auto | cpu | cuda. */
  device: string;
  /** Only the summary lines. */
  quiet: boolean;
  /** Also forge the bundled public-domain photo (the real-photo mode); default true. */
  photo: boolean;
}

/** Defaults: the whole run takes well under two minutes on a 2-core machine. */
export const DEMO_DEFAULTS: DemoOptions = {
  ckpt: null,
  out: "runs/demo",
  n: 5,
  seed: 7,
  size: 256,
  beams: 5,
  device: "auto",
  quiet: false,
  photo: true,
};

function int(name: string, v: string | undefined, def: number, min: number, max: number): number {
  if (v === undefined) return def;
  const x = Number(v);
  if (v.trim() === "" || !Number.isInteger(x) || x < min || x > max) {
    throw new Error(`--${name}: expected an integer in [${min}, ${max}], got '${v}'`);
  }
  return x;
}

/** Parses the flags; null for --help. Throws a one-line Error on bad input. */
export function parseDemoArgs(args: string[]): DemoOptions | null {
  const v = parseFlags(args, {
    ckpt: { type: "string" },
    out: { type: "string" },
    n: { type: "string" },
    seed: { type: "string" },
    size: { type: "string" },
    beams: { type: "string" },
    greedy: { type: "boolean", default: false },
    device: { type: "string" },
    quiet: { type: "boolean", default: false },
    "no-photo": { type: "boolean", default: false },
    help: { type: "boolean", short: "h", default: false },
  }) as Record<string, string | boolean | undefined>;
  if (v.help) return null;
  const d = DEMO_DEFAULTS;
  const o: DemoOptions = {
    ckpt: (v.ckpt as string | undefined) ?? null,
    out: (v.out as string | undefined) ?? d.out,
    n: int("n", v.n as string | undefined, d.n, 1, 64),
    seed: int("seed", v.seed as string | undefined, d.seed, 0, 2 ** 31 - 1),
    size: int("size", v.size as string | undefined, d.size, 64, 1024),
    beams: int("beams", v.beams as string | undefined, d.beams, 1, 16),
    device: (v.device as string | undefined) ?? d.device,
    quiet: v.quiet as boolean,
    photo: !v["no-photo"],
  };
  if (v.greedy) {
    if (v.beams !== undefined) throw new Error("--greedy and --beams exclude each other");
    o.beams = 1;
  }
  if (!["auto", "cpu", "cuda"].includes(o.device)) {
    throw new Error(`--device: expected auto, cpu or cuda, got '${o.device}'`);
  }
  if (!o.out.trim()) throw new Error("--out: expected a folder path, got ''");
  return o;
}

/** One demo image with its ground truth. */
export interface DemoItem {
  name: string;
  /** "face_swap", ..., or "untouched". */
  kind: string;
  image: string;
  mask: string;
  caption: string;
  multilabel: number[];
}

/** One scored demo image. */
export interface DemoRow extends DemoItem {
  explanation: string;
  regions: string[];
  truthRegions: string[];
  /** Mask IoU against the ground truth at the image size (both empty -> 1). */
  iou: number;
  outputs: { mask: string; overlay: string; json: string };
  ms: number;
}

/** What `runDemo` returns (report.json holds it with the evaluation). */
export interface DemoResult {
  options: DemoOptions;
  checkpoint: string;
  rows: DemoRow[];
  evaluation: EvaluationReport;
  seconds: { generate: number; load: number; analyze: number; evaluate: number; total: number };
}

const FAMILIES = ["face_swap", "inpaint_diffusion", "inpaint_patch", "attribute_edit"];

/**
 * Picks `n` forged samples (the first of each family in index order, then the next ones) and
 * one untouched sample from the generator's stream for `seed`.
 */
export function pickSamples(seed: number, n: number, size: number): { index: number; s: SynthSample }[] {
  const picked: { index: number; s: SynthSample }[] = [];
  const seen = new Set<string>();
  const rest: { index: number; s: SynthSample }[] = [];
  for (let i = 0; picked.length < n && i < 64 * n; i++) {
    const s = generateSample(seed, i, size);
    if (!s.forgery_type) continue;
    if (!seen.has(s.forgery_type) && FAMILIES.includes(s.forgery_type)) {
      seen.add(s.forgery_type);
      picked.push({ index: i, s });
    } else rest.push({ index: i, s });
    if (seen.size === FAMILIES.length || picked.length + rest.length >= 4 * n) {
      while (picked.length < n && rest.length) picked.push(rest.shift()!);
    }
  }
  while (picked.length < n && rest.length) picked.push(rest.shift()!);
  picked.sort((a, b) => a.index - b.index);
  // the untouched face: the generator's own untouched path (empty mask, a caption saying so)
  const ui = 1000 + seed % 1000;
  picked.push({ index: ui, s: generateSample(seed, ui, size, { realShare: 1 }) });
  return picked;
}

/** IoU of two 0/1 (or 0/255) masks of equal size; both empty -> 1. */
export function maskIoU(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let inter = 0, uni = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i] > 0, y = b[i] > 0;
    if (x && y) inter++;
    if (x || y) uni++;
  }
  return uni === 0 ? 1 : inter / uni;
}

const enc = new TextEncoder();
const writeJson = (path: string, v: unknown) =>
  writeFileAtomic(path, enc.encode(JSON.stringify(v, null, 2) + "\n"));

/** Runs the demo with `o`; progress lines go to `log`. */
export async function runDemo(
  o: DemoOptions,
  log: (line: string) => void = console.log,
): Promise<DemoResult> {
  const t0 = performance.now();
  const lap = (t: number) => Math.round(performance.now() - t) / 1000;
  const ckpt = o.ckpt ?? defaultCheckpoint();
  if (!ckpt) {
    throw new Error(`no --ckpt given and no bundled model at ${DEFAULT_CHECKPOINT} (see docs/model_card.md)`);
  }
  const out = resolve(o.out), dataDir = join(out, "data");
  await Deno.mkdir(join(dataDir, "images"), { recursive: true });
  await Deno.mkdir(join(dataDir, "masks"), { recursive: true });
  log(
    `ForgeryTalker demo: ${o.n} forged faces + 1 untouched${
      o.photo ? " + 1 forged real photo" : ""
    } (seed ${o.seed}), model ${ckpt}`,
  );

  // 1. data
  let t = performance.now();
  const items: DemoItem[] = [];
  const records: Record<string, unknown>[] = [];
  for (const { index, s } of pickSamples(o.seed, o.n, o.size)) {
    const kind = s.forgery_type ?? "untouched";
    const name = `${String(index).padStart(4, "0")}_${kind}`;
    const image = join(dataDir, "images", `${name}.png`), mask = join(dataDir, "masks", `${name}.png`);
    await writeFileAtomic(image, encodePng(s.image));
    await writeFileAtomic(mask, encodePng(s.mask));
    items.push({ name, kind, image, mask, caption: s.caption, multilabel: s.multilabel });
    records.push({
      image_id: `demo_${name}`,
      instance_id: name,
      img_path: `images/${name}.png`,
      mask_path: `masks/${name}.png`,
      caption: s.caption,
      multilabel: s.multilabel,
      ...(s.forgery_type ? { forgery_type: s.forgery_type } : {}),
    });
  }
  if (o.photo) {
    // a real photograph (public domain, data/photos/README.md) forged by the real-photo mode
    const f = await forgePhoto(await readImage(BUNDLED_PHOTOS.graceHopper), { seed: o.seed, size: o.size });
    const name = `photo_${f.forgeryType}`;
    const image = join(dataDir, "images", `${name}.png`), mask = join(dataDir, "masks", `${name}.png`);
    await writeFileAtomic(image, encodePng(f.image));
    await writeFileAtomic(mask, encodePng(f.mask));
    items.push({
      name,
      kind: `${f.forgeryType} (real photo)`,
      image,
      mask,
      caption: f.caption,
      multilabel: f.multilabel,
    });
    records.push({
      image_id: `demo_${name}`,
      instance_id: name,
      img_path: `images/${name}.png`,
      mask_path: `masks/${name}.png`,
      caption: f.caption,
      multilabel: f.multilabel,
      forgery_type: f.forgeryType,
    });
  }
  await writeJson(join(dataDir, "test-mutilabel.json"), records);
  const tGen = lap(t);
  log(`[1/4] generated ${items.length} images in ${tGen.toFixed(1)} s -> ${dataDir}`);

  // 2. model
  t = performance.now();
  const model = await loadModel(ckpt, { device: o.device });
  const tLoad = lap(t);
  log(`[2/4] loaded ${model.config.name} (${model.stage}) on ${model.device} in ${tLoad.toFixed(1)} s`);
  const rows: DemoRow[] = [];
  let tAnalyze = 0;
  try {
    // 3. analyze and write
    t = performance.now();
    const reports = await analyzeBatch(items.map((i) => i.image), {
      ckpt: model,
      keepInput: true,
      beams: o.beams,
      greedy: o.beams === 1,
      batch: 1,
    });
    tAnalyze = lap(t);
    log(`[3/4] analysed ${items.length} images in ${tAnalyze.toFixed(1)} s (beam ${o.beams})`);
    const preds: Record<string, unknown>[] = [];
    await Deno.mkdir(join(out, "pred"), { recursive: true });
    for (let i = 0; i < items.length; i++) {
      const it = items[i], r = reports[i];
      if (r instanceof Error) throw r;
      const outputs = await writeOutputs(r, join(out, it.name));
      const truth = await readImage(it.mask);
      const row: DemoRow = {
        ...it,
        explanation: r.explanation,
        regions: r.regions.selected,
        truthRegions: REGIONS.filter((_, k) => it.multilabel[k] > 0),
        iou: maskIoU(r.mask.binary, truth.data),
        outputs,
        ms: r.timings.total,
      };
      rows.push(row);
      await writeFileAtomic(join(out, "pred", `${it.name}.png`), maskPng(r));
      preds.push({
        image_id: `demo_${it.name}`,
        instance_id: it.name,
        caption: r.explanation,
        mask_path: `pred/${it.name}.png`,
        multilabel: REGIONS.map((name) => (r.regions.probabilities[name] > r.regions.threshold ? 1 : 0)),
      });
      if (!o.quiet) printRow(row, r, log);
    }
    await writeJson(join(out, "predictions.json"), preds);
  } finally {
    unloadModel(model);
  }

  // 4. evaluate
  t = performance.now();
  const evaluation = await evaluate({
    predFile: join(out, "predictions.json"),
    dataDir,
    split: "test",
    onIssue: (line) => log(`  warning: ${line}`),
  });
  const tEval = lap(t);
  log(`[4/4] scores over these ${items.length} images (x100; a handful, so noisy):`);
  log(formatTable(evaluation.rows));
  const result: DemoResult = {
    options: o,
    checkpoint: ckpt,
    rows,
    evaluation,
    seconds: { generate: tGen, load: tLoad, analyze: tAnalyze, evaluate: tEval, total: lap(t0) },
  };
  await writeJson(join(out, "report.json"), result);
  log(`Done in ${result.seconds.total.toFixed(1)} s. Files in ${out}/:`);
  log(`  <name>.overlay.png  the image with the predicted mask, regions and explanation drawn on it`);
  log(`  <name>.mask.png     the binary mask at the image size; <name>.json the full report`);
  log(`  data/               the generated images, true masks and test-mutilabel.json (MMTT format)`);
  log(`  report.json         this run: per-image rows and the evaluation`);
  log(`  re-score: deno task eval --pred ${join(out, "predictions.json")} --data ${dataDir} --split test`);
  return result;
}

function printRow(row: DemoRow, r: Report, log: (line: string) => void): void {
  const list = (xs: string[]) => (xs.length ? xs.join(", ") : "none");
  log(`\n${row.name}  (${row.kind}; ${row.ms.toFixed(0)} ms)`);
  log(`  regions  predicted: ${list(row.regions)}`);
  log(`           truth:     ${list(row.truthRegions)}`);
  log(
    `  mask     IoU ${(row.iou * 100).toFixed(1)} (predicted ${
      (r.mask.areaFraction * 100).toFixed(1)
    }% of the image)`,
  );
  log(`  model:   ${row.explanation}`);
  log(`  truth:   ${row.caption}`);
  log(`  overlay: ${row.outputs.overlay}`);
}

/** CLI entry: parse, run, print; returns the exit code (0 ok, 1 failed, 2 usage). */
export async function main(args: string[], log: (line: string) => void = console.log): Promise<number> {
  let o: DemoOptions | null;
  try {
    o = parseDemoArgs(args);
  } catch (e) {
    console.error(`demo: ${(e as Error).message}\n${USAGE}`);
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
    console.error(`demo: ${(e as Error).message}`);
    return 1;
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
