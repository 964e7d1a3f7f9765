/**
 * `deno task synth --out DIR --n N --seed S [--size 512] [--workers W] [--real-share F] [--photos PHOTOS] [--force] [--quiet]`
 * Generates a synthetic MMTT-format benchmark (see src/data/synth/generate.ts); with
 * `--photos PHOTOS` the forgeries are made from the face photos in that folder
 * (src/data/photos/: landmark part maps, exact masks, the same captions and camera). The set is
 * built in a staging folder and moved to DIR only when complete; a non-empty DIR is refused
 * unless --force. Flag errors are one sentence; exit codes: 0 ok, 1 failed, 2 usage.
 */
import { generateDataset } from "../data/synth/generate.ts";
import { resolve } from "node:path";
import { FlagError, intFlag, parseFlags, permissionSentence, writeScopeProblem } from "./flags.ts";

/** `--real-share`: a fraction in [0, 1] (default 0). */
function shareFlag(v: unknown): number {
  if (v === undefined) return 0;
  const x = Number(v);
  if (typeof v !== "string" || !(x >= 0 && x <= 1)) {
    throw new FlagError(`--real-share must be a number from 0 to 1, got ${v}`);
  }
  return x;
}

const USAGE =
  "usage: deno task synth --out DIR --n N --seed S [--size 512] [--workers W] [--real-share F] [--photos PHOTOS] [--force] [--quiet]\n" +
  "  --real-share F   fraction of untouched images (empty mask, a caption saying so; default 0)\n" +
  "  --photos PHOTOS  forge the face photos (.jpg/.jpeg/.png) of folder PHOTOS instead of procedural faces\n" +
  "                   (photos without a detectable face are skipped with one line each)\n" +
  "  --force   replace a non-empty DIR (the old set stays until the new one is complete)";

/** Parse arguments and run the generator; returns the exit code (0 ok, 1 failed, 2 usage). */
export async function main(args: string[], log: (line: string) => void = console.error): Promise<number> {
  let opts;
  try {
    const v = parseFlags(args, {
      out: { type: "string" },
      n: { type: "string" },
      seed: { type: "string" },
      size: { type: "string" },
      workers: { type: "string" },
      force: { type: "boolean", default: false },
      "real-share": { type: "string" },
      photos: { type: "string" },
      quiet: { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    });
    if (v.help) {
      console.log(USAGE);
      return 0;
    }
    if (typeof v.out !== "string" || v.out === "") {
      throw new FlagError("--out is required (the folder to write)");
    }
    opts = {
      out: v.out,
      n: intFlag("n", v.n, undefined, 1),
      seed: intFlag("seed", v.seed, 0, 0),
      size: intFlag("size", v.size, 512, 32),
      workers: intFlag("workers", v.workers, Math.max(1, navigator.hardwareConcurrency ?? 2), 0),
      quiet: v.quiet === true,
      force: v.force === true,
      realShare: shareFlag(v["real-share"]),
      photos: v.photos === undefined ? undefined : String(v.photos),
    };
    if (opts.photos === "") throw new FlagError("--photos needs a folder of face photos");
  } catch (e) {
    if (!(e instanceof FlagError)) throw e;
    log(`synth: ${e.message}`);
    return 2;
  }
  const scope = writeScopeProblem(resolve(opts.out), "synth", "data/ and runs/");
  if (scope) {
    log(`synth: ${scope}`);
    return 1;
  }
  try {
    await generateDataset({ ...opts, warn: log });
    return 0;
  } catch (e) {
    log(`synth: ${permissionSentence(e, "synth", "data/ and runs/") ?? (e as Error).message}`);
    return 1;
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
