/**
 * `deno task serve [--ckpt C] [--port 8787] [--host 127.0.0.1] [--token T] [--save DIR]` —
 * the analyst web page and its JSON API (src/serve/server.ts, docs/serve.md).
 *
 * The model is loaded once; uploads are analysed one at a time. A host other than loopback
 * requires `--token` (or the FT_SERVE_TOKEN environment variable, which keeps it out of the
 * shell history). Exit 0 after Ctrl-C / SIGTERM, 1 when the model cannot be loaded or the
 * port cannot be bound, 2 on usage errors.
 */
import { resolve } from "node:path";
import { FlagError, intFlag, parseFlags } from "./flags.ts";
import { DEFAULT_CHECKPOINT, defaultCheckpoint } from "../infer/analyze.ts";
import { type Engine, startWorkerEngine } from "../serve/engine.ts";
import { isLoopback } from "../serve/http.ts";
import { SERVE_DEFAULTS, startServer } from "../serve/server.ts";

const USAGE = `usage: deno task serve [--ckpt CKPT] [--port 8787] [--host 127.0.0.1] [--token T] [--save DIR]
       [--device auto|cpu|cuda] [--greedy | --beams N] [--max-new-tokens N] [--max-upload-mb 20]
       [--max-side 4096] [--max-queue 32] [--quiet]`;

const SPEC = {
  ckpt: { type: "string" },
  port: { type: "string" },
  host: { type: "string", default: "127.0.0.1" },
  token: { type: "string" },
  save: { type: "string" },
  device: { type: "string", default: "auto" },
  greedy: { type: "boolean", default: false },
  beams: { type: "string" },
  "max-new-tokens": { type: "string" },
  "max-upload-mb": { type: "string" },
  "max-side": { type: "string" },
  "max-queue": { type: "string" },
  quiet: { type: "boolean", default: false },
  help: { type: "boolean", short: "h", default: false },
} as const;

/** Options `main` takes beside the command line (tests stop the server through `signal`). */
export interface ServeMainHooks {
  /** Aborting it stops the server and makes `main` return 0. */
  signal?: AbortSignal;
  /** Called with the base URL once listening. */
  onListen?: (url: string) => void;
}

/** Run the CLI; resolves with the exit code once the server stops. */
export async function main(args: string[], hooks: ServeMainHooks = {}): Promise<number> {
  let v, port: number, beams: number | undefined, maxNewTokens: number | undefined;
  let maxUploadMb: number, maxSide: number, maxQueue: number;
  try {
    v = parseFlags(args, SPEC);
    if (v.help) {
      console.log(USAGE);
      return 0;
    }
    port = intFlag("port", v.port, 8787, 0);
    if (port > 65535) throw new FlagError(`--port must be at most 65535, got ${port}`);
    beams = v.beams === undefined ? undefined : intFlag("beams", v.beams, undefined, 1);
    maxNewTokens = v["max-new-tokens"] === undefined
      ? undefined
      : intFlag("max-new-tokens", v["max-new-tokens"], undefined, 1);
    maxUploadMb = intFlag("max-upload-mb", v["max-upload-mb"], SERVE_DEFAULTS.maxUploadBytes / 1048576, 1);
    maxSide = intFlag("max-side", v["max-side"], SERVE_DEFAULTS.maxSide, 16);
    maxQueue = intFlag("max-queue", v["max-queue"], SERVE_DEFAULTS.maxQueue, 0);
  } catch (e) {
    if (!(e instanceof FlagError)) throw e;
    console.error(`serve: ${e.message}\n${USAGE}`);
    return 2;
  }
  const host = v.host as string;
  const token = (v.token as string | undefined) ?? Deno.env.get("FT_SERVE_TOKEN") ?? null;
  if (token !== null && token.length < 8) {
    console.error("serve: --token must be at least 8 characters");
    return 2;
  }
  if (!isLoopback(host) && !token) {
    console.error(
      `serve: --host ${host} makes the API reachable from other machines; pass --token T (or set FT_SERVE_TOKEN)`,
    );
    return 2;
  }
  const ckpt = (v.ckpt as string | undefined) ?? defaultCheckpoint();
  if (!ckpt) {
    console.error(`serve: no --ckpt given and no default model installed (${DEFAULT_CHECKPOINT})`);
    return 1;
  }
  const quiet = v.quiet === true;
  const say = (line: string) => quiet || console.error(`serve: ${line}`);
  let engine: Engine;
  try {
    engine = await startWorkerEngine(ckpt, { device: v.device as string });
  } catch (e) {
    console.error(`serve: ${(e as Error).message}`);
    return 1;
  }
  const mi = engine.info;
  say(`model ${mi.config} from ${mi.checkpoint} (${mi.loadSeconds.toFixed(1)} s, ${mi.device})`);
  let server;
  try {
    server = startServer({
      engine,
      hostname: host,
      port,
      token,
      save: v.save ? resolve(v.save as string) : null,
      maxUploadBytes: maxUploadMb * 1048576,
      maxSide,
      maxPixels: Math.min(SERVE_DEFAULTS.maxPixels, maxSide * maxSide),
      maxQueue,
      decoding: { greedy: v.greedy === true, beams, maxNewTokens },
      log: quiet ? undefined : (l) => console.error(`serve: ${l}`),
    });
  } catch (e) {
    await engine.close();
    console.error(`serve: cannot listen on ${host}:${port} (${(e as Error).message})`);
    return 1;
  }
  const shown = token && !isLoopback(host) ? `${server.url} (API token required)` : server.url;
  say(
    `listening on ${shown}${v.save ? `, saving every analysis to ${v.save}` : ", writing nothing to disk"}`,
  );
  if (token) say(`open ${server.url}#token=<your token> to hand the page the token`);
  hooks.onListen?.(server.url);
  const stop = () => void server.shutdown();
  hooks.signal?.addEventListener("abort", stop, { once: true });
  const signals: Deno.Signal[] = hooks.signal ? [] : ["SIGINT", "SIGTERM"];
  for (const s of signals) Deno.addSignalListener(s, stop);
  await server.finished;
  for (const s of signals) Deno.removeSignalListener(s, stop);
  await engine.close();
  say("stopped");
  return 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
