/**
 * The model side of the analyst server, behind one small interface (`Engine`) with two
 * implementations:
 *  - `startWorkerEngine(ckpt)`: the model lives in a Web Worker (what `deno task serve` uses).
 *    A forward is seconds of synchronous native work; run on the server's own thread it would
 *    stall every other connection, even the sending of responses already finished. In the
 *    worker, the HTTP side stays responsive (health, page, queue refusals) while it computes.
 *  - `localEngine(model)`: the same analysis on the calling thread (in-memory models, tests).
 * Both run `runAnalysis`: analyze() + the mask PNG + (when saving) the overlay PNG + the
 * region-word spans, so their results are identical.
 * @module
 */
import { encodePng } from "../data/image_io.ts";
import { analyzeBatch, type AnalyzeOptions, type LoadedModel, reportJSON } from "../infer/analyze.ts";
import { renderOverlay } from "../infer/overlay.ts";
import { type RegionSpan, regionSpans } from "./highlight.ts";

/** What the server says about its model (GET /api/model). */
export interface EngineInfo {
  config: string;
  /** Checkpoint path, or a label for in-memory models. */
  checkpoint: string;
  sha256: string | null;
  stage: string;
  imageSize: number;
  device: string;
  regionSource: string;
  parameters: number;
  loadSeconds: number;
}

/** One analysis, ready to send. */
export interface AnalysisResult {
  /** The report `deno task infer` writes (reportJSON form). */
  report: Record<string, unknown>;
  /** Where the explanation names regions. */
  highlights: RegionSpan[];
  /** The 0/255 mask at the input size, PNG. */
  maskPng: Uint8Array;
  /** The overlay PNG (only when asked for: saving). */
  overlayPng: Uint8Array | null;
}

/** A bad upload (the client's fault: 400), as opposed to a model failure (500). */
export class InputError extends Error {}

/** Runs analyses one call at a time (the caller queues). */
export interface Engine {
  readonly info: EngineInfo;
  /** Analyses PNG/JPEG bytes; `name` appears in errors and the report. Throws InputError for bad images. */
  analyze(
    bytes: Uint8Array,
    name: string,
    opts: AnalyzeOptions,
    withOverlay: boolean,
  ): Promise<AnalysisResult>;
  /** Frees the model (stops the worker). */
  close(): Promise<void>;
}

/** The facts of a loaded model. */
export function engineInfo(m: LoadedModel): EngineInfo {
  let parameters = 0;
  for (const [, t] of m.model.stateDict()) parameters += t.size;
  return {
    config: m.config.name,
    checkpoint: m.path,
    sha256: m.sha256,
    stage: m.stage,
    imageSize: m.config.imageSize,
    device: m.device,
    regionSource: m.regionSource,
    parameters,
    loadSeconds: m.loadSeconds,
  };
}

/** analyze() on one upload plus the PNGs and highlight spans the server sends. */
export async function runAnalysis(
  m: LoadedModel,
  bytes: Uint8Array,
  name: string,
  opts: AnalyzeOptions,
  withOverlay: boolean,
): Promise<AnalysisResult> {
  const [r] = await analyzeBatch([bytes], { ...opts, ckpt: m, batch: 1, keepInput: withOverlay });
  if (r instanceof Error) throw new InputError(r.message.replaceAll("'<bytes>'", `'${name}'`));
  r.image.source = name;
  const gray = new Uint8Array(r.mask.binary.length);
  for (let i = 0; i < gray.length; i++) gray[i] = r.mask.binary[i] ? 255 : 0;
  return {
    report: reportJSON(r),
    highlights: regionSpans(r.explanation),
    maskPng: encodePng({ width: r.mask.width, height: r.mask.height, channels: 1, data: gray }),
    overlayPng: withOverlay ? encodePng(renderOverlay(r.input!, r)) : null,
  };
}

/** An engine on the calling thread. */
export function localEngine(m: LoadedModel): Engine {
  const info = engineInfo(m);
  return {
    info,
    analyze: (bytes, name, opts, withOverlay) => runAnalysis(m, bytes, name, opts, withOverlay),
    close: () => Promise.resolve(),
  };
}

/** Messages to the worker. */
export type ToWorker =
  | { type: "load"; ckpt: string; device: string }
  | {
    type: "analyze";
    id: number;
    bytes: Uint8Array;
    name: string;
    opts: AnalyzeOptions;
    withOverlay: boolean;
  };

/** Messages from the worker. */
export type FromWorker =
  | { type: "ready" }
  | { type: "loaded"; info: EngineInfo }
  | { type: "load-error"; error: string }
  | { type: "result"; id: number; result: AnalysisResult }
  | { type: "failed"; id: number; error: string; input: boolean };

/**
 * Loads `ckpt` in a Web Worker (inheriting this process's permissions); resolves once the
 * model is ready, rejects with the loader's message when it cannot be loaded.
 */
export async function startWorkerEngine(ckpt: string, opts: { device?: string } = {}): Promise<Engine> {
  const worker = new Worker(new URL("./model_worker.ts", import.meta.url), { type: "module" });
  const pending = new Map<number, { resolve: (r: AnalysisResult) => void; reject: (e: Error) => void }>();
  let nextId = 1;
  let dead: string | null = null;
  let onLoad: ((m: FromWorker) => void) | null = null;
  const failAll = (why: string) => {
    dead = why;
    for (const p of pending.values()) p.reject(new Error(why));
    pending.clear();
  };
  worker.onmessage = (ev: MessageEvent<FromWorker>) => {
    const m = ev.data;
    if (m.type === "ready" || m.type === "loaded" || m.type === "load-error") return onLoad?.(m);
    const p = pending.get(m.id);
    if (!p) return;
    pending.delete(m.id);
    if (m.type === "result") p.resolve(m.result);
    else p.reject(m.input ? new InputError(m.error) : new Error(m.error));
  };
  worker.onerror = (ev: ErrorEvent) => {
    ev.preventDefault();
    const why = `the model worker stopped (${ev.message})`;
    onLoad?.({ type: "load-error", error: why });
    failAll(why);
  };
  // the worker's modules finish their top-level awaits (codec set-up) before it listens; a
  // message posted earlier would be lost, so wait for its "ready" first
  const ready = await new Promise<FromWorker>((resolve) => (onLoad = resolve));
  const loaded = ready.type !== "ready" ? ready : await new Promise<FromWorker>((resolve) => {
    onLoad = resolve;
    worker.postMessage({ type: "load", ckpt, device: opts.device ?? "auto" } satisfies ToWorker);
  });
  onLoad = null;
  if (loaded.type !== "loaded") {
    worker.terminate();
    throw new Error(loaded.type === "load-error" ? loaded.error : "the model worker did not load");
  }
  return {
    info: loaded.info,
    analyze(bytes, name, aopts, withOverlay) {
      if (dead) return Promise.reject(new Error(dead));
      const id = nextId++;
      return new Promise((resolve, reject) => {
        pending.set(id, { resolve, reject });
        worker.postMessage(
          { type: "analyze", id, bytes, name, opts: aopts, withOverlay } satisfies ToWorker,
        );
      });
    },
    close() {
      failAll("the model worker was closed");
      worker.terminate();
      return Promise.resolve();
    },
  };
}
