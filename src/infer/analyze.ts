/**
 * `analyze(image, opts)`: the forensic report for one face image (DESIGN §6), and
 * `analyzeBatch` for many at once (same results as one by one).
 *
 * Pipeline per image (W×H input of any size and aspect):
 *   1. decode (PNG/JPEG, header checked first against `maxPixels`: decompression bombs are
 *      refused before any pixel is allocated), convert to RGB;
 *   2. resize the WHOLE image to the model's S×S with PIL-style bicubic (no crop, so a
 *      non-square face is squeezed, exactly as the training/eval pipeline does), CLIP-normalise;
 *   3. FPN -> 21 region probabilities; regions above `regionThreshold` (0.5, as in training)
 *      form the instruction (paper/official template of the checkpoint's config);
 *   4. mask decoder -> logits (1, h, w), bilinearly upsampled to S×S, sigmoid: the
 *      model-resolution probability map (what `deno task eval` binarises at 0.5);
 *   5. that S×S map is bilinearly resized (align_corners = false) to W×H and thresholded at
 *      `threshold`: the probability map and binary mask at the input's size;
 *   6. T5 decodes the explanation (beam 5 by default, or greedy).
 * @module
 */
import { createHash } from "node:crypto";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { decodeImage, type Image, toRgb } from "../data/image_io.ts";
import { probeImage } from "../data/image_probe.ts";
import { preprocessImage } from "../data/transforms.ts";
import { REGIONS } from "../data/regions.ts";
import { Tokenizer } from "../data/tokenizer.ts";
import { ForgeryTalker } from "../model/forgerytalker.ts";
import type { ForgeryTalkerConfig } from "../model/config.ts";
import { instruction, selectedRegions } from "../model/instruction.ts";
import { type CheckpointMeta, disposeCheckpoint, readCheckpoint } from "../train/run_checkpoint.ts";
import { instructionTensors } from "../train/model_batch.ts";
import { tensor, withoutRandomInit } from "../tensor/create.ts";
import { tidy } from "../tensor/scope.ts";
import { type Tensor, toDevice } from "../tensor/tensor.ts";
import { noGrad } from "../autograd/tape.ts";
import { sigmoid } from "../ops/unary.ts";
import { interpolate } from "../ops/resize.ts";
import { useDevice } from "../backend/device.ts";
import type { Device } from "../tensor/storage.ts";
import { decodeDefaults, generate } from "./generate.ts";

/** Version of the report object / JSON layout (docs/infer.md). */
export const REPORT_VERSION = 1;

/** Images with more pixels than this are refused (decompression-bomb guard; PIL's default is ~89 M). */
export const DEFAULT_MAX_PIXELS = 64_000_000;

/** Where the bundled default model would live (another issue ships it); env FT_DEFAULT_CKPT overrides. */
export const DEFAULT_CHECKPOINT = fileURLToPath(new URL("../../models/default.safetensors", import.meta.url));

/** Path of the default checkpoint, or null when none is installed. */
export function defaultCheckpoint(): string | null {
  const p = Deno.env.get("FT_DEFAULT_CKPT") || DEFAULT_CHECKPOINT;
  try {
    return Deno.statSync(p).isFile ? p : null;
  } catch {
    return null;
  }
}

/** A model ready for inference: weights, tokenizer and where they came from. */
export interface LoadedModel {
  model: ForgeryTalker;
  tok: Tokenizer;
  config: ForgeryTalkerConfig;
  /** Checkpoint path (absolute), or a label for in-memory models. */
  path: string;
  /** sha256 of the checkpoint file (hex), or null for in-memory models. */
  sha256: string | null;
  /** Training stage that wrote the checkpoint. */
  stage: string;
  /** Where the instruction's regions come from: the FPN (default) or none (the --no-fpn ablation). */
  regionSource: "fpn" | "none";
  device: Device;
  /** Seconds spent reading and building the model. */
  loadSeconds: number;
}

const cache = new Map<string, LoadedModel>();

/** sha256 of a file, streamed. */
export async function fileSha256(path: string): Promise<string> {
  const h = createHash("sha256");
  using f = await Deno.open(path);
  for await (const chunk of f.readable) h.update(chunk);
  return h.digest("hex");
}

/**
 * Loads a checkpoint (the trainer's single-file safetensors) once: later calls with the same
 * path, size, mtime and device return the cached model. Errors name the file and say what is
 * wrong (missing, not a checkpoint, another format version, corrupt).
 */
export async function loadModel(ckpt: string, opts: { device?: string } = {}): Promise<LoadedModel> {
  const t0 = performance.now();
  const path = resolve(ckpt);
  let st: Deno.FileInfo;
  try {
    st = await Deno.stat(path);
  } catch (e) {
    throw new Error(`checkpoint '${ckpt}': cannot read file (${(e as Error).message})`);
  }
  if (!st.isFile) throw new Error(`checkpoint '${ckpt}': not a file`);
  const device = useDevice(opts.device ?? "auto", () => {});
  const key = `${path}|${st.size}|${st.mtime?.getTime()}|${device}`;
  const hit = cache.get(key);
  if (hit) return hit;
  const sha256 = await fileSha256(path);
  let c;
  try {
    c = readCheckpoint(path, { optimizer: false }); // weights only: no AdamW moments
  } catch (e) {
    const msg = (e as Error).message;
    throw new Error(msg.startsWith("checkpoint") ? msg : `checkpoint '${ckpt}': ${msg}`);
  }
  try {
    const loaded = fromCheckpointParts(c.meta, c.model, { path, sha256, device });
    loaded.loadSeconds = (performance.now() - t0) / 1000;
    cache.set(key, loaded);
    return loaded;
  } catch (e) {
    throw new Error(`checkpoint '${ckpt}': ${(e as Error).message}`);
  } finally {
    disposeCheckpoint(c);
  }
}

/** Builds a LoadedModel from checkpoint metadata and weights (the weights are copied). */
function fromCheckpointParts(
  meta: CheckpointMeta,
  weights: Map<string, Tensor>,
  where: { path: string; sha256: string | null; device: Device },
): LoadedModel {
  if (!meta.config || !meta.tokenizer) throw new Error("metadata lacks the config or the tokenizer");
  // every parameter and buffer comes from the file (strict load): skip the random draws
  const model = withoutRandomInit(() => new ForgeryTalker(meta.config, 0));
  model.loadStateDict(weights, { source: where.path });
  model.eval();
  const tok = Tokenizer.fromJSON(meta.tokenizer);
  const fr = (meta.options as { finetuneRegions?: string } | undefined)?.finetuneRegions;
  return {
    model,
    tok,
    config: model.cfg,
    path: where.path,
    sha256: where.sha256,
    stage: meta.stage,
    regionSource: fr === "none" ? "none" : "fpn",
    device: where.device,
    loadSeconds: 0,
  };
}

/** Wraps an in-memory model and tokenizer (tests, training scripts) as a LoadedModel. */
export function wrapModel(model: ForgeryTalker, tok: Tokenizer, label = "<memory>"): LoadedModel {
  model.eval();
  return {
    model,
    tok,
    config: model.cfg,
    path: label,
    sha256: null,
    stage: "unknown",
    regionSource: "fpn",
    device: model.t5.shared.weight.device,
    loadSeconds: 0,
  };
}

/** Frees a loaded model's weights and drops it from the cache. */
export function unloadModel(m: LoadedModel): void {
  for (const [k, v] of cache) if (v === m) cache.delete(k);
  for (const [, t] of m.model.stateDict()) t.dispose();
}

/** What `analyze` accepts as an image: a file path, encoded PNG/JPEG bytes, or decoded pixels. */
export type ImageInput = string | Uint8Array | Image;

/** Options of `analyze` / `analyzeBatch`. */
export interface AnalyzeOptions {
  /** Checkpoint path or a loaded model (default: the bundled default model, when installed). */
  ckpt?: string | LoadedModel;
  /** Beam width (default 5); ignored with `greedy`. */
  beams?: number;
  /** Greedy decoding (beam 1). */
  greedy?: boolean;
  /** New tokens at most (default 100). */
  maxNewTokens?: number;
  /** Minimum length, start token included (default 5). */
  minLength?: number;
  /** Repetition penalty (default 1.5). */
  repetitionPenalty?: number;
  /** Length penalty (default 1.0). */
  lengthPenalty?: number;
  /** Mask threshold on the probability map (default 0.5). */
  threshold?: number;
  /** Region threshold on the FPN probabilities (default 0.5, the training rule). */
  regionThreshold?: number;
  /** auto | cpu | cuda (default auto), used when `ckpt` is a path. */
  device?: string;
  /** Refuse images with more pixels (default 64 M). */
  maxPixels?: number;
  /** Images per model batch in `analyzeBatch` (default 8). */
  batch?: number;
  /** Keep the decoded RGB input in `report.input` (for the overlay). */
  keepInput?: boolean;
}

/** The decoding settings a report was made with. */
export interface DecodingSettings {
  mode: "beam" | "greedy";
  beams: number;
  maxNewTokens: number;
  minLength: number;
  repetitionPenalty: number;
  lengthPenalty: number;
}

/** The forensic report of one image (JSON form: `reportJSON`). */
export interface Report {
  version: number;
  image: { source: string; width: number; height: number; channels: number };
  model: {
    config: string;
    checkpoint: string;
    sha256: string | null;
    stage: string;
    imageSize: number;
    device: string;
    regionSource: string;
  };
  regions: {
    threshold: number;
    /** Names above the threshold, in REGIONS order (the instruction's list). */
    selected: string[];
    /** All 21 probabilities by name, in REGIONS order. */
    probabilities: Record<string, number>;
  };
  instruction: string;
  explanation: string;
  /** Beam score (mean log-prob per token with length penalty) or greedy sum of log-probs. */
  explanationScore: number;
  mask: {
    threshold: number;
    width: number;
    height: number;
    /** Forged pixels / all pixels of the binary mask at the input size. */
    areaFraction: number;
    forgedPixels: number;
    /** Side of the model-resolution map the input-size mask was resized from. */
    modelSize: number;
    resize: string;
    /** (height × width) probabilities at the input size. */
    probability: Float32Array;
    /** (height × width) 0/1 mask at the input size. */
    binary: Uint8Array;
    /** (S × S) probabilities at the model resolution (what eval binarises). */
    modelProbability: Float32Array;
  };
  decoding: DecodingSettings;
  /** Milliseconds; for a batch, the batch's model time divided by its size. */
  timings: {
    decodeImage: number;
    preprocess: number;
    vision: number;
    mask: number;
    report: number;
    total: number;
  };
  batchSize: number;
  /** The decoded RGB input, only with `keepInput`. */
  input?: Image;
}

/** The report without its pixel arrays (what NAME.json holds). */
export function reportJSON(r: Report): Record<string, unknown> {
  const { probability: _p, binary: _b, modelProbability: _m, ...mask } = r.mask;
  const { input: _i, ...rest } = r;
  return { ...rest, mask };
}

/** Reads and decodes one input, refusing oversized images from their header. */
export async function loadInput(
  input: ImageInput,
  maxPixels = DEFAULT_MAX_PIXELS,
): Promise<{ img: Image; source: string }> {
  if (typeof input === "string") {
    let bytes: Uint8Array;
    try {
      const st = await Deno.stat(input);
      if (st.isDirectory) throw new Error("is a directory");
      bytes = await Deno.readFile(input);
    } catch (e) {
      throw new Error(`image '${input}': cannot read file (${(e as Error).message})`);
    }
    return { img: decodeChecked(bytes, input, maxPixels), source: input };
  }
  if (input instanceof Uint8Array) {
    return { img: decodeChecked(input, "<bytes>", maxPixels), source: "<bytes>" };
  }
  const img = input;
  if (!(img.width > 0 && img.height > 0) || img.data?.length !== img.width * img.height * img.channels) {
    throw new Error(
      `image <pixels>: expected width×height×channels bytes, got ${img.data?.length} for ${img.width}x${img.height}x${img.channels}`,
    );
  }
  if (img.width * img.height > maxPixels) throw tooBig("<pixels>", img.width, img.height, maxPixels);
  return { img, source: "<pixels>" };
}

function tooBig(name: string, w: number, h: number, max: number): Error {
  return new Error(
    `image '${name}': ${w}x${h} = ${(w * h / 1e6).toFixed(1)} M pixels exceeds the limit of ${
      (max / 1e6).toFixed(1)
    } M (decompression bomb?)`,
  );
}

function hasJpegEnd(b: Uint8Array): boolean {
  for (let i = b.length - 2; i >= Math.max(0, b.length - 4096); i--) {
    if (b[i] === 0xff && b[i + 1] === 0xd9) return true;
  }
  return false;
}

function decodeChecked(bytes: Uint8Array, name: string, maxPixels: number): Image {
  const h = probeImage(bytes, name);
  if (!(h.width > 0 && h.height > 0)) {
    throw new Error(`image '${name}': header gives an empty size ${h.width}x${h.height}`);
  }
  if (h.width * h.height > maxPixels) throw tooBig(name, h.width, h.height, maxPixels);
  // the JPEG codec fills a truncated file with grey and only warns: insist on the end marker
  // (0xFFD9 cannot occur inside entropy-coded data, where 0xFF is always stuffed)
  if (h.format === "jpeg" && !hasJpegEnd(bytes)) {
    throw new Error(`image '${name}': truncated JPEG (no end-of-image marker)`);
  }
  return decodeImage(bytes, name);
}

/**
 * Bilinear resize (align_corners = false, edge-clamped, like PyTorch's interpolate) of a
 * one-channel float map sw×sh -> dw×dh.
 */
export function resizeBilinear(
  src: Float32Array,
  sw: number,
  sh: number,
  dw: number,
  dh: number,
): Float32Array {
  const out = new Float32Array(dw * dh);
  const x0 = new Int32Array(dw), x1 = new Int32Array(dw), fx = new Float32Array(dw);
  for (let x = 0; x < dw; x++) {
    const s = Math.max(0, (x + 0.5) * (sw / dw) - 0.5);
    x0[x] = Math.min(sw - 1, Math.floor(s));
    x1[x] = Math.min(sw - 1, x0[x] + 1);
    fx[x] = s - x0[x];
  }
  for (let y = 0; y < dh; y++) {
    const s = Math.max(0, (y + 0.5) * (sh / dh) - 0.5);
    const y0 = Math.min(sh - 1, Math.floor(s)), y1 = Math.min(sh - 1, y0 + 1), fy = s - y0;
    const r0 = y0 * sw, r1 = y1 * sw, o = y * dw;
    for (let x = 0; x < dw; x++) {
      const a = src[r0 + x0[x]] + (src[r0 + x1[x]] - src[r0 + x0[x]]) * fx[x];
      const b = src[r1 + x0[x]] + (src[r1 + x1[x]] - src[r1 + x0[x]]) * fx[x];
      out[o + x] = a + (b - a) * fy;
    }
  }
  return out;
}

/** Raw model outputs for a batch of preprocessed images. */
export interface ModelOutputs {
  /** (B × 21) FPN probabilities. */
  regionProbs: Float32Array;
  /** Instruction texts. */
  instructions: string[];
  /** (B × S × S) mask probabilities at the model resolution. */
  maskProbs: Float32Array;
  /** Decoded explanations and their scores. */
  explanations: { text: string; score: number }[];
  timings: { vision: number; mask: number; report: number };
}

/** Fills in the decoding defaults (greedy = beam 1). */
export function decodingSettings(o: AnalyzeOptions): DecodingSettings {
  const d = decodeDefaults({
    beams: o.greedy ? 1 : o.beams ?? 5,
    maxNewTokens: o.maxNewTokens ?? 100,
    minLength: o.minLength ?? 5,
    repetitionPenalty: o.repetitionPenalty ?? 1.5,
    lengthPenalty: o.lengthPenalty ?? 1.0,
  });
  return {
    mode: d.beams === 1 ? "greedy" : "beam",
    beams: d.beams,
    maxNewTokens: d.maxNewTokens,
    minLength: d.minLength,
    repetitionPenalty: d.repetitionPenalty,
    lengthPenalty: d.lengthPenalty,
  };
}

/**
 * Runs the model on B preprocessed images (B·3·S·S CLIP-normalised floats). `regionsOverride`
 * (B × 21, 0/1) replaces the FPN's choice for the instruction and mask prompts (the eval
 * oracle/no-FPN ablations); the FPN probabilities are still reported.
 */
export function runModel(
  m: LoadedModel,
  pixels: Float32Array,
  B: number,
  dec: DecodingSettings,
  regionThreshold = 0.5,
  regionsOverride?: Float32Array,
): ModelOutputs {
  const { model, tok, config: cfg } = m;
  const S = cfg.imageSize, R = REGIONS.length;
  const timings = { vision: 0, mask: 0, report: 0 };
  return noGrad(() =>
    tidy(() => {
      let t = performance.now();
      const images = tensor(pixels, [B, 3, S, S], { device: m.device });
      const image = model.encodeImage(images); // (B, 1+N, dv)
      const regionProbs = sigmoid(model.fpn.forward(images).logits).data().slice(); // (B, 21)
      timings.vision = performance.now() - t;
      t = performance.now();
      const chosen = new Float32Array(B * R);
      if (regionsOverride) chosen.set(regionsOverride);
      else if (m.regionSource === "fpn") {
        for (let i = 0; i < B * R; i++) chosen[i] = regionProbs[i] > regionThreshold ? 1 : 0;
      }
      const instr = instructionTensors(tok, chosen, B, cfg);
      const instrIds = toDevice(instr.instrIds, m.device), instrMask = toDevice(instr.instrMask, m.device);
      const queries = model.queries(image, instrIds, instrMask); // (B, Q, dq)
      const regions = tensor(chosen, [B, R], { device: m.device });
      const logits = model.maskDecoder.forward({ image, regions, queries }); // (B, 1, h, w)
      const maskProbs = sigmoid(interpolate(logits, S, S, "bilinear")).data().slice(); // (B, 1, S, S)
      timings.mask = performance.now() - t;
      t = performance.now();
      const { enc, mask } = model.encodeReport(queries, instrIds, instrMask);
      const outs = generate(model.t5, enc, mask, { ...dec, vocabLimit: tok.vocabSize });
      timings.report = performance.now() - t;
      return {
        regionProbs,
        instructions: instr.texts,
        maskProbs,
        explanations: outs.map((o) => ({ text: tok.decode(o.ids), score: o.score })),
        timings,
      };
    })
  );
}

async function resolveModel(o: AnalyzeOptions): Promise<LoadedModel> {
  if (o.ckpt && typeof o.ckpt !== "string") return o.ckpt;
  const path = o.ckpt ?? defaultCheckpoint();
  if (!path) {
    throw new Error(
      `no checkpoint given and no default model installed (looked for ${DEFAULT_CHECKPOINT}); pass --ckpt / opts.ckpt`,
    );
  }
  return await loadModel(path, { device: o.device });
}

/** The forensic report of one image. */
export async function analyze(image: ImageInput, opts: AnalyzeOptions = {}): Promise<Report> {
  const [r] = await analyzeBatch([image], { ...opts, batch: 1 });
  if (r instanceof Error) throw r;
  return r;
}

/**
 * Reports for many images, `batch` at a time through the model. An input that cannot be
 * read or decoded yields its Error in place (the others still complete); a model failure
 * throws. Results equal `analyze` one by one.
 */
export async function analyzeBatch(
  images: readonly ImageInput[],
  opts: AnalyzeOptions = {},
): Promise<(Report | Error)[]> {
  const m = await resolveModel(opts);
  const dec = decodingSettings(opts);
  const threshold = opts.threshold ?? 0.5, regionThreshold = opts.regionThreshold ?? 0.5;
  const bs = opts.batch ?? 8;
  if (!Number.isInteger(bs) || bs < 1) {
    throw new Error(`analyze: batch must be a positive integer, got ${bs}`);
  }
  const out: (Report | Error)[] = new Array(images.length);
  const S = m.config.imageSize;
  for (let start = 0; start < images.length; start += bs) {
    const idx: number[] = [], imgs: { img: Image; source: string; decodeMs: number; prepMs: number }[] = [];
    const chunk = images.slice(start, start + bs);
    for (let j = 0; j < chunk.length; j++) {
      const t0 = performance.now();
      try {
        const { img, source } = await loadInput(chunk[j], opts.maxPixels);
        const t1 = performance.now();
        imgs.push({ img: toRgb(img), source, decodeMs: t1 - t0, prepMs: 0 });
        idx.push(start + j);
      } catch (e) {
        out[start + j] = e as Error;
      }
    }
    if (!imgs.length) continue;
    const B = imgs.length;
    const pixels = new Float32Array(B * 3 * S * S);
    imgs.forEach((x, b) => {
      const t = performance.now();
      preprocessImage(x.img, S, pixels, b * 3 * S * S);
      x.prepMs = performance.now() - t;
    });
    const res = runModel(m, pixels, B, dec, regionThreshold);
    imgs.forEach((x, b) => {
      const t = performance.now();
      const { width: W, height: H } = x.img;
      const probs = res.regionProbs.subarray(b * 21, b * 21 + 21);
      const modelProbability = res.maskProbs.slice(b * S * S, (b + 1) * S * S);
      const probability = W === S && H === S
        ? modelProbability.slice()
        : resizeBilinear(modelProbability, S, S, W, H);
      const binary = new Uint8Array(W * H);
      let forged = 0;
      for (let i = 0; i < binary.length; i++) if (probability[i] >= threshold) binary[i] = 1, forged++;
      const selected = m.regionSource === "fpn" ? selectedRegions(Array.from(probs), regionThreshold) : [];
      const probabilities: Record<string, number> = {};
      REGIONS.forEach((name, i) => (probabilities[name] = probs[i]));
      const share = (ms: number) => ms / B;
      const post = performance.now() - t;
      const timings = {
        decodeImage: x.decodeMs,
        preprocess: x.prepMs,
        vision: share(res.timings.vision),
        mask: share(res.timings.mask) + post,
        report: share(res.timings.report),
        total: 0,
      };
      timings.total = timings.decodeImage + timings.preprocess + timings.vision + timings.mask +
        timings.report;
      out[idx[b]] = {
        version: REPORT_VERSION,
        image: { source: x.source, width: W, height: H, channels: 3 },
        model: {
          config: m.config.name,
          checkpoint: m.path,
          sha256: m.sha256,
          stage: m.stage,
          imageSize: S,
          device: m.device,
          regionSource: m.regionSource,
        },
        regions: { threshold: regionThreshold, selected, probabilities },
        instruction: res.instructions[b],
        explanation: res.explanations[b].text,
        explanationScore: res.explanations[b].score,
        mask: {
          threshold,
          width: W,
          height: H,
          areaFraction: forged / (W * H),
          forgedPixels: forged,
          modelSize: S,
          resize:
            `whole image bicubic to ${S}x${S}; mask bilinear ${S}x${S} -> ${W}x${H}, then >= ${threshold}`,
          probability,
          binary,
          modelProbability,
        },
        decoding: dec,
        timings,
        batchSize: B,
        ...(opts.keepInput ? { input: x.img } : {}),
      };
      // the instruction text must be the one built from `selected` (a consistency invariant)
      if (m.regionSource === "fpn" && res.instructions[b] !== instruction(selected, m.config.template)) {
        throw new Error(`analyze: internal mismatch between regions and instruction for ${x.source}`);
      }
    });
  }
  return out;
}
