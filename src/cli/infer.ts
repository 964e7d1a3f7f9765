/**
 * `deno task infer [--ckpt CKPT] [--out DIR] IMAGE|FOLDER...` — the forensic report of each
 * image: NAME.mask.png (0/255 at the input size), NAME.overlay.png (mask tinted over the image,
 * regions and explanation drawn below), NAME.json (the report, docs/infer.md), and the
 * explanation on stdout (`--json`: one JSON line per image instead).
 *
 * Folders are searched recursively (`--glob`, default every .png/.jpg/.jpeg); outputs mirror
 * the folder's sub-folders under --out. Every failing input prints one line on stderr and the
 * rest of the batch still completes; exit 0 when all succeeded, 1 when any failed (or the
 * checkpoint could not be loaded), 2 on usage errors. Files are written atomically.
 */
import { parseArgs } from "node:util";
import { basename, extname, join } from "node:path";
import {
  analyzeBatch,
  DEFAULT_CHECKPOINT,
  DEFAULT_MAX_PIXELS,
  defaultCheckpoint,
  loadModel,
  type Report,
  reportJSON,
} from "../infer/analyze.ts";
import { writeOutputs } from "../infer/outputs.ts";

const USAGE = `usage: deno task infer [--ckpt CKPT] [--out DIR] [--json] [--greedy | --beams N] [--batch N]
       [--device auto|cpu|cuda] [--glob PATTERN] [--max-new-tokens N] [--min-length N]
       [--repetition-penalty P] [--length-penalty P] [--threshold T] [--max-pixels N] IMAGE|FOLDER...`;

/** One input and where its outputs go (path without the .mask.png/... suffixes). */
interface Item {
  path: string;
  outBase: string;
}

/** A glob over '/'-separated relative paths: `**` any folders, `*` and `?` within a name, `{a,b}`. */
export function globToRegExp(glob: string): RegExp {
  let re = "";
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i];
    if (c === "*" && glob[i + 1] === "*") {
      re += glob[i + 2] === "/" ? "(?:.*/)?" : ".*";
      i += glob[i + 2] === "/" ? 2 : 1;
    } else if (c === "*") re += "[^/]*";
    else if (c === "?") re += "[^/]";
    else if (c === "{") re += "(?:";
    else if (c === "}") re += ")";
    else if (c === ",") re += "|";
    else re += c.replace(/[.+^$()|[\]\\]/g, "\\$&");
  }
  return new RegExp(`^${re}$`, "i");
}

const IMAGE_EXT = /\.(png|jpe?g)$/i;

function walk(dir: string, rel = ""): string[] {
  const out: string[] = [];
  const entries = [...Deno.readDirSync(join(dir, rel))].sort((a, b) => a.name < b.name ? -1 : 1);
  for (const e of entries) {
    const r = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory) out.push(...walk(dir, r));
    else if (e.isFile) out.push(r);
  }
  return out;
}

/** Expands the command line's paths into items; folder problems come back as error lines. */
export function collectInputs(
  paths: string[],
  outDir: string,
  glob?: string,
): { items: Item[]; errors: string[] } {
  const items: Item[] = [], errors: string[] = [];
  const used = new Set<string>();
  const claim = (base: string) => {
    let b = base, n = 2;
    while (used.has(b)) b = `${base}-${n++}`;
    used.add(b);
    return b;
  };
  const match = glob ? globToRegExp(glob) : null;
  for (const p of paths) {
    let st: Deno.FileInfo | null = null;
    try {
      st = Deno.statSync(p);
    } catch { /* reported as a missing file below */ }
    if (st?.isDirectory) {
      let files: string[];
      try {
        files = walk(p).filter((r) => (match ? match.test(r) : IMAGE_EXT.test(r)));
      } catch (e) {
        errors.push(`folder '${p}': cannot list (${(e as Error).message})`);
        continue;
      }
      if (!files.length) {
        errors.push(`folder '${p}': no images${glob ? ` matching '${glob}'` : " (.png, .jpg, .jpeg)"} found`);
        continue;
      }
      for (const r of files) {
        items.push({
          path: join(p, r),
          outBase: join(outDir, claim(r.slice(0, r.length - extname(r).length))),
        });
      }
    } else {
      const name = basename(p, extname(p)) || "image";
      items.push({ path: p, outBase: join(outDir, claim(name)) });
    }
  }
  return { items, errors };
}

function num(v: string | undefined, what: string, int = false): number | undefined {
  if (v === undefined) return undefined;
  const x = Number(v);
  if (!Number.isFinite(x) || (int && !Number.isInteger(x))) {
    throw new Error(`--${what}: expected a ${int ? "whole " : ""}number, got '${v}'`);
  }
  return x;
}

/** Run the CLI with `args`; returns the exit code (0 ok, 1 some item failed, 2 usage). */
export async function main(args: string[]): Promise<number> {
  const t0 = performance.now();
  let values, positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: {
        ckpt: { type: "string" },
        out: { type: "string", default: "infer_out" },
        json: { type: "boolean", default: false },
        greedy: { type: "boolean", default: false },
        beams: { type: "string" },
        batch: { type: "string", default: "4" },
        device: { type: "string", default: "auto" },
        glob: { type: "string" },
        "max-new-tokens": { type: "string" },
        "min-length": { type: "string" },
        "repetition-penalty": { type: "string" },
        "length-penalty": { type: "string" },
        threshold: { type: "string" },
        "max-pixels": { type: "string" },
        help: { type: "boolean", short: "h", default: false },
      },
    }));
  } catch (e) {
    console.error(`infer: ${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (!positionals.length) {
    console.error(`infer: no image or folder given\n${USAGE}`);
    return 2;
  }
  let opts;
  try {
    opts = {
      greedy: values.greedy,
      beams: num(values.beams, "beams", true),
      batch: num(values.batch, "batch", true),
      maxNewTokens: num(values["max-new-tokens"], "max-new-tokens", true),
      minLength: num(values["min-length"], "min-length", true),
      repetitionPenalty: num(values["repetition-penalty"], "repetition-penalty"),
      lengthPenalty: num(values["length-penalty"], "length-penalty"),
      threshold: num(values.threshold, "threshold"),
      maxPixels: num(values["max-pixels"], "max-pixels", true) ?? DEFAULT_MAX_PIXELS,
    };
    if (!(opts.batch! >= 1)) throw new Error(`--batch: expected >= 1, got ${opts.batch}`);
  } catch (e) {
    console.error(`infer: ${(e as Error).message}`);
    return 2;
  }
  const ckpt = values.ckpt ?? defaultCheckpoint();
  if (!ckpt) {
    console.error(`infer: no --ckpt given and no default model installed (${DEFAULT_CHECKPOINT})`);
    return 1;
  }
  let model;
  try {
    model = await loadModel(ckpt, { device: values.device });
  } catch (e) {
    console.error(`infer: ${(e as Error).message}`);
    return 1;
  }
  const { items, errors } = collectInputs(positionals, values.out!, values.glob);
  let failed = errors.length, done = 0;
  for (const e of errors) console.error(`infer: ${e}`);
  const enc = new TextEncoder();
  for (let s = 0; s < items.length; s += opts.batch!) {
    const chunk = items.slice(s, s + opts.batch!);
    let results: (Report | Error)[];
    try {
      results = await analyzeBatch(chunk.map((i) => i.path), { ...opts, ckpt: model, keepInput: true });
    } catch (e) {
      // a model failure (e.g. out of memory) fails this batch's items; later batches still run
      const msg = (e as Error).message;
      results = chunk.map((i) => new Error(`image '${i.path}': model failed (${msg})`));
    }
    for (let j = 0; j < chunk.length; j++) {
      const r = results[j];
      if (r instanceof Error) {
        failed++;
        console.error(`infer: ${r.message}`);
        continue;
      }
      try {
        const files = await writeOutputs(r, chunk[j].outBase);
        done++;
        if (values.json) {
          Deno.stdout.writeSync(enc.encode(JSON.stringify({ ...reportJSON(r), outputs: files }) + "\n"));
        } else {
          const regions = r.regions.selected.length ? r.regions.selected.join(", ") : "none";
          console.log(
            `${chunk[j].path}: regions [${regions}], mask ${
              (r.mask.areaFraction * 100).toFixed(2)
            }%\n  ${r.explanation}`,
          );
        }
      } catch (e) {
        failed++;
        console.error(`infer: ${chunk[j].path}: cannot write outputs (${(e as Error).message})`);
      }
    }
  }
  if (!values.json) {
    const secs = (performance.now() - t0) / 1000;
    console.error(`infer: ${done} report(s) in ${values.out}, ${failed} failed, ${secs.toFixed(1)} s`);
  }
  return failed ? 1 : 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
