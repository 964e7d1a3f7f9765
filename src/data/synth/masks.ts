/**
 * Mask helpers for the manipulations: part masks, dilation, feathering, blurring and
 * alpha compositing on float RGB buffers. All separable box filters on typed arrays.
 */

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

// Running-sum box filter along rows then columns; r = radius.
function boxFloat(src: Float32Array, w: number, h: number, r: number): Float32Array {
  const tmp = new Float32Array(w * h), out = new Float32Array(w * h), inv = 1 / (2 * r + 1);
  for (let y = 0; y < h; y++) {
    const o = y * w;
    let acc = 0;
    for (let x = -r; x <= r; x++) acc += src[o + Math.min(w - 1, Math.max(0, x))];
    for (let x = 0; x < w; x++) {
      tmp[o + x] = acc * inv;
      acc += src[o + Math.min(w - 1, x + r + 1)] - src[o + Math.max(0, x - r)];
    }
  }
  for (let x = 0; x < w; x++) {
    let acc = 0;
    for (let y = -r; y <= r; y++) acc += tmp[Math.min(h - 1, Math.max(0, y)) * w + x];
    for (let y = 0; y < h; y++) {
      out[y * w + x] = acc * inv;
      acc += tmp[Math.min(h - 1, y + r + 1) * w + x] - tmp[Math.max(0, y - r) * w + x];
    }
  }
  return out;
}

/** Square dilation by radius r. */
export function dilate(m: Uint8Array, w: number, h: number, r: number): Uint8Array {
  if (r <= 0) return m.slice();
  const f = new Float32Array(m.length);
  for (let i = 0; i < m.length; i++) f[i] = m[i];
  const b = boxFloat(f, w, h, r);
  const out = new Uint8Array(m.length);
  for (let i = 0; i < m.length; i++) out[i] = b[i] > 1e-6 ? 1 : 0;
  return out;
}

/** Soft alpha in [0,1] that is 0 outside `m` and ramps up over ~r pixels inside it. */
export function featherInside(m: Uint8Array, w: number, h: number, r: number): Float32Array {
  const f = new Float32Array(m.length);
  for (let i = 0; i < m.length; i++) f[i] = m[i];
  if (r <= 0) return f;
  const b = boxFloat(boxFloat(f, w, h, r), w, h, r);
  for (let i = 0; i < m.length; i++) f[i] = m[i] ? Math.min(1, 2 * b[i]) : 0;
  return f;
}

/** Blur an RGB float image with two box passes of radius r (≈ Gaussian σ ≈ r·0.8). */
export function blurRgb(rgb: Float32Array, w: number, h: number, r: number): Float32Array {
  if (r <= 0) return rgb.slice();
  const n = w * h, out = new Float32Array(rgb.length), ch = new Float32Array(n);
  for (let c = 0; c < 3; c++) {
    for (let i = 0; i < n; i++) ch[i] = rgb[i * 3 + c];
    const b = boxFloat(boxFloat(ch, w, h, r), w, h, r);
    for (let i = 0; i < n; i++) out[i * 3 + c] = b[i];
  }
  return out;
}

/** dst = (1 − α)·dst + α·src, in place. */
export function composite(dst: Float32Array, src: Float32Array, alpha: Float32Array): void {
  for (let i = 0; i < alpha.length; i++) {
    const a = alpha[i];
    if (a <= 0) continue;
    const o = i * 3;
    dst[o] += (src[o] - dst[o]) * a;
    dst[o + 1] += (src[o + 1] - dst[o + 1]) * a;
    dst[o + 2] += (src[o + 2] - dst[o + 2]) * a;
  }
}
