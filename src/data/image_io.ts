/**
 * Image and mask I/O: PNG and JPEG decoding, PNG and JPEG encoding, file helpers.
 * Pixels are 8-bit, HWC, row-major. JPEG goes through MozJPEG (WebAssembly, see deps.ts);
 * PNG through our zlib-based codec (png.ts). Errors name the file and what was expected.
 */
import { createRequire } from "node:module";
import {
  JSQUASH_JPEG,
  mozjpegDecFactory,
  type MozJpegDecoder,
  mozjpegEncFactory,
  type MozJpegEncoder,
  type MozJpegOptions,
} from "./deps.ts";
import {
  checkImageSize,
  decodePngBytes,
  encodePngBytes,
  type ImageLimits,
  imageLimits,
  isPng,
  type PngEncodeOptions,
} from "./png.ts";
import { checkRegularFile, isJpeg, probeImage } from "./image_probe.ts";
import { writeFileAtomic } from "./atomic.ts";

export type { ImageLimits, PngEncodeOptions } from "./png.ts";
export { DEFAULT_IMAGE_LIMITS, imageLimits, setImageLimits } from "./png.ts";
export { checkRegularFile, isJpeg } from "./image_probe.ts";
export { writeFileAtomic } from "./atomic.ts";

/** An 8-bit image: `data` holds height×width×channels bytes, HWC, row-major. */
export interface Image {
  width: number;
  height: number;
  channels: 1 | 3 | 4;
  data: Uint8Array;
}

// The codecs are instantiated once per isolate (main thread or worker) at import time so
// that decode/encode can stay synchronous.
const require = createRequire(import.meta.url);
async function loadWasm(rel: string): Promise<Uint8Array> {
  const path = require.resolve(`${JSQUASH_JPEG}/${rel}`);
  return await Deno.readFile(path);
}
// libjpeg reports recoverable damage (a truncated file: "Premature end of JPEG file") as a
// warning on stderr and still returns an image; fatal errors print, then throw a non-Error.
// Both are captured here so decodeJpeg can turn every message into an error naming the file.
let jpegMessages: string[] = [];
const jpegDec: MozJpegDecoder = await mozjpegDecFactory({
  wasmBinary: await loadWasm("codec/dec/mozjpeg_dec.wasm"),
  noInitialRun: true,
  print: (s: string) => jpegMessages.push(s),
  printErr: (s: string) => jpegMessages.push(s),
});
const jpegEnc: MozJpegEncoder = await mozjpegEncFactory({
  wasmBinary: await loadWasm("codec/enc/mozjpeg_enc.wasm"),
  noInitialRun: true,
});

/**
 * Decode PNG bytes; `name` (a path) is used in error messages. Chunk CRCs, the IHDR fields,
 * palette indices and the size caps (`limits`, default `imageLimits()`) are checked.
 */
export function decodePng(bytes: Uint8Array, name = "<bytes>", limits?: ImageLimits): Image {
  return decodePngBytes(bytes, name, limits ?? imageLimits());
}

function describe(e: unknown): string {
  if (e instanceof Error) return e.message;
  if (typeof e === "string" || typeof e === "number") return String(e);
  return "decoder aborted";
}

/**
 * Decode JPEG bytes to RGB (greyscale JPEGs are expanded to RGB by the codec). The frame
 * size is checked against the caps before decoding; any decoder warning (a truncated or
 * damaged stream) is an error naming the file.
 */
export function decodeJpeg(bytes: Uint8Array, name = "<bytes>", limits?: ImageLimits): Image {
  if (!isJpeg(bytes)) throw new Error(`image '${name}': expected a JPEG (SOI marker)`);
  const head = probeImage(bytes, name);
  // MozJPEG decodes to RGBA: 4 bytes per pixel is what the decode allocates.
  checkImageSize(name, head.width, head.height, 4, limits ?? imageLimits());
  let r;
  jpegMessages = [];
  try {
    r = jpegDec.decode(bytes, false);
  } catch (e) {
    const why = jpegMessages.length ? jpegMessages.join("; ") : describe(e);
    throw new Error(`image '${name}': corrupt JPEG (${why})`);
  }
  if (jpegMessages.length > 0) {
    throw new Error(`image '${name}': corrupt JPEG (${jpegMessages.join("; ")})`);
  }
  if (!r || r.width === 0) throw new Error(`image '${name}': corrupt JPEG (decoder returned nothing)`);
  const n = r.width * r.height;
  const src = r.data;
  const out = new Uint8Array(n * 3);
  for (let i = 0, j = 0; i < n * 4; i += 4, j += 3) {
    out[j] = src[i];
    out[j + 1] = src[i + 1];
    out[j + 2] = src[i + 2];
  }
  return { width: r.width, height: r.height, channels: 3, data: out };
}

/** Decode PNG or JPEG, chosen by sniffing the first bytes (not the file extension). */
export function decodeImage(bytes: Uint8Array, name = "<bytes>", limits?: ImageLimits): Image {
  if (isPng(bytes)) return decodePng(bytes, name, limits);
  if (isJpeg(bytes)) return decodeJpeg(bytes, name, limits);
  throw new Error(`image '${name}': expected PNG or JPEG data, got an unknown format`);
}

/** Read and decode an image file (regular files only; caps as in `decodeImage`). */
export async function readImage(path: string, limits?: ImageLimits): Promise<Image> {
  let bytes: Uint8Array;
  try {
    checkRegularFile(path, await Deno.stat(path), "image", limits);
    bytes = await Deno.readFile(path);
  } catch (e) {
    const m = (e as Error).message;
    throw new Error(m.startsWith(`image '${path}'`) ? m : `image '${path}': cannot read file (${m})`);
  }
  return decodeImage(bytes, path, limits);
}

/** Synchronous twin of `readImage`, for workers that decode in a tight loop. */
export function readImageSync(path: string, limits?: ImageLimits): Image {
  let bytes: Uint8Array;
  try {
    checkRegularFile(path, Deno.statSync(path), "image", limits);
    bytes = Deno.readFileSync(path);
  } catch (e) {
    const m = (e as Error).message;
    throw new Error(m.startsWith(`image '${path}'`) ? m : `image '${path}': cannot read file (${m})`);
  }
  return decodeImage(bytes, path, limits);
}

function checkImage(img: Image, what: string): void {
  const expect = img.width * img.height * img.channels;
  if (![1, 3, 4].includes(img.channels)) {
    throw new Error(`${what}: expected 1, 3 or 4 channels, got ${img.channels}`);
  }
  if (img.data.length !== expect) {
    throw new Error(
      `${what}: expected ${expect} bytes for ${img.width}x${img.height}x${img.channels}, got ${img.data.length}`,
    );
  }
}

/**
 * Encode as PNG (grey, RGB or RGBA). `level` trades speed for size (zlib 1..9); `opts` picks
 * a fixed row filter or zlib's run-length strategy (see `PngEncodeOptions`).
 */
export function encodePng(img: Image, level = 6, opts?: PngEncodeOptions): Uint8Array {
  checkImage(img, "encodePng");
  return encodePngBytes(img, level, opts);
}

const JPEG_OPTS: MozJpegOptions = {
  quality: 90,
  baseline: true,
  arithmetic: false,
  progressive: false,
  optimize_coding: true,
  smoothing: 0,
  color_space: 3, // YCbCr
  quant_table: 0, // the standard IJG tables, like cameras and PIL
  trellis_multipass: false,
  trellis_opt_zero: false,
  trellis_opt_table: false,
  trellis_loops: 1,
  auto_subsample: false,
  chroma_subsample: 2, // 4:2:0, as most cameras
  separate_chroma_quality: false,
  chroma_quality: 90,
};

/** Encode as baseline JPEG, 4:2:0, `quality` in 1..100. Grey/RGBA inputs are converted. */
export function encodeJpeg(img: Image, quality: number): Uint8Array {
  checkImage(img, "encodeJpeg");
  if (!(quality >= 1 && quality <= 100)) {
    throw new Error(`encodeJpeg: expected quality in 1..100, got ${quality}`);
  }
  const n = img.width * img.height;
  const rgba = new Uint8Array(n * 4);
  const s = img.data, c = img.channels;
  for (let i = 0; i < n; i++) {
    const o = i * 4;
    if (c === 1) rgba[o] = rgba[o + 1] = rgba[o + 2] = s[i];
    else {
      rgba[o] = s[i * c];
      rgba[o + 1] = s[i * c + 1];
      rgba[o + 2] = s[i * c + 2];
    }
    rgba[o + 3] = 255;
  }
  const q = Math.round(quality);
  return jpegEnc.encode(rgba, img.width, img.height, { ...JPEG_OPTS, quality: q, chroma_quality: q })
    .slice();
}

/** Encode as PNG and write atomically. */
export async function writePng(path: string, img: Image, level = 6): Promise<void> {
  await writeFileAtomic(path, encodePng(img, level));
}

/** Convert to RGB (grey replicated, alpha dropped). Returns the input when already RGB. */
export function toRgb(img: Image): Image {
  if (img.channels === 3) return img;
  const n = img.width * img.height, c = img.channels;
  const out = new Uint8Array(n * 3);
  for (let i = 0; i < n; i++) {
    if (c === 1) out[i * 3] = out[i * 3 + 1] = out[i * 3 + 2] = img.data[i];
    else {
      out[i * 3] = img.data[i * c];
      out[i * 3 + 1] = img.data[i * c + 1];
      out[i * 3 + 2] = img.data[i * c + 2];
    }
  }
  return { width: img.width, height: img.height, channels: 3, data: out };
}

/** Convert to one channel: the first channel for grey+alpha, else the max over RGB (so a
 * mask drawn in any colour stays forged where any channel is > 0). */
export function toGray(img: Image): Image {
  if (img.channels === 1) return img;
  const n = img.width * img.height, c = img.channels;
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const o = i * c;
    const a = img.data[o], b = img.data[o + 1], d = img.data[o + 2];
    out[i] = a > b ? (a > d ? a : d) : (b > d ? b : d);
  }
  return { width: img.width, height: img.height, channels: 1, data: out };
}
