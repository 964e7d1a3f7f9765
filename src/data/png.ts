/**
 * PNG codec on native zlib (`node:zlib`). Handles the files we meet most — 8-bit,
 * non-interlaced, grey / grey+alpha / RGB / RGBA / palette — and hands everything else
 * (interlaced, 1/2/4/16-bit) to fast-png. Encoding chooses a filter per row with the usual
 * minimum-sum-of-absolute-differences heuristic, which keeps files small for photos.
 */
import { constants as zlibConstants, crc32 as zlibCrc32, deflateSync, inflateSync } from "node:zlib";
import { fastPngDecode } from "./deps.ts";
import type { Image } from "./image_io.ts";

const SIGNATURE = [137, 80, 78, 71, 13, 10, 26, 10];

/** True when the bytes start with the PNG signature. */
export function isPng(bytes: Uint8Array): boolean {
  if (bytes.length < 8) return false;
  for (let i = 0; i < 8; i++) if (bytes[i] !== SIGNATURE[i]) return false;
  return true;
}

function readU32(b: Uint8Array, o: number): number {
  return ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0;
}

/**
 * Caps applied from an image's header before any pixel is decoded, so a small file that
 * declares a huge image (a decompression bomb) is refused instead of allocating gigabytes.
 */
export interface ImageLimits {
  /** Largest width or height accepted. */
  maxSide: number;
  /** Largest decoded size in bytes (width × height × channels). */
  maxDecodedBytes: number;
  /** Largest encoded file accepted by the file readers. */
  maxFileBytes: number;
}

/** Default caps (see docs/data.md): sides up to 10000 px, 128 MiB decoded, 256 MiB files. */
export const DEFAULT_IMAGE_LIMITS: Readonly<ImageLimits> = Object.freeze({
  maxSide: 10000,
  maxDecodedBytes: 128 * 1024 * 1024,
  maxFileBytes: 256 * 1024 * 1024,
});

function envNumber(name: string): number | undefined {
  let v: string | undefined;
  try {
    v = Deno.env.get(name);
  } catch {
    return undefined; // no --allow-env: the defaults
  }
  if (v === undefined || v === "") return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${name} must be a positive number, got '${v}'`);
  return n;
}

// Process-wide limits: the defaults, overridden by FT_IMAGE_MAX_SIDE / FT_IMAGE_MAX_MB (decoded
// MiB) / FT_IMAGE_MAX_FILE_MB, so loader and synth workers see the same caps as the main thread.
const limits: ImageLimits = { ...DEFAULT_IMAGE_LIMITS };
{
  const side = envNumber("FT_IMAGE_MAX_SIDE"), mb = envNumber("FT_IMAGE_MAX_MB");
  const fileMb = envNumber("FT_IMAGE_MAX_FILE_MB");
  if (side) limits.maxSide = Math.floor(side);
  if (mb) limits.maxDecodedBytes = Math.floor(mb * 1024 * 1024);
  if (fileMb) limits.maxFileBytes = Math.floor(fileMb * 1024 * 1024);
}

/** The limits in force for this thread (a copy). */
export function imageLimits(): ImageLimits {
  return { ...limits };
}

/** Change the limits for this thread (workers read the FT_IMAGE_* environment instead). */
export function setImageLimits(l: Partial<ImageLimits>): void {
  for (const [k, v] of Object.entries(l) as [keyof ImageLimits, number | undefined][]) {
    if (v === undefined) continue;
    if (!Number.isFinite(v) || v <= 0) {
      throw new Error(`image limit ${k} must be a positive number, got ${v}`);
    }
    limits[k] = v;
  }
}

/** Throw, naming the file, when a header's size breaks the caps. */
export function checkImageSize(
  name: string,
  width: number,
  height: number,
  channels: number,
  lim: ImageLimits = limits,
): void {
  if (width <= 0 || height <= 0) {
    throw new Error(`image '${name}': declares an empty ${width}x${height} image`);
  }
  if (width > lim.maxSide || height > lim.maxSide) {
    throw new Error(
      `image '${name}': declares ${width}x${height}, larger than the ${lim.maxSide}-pixel side limit ` +
        `(FT_IMAGE_MAX_SIDE)`,
    );
  }
  const bytes = width * height * channels;
  if (bytes > lim.maxDecodedBytes) {
    const mib = (x: number) => (x / 1048576).toFixed(0);
    throw new Error(
      `image '${name}': ${width}x${height}x${channels} would decode to ${mib(bytes)} MiB, over the ` +
        `${mib(lim.maxDecodedBytes)} MiB limit (FT_IMAGE_MAX_MB)`,
    );
  }
}

// Legal bit depths per colour type (PNG spec, table 11.1).
const DEPTHS: Record<number, number[]> = {
  0: [1, 2, 4, 8, 16],
  2: [8, 16],
  3: [1, 2, 4, 8],
  4: [8, 16],
  6: [8, 16],
};

/** The chunks of a PNG that matter for decoding, CRC-checked and validated. */
export interface PngChunks {
  width: number;
  height: number;
  depth: number;
  colorType: number;
  interlace: number;
  palette: Uint8Array | null;
  trns: Uint8Array | null;
  idat: Uint8Array[];
  /** Channels `decodePngBytes` returns: grey 1, RGB 3, any alpha (or palette + tRNS) 4. */
  channels: 1 | 3 | 4;
}

/**
 * Walk a PNG's chunks, checking each CRC, the IHDR fields and the chunk order; stops at IEND
 * (a file without one is truncated). With `headerOnly`, returns after the last chunk before
 * the first IDAT (enough for size, channels and palette facts).
 */
export function readPngChunks(bytes: Uint8Array, name: string, headerOnly = false): PngChunks {
  if (!isPng(bytes)) throw new Error(`image '${name}': expected a PNG signature`);
  const fail = (m: string): never => {
    throw new Error(`image '${name}': ${m}`);
  };
  let pos = 8;
  const c: PngChunks = {
    width: 0,
    height: 0,
    depth: 0,
    colorType: 0,
    interlace: 0,
    palette: null,
    trns: null,
    idat: [],
    channels: 3,
  };
  let sawIend = false;
  for (let k = 0; pos < bytes.length; k++) {
    if (pos + 8 > bytes.length) fail(`PNG is truncated (a chunk header is cut at byte ${pos})`);
    const len = readU32(bytes, pos);
    const type = String.fromCharCode(bytes[pos + 4], bytes[pos + 5], bytes[pos + 6], bytes[pos + 7]);
    // Header-only reads get the file's first bytes: the pixel data may lie beyond them.
    if (headerOnly && type === "IDAT" && k > 0) break;
    if (len > 0x7fffffff || pos + 12 + len > bytes.length) {
      fail(`PNG is truncated (chunk ${JSON.stringify(type)} at byte ${pos} needs ${len} bytes)`);
    }
    const data = bytes.subarray(pos + 8, pos + 8 + len);
    const crc = readU32(bytes, pos + 8 + len);
    if ((zlibCrc32(bytes.subarray(pos + 4, pos + 8 + len)) >>> 0) !== crc) {
      fail(`PNG chunk ${type} at byte ${pos} fails its CRC check (corrupt file)`);
    }
    if (k === 0 && type !== "IHDR") fail(`PNG must start with IHDR, got ${JSON.stringify(type)}`);
    if (type === "IHDR") {
      if (k !== 0) fail("PNG has a second IHDR chunk");
      if (len !== 13) fail(`PNG IHDR is ${len} bytes, expected 13`);
      c.width = readU32(data, 0);
      c.height = readU32(data, 4);
      c.depth = data[8];
      c.colorType = data[9];
      c.interlace = data[12];
      const depths = DEPTHS[c.colorType];
      if (!depths) fail(`unsupported PNG colour type ${c.colorType}`);
      if (!depths.includes(c.depth)) fail(`PNG colour type ${c.colorType} cannot have bit depth ${c.depth}`);
      if (data[10] !== 0 || data[11] !== 0 || c.interlace > 1) {
        fail(
          `PNG IHDR has unknown compression/filter/interlace methods ${data[10]}/${data[11]}/${c.interlace}`,
        );
      }
      c.channels = c.colorType === 0 ? 1 : c.colorType === 4 || c.colorType === 6 ? 4 : 3;
    } else if (type === "PLTE") {
      if (len === 0 || len % 3 !== 0 || len / 3 > 256) {
        fail(`PNG palette is ${len} bytes, expected 3 to 768 bytes in whole RGB triples`);
      }
      if (c.colorType === 3 && len / 3 > 1 << c.depth) {
        fail(`PNG palette has ${len / 3} entries, more than a ${c.depth}-bit image can index`);
      }
      c.palette = data;
    } else if (type === "tRNS") {
      c.trns = data;
      if (c.colorType === 3) {
        if (!c.palette) fail("PNG tRNS chunk comes before the palette");
        if (len > c.palette!.length / 3) {
          fail(`PNG tRNS has ${len} entries, more than the ${c.palette!.length / 3}-entry palette`);
        }
        c.channels = 4;
      }
    } else if (type === "IDAT") {
      c.idat.push(data);
    } else if (type === "IEND") {
      sawIend = true;
      break;
    } else if ((bytes[pos + 4] & 0x20) === 0) {
      fail(`PNG has an unknown critical chunk ${JSON.stringify(type)}`);
    }
    pos += 12 + len;
  }
  if (c.width === 0 && c.height === 0) fail("PNG has no valid IHDR");
  if (headerOnly) {
    if (c.colorType === 3 && !c.palette && pos < bytes.length) fail("palette PNG without a PLTE chunk");
    return c;
  }
  if (c.colorType === 3 && !c.palette) fail("palette PNG without a PLTE chunk");
  if (!sawIend) fail("PNG is truncated (no IEND chunk)");
  if (c.idat.length === 0) fail("PNG has no IDAT data");
  return c;
}

/** Decode a PNG into an `Image` (grey → 1 channel, RGB/palette → 3, any alpha → 4). */
export function decodePngBytes(bytes: Uint8Array, name: string, lim: ImageLimits = limits): Image {
  const c = readPngChunks(bytes, name);
  const { width, height, depth, colorType, interlace } = c;
  // 16-bit samples take two bytes each while decoding.
  checkImageSize(name, width, height, c.channels * (depth === 16 ? 2 : 1), lim);
  if (depth !== 8 || interlace !== 0) {
    // fast-png inflates without a bound: inflate once here with one, so a zlib bomb behind a
    // small IHDR stops at (a generous bound on) the declared size instead of filling memory.
    const srcCh = [1, 0, 3, 1, 2, 0, 4][colorType];
    const rowBytes = Math.ceil((width * srcCh * depth) / 8) + 1;
    const bound = 2 * rowBytes * height + 1024; // interlaced passes add per-pass filter bytes
    try {
      inflateSync(concat(c.idat), { maxOutputLength: bound });
    } catch (e) {
      const err = e as Error & { code?: string };
      if (err.code === "ERR_BUFFER_TOO_LARGE") {
        throw new Error(`image '${name}': PNG data inflates past the ${width}x${height} IHDR declares`);
      }
      throw new Error(`image '${name}': corrupt PNG data (${err.message})`);
    }
    return fromFastPng(bytes, name, c);
  }
  const srcCh = [1, 0, 3, 1, 2, 0, 4][colorType];
  const stride = width * srcCh;
  const want = (stride + 1) * height;
  let raw: Uint8Array;
  try {
    // maxOutputLength: a zlib stream that inflates past what IHDR declares is refused mid-way.
    raw = new Uint8Array(inflateSync(concat(c.idat), { maxOutputLength: want }));
  } catch (e) {
    const err = e as Error & { code?: string };
    if (err.code === "ERR_BUFFER_TOO_LARGE") {
      throw new Error(`image '${name}': PNG data inflates past the ${width}x${height} IHDR declares`);
    }
    throw new Error(`image '${name}': corrupt PNG data (${err.message})`);
  }
  if (raw.length !== want) {
    throw new Error(
      `image '${name}': PNG data is ${raw.length} bytes, expected ${want} for ${width}x${height} (truncated?)`,
    );
  }
  const px = unfilter(raw, stride, height, srcCh, name);
  if (colorType === 3) return expandPalette(px, width, height, c.palette, c.trns, name);
  if (colorType === 4) {
    const out = new Uint8Array(width * height * 4);
    for (let i = 0, j = 0; i < px.length; i += 2, j += 4) {
      out[j] = out[j + 1] = out[j + 2] = px[i];
      out[j + 3] = px[i + 1];
    }
    return { width, height, channels: 4, data: out };
  }
  return { width, height, channels: srcCh as 1 | 3 | 4, data: px };
}

function concat(parts: Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0];
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

function unfilter(raw: Uint8Array, stride: number, h: number, bpp: number, name: string): Uint8Array {
  const out = new Uint8Array(stride * h);
  // One specialised loop per filter type: a per-byte switch is ~3x slower.
  for (let y = 0; y < h; y++) {
    const f = raw[y * (stride + 1)];
    const s = y * (stride + 1) + 1;
    const d = y * stride;
    const u = d - stride;
    if (f === 0) {
      out.set(raw.subarray(s, s + stride), d);
    } else if (f === 1) {
      for (let x = 0; x < bpp; x++) out[d + x] = raw[s + x];
      for (let x = bpp; x < stride; x++) out[d + x] = (raw[s + x] + out[d + x - bpp]) & 255;
    } else if (f === 2) {
      if (y === 0) out.set(raw.subarray(s, s + stride), d);
      else for (let x = 0; x < stride; x++) out[d + x] = (raw[s + x] + out[u + x]) & 255;
    } else if (f === 3) {
      for (let x = 0; x < stride; x++) {
        const a = x >= bpp ? out[d + x - bpp] : 0;
        const b = y > 0 ? out[u + x] : 0;
        out[d + x] = (raw[s + x] + ((a + b) >> 1)) & 255;
      }
    } else if (f === 4) {
      for (let x = 0; x < stride; x++) {
        const a = x >= bpp ? out[d + x - bpp] : 0;
        const b = y > 0 ? out[u + x] : 0;
        const c = x >= bpp && y > 0 ? out[u + x - bpp] : 0;
        const pa = Math.abs(b - c), pb = Math.abs(a - c), pc = Math.abs(a + b - 2 * c);
        out[d + x] = (raw[s + x] + (pa <= pb && pa <= pc ? a : pb <= pc ? b : c)) & 255;
      }
    } else throw new Error(`image '${name}': bad PNG filter type ${f} on row ${y}`);
  }
  return out;
}

function expandPalette(
  idx: Uint8Array,
  w: number,
  h: number,
  pal: Uint8Array | null,
  trns: Uint8Array | null,
  name: string,
): Image {
  if (!pal) throw new Error(`image '${name}': palette PNG without a PLTE chunk`);
  const ch = trns ? 4 : 3;
  const entries = pal.length / 3;
  const out = new Uint8Array(w * h * ch);
  for (let i = 0; i < idx.length; i++) {
    const k = idx[i];
    if (k >= entries) badIndex(name, k, entries, i, w);
    out[i * ch] = pal[k * 3];
    out[i * ch + 1] = pal[k * 3 + 1];
    out[i * ch + 2] = pal[k * 3 + 2];
    if (trns) out[i * ch + 3] = k < trns.length ? trns[k] : 255;
  }
  return { width: w, height: h, channels: ch, data: out };
}

function badIndex(name: string, k: number, entries: number, i: number, w: number): never {
  throw new Error(
    `image '${name}': palette index ${k} at pixel (${i % w}, ${Math.floor(i / w)}) is outside ` +
      `the ${entries}-entry palette`,
  );
}

// Everything but 8-bit non-interlaced: fast-png decodes (chunks, CRCs and caps were checked
// by readPngChunks already); palette indices are checked here before the lookup.
function fromFastPng(bytes: Uint8Array, name: string, chunks: PngChunks): Image {
  let d;
  try {
    d = fastPngDecode(bytes, { checkCrc: true });
  } catch (e) {
    throw new Error(`image '${name}': corrupt PNG (${(e as Error).message})`);
  }
  if (d.width !== chunks.width || d.height !== chunks.height) {
    throw new Error(
      `image '${name}': corrupt PNG (decoded ${d.width}x${d.height}, IHDR says ${chunks.width}x${chunks.height})`,
    );
  }
  const n = d.width * d.height;
  let samples: ArrayLike<number> = d.data;
  if (d.depth < 8) {
    // fast-png keeps sub-byte samples packed, rows padded to whole bytes: unpack to one per byte.
    const perRow = d.width * d.channels;
    const stride = Math.ceil((perRow * d.depth) / 8);
    if (d.data.length < stride * d.height) {
      throw new Error(`image '${name}': PNG data too short for ${d.width}x${d.height} (truncated?)`);
    }
    const un = new Uint8Array(perRow * d.height);
    const mask = (1 << d.depth) - 1;
    for (let y = 0; y < d.height; y++) {
      for (let x = 0; x < perRow; x++) {
        const bit = x * d.depth;
        un[y * perRow + x] = ((d.data[y * stride + (bit >> 3)] as number) >> (8 - d.depth - (bit & 7))) &
          mask;
      }
    }
    samples = un;
  } else if (d.data.length < n * d.channels) {
    throw new Error(`image '${name}': PNG data too short for ${d.width}x${d.height} (truncated?)`);
  }
  let src: ArrayLike<number> = samples;
  let ch = d.channels;
  if (d.palette) {
    const hasA = chunks.trns !== null;
    ch = hasA ? 4 : 3;
    const entries = d.palette.length;
    const out = new Uint8Array(n * ch);
    for (let i = 0; i < n; i++) {
      const k = samples[i];
      if (k >= entries) badIndex(name, k, entries, i, d.width);
      const c = d.palette[k];
      for (let j = 0; j < ch; j++) out[i * ch + j] = c[j];
    }
    src = out;
  } else if (d.depth === 16) {
    const out = new Uint8Array(n * ch);
    for (let i = 0; i < out.length; i++) out[i] = samples[i] >> 8;
    src = out;
  } else if (d.depth < 8) {
    // rescale 1/2/4-bit grey to 0..255
    const scale = 255 / ((1 << d.depth) - 1);
    const out = new Uint8Array(n * ch);
    for (let i = 0; i < out.length; i++) out[i] = Math.round(samples[i] * scale);
    src = out;
  }
  const data = src instanceof Uint8Array ? src : Uint8Array.from(src);
  if (ch === 2) {
    const out = new Uint8Array(n * 4);
    for (let i = 0; i < n; i++) {
      out[i * 4] = out[i * 4 + 1] = out[i * 4 + 2] = data[i * 2];
      out[i * 4 + 3] = data[i * 2 + 1];
    }
    return { width: d.width, height: d.height, channels: 4, data: out };
  }
  return { width: d.width, height: d.height, channels: ch as 1 | 3 | 4, data };
}

/** How `encodePngBytes` filters rows: per-row choice among Sub/Up/Paeth, or one fixed filter. */
export type PngFilter = "adaptive" | "none" | "sub" | "up" | "paeth";

/** Extra encoder options (the defaults give the classic adaptive filter + default deflate). */
export interface PngEncodeOptions {
  filter?: PngFilter;
  /**
   * zlib strategy. "rle" (Z_RLE: only distance-1 matches + Huffman) is ~2x faster than level 1
   * and, on noisy photos after Paeth filtering, gives smaller files; masks compress to ~1 KiB.
   */
  strategy?: "default" | "rle";
}

const FILTER_ID = { none: 0, sub: 1, up: 2, paeth: 4 } as const;

// |signed residual| of a filtered byte, the classic filter-selection cost.
function cost(r: number): number {
  return r < 128 ? r : 256 - r;
}

function paeth(a: number, b: number, c: number): number {
  const pa = Math.abs(b - c), pb = Math.abs(a - c), pc = Math.abs(a + b - 2 * c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

// Sums of |residual| of Sub, Up and Paeth for one row (row > 0 has an upper neighbour).
function rowCosts(
  data: Uint8Array,
  row: number,
  stride: number,
  ch: number,
  hasUp: boolean,
  sums: Int32Array,
): void {
  let s1 = 0, s2 = 0, s4 = 0;
  if (!hasUp) {
    // b = c = 0: Up is the raw row, Paeth is Sub (a for x ≥ ch, 0 before).
    for (let x = 0; x < ch; x++) {
      const r = data[row + x];
      s1 += cost(r);
    }
    for (let x = ch; x < stride; x++) s1 += cost((data[row + x] - data[row + x - ch]) & 255);
    for (let x = 0; x < stride; x++) s2 += cost(data[row + x]);
    s4 = s1;
  } else {
    const up = row - stride;
    for (let x = 0; x < ch; x++) {
      const v = data[row + x], b = data[up + x];
      s1 += cost(v);
      const r2 = (v - b) & 255;
      s2 += cost(r2);
      s4 += cost(r2); // Paeth with a = c = 0 predicts b
    }
    for (let x = ch; x < stride; x++) {
      const v = data[row + x], a = data[row + x - ch], b = data[up + x], c = data[up + x - ch];
      s1 += cost((v - a) & 255);
      s2 += cost((v - b) & 255);
      s4 += cost((v - paeth(a, b, c)) & 255);
    }
  }
  sums[0] = s1;
  sums[1] = s2;
  sums[2] = s4;
}

// Write row `y` filtered with `f` (0, 1, 2 or 4) at out[o] (filter byte) and out[o+1..].
function filterRow(
  data: Uint8Array,
  y: number,
  stride: number,
  ch: number,
  f: number,
  out: Uint8Array,
  o: number,
) {
  const row = y * stride, up = row - stride;
  out[o++] = f;
  if (f === 0 || (f === 2 && y === 0)) {
    out.set(data.subarray(row, row + stride), o);
  } else if (f === 1 || (f === 4 && y === 0)) {
    for (let x = 0; x < ch; x++) out[o + x] = data[row + x];
    for (let x = ch; x < stride; x++) out[o + x] = (data[row + x] - data[row + x - ch]) & 255;
  } else if (f === 2) {
    for (let x = 0; x < stride; x++) out[o + x] = (data[row + x] - data[up + x]) & 255;
  } else {
    for (let x = 0; x < ch; x++) out[o + x] = (data[row + x] - data[up + x]) & 255;
    for (let x = ch; x < stride; x++) {
      out[o + x] = (data[row + x] - paeth(data[row + x - ch], data[up + x], data[up + x - ch])) & 255;
    }
  }
}

/** Encode an 8-bit image as PNG; `level` is the zlib level (1 fast … 9 small). */
export function encodePngBytes(img: Image, level = 6, opts: PngEncodeOptions = {}): Uint8Array {
  const { width: w, height: h, channels: ch, data } = img;
  const stride = w * ch;
  const filtered = new Uint8Array((stride + 1) * h);
  const mode = opts.filter ?? "adaptive";
  const sums = new Int32Array(3);
  for (let y = 0; y < h; y++) {
    let f: number;
    if (mode === "adaptive") {
      // Candidates: Sub (1), Up (2), Paeth (4); pick the smallest sum of |signed residual|.
      rowCosts(data, y * stride, stride, ch, y > 0, sums);
      f = sums[0] <= sums[1] && sums[0] <= sums[2] ? 1 : sums[1] <= sums[2] ? 2 : 4;
    } else f = FILTER_ID[mode];
    filterRow(data, y, stride, ch, f, filtered, y * (stride + 1));
  }
  const z = new Uint8Array(
    deflateSync(filtered, opts.strategy === "rle" ? { level, strategy: zlibConstants.Z_RLE } : { level }),
  );
  const colorType = ch === 1 ? 0 : ch === 3 ? 2 : 6;
  const ihdr = new Uint8Array(13);
  const dv = new DataView(ihdr.buffer);
  dv.setUint32(0, w);
  dv.setUint32(4, h);
  ihdr.set([8, colorType, 0, 0, 0], 8);
  const chunks: [string, Uint8Array][] = [["IHDR", ihdr], ["IDAT", z], ["IEND", new Uint8Array(0)]];
  let total = 8;
  for (const [, d] of chunks) total += 12 + d.length;
  const out = new Uint8Array(total);
  out.set(SIGNATURE, 0);
  let o = 8;
  const odv = new DataView(out.buffer);
  for (const [type, d] of chunks) {
    odv.setUint32(o, d.length);
    for (let i = 0; i < 4; i++) out[o + 4 + i] = type.charCodeAt(i);
    out.set(d, o + 8);
    odv.setUint32(o + 8 + d.length, zlibCrc32(out.subarray(o + 4, o + 8 + d.length)) >>> 0);
    o += 12 + d.length;
  }
  return out;
}
