/**
 * Raster primitives for the procedural face renderer. Shapes first write soft coverage
 * (0..1, max-combined) into a scratch buffer over a tracked bounding box; `paint` then blends
 * a colour (optionally modulated by a texture) into the float RGB image and claims the part
 * map where coverage > 0.5. Everything is typed-array loops over bounding boxes — no
 * per-pixel closures — because the generator must render ~20 faces/s on two cores.
 */
import type { Rng } from "../rng.ts";

/** RGB colour, 0..1 per channel. */
export type RGB = [number, number, number];

/** Float image + part map + scratch coverage. */
export class Canvas {
  readonly rgb: Float32Array;
  readonly part: Uint8Array;
  readonly cov: Float32Array;
  // dirty box of `cov`
  x0 = 0;
  y0 = 0;
  x1 = 0;
  y1 = 0;

  /** A w×h canvas, black, part 0 everywhere. */
  constructor(readonly w: number, readonly h: number) {
    this.rgb = new Float32Array(w * h * 3);
    this.part = new Uint8Array(w * h);
    this.cov = new Float32Array(w * h);
    this.resetBox();
  }

  private resetBox(): void {
    this.x0 = this.w;
    this.y0 = this.h;
    this.x1 = 0;
    this.y1 = 0;
  }

  private grow(x0: number, y0: number, x1: number, y1: number): [number, number, number, number] {
    const bx0 = Math.max(0, Math.floor(x0)), by0 = Math.max(0, Math.floor(y0));
    const bx1 = Math.min(this.w, Math.ceil(x1) + 1), by1 = Math.min(this.h, Math.ceil(y1) + 1);
    if (bx0 < this.x0) this.x0 = bx0;
    if (by0 < this.y0) this.y0 = by0;
    if (bx1 > this.x1) this.x1 = bx1;
    if (by1 > this.y1) this.y1 = by1;
    return [bx0, by0, bx1, by1];
  }

  /** Coverage of a rotated ellipse with a `soft`-pixel antialiased edge. */
  ellipse(cx: number, cy: number, rx: number, ry: number, rot = 0, soft = 1): void {
    const r = Math.max(rx, ry) + soft;
    const [bx0, by0, bx1, by1] = this.grow(cx - r, cy - r, cx + r, cy + r);
    const c = Math.cos(rot), s = Math.sin(rot), m = Math.min(rx, ry);
    for (let y = by0; y < by1; y++) {
      const dy = y + 0.5 - cy;
      for (let x = bx0; x < bx1; x++) {
        const dx = x + 0.5 - cx;
        const u = (dx * c + dy * s) / rx, v = (-dx * s + dy * c) / ry;
        const d = Math.sqrt(u * u + v * v);
        let a = ((1 - d) * m) / soft + 0.5;
        if (a <= 0) continue;
        if (a > 1) a = 1;
        const i = y * this.w + x;
        if (a > this.cov[i]) this.cov[i] = a;
      }
    }
  }

  /** Almond (lens) shape: |v| ≤ h·(1 − u²) in a frame rotated by `rot`; used for eyes/lips. */
  lens(cx: number, cy: number, hw: number, hTop: number, hBot: number, rot = 0, soft = 1): void {
    const r = Math.max(hw, hTop, hBot) + soft;
    const [bx0, by0, bx1, by1] = this.grow(cx - r, cy - r, cx + r, cy + r);
    const c = Math.cos(rot), s = Math.sin(rot);
    for (let y = by0; y < by1; y++) {
      const dy = y + 0.5 - cy;
      for (let x = bx0; x < bx1; x++) {
        const dx = x + 0.5 - cx;
        const u = (dx * c + dy * s) / hw, v = -dx * s + dy * c;
        if (u <= -1 || u >= 1) continue;
        const lim = (v < 0 ? hTop : hBot) * (1 - u * u);
        let a = (lim - Math.abs(v)) / soft + 0.5;
        const ae = ((1 - Math.abs(u)) * hw) / soft + 0.5;
        if (ae < a) a = ae;
        if (a <= 0) continue;
        if (a > 1) a = 1;
        const i = y * this.w + x;
        if (a > this.cov[i]) this.cov[i] = a;
      }
    }
  }

  /** Coverage of a polyline whose half-width goes linearly from w0 (start) to w1 (end). */
  stroke(pts: number[], w0: number, w1 = w0, soft = 1): void {
    const n = pts.length / 2;
    let total = 0;
    for (let k = 0; k + 1 < n; k++) {
      total += Math.hypot(pts[2 * k + 2] - pts[2 * k], pts[2 * k + 3] - pts[2 * k + 1]);
    }
    let acc = 0;
    for (let k = 0; k + 1 < n; k++) {
      const ax = pts[2 * k], ay = pts[2 * k + 1], bx = pts[2 * k + 2], by = pts[2 * k + 3];
      const len = Math.hypot(bx - ax, by - ay);
      const ta = total > 0 ? acc / total : 0, tb = total > 0 ? (acc + len) / total : 1;
      acc += len;
      const wa = w0 + (w1 - w0) * ta, wb = w0 + (w1 - w0) * tb, wm = Math.max(wa, wb) + soft;
      const [bx0, by0, bx1, by1] = this.grow(
        Math.min(ax, bx) - wm,
        Math.min(ay, by) - wm,
        Math.max(ax, bx) + wm,
        Math.max(ay, by) + wm,
      );
      const ex = bx - ax, ey = by - ay, l2 = ex * ex + ey * ey || 1;
      for (let y = by0; y < by1; y++) {
        for (let x = bx0; x < bx1; x++) {
          const px = x + 0.5 - ax, py = y + 0.5 - ay;
          let t = (px * ex + py * ey) / l2;
          t = t < 0 ? 0 : t > 1 ? 1 : t;
          const d = Math.hypot(px - t * ex, py - t * ey);
          let a = (wa + (wb - wa) * t - d) / soft + 0.5;
          if (a <= 0) continue;
          if (a > 1) a = 1;
          const i = y * this.w + x;
          if (a > this.cov[i]) this.cov[i] = a;
        }
      }
    }
  }

  /** Multiply the current coverage by a clip mask (1 = keep), e.g. keep iris inside the eye. */
  clipTo(keep: Uint8Array | Float32Array): void {
    for (let y = this.y0; y < this.y1; y++) {
      for (let x = this.x0; x < this.x1; x++) {
        const i = y * this.w + x;
        this.cov[i] *= keep[i];
      }
    }
  }

  /** Keep coverage only where the part map currently holds one of `parts`. */
  clipToParts(parts: readonly number[]): void {
    const ok = new Uint8Array(256);
    for (const p of parts) ok[p] = 1;
    for (let y = this.y0; y < this.y1; y++) {
      for (let x = this.x0; x < this.x1; x++) {
        const i = y * this.w + x;
        if (!ok[this.part[i]]) this.cov[i] = 0;
      }
    }
  }

  /**
   * Blend `color` with opacity coverage·alpha, modulated by `tex` (colour × (1 + amp·tex))
   * and claim `part` where coverage·alpha > 0.5 (part < 0: leave the part map alone).
   * Clears the coverage buffer.
   */
  paint(color: RGB, part: number, alpha = 1, tex?: Float32Array, amp = 0): void {
    const [r, g, b] = color;
    for (let y = this.y0; y < this.y1; y++) {
      for (let x = this.x0; x < this.x1; x++) {
        const i = y * this.w + x;
        const a = this.cov[i] * alpha;
        if (a <= 0) continue;
        this.cov[i] = 0;
        const m = tex ? 1 + amp * tex[i] : 1;
        const o = i * 3;
        this.rgb[o] += (r * m - this.rgb[o]) * a;
        this.rgb[o + 1] += (g * m - this.rgb[o + 1]) * a;
        this.rgb[o + 2] += (b * m - this.rgb[o + 2]) * a;
        if (part >= 0 && a > 0.5) this.part[i] = part;
      }
    }
    this.resetBox();
  }

  /** Multiply brightness by (1 + amount·cov) (negative = shadow) without touching parts. */
  shade(amount: number): void {
    for (let y = this.y0; y < this.y1; y++) {
      for (let x = this.x0; x < this.x1; x++) {
        const i = y * this.w + x;
        const a = this.cov[i];
        if (a <= 0) continue;
        this.cov[i] = 0;
        const m = 1 + amount * a, o = i * 3;
        this.rgb[o] *= m;
        this.rgb[o + 1] *= m;
        this.rgb[o + 2] *= m;
      }
    }
    this.resetBox();
  }

  /** Drop pending coverage without painting. */
  clearCov(): void {
    for (let y = this.y0; y < this.y1; y++) this.cov.fill(0, y * this.w + this.x0, y * this.w + this.x1);
    this.resetBox();
  }

  /** Convert to 8-bit RGB. */
  toBytes(): Uint8Array {
    const out = new Uint8Array(this.rgb.length);
    for (let i = 0; i < out.length; i++) {
      const v = this.rgb[i] * 255 + 0.5;
      out[i] = v <= 0 ? 0 : v >= 255 ? 255 : v;
    }
    return out;
  }
}

/** Smooth value noise in [-1, 1] with feature size `cell` pixels (bilinear on a random grid). */
export function valueNoise(w: number, h: number, cell: number, rng: Rng): Float32Array {
  const gw = Math.ceil(w / cell) + 2, gh = Math.ceil(h / cell) + 2;
  const g = new Float32Array(gw * gh);
  for (let i = 0; i < g.length; i++) g[i] = rng.next() * 2 - 1;
  const out = new Float32Array(w * h);
  const fx = new Int32Array(w), tx = new Float32Array(w);
  for (let x = 0; x < w; x++) {
    const u = x / cell;
    fx[x] = Math.floor(u);
    const t = u - fx[x];
    tx[x] = t * t * (3 - 2 * t);
  }
  for (let y = 0; y < h; y++) {
    const v = y / cell, gy = Math.floor(v);
    let ty = v - gy;
    ty = ty * ty * (3 - 2 * ty);
    const r0 = gy * gw, r1 = r0 + gw, o = y * w;
    for (let x = 0; x < w; x++) {
      const gx = fx[x], t = tx[x];
      const a = g[r0 + gx] + (g[r0 + gx + 1] - g[r0 + gx]) * t;
      const b = g[r1 + gx] + (g[r1 + gx + 1] - g[r1 + gx]) * t;
      out[o + x] = a + (b - a) * ty;
    }
  }
  return out;
}

/** Fine grain: white noise in [-1, 1] (skin pores, sensor noise). */
export function whiteNoise(n: number, rng: Rng): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = rng.next() * 2 - 1;
  return out;
}

/** Hair-strand texture: per-column noise stretched along y, plus a slow variation. */
export function strandNoise(w: number, h: number, scale: number, rng: Rng): Float32Array {
  const cols = new Float32Array(w);
  for (let x = 0; x < w; x++) cols[x] = rng.next() * 2 - 1;
  // smooth columns a little so strands are ~2 px wide at 512
  const sm = new Float32Array(w);
  for (let x = 0; x < w; x++) {
    sm[x] = (cols[Math.max(0, x - 1)] + 2 * cols[x] + cols[Math.min(w - 1, x + 1)]) / 4;
  }
  const slow = valueNoise(w, h, 40 * scale, rng);
  const out = new Float32Array(w * h);
  for (let y = 0; y < h; y++) {
    const o = y * w;
    for (let x = 0; x < w; x++) out[o + x] = 0.7 * sm[x] + 0.5 * slow[o + x];
  }
  return out;
}
