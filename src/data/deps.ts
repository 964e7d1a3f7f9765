// deno-lint-ignore-file no-import-prefix -- pinned npm specifiers live here until the lead moves them into deno.json
/**
 * The data layer's only npm imports, pinned and re-exported here so they can later move
 * into deno.json's import map in one place.
 *
 * - `@jsquash/jpeg` — MozJPEG (libjpeg-turbo based) compiled to WebAssembly. Decoding a
 *   512×512 JPEG takes ~7 ms versus ~86 ms for the pure-JS `jpeg-js`, and encoding ~40 ms
 *   versus ~135 ms; the loader decodes every training image, so this matters. We call the
 *   Emscripten factories directly so that, after one async initialisation, decode/encode
 *   are synchronous.
 * - `fast-png` — a complete pure-JS PNG codec (interlacing, 1/2/4/16-bit, palettes, tRNS).
 *   Our own codec (png.ts, on native `node:zlib`) handles the common 8-bit non-interlaced
 *   files several times faster; fast-png is the fallback for every other legal PNG.
 */

// The lead moves these pinned specifiers into deno.json's import map; until then they live here.
// @ts-ignore: the package's .d.ts needs Emscripten's global types; we type it below.
import decFactory from "npm:@jsquash/jpeg@1.6.0/codec/dec/mozjpeg_dec.js";
// @ts-ignore: as above.
import encFactory from "npm:@jsquash/jpeg@1.6.0/codec/enc/mozjpeg_enc.js";
export { decode as fastPngDecode } from "npm:fast-png@8.0.0";

/** The slice of MozJPEG's encoder options we set (all fields are required by the codec). */
export interface MozJpegOptions {
  quality: number;
  baseline: boolean;
  arithmetic: boolean;
  progressive: boolean;
  optimize_coding: boolean;
  smoothing: number;
  color_space: number;
  quant_table: number;
  trellis_multipass: boolean;
  trellis_opt_zero: boolean;
  trellis_opt_table: boolean;
  trellis_loops: number;
  auto_subsample: boolean;
  chroma_subsample: number;
  separate_chroma_quality: boolean;
  chroma_quality: number;
}

/** The synchronous MozJPEG decoder module (RGBA output). */
export interface MozJpegDecoder {
  decode(
    data: Uint8Array,
    preserveOrientation: boolean,
  ): { width: number; height: number; data: Uint8ClampedArray } | null;
}

/** The synchronous MozJPEG encoder module (RGBA input). */
export interface MozJpegEncoder {
  encode(
    data: Uint8Array | Uint8ClampedArray,
    width: number,
    height: number,
    options: MozJpegOptions,
  ): Uint8Array;
}

/** Emscripten module options we pass: the .wasm bytes and where the C code's stdout/stderr go. */
interface FactoryOptions {
  wasmBinary: Uint8Array;
  noInitialRun: boolean;
  print?: (line: string) => void;
  printErr?: (line: string) => void;
}

type Factory<T> = (opts: FactoryOptions) => Promise<T>;

/** Emscripten factory for the decoder; pass it the .wasm bytes. */
export const mozjpegDecFactory = decFactory as Factory<MozJpegDecoder>;
/** Emscripten factory for the encoder; pass it the .wasm bytes. */
export const mozjpegEncFactory = encFactory as Factory<MozJpegEncoder>;

/** Package name used to locate the .wasm binaries on disk with `createRequire`. */
export const JSQUASH_JPEG = "@jsquash/jpeg";
