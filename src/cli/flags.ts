/**
 * Command-line flags for the CLIs: `node:util` parseArgs with its error messages replaced by
 * one plain sentence each (`--n must be a positive integer, got -5`), and `--flag -5` read as
 * a value instead of parseArgs' "argument is ambiguous".
 * @module
 */
import { dirname } from "node:path";
import { parseArgs } from "node:util";

/** A bad command line; the message is one sentence meant for the user. */
export class FlagError extends Error {}

/** parseArgs option specs (string and boolean flags only). */
export type FlagSpec = Record<
  string,
  { type: "string" | "boolean"; short?: string; default?: string | boolean }
>;

/** Parsed flag values by name. */
export type FlagValues = Record<string, string | boolean | undefined>;

const NUMBER_LIKE = /^-(\d|\.\d|Infinity|NaN)/;

/**
 * Parse `args` against `spec` (strict: unknown flags and positionals are errors). Throws
 * `FlagError` with one sentence on any problem.
 */
export function parseFlags(args: string[], spec: FlagSpec): FlagValues {
  // `--n -5`: parseArgs refuses a value that starts with "-"; a number-like one is meant as the
  // flag's value, so hand it over as `--n=-5` and let the flag's own check judge it.
  const joined: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    const name = a.startsWith("--") && !a.includes("=") ? a.slice(2) : null;
    if (name && spec[name]?.type === "string" && i + 1 < args.length && NUMBER_LIKE.test(args[i + 1])) {
      joined.push(`${a}=${args[++i]}`);
    } else joined.push(a);
  }
  try {
    return parseArgs({ args: joined, options: spec, strict: true, allowPositionals: false })
      .values as FlagValues;
  } catch (e) {
    throw new FlagError(plain(e as Error & { code?: string }));
  }
}

function plain(e: Error & { code?: string }): string {
  const flag = /'(-{1,2}[^' ]+)/.exec(e.message)?.[1] ?? "a flag";
  switch (e.code) {
    case "ERR_PARSE_ARGS_UNKNOWN_OPTION":
      return `unknown flag ${flag} (see --help)`;
    case "ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL": {
      const arg = /'([^']*)'/.exec(e.message)?.[1];
      return `unexpected argument ${arg !== undefined ? `'${arg}'` : ""} (every value follows its flag)`
        .replace(
          "  ",
          " ",
        );
    }
    case "ERR_PARSE_ARGS_INVALID_OPTION_VALUE":
      if (/does not take an argument/.test(e.message)) return `${flag} takes no value`;
      if (/ambiguous/.test(e.message)) return `${flag} needs a value, got what looks like another flag`;
      return `${flag} needs a value`;
    default:
      return e.message.split("\n")[0];
  }
}

/**
 * An integer flag: `def` when absent (required when `def` is undefined), else at least `min`.
 * Errors read `--n must be a positive integer, got -5`.
 */
export function intFlag(
  name: string,
  v: string | boolean | undefined,
  def: number | undefined,
  min: number,
): number {
  if (v === undefined) {
    if (def === undefined) throw new FlagError(`--${name} is required`);
    return def;
  }
  const n = typeof v === "string" && /^[+-]?\d+$/.test(v.trim()) ? Number(v) : NaN;
  if (!Number.isSafeInteger(n) || n < min) {
    const what = min === 1
      ? "a positive integer"
      : min === 0
      ? "a non-negative integer"
      : `an integer ≥ ${min}`;
    throw new FlagError(`--${name} must be ${what}, got ${v === "" ? "nothing" : v}`);
  }
  return n;
}

/**
 * One sentence for a Deno permission refusal (the tasks grant scoped permissions), else null.
 * `what` names the path the user gave.
 */
export function permissionSentence(e: unknown, task: string, scope: string): string | null {
  if (!(e instanceof Deno.errors.NotCapable)) return null;
  // Deno's message: Requires write access to "/tmp/x", run again with the --allow-write flag
  const path = /"([^"]+)"/.exec((e as Error).message)?.[1] ?? (e as Error).message;
  return `'deno task ${task}' may only use ${scope}, not '${path}'; use a path there or run the script with ` +
    `deno run and your own --allow-read/--allow-write (see docs/data.md)`;
}

/**
 * Null when this process may write `path` (and read its folder), else one sentence saying
 * that the task's scoped permissions do not cover it. Checked up front so the user sees the
 * path they typed, not some folder touched first.
 */
export function writeScopeProblem(path: string, task: string, scope: string): string | null {
  const ok = (d: Deno.PermissionDescriptor) => Deno.permissions.querySync(d).state === "granted";
  if (ok({ name: "write", path }) && ok({ name: "read", path: dirname(path) })) return null;
  return `'deno task ${task}' may only write under ${scope}, not '${path}'; use a path there or run the ` +
    `script with deno run and your own --allow-read/--allow-write (see docs/data.md)`;
}
