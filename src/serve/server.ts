/**
 * The analyst server (`deno task serve`): the page (static files beside this module, no build
 * step, nothing from a CDN) and the JSON API, in one `Deno.serve` process with the model
 * loaded once (in a worker, engine.ts) and every forward run through a `SerialQueue`.
 *
 *   GET  /                 the page (index.html, app.js, style.css)
 *   GET  /api/health       {status, model, queue, uptimeSeconds}
 *   GET  /api/model        what the model is, its decoding settings and the upload limits
 *   POST /api/analyze      one PNG/JPEG (raw body with Content-Type image/png|image/jpeg, or
 *                          multipart/form-data with a file field `image`); query options
 *                          greedy, beams, maxNewTokens, threshold, regionThreshold
 *
 * Safety: API calls need the token when one is set (always, off loopback); uploads are capped
 * in bytes, in pixels and per side (from the header, before any pixel is decoded); the
 * declared content type must be PNG/JPEG and the bytes must sniff as PNG/JPEG; on a loopback
 * bind the Host header must be a loopback name (DNS rebinding) and cross-origin API calls are
 * refused; nothing is written unless `save` is set; every error is `{error: message}`.
 * @module
 */
import { basename, extname, join } from "node:path";
import { isJpeg, writeFileAtomic } from "../data/image_io.ts";
import { isPng } from "../data/png.ts";
import { probeImage } from "../data/image_probe.ts";
import { REGIONS } from "../data/regions.ts";
import { type AnalyzeOptions, decodingSettings } from "../infer/analyze.ts";
import { type Engine, InputError } from "./engine.ts";
import { hasToken, HttpError, isLoopback, json, jsonError, readCapped, withHeaders } from "./http.ts";
import { QueueFullError, SerialQueue } from "./queue.ts";

/** Settings of the analyst server. */
export interface ServeOptions {
  /** The model every request shares (`startWorkerEngine` or `localEngine`). */
  engine: Engine;
  /** API token; required when the server is reachable from other machines. */
  token?: string | null;
  /** Folder for the input, mask, overlay and report of every analysis; null = write nothing. */
  save?: string | null;
  /** Upload cap in bytes (default 20 MiB). */
  maxUploadBytes?: number;
  /** Longest image side accepted (default 4096). */
  maxSide?: number;
  /** Most pixels accepted (default 16 M). */
  maxPixels?: number;
  /** Uploads allowed to wait behind the running one (default 32). */
  maxQueue?: number;
  /** Server-wide decoding defaults (beams, greedy, maxNewTokens, thresholds...). */
  decoding?: Pick<
    AnalyzeOptions,
    | "beams"
    | "greedy"
    | "maxNewTokens"
    | "minLength"
    | "repetitionPenalty"
    | "lengthPenalty"
    | "threshold"
    | "regionThreshold"
  >;
  /** Check that the Host header names this machine (set for loopback binds). */
  loopbackOnly?: boolean;
  /** One line per API request (default: none). */
  log?: (line: string) => void;
}

/** The request handler and its queue. */
export interface App {
  handler: (req: Request) => Promise<Response>;
  queue: SerialQueue;
}

/** Defaults of the upload limits. */
export const SERVE_DEFAULTS = {
  maxUploadBytes: 20 * 1024 * 1024,
  maxSide: 4096,
  maxPixels: 16_000_000,
  maxQueue: 32,
} as const;

const ACCEPTED_TYPES: Record<string, "png" | "jpeg"> = {
  "image/png": "png",
  "image/jpeg": "jpeg",
  "image/jpg": "jpeg",
};

const STATIC_FILES: Record<string, { file: string; type: string }> = {
  "/": { file: "index.html", type: "text/html; charset=utf-8" },
  "/index.html": { file: "index.html", type: "text/html; charset=utf-8" },
  "/app.js": { file: "app.js", type: "text/javascript; charset=utf-8" },
  "/style.css": { file: "style.css", type: "text/css; charset=utf-8" },
};

/** Reads the page's files (once, at start-up). */
function loadStatic(): Map<string, { body: string; type: string }> {
  const out = new Map<string, { body: string; type: string }>();
  for (const [route, { file, type }] of Object.entries(STATIC_FILES)) {
    const path = new URL(`./static/${file}`, import.meta.url);
    out.set(route, { body: Deno.readTextFileSync(path), type });
  }
  return out;
}

/** A file name safe to show and to build output names from. */
function safeName(name: string): string {
  const b = basename(name.replace(/\\/g, "/")).replace(/[^\w.-]+/g, "_").slice(0, 80);
  return b && b !== "." && b !== ".." ? b : "upload";
}

function numParam(
  q: URLSearchParams,
  key: string,
  lo: number,
  hi: number,
  int: boolean,
): number | undefined {
  const v = q.get(key);
  if (v === null || v === "") return undefined;
  const x = Number(v);
  if (!Number.isFinite(x) || (int && !Number.isInteger(x)) || x < lo || x > hi) {
    throw new HttpError(
      400,
      `query '${key}': expected ${int ? "an integer" : "a number"} in ${lo}..${hi}, got '${v}'`,
    );
  }
  return x;
}

/** Per-request decoding options from the query string, validated against the server's caps. */
function requestOptions(
  q: URLSearchParams,
  base: ServeOptions["decoding"],
  maxTokens: number,
): AnalyzeOptions {
  const o: AnalyzeOptions = { ...base };
  const g = q.get("greedy");
  if (g !== null) {
    if (!["0", "1", "true", "false"].includes(g)) {
      throw new HttpError(400, `query 'greedy': expected 0, 1, true or false, got '${g}'`);
    }
    o.greedy = g === "1" || g === "true";
  }
  const beams = numParam(q, "beams", 1, 8, true);
  if (beams !== undefined) o.beams = beams, o.greedy = beams === 1;
  const mnt = numParam(q, "maxNewTokens", 1, maxTokens, true);
  if (mnt !== undefined) o.maxNewTokens = mnt;
  const t = numParam(q, "threshold", 0, 1, false);
  if (t !== undefined) o.threshold = t;
  const rt = numParam(q, "regionThreshold", 0, 1, false);
  if (rt !== undefined) o.regionThreshold = rt;
  return o;
}

/** The upload of a POST /api/analyze: bytes, name and the declared content type. */
async function readUpload(
  req: Request,
  maxBytes: number,
): Promise<{ bytes: Uint8Array; name: string; declared: string }> {
  const ct = req.headers.get("content-type") ?? "";
  const mime = ct.split(";")[0].trim().toLowerCase();
  if (mime === "multipart/form-data") {
    // the multipart framing adds a little; the file itself is checked against the cap below
    const body = await readCapped(req, maxBytes + 64 * 1024);
    let form: FormData;
    try {
      form = await new Response(body, { headers: { "content-type": ct } }).formData();
    } catch {
      throw new HttpError(400, "malformed multipart/form-data body");
    }
    const file = form.get("image");
    if (!(file instanceof File)) {
      throw new HttpError(400, "multipart upload needs a file field named 'image'");
    }
    const name = safeName(file.name || "upload");
    if (file.size > maxBytes) {
      throw new HttpError(
        413,
        `'${name}' is ${file.size} bytes, over the limit of ${maxBytes} bytes (--max-upload-mb)`,
      );
    }
    return { bytes: new Uint8Array(await file.arrayBuffer()), name, declared: file.type.toLowerCase() };
  }
  if (!mime.startsWith("image/")) {
    throw new HttpError(
      415,
      `expected an image/png or image/jpeg body (or multipart/form-data with an 'image' file), got '${
        mime || "no content type"
      }'`,
    );
  }
  const bytes = await readCapped(req, maxBytes);
  return { bytes, name: safeName(req.headers.get("x-ft-filename") ?? "upload"), declared: mime };
}

/** Builds the request handler (exported for in-process tests; `startServer` serves it). */
export function createApp(opts: ServeOptions): App {
  const maxUploadBytes = opts.maxUploadBytes ?? SERVE_DEFAULTS.maxUploadBytes;
  const maxSide = opts.maxSide ?? SERVE_DEFAULTS.maxSide;
  const maxPixels = opts.maxPixels ?? SERVE_DEFAULTS.maxPixels;
  const queue = new SerialQueue(opts.maxQueue ?? SERVE_DEFAULTS.maxQueue);
  const engine = opts.engine, m = engine.info;
  const log = opts.log ?? (() => {});
  const dec = opts.decoding ?? {};
  const maxTokens = dec.maxNewTokens ?? 100;
  const assets = loadStatic();
  const started = performance.now();
  let nextId = 1;

  const modelInfo = () => ({
    config: m.config,
    checkpoint: basename(m.checkpoint),
    sha256: m.sha256,
    stage: m.stage,
    imageSize: m.imageSize,
    device: m.device,
    regionSource: m.regionSource,
    parameters: m.parameters,
    regions: REGIONS,
    thresholds: { mask: dec.threshold ?? 0.5, region: dec.regionThreshold ?? 0.5 },
    decoding: decodingSettings(dec),
    limits: { maxUploadBytes, maxSide, maxPixels, maxQueue: queue.maxWaiting },
    saving: !!opts.save,
    tokenRequired: !!opts.token,
  });

  async function analyzeRoute(req: Request, url: URL): Promise<Response> {
    const t0 = performance.now();
    const aopts = requestOptions(url.searchParams, dec, maxTokens);
    const { bytes, name, declared } = await readUpload(req, maxUploadBytes);
    if (!(declared in ACCEPTED_TYPES)) {
      throw new HttpError(
        415,
        `'${name}': content type '${declared || "none"}' is not accepted; expected image/png or image/jpeg`,
      );
    }
    if (bytes.length === 0) throw new HttpError(400, `'${name}': the upload is empty`);
    const format = isPng(bytes) ? "png" : isJpeg(bytes) ? "jpeg" : null;
    if (!format) {
      throw new HttpError(415, `'${name}': declared ${declared} but the bytes are not a PNG or JPEG image`);
    }
    let w: number, h: number;
    try {
      ({ width: w, height: h } = probeImage(bytes, name));
    } catch (e) {
      throw new HttpError(400, (e as Error).message);
    }
    if (w > maxSide || h > maxSide || w * h > maxPixels) {
      throw new HttpError(
        413,
        `'${name}': ${w}x${h} is over the limit of ${maxSide} px per side and ${maxPixels} pixels (--max-side)`,
      );
    }
    const id = nextId++;
    let run;
    try {
      run = await queue.run(() => engine.analyze(bytes, name, { ...aopts, maxPixels }, !!opts.save));
    } catch (e) {
      if (e instanceof QueueFullError) throw new HttpError(503, e.message, { "retry-after": "2" });
      if (e instanceof InputError) throw new HttpError(400, e.message);
      throw new HttpError(500, `model failed on '${name}': ${(e as Error).message}`);
    }
    const { report, highlights, maskPng, overlayPng } = run.value;
    let saved: Record<string, string> | null = null, saveError: string | undefined;
    if (opts.save) {
      try {
        saved = await saveOutputs(opts.save, id, name, format, bytes, maskPng, overlayPng!, report);
        report.outputs = saved;
      } catch (e) {
        saveError = `could not save outputs: ${(e as Error).message}`;
        log(`analysis ${id}: ${saveError}`);
      }
    }
    return json({
      id,
      name,
      format,
      report,
      highlights,
      maskPng: `data:image/png;base64,${toBase64(maskPng)}`,
      timings: { queueMs: run.waitedMs, serverMs: performance.now() - t0 },
      saved,
      ...(saveError ? { saveError } : {}),
    });
  }

  async function route(req: Request): Promise<Response> {
    const url = new URL(req.url);
    const host = req.headers.get("host") ?? "";
    if (opts.loopbackOnly && !isLoopback(host.replace(/:\d+$/, ""))) {
      throw new HttpError(403, `Host '${host}' is not this machine's loopback address`);
    }
    if (!url.pathname.startsWith("/api/")) {
      const a = assets.get(url.pathname);
      if (!a) throw new HttpError(404, `no page at ${url.pathname}`);
      if (req.method !== "GET" && req.method !== "HEAD") {
        throw new HttpError(405, `${req.method} not allowed on ${url.pathname}`, { allow: "GET, HEAD" });
      }
      return withHeaders(req.method === "HEAD" ? null : a.body, 200, { "content-type": a.type });
    }
    const origin = req.headers.get("origin");
    if (origin !== null) {
      let oh = "";
      try {
        oh = new URL(origin).host;
      } catch { /* "null" or garbage: refused below */ }
      if (oh !== host) throw new HttpError(403, `cross-origin request from '${origin}' refused`);
    }
    if (opts.token && !hasToken(req, opts.token)) {
      throw new HttpError(401, "missing or wrong API token (send 'Authorization: Bearer TOKEN')", {
        "www-authenticate": "Bearer",
      });
    }
    const want = (method: string) => {
      if (req.method !== method) {
        throw new HttpError(405, `${req.method} not allowed on ${url.pathname}; use ${method}`, {
          allow: method,
        });
      }
    };
    switch (url.pathname) {
      case "/api/health":
        want("GET");
        return json({
          status: "ok",
          model: { config: m.config, sha256: m.sha256 },
          queue: queue.stats(),
          uptimeSeconds: (performance.now() - started) / 1000,
        });
      case "/api/model":
        want("GET");
        return json(modelInfo());
      case "/api/analyze":
        want("POST");
        return await analyzeRoute(req, url);
      default:
        throw new HttpError(
          404,
          `no API endpoint ${url.pathname} (try /api/health, /api/model, /api/analyze)`,
        );
    }
  }

  async function handler(req: Request): Promise<Response> {
    const t0 = performance.now();
    let res: Response;
    try {
      res = await route(req);
    } catch (e) {
      if (e instanceof HttpError) res = jsonError(e.status, e.message, e.headers);
      else {
        // unexpected: the stack goes to the server's log, the client gets one sentence
        log(`internal error: ${(e as Error)?.stack ?? e}`);
        res = jsonError(500, `internal error: ${(e as Error)?.message ?? e}`);
      }
    }
    const path = new URL(req.url).pathname;
    if (path.startsWith("/api/")) {
      log(`${req.method} ${path} ${res.status} ${(performance.now() - t0).toFixed(0)} ms`);
    }
    return res;
  }

  return { handler, queue };
}

function toBase64(b: Uint8Array): string {
  let s = "";
  for (let i = 0; i < b.length; i += 0x8000) s += String.fromCharCode(...b.subarray(i, i + 0x8000));
  return btoa(s);
}

/** Writes input, mask, overlay and report of one analysis under `dir` (each atomically). */
async function saveOutputs(
  dir: string,
  id: number,
  name: string,
  format: "png" | "jpeg",
  input: Uint8Array,
  maskPng: Uint8Array,
  overlayPng: Uint8Array,
  report: Record<string, unknown>,
): Promise<Record<string, string>> {
  await Deno.mkdir(dir, { recursive: true });
  const stamp = new Date().toISOString().replace(/[:.]/g, "-");
  const base = join(dir, `${stamp}-${id}-${basename(name, extname(name))}`);
  const files = {
    input: `${base}.input.${format === "png" ? "png" : "jpg"}`,
    mask: `${base}.mask.png`,
    overlay: `${base}.overlay.png`,
    json: `${base}.json`,
  };
  await writeFileAtomic(files.input, input);
  await writeFileAtomic(files.mask, maskPng);
  await writeFileAtomic(files.overlay, overlayPng);
  const text = JSON.stringify({ ...report, outputs: files }, null, 2) + "\n";
  await writeFileAtomic(files.json, new TextEncoder().encode(text));
  return files;
}

/** A listening server. */
export interface RunningServer {
  /** Base URL, e.g. http://127.0.0.1:8787/ */
  url: string;
  port: number;
  app: App;
  /** Stops accepting, lets running requests finish. */
  shutdown(): Promise<void>;
  /** Resolves when the server has stopped. */
  finished: Promise<void>;
}

/**
 * Binds and serves. A host other than a loopback name is refused without a token; on a
 * loopback bind the Host header is checked (DNS rebinding).
 */
export function startServer(opts: ServeOptions & { hostname: string; port: number }): RunningServer {
  const loop = isLoopback(opts.hostname);
  if (!loop && !opts.token) {
    throw new Error(
      `host '${opts.hostname}' is reachable from other machines: pass --token (or FT_SERVE_TOKEN)`,
    );
  }
  const app = createApp({ ...opts, loopbackOnly: opts.loopbackOnly ?? loop });
  const server = Deno.serve({
    hostname: opts.hostname,
    port: opts.port,
    onListen: () => {},
    onError: () => jsonError(500, "internal error"),
  }, app.handler);
  const port = server.addr.port;
  const shown = opts.hostname.includes(":") ? `[${opts.hostname}]` : opts.hostname;
  return {
    url: `http://${shown}:${port}/`,
    port,
    app,
    shutdown: () => server.shutdown(),
    finished: server.finished,
  };
}
