/**
 * Image/mask preprocessing and augmentation.
 *
 * - Resizing follows PIL (which the official pipeline uses through torchvision): bicubic
 *   with a = -0.5 and an antialiasing support that widens by the scale factor when
 *   shrinking; masks use PIL's nearest rule src = floor((x + 0.5)·scale), then "> 0".
 * - CLIP normalisation produces CHW float32.
 * - Augmentation moves image and mask together (random resized crop, horizontal flip); a
 *   flip swaps "left"/"right" in the caption. Convention (see docs/data.md): captions name
 *   the *subject's* side, and the subject's left is on the image's right; mirroring the
 *   image swaps which side is which, so swapping the words keeps the text true.
 * - Robustness variants degrade the image only; ground-truth masks keep their size.
 */
import type { Image } from "./image_io.ts";
import type { Rng } from "./rng.ts";

/** CLIP's per-channel mean (RGB, 0..1 scale). */
export const CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073] as const;
/** CLIP's per-channel standard deviation. */
export const CLIP_STD = [0.26862954, 0.26130258, 0.27577711] as const;

/** A crop box in source pixels (may be fractional). */
export interface Box {
  x: number;
  y: number;
  w: number;
  h: number;
}

function cubic(x: number): number {
  const a = -0.5;
  x = Math.abs(x);
  if (x < 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
  if (x < 2) return (((x - 5) * x + 8) * x - 4) * a;
  return 0;
}

interface Taps {
  start: Int32Array;
  count: Int32Array;
  weights: Float32Array;
  k: number;
}

// Per output coordinate: first source index, tap count and normalised weights (PIL's
// precompute_coeffs, restricted to a box [b0, b0 + bw) of the input).
function taps(inSize: number, b0: number, bw: number, outSize: number): Taps {
  const scale = bw / outSize;
  const fs = Math.max(scale, 1);
  const support = 2 * fs;
  const k = Math.ceil(support) * 2 + 1;
  const start = new Int32Array(outSize), count = new Int32Array(outSize);
  const weights = new Float32Array(outSize * k);
  for (let i = 0; i < outSize; i++) {
    const center = b0 + (i + 0.5) * scale;
    const lo = Math.max(0, Math.floor(center - support + 0.5));
    const hi = Math.min(inSize, Math.floor(center + support + 0.5));
    let sum = 0;
    for (let j = lo; j < hi; j++) {
      const w = cubic((j - center + 0.5) / fs);
      weights[i * k + j - lo] = w;
      sum += w;
    }
    if (sum !== 0) { for (let j = 0; j < hi - lo; j++) weights[i * k + j] /= sum; }
    start[i] = lo;
    count[i] = hi - lo;
  }
  return { start, count, weights, k };
}

/** Bicubic resample of the `box` region (default: whole image) to outW×outH. */
export function resizeBicubic(img: Image, outW: number, outH: number, box?: Box): Image {
  const { width: W, height: H, channels: C, data } = img;
  const b = box ?? { x: 0, y: 0, w: W, h: H };
  const tx = taps(W, b.x, b.w, outW), ty = taps(H, b.y, b.h, outH);
  // Horizontal pass over only the rows the vertical pass will read.
  const y0 = ty.start[0], y1 = ty.start[outH - 1] + ty.count[outH - 1];
  const tmp = new Float32Array((y1 - y0) * outW * C);
  for (let y = y0; y < y1; y++) {
    const srow = y * W * C, trow = (y - y0) * outW * C;
    for (let x = 0; x < outW; x++) {
      const s = tx.start[x], n = tx.count[x], wo = x * tx.k;
      for (let c = 0; c < C; c++) {
        let acc = 0;
        for (let j = 0; j < n; j++) acc += tx.weights[wo + j] * data[srow + (s + j) * C + c];
        tmp[trow + x * C + c] = acc;
      }
    }
  }
  const out = new Uint8Array(outW * outH * C);
  const rowLen = outW * C;
  for (let y = 0; y < outH; y++) {
    const s = ty.start[y] - y0, n = ty.count[y], wo = y * ty.k, orow = y * rowLen;
    for (let i = 0; i < rowLen; i++) {
      let acc = 0;
      for (let j = 0; j < n; j++) acc += ty.weights[wo + j] * tmp[(s + j) * rowLen + i];
      out[orow + i] = acc <= 0 ? 0 : acc >= 255 ? 255 : Math.round(acc);
    }
  }
  return { width: outW, height: outH, channels: C, data: out };
}

/**
 * Nearest-neighbour resample of a one-channel mask region to outW×outH, then binarised:
 * the result holds 0/1 (source value > 0 counts as forged, matching the official reader).
 */
export function resizeMaskNearest(
  mask: Uint8Array,
  W: number,
  H: number,
  outW: number,
  outH: number,
  box?: Box,
): Uint8Array {
  const b = box ?? { x: 0, y: 0, w: W, h: H };
  const sx = b.w / outW, sy = b.h / outH;
  const xs = new Int32Array(outW);
  for (let x = 0; x < outW; x++) xs[x] = Math.min(W - 1, Math.max(0, Math.floor(b.x + (x + 0.5) * sx)));
  const out = new Uint8Array(outW * outH);
  for (let y = 0; y < outH; y++) {
    const row = Math.min(H - 1, Math.max(0, Math.floor(b.y + (y + 0.5) * sy))) * W;
    for (let x = 0; x < outW; x++) out[y * outW + x] = mask[row + xs[x]] > 0 ? 1 : 0;
  }
  return out;
}

/** RGB image → CLIP-normalised CHW float32 written into `out` at `offset` (3·H·W values). */
export function normalizeClip(img: Image, out?: Float32Array, offset = 0): Float32Array {
  if (img.channels !== 3) throw new Error(`normalizeClip: expected RGB, got ${img.channels} channels`);
  const n = img.width * img.height;
  const dst = out ?? new Float32Array(3 * n);
  for (let c = 0; c < 3; c++) {
    const s = 1 / (255 * CLIP_STD[c]), m = CLIP_MEAN[c] / CLIP_STD[c], o = offset + c * n;
    for (let i = 0; i < n; i++) dst[o + i] = img.data[i * 3 + c] * s - m;
  }
  return dst;
}

/** Mirror an image left–right. */
export function flipImage(img: Image): Image {
  const { width: W, height: H, channels: C, data } = img;
  const out = new Uint8Array(data.length);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const s = (y * W + x) * C, d = (y * W + (W - 1 - x)) * C;
      for (let c = 0; c < C; c++) out[d + c] = data[s + c];
    }
  }
  return { width: W, height: H, channels: C, data: out };
}

/** Mirror a one-channel mask left–right. */
export function flipMask(mask: Uint8Array, W: number, H: number): Uint8Array {
  return flipImage({ width: W, height: H, channels: 1, data: mask }).data;
}

/** Swap the words "left" and "right" (whole words, case kept) so a mirrored caption stays true. */
export function swapLeftRight(caption: string): string {
  return caption.replace(/(?<![\p{L}\p{N}_])(left|right)(?![\p{L}\p{N}_])/giu, (w) => {
    const to = w.toLowerCase() === "left" ? "right" : "left";
    if (w === w.toUpperCase()) return to.toUpperCase();
    if (w[0] === w[0].toUpperCase()) return to[0].toUpperCase() + to.slice(1);
    return to;
  });
}

/** Options of the joint training augmentation (defaults follow BLIP's training transform). */
export interface AugmentOptions {
  size: number;
  scale?: [number, number];
  ratio?: [number, number];
  flipProb?: number;
}

/** One augmented training sample. */
export interface Augmented {
  image: Image;
  mask: Uint8Array;
  caption: string;
  box: Box;
  flipped: boolean;
}

/** torchvision's RandomResizedCrop box sampling (10 tries, then a centre crop). */
export function sampleCropBox(
  W: number,
  H: number,
  rng: Rng,
  scale: [number, number],
  ratio: [number, number],
): Box {
  const area = W * H;
  const lr0 = Math.log(ratio[0]), lr1 = Math.log(ratio[1]);
  for (let t = 0; t < 10; t++) {
    const a = area * rng.range(scale[0], scale[1]);
    const r = Math.exp(rng.range(lr0, lr1));
    const w = Math.round(Math.sqrt(a * r)), h = Math.round(Math.sqrt(a / r));
    if (w > 0 && h > 0 && w <= W && h <= H) {
      return { x: rng.int(W - w + 1), y: rng.int(H - h + 1), w, h };
    }
  }
  const inR = W / H;
  let w = W, h = H;
  if (inR < ratio[0]) h = Math.round(w / ratio[0]);
  else if (inR > ratio[1]) w = Math.round(h * ratio[1]);
  return { x: Math.floor((W - w) / 2), y: Math.floor((H - h) / 2), w, h };
}

/** Random resized crop + horizontal flip applied to image, mask (0/>0) and caption together. */
export function augment(
  img: Image,
  mask: Uint8Array,
  caption: string,
  rng: Rng,
  opts: AugmentOptions,
): Augmented {
  const box = sampleCropBox(img.width, img.height, rng, opts.scale ?? [0.5, 1], opts.ratio ?? [3 / 4, 4 / 3]);
  let image = resizeBicubic(img, opts.size, opts.size, box);
  let m = resizeMaskNearest(mask, img.width, img.height, opts.size, opts.size, box);
  const flipped = rng.chance(opts.flipProb ?? 0.5);
  if (flipped) {
    image = flipImage(image);
    m = flipMask(m, opts.size, opts.size);
    caption = swapLeftRight(caption);
  }
  return { image, mask: m, caption, box, flipped };
}

/** Separable Gaussian blur with OpenCV's default sigma for kernel size k (odd). */
export function gaussianBlur(img: Image, k: number): Image {
  if (k % 2 !== 1) throw new Error(`gaussianBlur: expected an odd kernel size, got ${k}`);
  const sigma = 0.3 * ((k - 1) * 0.5 - 1) + 0.8;
  const r = (k - 1) / 2;
  const w = new Float32Array(k);
  let sum = 0;
  for (let i = 0; i < k; i++) sum += w[i] = Math.exp(-((i - r) ** 2) / (2 * sigma * sigma));
  for (let i = 0; i < k; i++) w[i] /= sum;
  const { width: W, height: H, channels: C, data } = img;
  const tmp = new Float32Array(data.length);
  // Borders reflect (OpenCV's BORDER_REFLECT_101).
  const refl = (i: number, n: number) => (i < 0 ? -i : i >= n ? 2 * n - 2 - i : i);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      for (let c = 0; c < C; c++) {
        let acc = 0;
        for (let j = -r; j <= r; j++) acc += w[j + r] * data[(y * W + refl(x + j, W)) * C + c];
        tmp[(y * W + x) * C + c] = acc;
      }
    }
  }
  const out = new Uint8Array(data.length);
  const row = W * C;
  const acc = new Float32Array(row);
  for (let y = 0; y < H; y++) {
    acc.fill(0);
    for (let j = -r; j <= r; j++) {
      const so = refl(y + j, H) * row, wj = w[j + r];
      for (let i = 0; i < row; i++) acc[i] += wj * tmp[so + i];
    }
    const d = y * row;
    for (let i = 0; i < row; i++) out[d + i] = Math.round(acc[i]);
  }
  return { width: W, height: H, channels: C, data: out };
}

/** A robustness test condition: downscale factor and/or Gaussian blur kernel. */
export interface Degradation {
  name: string;
  scale?: number;
  blur?: number;
}

/** The robustness sets of DESIGN §5 plus the clean set. The paper does not pin which
 * settings "both" combines, so we keep two pairings: the mild and the strong one. */
export const ROBUSTNESS: readonly Degradation[] = [
  { name: "clean" },
  { name: "down_0.75", scale: 0.75 },
  { name: "down_0.5", scale: 0.5 },
  { name: "blur_k5", blur: 5 },
  { name: "blur_k11", blur: 11 },
  { name: "both_0.75_k5", scale: 0.75, blur: 5 },
  { name: "both_0.5_k11", scale: 0.5, blur: 11 },
];

/** Apply a degradation to an image: bicubic downscale first, then blur. */
export function degrade(img: Image, d: Degradation): Image {
  let out = img;
  if (d.scale !== undefined && d.scale !== 1) {
    out = resizeBicubic(
      out,
      Math.max(1, Math.round(img.width * d.scale)),
      Math.max(1, Math.round(img.height * d.scale)),
    );
  }
  if (d.blur !== undefined) out = gaussianBlur(out, d.blur);
  return out;
}

/** Eval-time preprocessing: bicubic resize to size×size, CLIP-normalised CHW. */
export function preprocessImage(img: Image, size: number, out?: Float32Array, offset = 0): Float32Array {
  const r = img.width === size && img.height === size ? img : resizeBicubic(img, size, size);
  return normalizeClip(r, out, offset);
}
