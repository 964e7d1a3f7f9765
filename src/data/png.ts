/**
 * PNG codec on native zlib (`node:zlib`). Handles the files we meet most — 8-bit,
 * non-interlaced, grey / grey+alpha / RGB / RGBA / palette — and hands everything else
 * (interlaced, 1/2/4/16-bit) to fast-png. Encoding chooses a filter per row with the usual
 * minimum-sum-of-absolute-differences heuristic, which keeps files small for photos.
 */
import { deflateSync, inflateSync } from "node:zlib";
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

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

function crc32(b: Uint8Array, start: number, end: number): number {
  let c = 0xffffffff;
  for (let i = start; i < end; i++) c = CRC_TABLE[(c ^ b[i]) & 255] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** Encode an 8-bit image as PNG; `level` is the zlib level (1 fast … 9 small). */
export function encodePngBytes(img: Image, level = 6): Uint8Array {
  const { width: w, height: h, channels: ch, data } = img;
  const stride = w * ch;
  const filtered = new Uint8Array((stride + 1) * h);
  const cand = [new Uint8Array(stride), new Uint8Array(stride), new Uint8Array(stride)];
  for (let y = 0; y < h; y++) {
    const row = y * stride, up = row - stride;
    // Candidates: Sub (1), Up (2), Paeth (4); pick the smallest sum of |signed residual|.
    const sums = [0, 0, 0];
    for (let x = 0; x < stride; x++) {
      const v = data[row + x];
      const a = x >= ch ? data[row + x - ch] : 0;
      const b = y > 0 ? data[up + x] : 0;
      const c = x >= ch && y > 0 ? data[up + x - ch] : 0;
      const pa = Math.abs(b - c), pb = Math.abs(a - c), pc = Math.abs(a + b - 2 * c);
      const pr = pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
      const r0 = (v - a) & 255, r1 = (v - b) & 255, r2 = (v - pr) & 255;
      cand[0][x] = r0;
      cand[1][x] = r1;
      cand[2][x] = r2;
      sums[0] += r0 < 128 ? r0 : 256 - r0;
      sums[1] += r1 < 128 ? r1 : 256 - r1;
      sums[2] += r2 < 128 ? r2 : 256 - r2;
    }
    const best = sums[0] <= sums[1] && sums[0] <= sums[2] ? 0 : sums[1] <= sums[2] ? 1 : 2;
    filtered[y * (stride + 1)] = [1, 2, 4][best];
    filtered.set(cand[best], y * (stride + 1) + 1);
  }
  const z = new Uint8Array(deflateSync(filtered, { level }));
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
    odv.setUint32(o + 8 + d.length, crc32(out, o + 4, o + 8 + d.length));
    o += 12 + d.length;
  }
  return out;
}
