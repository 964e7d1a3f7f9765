/**
 * `deno task eval --pred PRED.json --data DIR --split test --out report.json [--strict]`
 * Scores a predictions file against an MMTT split and prints the paper's table (×100) with
 * per-manipulation-type rows; writes the full report as JSON. Issues with the predictions
 * print one line each on stderr; --strict makes the first one fatal (exit 1).
 */
import { parseArgs } from "node:util";
import { evaluate, PredictionIssue } from "../eval/evaluator.ts";
import { formatTable } from "../eval/report.ts";
import { writeFileAtomic } from "../data/image_io.ts";

const USAGE =
  "usage: deno task eval --pred PRED.json --data DIR [--split test|eval|train] --out report.json [--strict]";

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

/** Run the CLI with `args`; returns the exit code (0 ok, 1 failed, 2 usage). */
export async function main(args: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      options: {
        pred: { type: "string" },
        data: { type: "string" },
        split: { type: "string", default: "test" },
        out: { type: "string" },
        strict: { type: "boolean", default: false },
        ckpt: { type: "string" },
        help: { type: "boolean", short: "h", default: false },
      },
    }));
  } catch (e) {
    console.error(`eval: ${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (values.ckpt) {
    console.error("eval: --ckpt (predict with a model, then score) is not available yet; use --pred");
    return 2;
  }
  if (!values.pred || !values.data || !values.out) {
    console.error(`eval: --pred, --data and --out are required\n${USAGE}`);
    return 2;
  }
  const split = values.split;
  if (split !== "test" && split !== "eval" && split !== "train") {
    console.error(`eval: --split must be test, eval or train, got '${split}'`);
    return 2;
  }
  try {
    const report = await evaluate({
      predFile: values.pred,
      dataDir: values.data,
      split,
      strict: values.strict,
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
    await writeFileAtomic(values.out, new TextEncoder().encode(JSON.stringify(report, null, 2) + "\n"));
    return 0;
  } catch (e) {
    if (e instanceof PredictionIssue) console.error(`eval: --strict: ${e.message}`);
    else console.error(`eval: ${(e as Error).message}`);
    return 1;
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
