/**
 * `deno task eval --pred PRED.json --data DIR --split test --out report.json [--strict]
 *  [--verify] [--allow-outside-root]`
 * Scores a predictions file against an MMTT split and prints the paper's table (×100) with
 * per-manipulation-type rows; writes the full report as JSON. Issues with the predictions
 * print one line each on stderr; --strict makes the first one fatal (exit 1). --out may not
 * name any input (the predictions, a split file, an image or mask): compared by real path
 * and inode, so links are caught too. --verify decodes every image and mask of the split
 * first and reports each bad record by file and field.
 */
import { resolve } from "node:path";
import { evaluate, PredictionIssue } from "../eval/evaluator.ts";
import { readPredictions } from "../eval/predictions.ts";
import { formatTable } from "../eval/report.ts";
import { sweepTempsOf, writeFileAtomic } from "../data/atomic.ts";
import { readMMTT, SPLIT_FILES, splitPath } from "../data/mmtt.ts";
import { MANIFEST_FILE } from "../data/manifest.ts";
import { FlagError, parseFlags, permissionSentence, writeScopeProblem } from "./flags.ts";

const USAGE =
  "usage: deno task eval --pred PRED.json --data DIR [--split test|eval|train] --out report.json\n" +
  "  [--strict] [--verify] [--allow-outside-root]\n" +
  "  --verify              decode every image and mask of the split first; list each bad record\n" +
  "  --allow-outside-root  accept record/mask paths outside DIR (or outside PRED.json's folder)";

/** Progress bar on stderr, redrawn at most every 1% (only for splits of 200+ images). */
function progress(): (done: number, total: number) => void {
  const enc = new TextEncoder();
  let last = -1;
  return (done, total) => {
    if (total < 200) return;
    const pct = Math.floor((done * 100) / total);
    if (pct === last && done !== total) return;
    last = pct;
    const bar = "#".repeat(Math.floor(pct / 4)).padEnd(25, ".");
    Deno.stderr.writeSync(enc.encode(`\r[${bar}] ${pct}% ${done}/${total}${done === total ? "\n" : ""}`));
  };
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
  predFile: string,
  dataDir: string,
  allowOutside: boolean,
): Promise<void> {
  const st = await statOrNull(out);
  if (!st) return;
  if (st.isDirectory) throw new Error(`--out '${out}' is a folder, expected a file path for the report`);
  const realOut = await Deno.realPath(out);
  const inputs = [
    predFile,
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
  try {
    for (const p of (await readPredictions(predFile, { allowOutside })).byKey.values()) {
      if (p.maskFile) inputs.push(p.maskFile);
    }
  } catch { /* reported by the evaluation itself */ }
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
  let values;
  try {
    values = parseFlags(args, {
      pred: { type: "string" },
      data: { type: "string" },
      split: { type: "string", default: "test" },
      out: { type: "string" },
      strict: { type: "boolean", default: false },
      verify: { type: "boolean", default: false },
      "allow-outside-root": { type: "boolean", default: false },
      ckpt: { type: "string" },
      help: { type: "boolean", short: "h", default: false },
    });
    if (values.help) {
      console.log(USAGE);
      return 0;
    }
    if (values.ckpt) {
      throw new FlagError("--ckpt (predict with a model, then score) is not available yet; use --pred");
    }
    const missing = (["pred", "data", "out"] as const).filter((k) =>
      typeof values![k] !== "string" || !values![k]
    );
    if (missing.length) {
      const names = missing.map((k) => `--${k}`);
      const list = names.length > 1
        ? `${names.slice(0, -1).join(", ")} and ${names.at(-1)} are`
        : `${names[0]} is`;
      throw new FlagError(`${list} required (see --help)`);
    }
    const split = values.split;
    if (split !== "test" && split !== "eval" && split !== "train") {
      throw new FlagError(`--split must be test, eval or train, got '${split}'`);
    }
  } catch (e) {
    if (!(e instanceof FlagError)) throw e;
    console.error(`eval: ${e.message}`);
    return 2;
  }
  const pred = values.pred as string, data = values.data as string, out = values.out as string;
  const allowOutside = values["allow-outside-root"] === true;
  const scope = writeScopeProblem(resolve(out), "eval", "data/ and runs/");
  if (scope) {
    console.error(`eval: ${scope}`);
    return 1;
  }
  try {
    await checkOutNotInput(out, pred, data, allowOutside);
    for (const p of sweepTempsOf(resolve(out)).removed) {
      console.error(`eval: removed '${p}' left by a killed run`);
    }
    const report = await evaluate({
      predFile: pred,
      dataDir: data,
      split: values.split as keyof typeof SPLIT_FILES,
      strict: values.strict === true,
      verify: values.verify === true,
      allowOutside,
      onProgress: progress(),
      onIssue: (line) => console.error(`warning: ${line}`),
    });
    console.log(formatTable(report.rows));
    const nIssues = Object.values(report.issues).reduce((a, b) => a + b, 0);
    const detail = Object.entries(report.issues).filter(([, v]) => v > 0).map(([k, v]) => `${k} ${v}`);
    console.log(
      `${report.images} images, ${report.predictions} prediction records, ${nIssues} issues` +
        (detail.length ? ` (${detail.join(", ")})` : "") + `, ${report.seconds.toFixed(1)} s`,
    );
    // Checked again right before writing: a mask path could have been created meanwhile.
    await checkOutNotInput(out, pred, data, allowOutside);
    await writeFileAtomic(out, new TextEncoder().encode(JSON.stringify(report, null, 2) + "\n"));
    return 0;
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
