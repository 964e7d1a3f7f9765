/**
 * Mask helpers for the manipulations: part masks, dilation, feathering, blurring and
 * alpha compositing on float RGB buffers. All separable running-sum filters on typed arrays.
 *
 * Speed: an edit touches a few percent of the image, so everything here works inside a box
 * (the bounding box of the mask, grown by the filter reach) instead of the whole image. The
 * filters keep the exact arithmetic of full-image running sums (float64 accumulators, clamped
 * edges): on 0/1 masks the sums are exact, so the results are bit-identical to a whole-image
 * pass; on images they agree to the last bit whenever the float64 sums are exact (in practice,
 * always).
 */

/** Half-open pixel box [x0, x1) × [y0, y1). */
export interface Box {
  x0: number;
  y0: number;
  x1: number;
  y1: number;
}

/** Bounding box of the non-zero pixels of `m` (null when empty). */
export function boxOf(m: Uint8Array, w: number, h: number): Box | null {
  let y0 = -1, y1 = -1, x0 = w, x1 = 0;
  for (let y = 0; y < h; y++) {
    const o = y * w;
    let first = -1, last = -1;
    for (let x = 0; x < w; x++) {
      if (m[o + x]) {
        first = x;
        break;
      }
    }
    if (first < 0) continue;
    for (let x = w - 1; x >= first; x--) {
      if (m[o + x]) {
        last = x;
        break;
      }
    }
    if (y0 < 0) y0 = y;
    y1 = y + 1;
    if (first < x0) x0 = first;
    if (last + 1 > x1) x1 = last + 1;
  }
  return y0 < 0 ? null : { x0, y0, x1, y1 };
}

/** `b` grown by r pixels on every side, clamped to the w×h image. */
export function growBox(b: Box, r: number, w: number, h: number): Box {
  return {
    x0: Math.max(0, b.x0 - r),
    y0: Math.max(0, b.y0 - r),
    x1: Math.min(w, b.x1 + r),
    y1: Math.min(h, b.y1 + r),
  };
}

/** 1 where the part map holds any of `parts`. */
export function partMask(part: Uint8Array, parts: readonly number[]): Uint8Array {
  const ok = new Uint8Array(256);
  for (const p of parts) ok[p] = 1;
  const out = new Uint8Array(part.length);
  for (let i = 0; i < part.length; i++) out[i] = ok[part[i]];
  return out;
}

/** Element-wise OR into `a`. */
export function orInto(a: Uint8Array, b: Uint8Array): Uint8Array {
  for (let i = 0; i < a.length; i++) a[i] |= b[i];
  return a;
}

/** Number of set pixels. */
export function count(m: Uint8Array): number {
  let n = 0;
  for (let i = 0; i < m.length; i++) n += m[i] ? 1 : 0;
  return n;
}

// Scratch planes, reused between calls (everything here is synchronous, one isolate each).
const scratch = new Map<string, Float32Array>();
function plane(name: string, n: number): Float32Array {
  let a = scratch.get(name);
  if (!a || a.length !== n) {
    a = new Float32Array(n);
    scratch.set(name, a);
  }
  return a;
}

/**
 * One box filter (rows then columns, radius r) of the plane `src` over box `g`, into `dst`.
 * Reads are clamped to the image like a whole-image pass; values outside `g` count as 0, so
 * the result is exact wherever the data outside `g` is 0 (masks whose support `g` covers),
 * and for any data at least 2r pixels inside `g` per pass.
 */
function boxPass(src: Float32Array, dst: Float32Array, w: number, h: number, r: number, g: Box): void {
  const tmp = plane("boxTmp", w * h), inv = 1 / (2 * r + 1);
  const { x0, y0, x1, y1 } = g;
  for (let y = y0; y < y1; y++) {
    const o = y * w;
    let acc = 0;
    for (let x = x0 - r; x <= x0 + r; x++) {
      const xx = x < 0 ? 0 : x > w - 1 ? w - 1 : x;
      acc += xx >= x0 && xx < x1 ? src[o + xx] : 0;
    }
    for (let x = x0; x < x1; x++) {
      tmp[o + x] = acc * inv;
      const xa = Math.min(w - 1, x + r + 1), xs = Math.max(0, x - r);
      acc += (xa < x1 ? src[o + xa] : 0) - (xs >= x0 ? src[o + xs] : 0);
    }
  }
  for (let x = x0; x < x1; x++) {
    let acc = 0;
    for (let y = y0 - r; y <= y0 + r; y++) {
      const yy = y < 0 ? 0 : y > h - 1 ? h - 1 : y;
      acc += yy >= y0 && yy < y1 ? tmp[yy * w + x] : 0;
    }
    for (let y = y0; y < y1; y++) {
      dst[y * w + x] = acc * inv;
      const ya = Math.min(h - 1, y + r + 1), ys = Math.max(0, y - r);
      acc += (ya < y1 ? tmp[ya * w + x] : 0) - (ys >= y0 ? tmp[ys * w + x] : 0);
    }
  }
}

/** Square dilation by radius r (exact: a pixel is set when any pixel within r is). */
export function dilate(m: Uint8Array, w: number, h: number, r: number): Uint8Array {
  if (r <= 0) return m.slice();
  const out = new Uint8Array(m.length);
  const b = boxOf(m, w, h);
  if (!b) return out;
  const g = growBox(b, r, w, h);
  // rows: running count of set pixels in [x−r, x+r] (only rows b.y0..b.y1 can be non-zero)
  const tmp = new Uint8Array(m.length);
  for (let y = b.y0; y < b.y1; y++) {
    const o = y * w;
    let n = 0;
    for (let x = g.x0 - r; x <= g.x0 + r; x++) if (x >= 0 && x < w && m[o + x]) n++;
    for (let x = g.x0; x < g.x1; x++) {
      if (n > 0) tmp[o + x] = 1;
      const xa = x + r + 1, xs = x - r;
      if (xa < w && m[o + xa]) n++;
      if (xs >= 0 && m[o + xs]) n--;
    }
  }
  for (let x = g.x0; x < g.x1; x++) {
    let n = 0;
    for (let y = g.y0 - r; y <= g.y0 + r; y++) if (y >= 0 && y < h && tmp[y * w + x]) n++;
    for (let y = g.y0; y < g.y1; y++) {
      if (n > 0) out[y * w + x] = 1;
      const ya = y + r + 1, ys = y - r;
      if (ya < h && tmp[ya * w + x]) n++;
      if (ys >= 0 && tmp[ys * w + x]) n--;
    }
  }
  return out;
}

/**
 * Soft alpha in [0,1] that is 0 outside `m` and ramps up over ~r pixels inside it. Only the
 * box `b` (which must contain every set pixel of `m`) is written; read it only there.
 */
export function featherInside(m: Uint8Array, w: number, h: number, r: number, b: Box): Float32Array {
  const alpha = plane("alpha", w * h);
  if (r <= 0) {
    for (let y = b.y0; y < b.y1; y++) {
      for (let i = y * w + b.x0, e = y * w + b.x1; i < e; i++) alpha[i] = m[i];
    }
    return alpha;
  }
  const g = growBox(b, 2 * r, w, h);
  const f = plane("featherF", w * h), q = plane("featherQ", w * h);
  for (let y = g.y0; y < g.y1; y++) for (let i = y * w + g.x0, e = y * w + g.x1; i < e; i++) f[i] = m[i];
  boxPass(f, q, w, h, r, g);
  boxPass(q, f, w, h, r, g);
  for (let y = b.y0; y < b.y1; y++) {
    for (let i = y * w + b.x0, e = y * w + b.x1; i < e; i++) alpha[i] = m[i] ? Math.min(1, 2 * f[i]) : 0;
  }
  return alpha;
}

/**
 * Blur an RGB float image with two box passes of radius r (≈ Gaussian σ ≈ r·0.8), writing
 * only the box `roi` of `out` (reads reach 2r beyond it). `out` may not alias `rgb`.
 */
export function blurRgb(
  rgb: Float32Array,
  w: number,
  h: number,
  r: number,
  roi: Box,
  out: Float32Array,
): void {
  if (r <= 0) {
    for (let y = roi.y0; y < roi.y1; y++) {
      out.set(rgb.subarray((y * w + roi.x0) * 3, (y * w + roi.x1) * 3), (y * w + roi.x0) * 3);
    }
    return;
  }
  const g = growBox(roi, 2 * r, w, h);
  const a = plane("blurA", w * h), b = plane("blurB", w * h);
  for (let c = 0; c < 3; c++) {
    for (let y = g.y0; y < g.y1; y++) {
      for (let i = y * w + g.x0, e = y * w + g.x1; i < e; i++) a[i] = rgb[i * 3 + c];
    }
    boxPass(a, b, w, h, r, g);
    boxPass(b, a, w, h, r, g);
    for (let y = roi.y0; y < roi.y1; y++) {
      for (let i = y * w + roi.x0, e = y * w + roi.x1; i < e; i++) out[i * 3 + c] = a[i];
    }
  }
}

/** dst = (1 − α)·dst + α·src, in place, over the box `b` (α must be 0 outside it). */
export function composite(
  dst: Float32Array,
  src: Float32Array,
  alpha: Float32Array,
  w: number,
  b: Box,
): void {
  for (let y = b.y0; y < b.y1; y++) {
    for (let i = y * w + b.x0, e = y * w + b.x1; i < e; i++) {
      const a = alpha[i];
      if (a <= 0) continue;
      const o = i * 3;
      dst[o] += (src[o] - dst[o]) * a;
      dst[o + 1] += (src[o + 1] - dst[o + 1]) * a;
      dst[o + 2] += (src[o + 2] - dst[o + 2]) * a;
    }
  }
}
