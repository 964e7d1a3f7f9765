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

/** Decode a PNG into an `Image` (grey → 1 channel, RGB/palette → 3, any alpha → 4). */
export function decodePngBytes(bytes: Uint8Array, name: string): Image {
  if (!isPng(bytes)) throw new Error(`image '${name}': expected a PNG signature`);
  let pos = 8;
  let width = 0, height = 0, depth = 0, colorType = 0, interlace = 0;
  let palette: Uint8Array | null = null;
  let trns: Uint8Array | null = null;
  const idat: Uint8Array[] = [];
  while (pos + 8 <= bytes.length) {
    const len = readU32(bytes, pos);
    const type = String.fromCharCode(bytes[pos + 4], bytes[pos + 5], bytes[pos + 6], bytes[pos + 7]);
    const data = bytes.subarray(pos + 8, pos + 8 + len);
    if (data.length !== len) throw new Error(`image '${name}': PNG chunk ${type} is truncated`);
    if (type === "IHDR") {
      width = readU32(data, 0);
      height = readU32(data, 4);
      depth = data[8];
      colorType = data[9];
      interlace = data[12];
    } else if (type === "PLTE") palette = data;
    else if (type === "tRNS") trns = data;
    else if (type === "IDAT") idat.push(data);
    else if (type === "IEND") break;
    pos += 12 + len;
  }
  if (width === 0 || height === 0) throw new Error(`image '${name}': PNG has no valid IHDR`);
  if (idat.length === 0) throw new Error(`image '${name}': PNG has no IDAT data`);
  if (depth !== 8 || interlace !== 0) return fromFastPng(bytes, name);
  const srcCh = [1, 0, 3, 1, 2, 0, 4][colorType];
  if (!srcCh) throw new Error(`image '${name}': unsupported PNG colour type ${colorType}`);
  let raw: Uint8Array;
  try {
    raw = new Uint8Array(inflateSync(concat(idat)));
  } catch (e) {
    throw new Error(`image '${name}': corrupt PNG data (${(e as Error).message})`);
  }
  const stride = width * srcCh;
  if (raw.length < (stride + 1) * height) {
    throw new Error(`image '${name}': PNG data too short for ${width}x${height}`);
  }
  const px = unfilter(raw, stride, height, srcCh, name);
  if (colorType === 3) return expandPalette(px, width, height, palette, trns, name);
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
  const out = new Uint8Array(w * h * ch);
  for (let i = 0; i < idx.length; i++) {
    const k = idx[i];
    out[i * ch] = pal[k * 3];
    out[i * ch + 1] = pal[k * 3 + 1];
    out[i * ch + 2] = pal[k * 3 + 2];
    if (trns) out[i * ch + 3] = k < trns.length ? trns[k] : 255;
  }
  return { width: w, height: h, channels: ch, data: out };
}

function fromFastPng(bytes: Uint8Array, name: string): Image {
  let d;
  try {
    d = fastPngDecode(bytes);
  } catch (e) {
    throw new Error(`image '${name}': corrupt PNG (${(e as Error).message})`);
  }
  const n = d.width * d.height;
  let src: ArrayLike<number> = d.data;
  let ch = d.channels;
  if (d.palette) {
    const hasA = d.palette[0]?.length === 4;
    ch = hasA ? 4 : 3;
    const out = new Uint8Array(n * ch);
    for (let i = 0; i < n; i++) {
      const c = d.palette[d.data[i]];
      for (let k = 0; k < ch; k++) out[i * ch + k] = c[k];
    }
    src = out;
  } else if (d.depth === 16) {
    const out = new Uint8Array(n * ch);
    for (let i = 0; i < out.length; i++) out[i] = (d.data[i] as number) >> 8;
    src = out;
  } else if (d.depth < 8) {
    // fast-png unpacks sub-byte samples to one value per byte; rescale to 0..255.
    const scale = 255 / ((1 << d.depth) - 1);
    const out = new Uint8Array(n * ch);
    for (let i = 0; i < out.length; i++) out[i] = Math.round((d.data[i] as number) * scale);
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
