/**
 * `deno task ckpt inspect FILE [--json] [--limit N]` — lists a checkpoint's tensors (torch zip,
 * legacy torch, HF .bin, or safetensors) without loading them: name, dtype, shape, bytes, and
 * whether a tensor is a strided view or shares storage; for torch files also the non-tensor
 * values (epoch, config, ...).
 * `deno task ckpt convert IN.pth OUT.safetensors [--key model] [--dtype keep|engine]` — streams
 * the tensors into a safetensors file (atomic: temp file, then rename), with a progress bar on
 * stderr for files over 64 MiB. Malicious pickles are refused, naming the global.
 */
import { parseArgs } from "node:util";
import {
  checkpointFormat,
  convertToSafetensors,
  listCheckpoint,
  openTorchCheckpoint,
} from "../train/torch_checkpoint.ts";
import { TensorRef } from "../train/torch_globals.ts";
import type { PyValue } from "../train/pickle.ts";

const USAGE = `usage: deno task ckpt inspect FILE [--json] [--limit N]
       deno task ckpt convert IN.pth OUT.safetensors [--key model] [--dtype keep|engine]`;

/** A progress bar on stderr (only for totals over 64 MiB), redrawn at most every 1%. */
export function progressBar(label: string): (done: number, total: number) => void {
  const enc = new TextEncoder();
  let last = -1;
  const t0 = performance.now();
  return (done, total) => {
    if (total < 64 << 20) return;
    const pct = Math.floor((done * 100) / total);
    if (pct === last && done !== total) return;
    last = pct;
    const mbs = done / 1e6 / Math.max(1e-3, (performance.now() - t0) / 1000);
    const bar = "#".repeat(Math.floor(pct / 4)).padEnd(25, ".");
    Deno.stderr.writeSync(
      enc.encode(
        `\r${label} [${bar}] ${pct}% ${fmtBytes(done)}/${fmtBytes(total)} ${mbs.toFixed(0)} MB/s` +
          (done === total ? "\n" : ""),
      ),
    );
  };
}

function fmtBytes(n: number): string {
  if (n >= 1 << 30) return (n / (1 << 30)).toFixed(2) + " GiB";
  if (n >= 1 << 20) return (n / (1 << 20)).toFixed(1) + " MiB";
  if (n >= 1 << 10) return (n / (1 << 10)).toFixed(1) + " KiB";
  return n + " B";
}

/** Non-tensor leaves of a torch object tree, as "path: value" lines (containers summarised). */
function summarize(v: PyValue, name: string, out: string[], depth = 0): void {
  if (v instanceof TensorRef || out.length > 200) return;
  if (v instanceof Map) {
    const onlyTensors = [...v.values()].every((x) => x instanceof TensorRef);
    if (onlyTensors && v.size) return;
    for (const [k, x] of v) summarize(x, name ? `${name}.${String(k)}` : String(k), out, depth + 1);
    return;
  }
  if (Array.isArray(v)) {
    if (v.length > 8 || v.some((x) => x instanceof Map || Array.isArray(x) || x instanceof TensorRef)) {
      v.forEach((x, i) => summarize(x, `${name}.${i}`, out, depth + 1));
    } else out.push(`${name}: [${v.map(show).join(", ")}]`);
    return;
  }
  out.push(`${name}: ${show(v)}`);
}

function show(v: PyValue): string {
  if (v === null) return "None";
  if (typeof v === "string") return JSON.stringify(v.length > 80 ? v.slice(0, 77) + "..." : v);
  if (v instanceof Uint8Array) return `bytes(${v.length})`;
  if (typeof v === "object" && !Array.isArray(v) && !(v instanceof Map)) return `<${v.constructor.name}>`;
  return String(v);
}

/** Runs the CLI with `args`; returns the exit code (0 ok, 1 failed, 2 usage). */
export function main(args: string[]): number {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      options: {
        json: { type: "boolean", default: false },
        limit: { type: "string", default: "200" },
        key: { type: "string" },
        dtype: { type: "string", default: "keep" },
        help: { type: "boolean", short: "h", default: false },
      },
    });
  } catch (e) {
    console.error(`ckpt: ${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const [cmd, a, b] = positionals;
  try {
    if (cmd === "inspect" && a && !b) return inspect(a, values.json, Number(values.limit));
    if (cmd === "convert" && a && b) {
      if (values.dtype !== "keep" && values.dtype !== "engine") {
        console.error(`ckpt: --dtype must be keep or engine, got '${values.dtype}'`);
        return 2;
      }
      const n = convertToSafetensors(a, b, {
        key: values.key,
        dtype: values.dtype,
        onProgress: progressBar("convert"),
      });
      console.log(`wrote ${n} tensors to ${b}`);
      return 0;
    }
  } catch (e) {
    console.error(`ckpt: ${(e as Error).message}`);
    return 1;
  }
  console.error(USAGE);
  return 2;
}

function inspect(path: string, json: boolean, limit: number): number {
  const format = checkpointFormat(path);
  const entries = listCheckpoint(path);
  const other: string[] = [];
  if (format !== "safetensors") {
    const idx = openTorchCheckpoint(path);
    idx.records.close();
    summarize(idx.root, "", other);
  }
  if (json) {
    console.log(JSON.stringify({ format, entries, values: other }, null, 1));
    return 0;
  }
  const total = entries.reduce((s, e) => s + e.bytes, 0);
  const dtypes = new Map<string, number>();
  for (const e of entries) dtypes.set(e.dtype, (dtypes.get(e.dtype) ?? 0) + 1);
  console.log(
    `${path}: ${format}, ${entries.length} tensors, ${fmtBytes(total)} (${
      [...dtypes].map(([d, n]) => `${n} ${d}`).join(", ")
    })`,
  );
  const w = Math.min(60, Math.max(4, ...entries.slice(0, limit).map((e) => e.name.length)));
  for (const e of entries.slice(0, limit)) {
    const notes = [
      e.contiguous ? "" : `strided ${JSON.stringify(e.stride)}`,
      e.offset ? `offset ${e.offset}` : "",
      e.sharedWith ? `shares storage with ${e.sharedWith}` : "",
    ].filter(Boolean).join("; ");
    console.log(
      `  ${e.name.padEnd(w)}  ${e.dtype.padEnd(8)}  ${JSON.stringify(e.shape).padEnd(18)}  ${
        fmtBytes(e.bytes).padStart(10)
      }${notes ? "  " + notes : ""}`,
    );
  }
  if (entries.length > limit) console.log(`  ... ${entries.length - limit} more (--limit N)`);
  if (other.length) {
    console.log("values:");
    for (const l of other) console.log("  " + l);
  }
  return 0;
}

if (import.meta.main) Deno.exit(main(Deno.args));
