/**
 * `deno task eval` — scores ForgeryTalker outputs with the paper's metrics.
 *
 *   --pred PRED.json --data DIR [--split test] --out report.json [--strict]
 *       score a predictions file (masks + captions) against the split's ground truth;
 *   --ckpt CKPT --data DIR [--split test] --out report.json [--save-preds DIR] [--batch N]
 *       [--greedy | --beams N] [--max-new-tokens N] [--device D] [--limit N] [--regions fpn|gt|none]
 *       run the model over the split (progress bar on stderr), then score its predictions the
 *       same way (so `--pred DIR/predictions.json` re-scores saved predictions identically);
 *       [--robustness] adds the degraded sets (paper Table 7 layout);
 *       [--ablate "label=CKPT[@fpn|gt|none],..."] scores each variant (Tables 4/5 layout;
 *       an empty CKPT means --ckpt);
 *   --compare A.json B.json   prints two reports side by side with the deltas.
 * The table is ×100 with per-manipulation-type rows; issues print one line each on stderr.
 * Exit 0 ok, 1 failed, 2 usage.
 */
import { parseArgs } from "node:util";
import { join, resolve } from "node:path";
import { evaluate, type EvaluationReport, PredictionIssue } from "../eval/evaluator.ts";
import { formatTable, type ReportRow } from "../eval/report.ts";
import { sweepTempsOf, writeFileAtomic } from "../data/atomic.ts";
import { readPredictions } from "../eval/predictions.ts";
import { readMMTT, SPLIT_FILES, splitPath } from "../data/mmtt.ts";
import { MANIFEST_FILE } from "../data/manifest.ts";
import { FlagError, parseFlags, permissionSentence } from "./flags.ts";
import { type Degradation, ROBUSTNESS } from "../data/transforms.ts";
import { decodingSettings, type LoadedModel, loadModel } from "../infer/analyze.ts";
import { type EvalRegions, predictSplit } from "../infer/predict_split.ts";
import { compareTable, variantTable } from "../infer/eval_tables.ts";

const USAGE =
  `usage: deno task eval --pred PRED.json --data DIR [--split test|eval|train] --out report.json [--strict]
       deno task eval --ckpt CKPT --data DIR [--split test] --out report.json [--save-preds DIR] [--batch N]
                      [--greedy | --beams N] [--max-new-tokens N] [--device auto|cpu|cuda] [--limit N]
                      [--regions fpn|gt|none] [--robustness] [--ablate "label=CKPT[@fpn|gt|none],..."]
       deno task eval --compare A.json B.json`;

/** Progress bar on stderr, redrawn at most every 1% (`minTotal`: smaller runs stay quiet). */
function progress(label = "", minTotal = 200): (done: number, total: number) => void {
  const enc = new TextEncoder();
  let last = -1;
  const t0 = performance.now();
  return (done, total) => {
    if (total < minTotal) return;
    const pct = Math.floor((done * 100) / total);
    if (pct === last && done !== total) return;
    last = pct;
    const bar = "#".repeat(Math.floor(pct / 4)).padEnd(25, ".");
    const rate = done / Math.max(1e-9, (performance.now() - t0) / 1000);
    Deno.stderr.writeSync(
      enc.encode(
        `\r${label}[${bar}] ${pct}% ${done}/${total} ${rate.toFixed(2)}/s${done === total ? "\n" : ""}`,
      ),
    );
  };
}

function summary(report: EvaluationReport): string {
  const nIssues = Object.values(report.issues).reduce((a, b) => a + b, 0);
  const detail = Object.entries(report.issues).filter(([, v]) => v > 0).map(([k, v]) => `${k} ${v}`);
  return `${report.images} images, ${report.predictions} prediction records, ${nIssues} issues` +
    (detail.length ? ` (${detail.join(", ")})` : "") + `, ${report.seconds.toFixed(1)} s`;
}

function intOpt(v: string | undefined, what: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${what}: expected a positive integer, got '${v}'`);
  return n;
}

/** One ablation entry of `--ablate`. */
export interface AblationSpec {
  label: string;
  ckpt: string;
  regions?: EvalRegions;
}

/** Parses `label=CKPT[@fpn|gt|none],...` (an empty CKPT means `fallback`). */
export function parseAblate(spec: string, fallback?: string): AblationSpec[] {
  return spec.split(",").map((s) => s.trim()).filter(Boolean).map((s) => {
    const eq = s.indexOf("=");
    if (eq <= 0) throw new Error(`--ablate: entry '${s}': expected label=CKPT[@fpn|gt|none]`);
    const label = s.slice(0, eq);
    let rest = s.slice(eq + 1), regions: EvalRegions | undefined;
    const at = rest.lastIndexOf("@");
    if (at >= 0) {
      const r = rest.slice(at + 1);
      if (r !== "fpn" && r !== "gt" && r !== "none") {
        throw new Error(`--ablate: entry '${s}': regions must be fpn, gt or none`);
      }
      regions = r;
      rest = rest.slice(0, at);
    }
    const ckpt = rest || fallback;
    if (!ckpt) throw new Error(`--ablate: entry '${s}' names no checkpoint and --ckpt is not given`);
    return { label, ckpt, regions };
  });
}

async function readReport(path: string): Promise<{ rows: ReportRow[] }> {
  let j: unknown;
  try {
    j = JSON.parse(await Deno.readTextFile(path));
  } catch (e) {
    throw new Error(`report '${path}': ${(e as Error).message}`);
  }
  const rows = (j as { rows?: unknown }).rows;
  if (!Array.isArray(rows)) throw new Error(`report '${path}': no 'rows' array (not an eval report)`);
  return { rows: rows as ReportRow[] };
}

async function statOrNull(path: string): Promise<Deno.FileInfo | null> {
  try {
    return await Deno.stat(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return null;
    throw e;
  }
}

/**
 * Throw when `out` names one of the run's inputs. Only an existing `out` can be an input;
 * it is compared by real path and by (device, inode), which also catches symlinks and hard
 * links to an input.
 */
export async function checkOutNotInput(
  out: string,
  predFile: string | null,
  dataDir: string,
  allowOutside: boolean,
): Promise<void> {
  const st = await statOrNull(out);
  if (!st) return;
  if (st.isDirectory) throw new Error(`--out '${out}' is a folder, expected a file path for the report`);
  const realOut = await Deno.realPath(out);
  const inputs = [
    ...(predFile ? [predFile] : []),
    resolve(dataDir, MANIFEST_FILE),
    ...Object.values(SPLIT_FILES).map((f) => resolve(dataDir, f)),
  ];
  for (const split of Object.keys(SPLIT_FILES) as (keyof typeof SPLIT_FILES)[]) {
    if (!(await statOrNull(splitPath(dataDir, split)))) continue;
    try {
      for (
        const r of await readMMTT(splitPath(dataDir, split), dataDir, {
          checkFiles: false,
          allowOutside: true,
        })
      ) {
        inputs.push(r.imageFile);
        if (r.maskFile) inputs.push(r.maskFile);
      }
    } catch { /* a broken split is reported by the evaluation itself */ }
  }
  if (predFile) {
    try {
      for (const p of (await readPredictions(predFile, { allowOutside })).byKey.values()) {
        if (p.maskFile) inputs.push(p.maskFile);
      }
    } catch { /* reported by the evaluation itself */ }
  }
  for (const inp of inputs) {
    const s = await statOrNull(inp);
    if (!s) continue;
    const same = (s.dev === st.dev && s.ino !== null && s.ino === st.ino) ||
      (await Deno.realPath(inp)) === realOut;
    if (same) {
      throw new Error(`--out '${out}' is an input of this run ('${inp}'); choose another report path`);
    }
  }
}

/** Run the CLI with `args`; returns the exit code (0 ok, 1 failed, 2 usage). */
export async function main(args: string[]): Promise<number> {
  const spec = {
    pred: { type: "string" },
    data: { type: "string" },
    split: { type: "string", default: "test" },
    out: { type: "string" },
    strict: { type: "boolean", default: false },
    verify: { type: "boolean", default: false },
    "allow-outside-root": { type: "boolean", default: false },
    ckpt: { type: "string" },
    "save-preds": { type: "string" },
    batch: { type: "string" },
    greedy: { type: "boolean", default: false },
    beams: { type: "string" },
    "max-new-tokens": { type: "string" },
    device: { type: "string", default: "auto" },
    limit: { type: "string" },
    regions: { type: "string" },
    robustness: { type: "boolean", default: false },
    ablate: { type: "string" },
    compare: { type: "string" },
    help: { type: "boolean", short: "h", default: false },
  } as const;
  let values: { [K in keyof typeof spec]?: (typeof spec)[K]["type"] extends "boolean" ? boolean : string };
  let positionals: string[] = [];
  try {
    if (args.includes("--compare")) {
      // --compare A.json B.json: the second report is a positional
      ({ values, positionals } = parseArgs({ args, allowPositionals: true, options: spec }));
    } else values = parseFlags(args, spec as unknown as Parameters<typeof parseFlags>[1]) as typeof values;
  } catch (e) {
    console.error(
      `eval: ${e instanceof FlagError ? e.message : (e as Error).message.replace(/\. To specify.*$/s, "")}`,
    );
    return 2;
  }
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (values.compare) {
    if (positionals.length !== 1) {
      console.error(`eval: --compare takes two reports: --compare A.json B.json\n${USAGE}`);
      return 2;
    }
    try {
      const a = await readReport(values.compare), b = await readReport(positionals[0]);
      console.log(compareTable(values.compare, a.rows, positionals[0], b.rows));
      return 0;
    } catch (e) {
      console.error(`eval: ${(e as Error).message}`);
      return 1;
    }
  }
  if (positionals.length) {
    console.error(`eval: unexpected argument '${positionals[0]}'\n${USAGE}`);
    return 2;
  }
  const modelMode = !!(values.ckpt || values.ablate);
  if (modelMode && values.pred) {
    console.error(`eval: give either --pred or --ckpt, not both\n${USAGE}`);
    return 2;
  }
  const missing = [
    ...(!modelMode && !values.pred ? ["--pred (or --ckpt)"] : []),
    ...(!values.data ? ["--data"] : []),
    ...(!values.out ? ["--out"] : []),
  ];
  if (missing.length) {
    const list = missing.length > 1
      ? `${missing.slice(0, -1).join(", ")} and ${missing.at(-1)} are`
      : `${missing[0]} is`;
    console.error(`eval: ${list} required (see --help)`);
    return 2;
  }
  const split = values.split;
  if (split !== "test" && split !== "eval" && split !== "train") {
    console.error(`eval: --split must be test, eval or train, got '${split}'`);
    return 2;
  }
  if (values.regions !== undefined && !["fpn", "gt", "none"].includes(values.regions)) {
    console.error(`eval: --regions must be fpn, gt or none, got '${values.regions}'`);
    return 2;
  }
  const allowOutside = values["allow-outside-root"] === true;
  const data = values.data!, out = values.out!;
  const scoreOpts = {
    dataDir: data,
    split,
    strict: values.strict,
    verify: values.verify === true,
    allowOutside,
    onIssue: (line: string) => console.error(`warning: ${line}`),
  } as const;
  try {
    await checkOutNotInput(out, values.pred ?? null, data, allowOutside);
    for (const p of sweepTempsOf(resolve(out)).removed) {
      console.error(`eval: removed '${p}' left by a killed run`);
    }
    if (!modelMode) {
      const report = await evaluate({ ...scoreOpts, predFile: values.pred!, onProgress: progress() });
      console.log(formatTable(report.rows));
      console.log(summary(report));
      // checked again right before writing: a mask path could have been created meanwhile
      await checkOutNotInput(out, values.pred!, data, allowOutside);
      await writeFileAtomic(out, new TextEncoder().encode(JSON.stringify(report, null, 2) + "\n"));
      return 0;
    }
    let decoding, batch, limit;
    try {
      decoding = {
        greedy: values.greedy,
        beams: intOpt(values.beams, "beams"),
        maxNewTokens: intOpt(values["max-new-tokens"], "max-new-tokens"),
      };
      decodingSettings(decoding);
      batch = intOpt(values.batch, "batch") ?? 8;
      limit = intOpt(values.limit, "limit");
    } catch (e) {
      console.error(`eval: ${(e as Error).message}`);
      return 2;
    }
    const tmp = values["save-preds"] ? null : await Deno.makeTempDir({ prefix: "ft_eval_" });
    const predRoot = values["save-preds"] ?? tmp!;
    try {
      // predicts one variant into `dir`, then scores it exactly like --pred would
      const run = async (
        m: LoadedModel,
        dir: string,
        label: string,
        d?: Degradation,
        regions?: EvalRegions,
      ) => {
        const bar = progress(`${label} `, 1);
        await predictSplit({
          model: m,
          dataDir: values.data!,
          split,
          outDir: dir,
          batch,
          decoding,
          degradation: d,
          regions: regions ?? (values.regions as EvalRegions | undefined),
          limit,
          onProgress: bar,
        });
        return await evaluate({ ...scoreOpts, predFile: join(dir, "predictions.json") });
      };
      const extra: Record<string, unknown> = { decoding: decodingSettings(decoding) };
      let main: EvaluationReport | null = null;
      if (values.ckpt) {
        const m = await loadModel(values.ckpt, { device: values.device });
        extra.model = {
          checkpoint: m.path,
          sha256: m.sha256,
          config: m.config.name,
          stage: m.stage,
          device: m.device,
        };
        extra.regions = values.regions ?? m.regionSource;
        extra.plmSource = "fpn (predicted regions at 0.5)";
        main = await run(m, predRoot, "predict ");
        console.log(formatTable(main.rows));
        console.log(summary(main));
        if (values.robustness) {
          const rows: { label: string; row: ReportRow }[] = [{ label: "clean", row: main.rows[0] }];
          const all: Record<string, ReportRow[]> = { clean: main.rows };
          for (const d of ROBUSTNESS.filter((x) => x.name !== "clean")) {
            const r = await run(m, join(predRoot, "robustness", d.name), `${d.name} `, d);
            rows.push({ label: d.name, row: r.rows[0] });
            all[d.name] = r.rows;
          }
          extra.robustness = all;
          console.log("\nRobustness (paper Table 7 layout; all images):");
          console.log(variantTable("test set", rows));
        }
      }
      if (values.ablate) {
        const specs = parseAblate(values.ablate, values.ckpt);
        const rows: { label: string; row: ReportRow }[] = [];
        const entries: Record<string, unknown>[] = [];
        for (const s of specs) {
          const m = await loadModel(s.ckpt, { device: values.device });
          const r = await run(
            m,
            join(predRoot, "ablation", s.label.replace(/[^A-Za-z0-9._-]/g, "_")),
            `${s.label} `,
            undefined,
            s.regions,
          );
          rows.push({ label: s.label, row: r.rows[0] });
          entries.push({
            label: s.label,
            checkpoint: m.path,
            sha256: m.sha256,
            regions: s.regions ?? m.regionSource,
            rows: r.rows,
          });
          main ??= r;
        }
        extra.ablation = entries;
        console.log("\nAblation (paper Tables 4/5 layout; all images):");
        console.log(variantTable("variant", rows));
      }
      const report = { ...main!, ...extra, predFile: values["save-preds"] ? main!.predFile : null };
      await writeFileAtomic(out, new TextEncoder().encode(JSON.stringify(report, null, 2) + "\n"));
      return 0;
    } finally {
      if (tmp) await Deno.remove(tmp, { recursive: true }).catch(() => {});
    }
  } catch (e) {
    if (e instanceof PredictionIssue) console.error(`eval: --strict: ${e.message}`);
    else {
      const why = permissionSentence(e, "eval", "files in the project folder") ?? (e as Error).message;
      console.error(`eval: ${why}`);
    }
    return 1;
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
