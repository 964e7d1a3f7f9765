/**
 * `deno task synth --out DIR --n N --seed S [--size 512] [--workers W] [--real-share F] [--quiet]`
 * Generates a synthetic MMTT-format benchmark (see src/data/synth/generate.ts).
 */
import { parseArgs } from "node:util";
import { generateDataset } from "../data/synth/generate.ts";

const USAGE =
  "usage: deno task synth --out DIR --n N --seed S [--size 512] [--workers W] [--real-share F] [--quiet]";

function int(name: string, v: string | undefined, def: number | undefined, min: number): number {
  if (v === undefined) {
    if (def === undefined) throw new Error(`--${name} is required\n${USAGE}`);
    return def;
  }
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new Error(`--${name}: expected an integer ≥ ${min}, got '${v}'`);
  return n;
}

function share(v: string | undefined): number {
  if (v === undefined) return 0;
  const x = Number(v);
  if (!(x >= 0 && x <= 1)) throw new Error(`--real-share: expected a number in 0..1, got '${v}'`);
  return x;
}

/** Parse arguments and run the generator. */
export async function main(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      out: { type: "string" },
      n: { type: "string" },
      seed: { type: "string" },
      size: { type: "string" },
      workers: { type: "string" },
      "real-share": { type: "string" },
      quiet: { type: "boolean", default: false },
      help: { type: "boolean", default: false },
    },
    strict: true,
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  if (!values.out) throw new Error(`--out is required\n${USAGE}`);
  await generateDataset({
    out: values.out,
    n: int("n", values.n, undefined, 1),
    seed: int("seed", values.seed, 0, 0),
    size: int("size", values.size, 512, 32),
    workers: int("workers", values.workers, Math.max(1, navigator.hardwareConcurrency ?? 2), 0),
    realShare: share(values["real-share"]),
    quiet: values.quiet,
  });
}

if (import.meta.main) {
  try {
    await main(Deno.args);
  } catch (e) {
    console.error(`synth: ${(e as Error).message}`);
    Deno.exit(1);
  }
}
