/**
 * Raster primitives for the procedural face renderer. Shapes first write soft coverage
 * (0..1, max-combined) into a scratch buffer; `paint` then blends a colour (optionally
 * modulated by a texture) into the float RGB image and claims the part map where
 * coverage > 0.5. Everything is typed-array loops, no per-pixel closures or allocations.
 *
 * Speed: pending coverage is tracked per row as a span [sx0[y], sx1[y]) that holds every
 * non-zero coverage value of that row, inside the dirty box rows [y0, y1). Shapes only visit
 * the pixels of each row that can be covered (an analytic, conservative interval per row), and
 * paint/shade/clip only visit the spans. The per-pixel arithmetic is unchanged, so the pixels
 * are bit-identical to a plain bounding-box scan.
 */
import type { Rng } from "../rng.ts";
import type { Box } from "./masks.ts";

/** RGB colour, 0..1 per channel. */
export type RGB = [number, number, number];

/** Math.hypot(x, y), bit for bit as V8 computes it (max-scaled), without the builtin call. */
export function hypot2(x: number, y: number): number {
  const a = x < 0 ? -x : x, b = y < 0 ? -y : y;
  const m = a > b ? a : b;
  if (m === 0) return 0;
  const p = a / m, q = b / m;
  return Math.sqrt(p * p + q * q) * m;
}

/** Float image + part map + scratch coverage. */
export class Canvas {
  readonly rgb: Float32Array;
  readonly part: Uint8Array;
  readonly cov: Float32Array;
  /** Per-row span of pending coverage: [sx0[y], sx1[y]), empty when sx0 ≥ sx1. */
  readonly sx0: Int32Array;
  readonly sx1: Int32Array;
  /**
   * Only pixels inside this box are rendered (a windowed render of content that is read only
   * there, e.g. a face-swap donor). The pixels inside are exactly those of a full render.
   */
  clip: Box;
  // dirty box of `cov` (rows y0..y1 may hold spans)
  x0 = 0;
  y0 = 0;
  x1 = 0;
  y1 = 0;

  /**
   * Dry run: shapes only record their bounding boxes, and `paint`/claims record, per part id,
   * a box that holds every pixel a real render could give that part (`partBoxes`). No pixels.
   */
  readonly dry: boolean;
  readonly partBoxes: (Box | null)[] = [];
  private dryBox: Box | null = null;

  /** A w×h canvas, black, part 0 everywhere (`dry`: no buffers, see `dry`). */
  constructor(readonly w: number, readonly h: number, dry = false) {
    this.dry = dry;
    const n = dry ? 0 : w * h;
    this.rgb = new Float32Array(n * 3);
    this.part = new Uint8Array(n);
    this.cov = new Float32Array(n);
    this.sx0 = new Int32Array(dry ? 0 : h).fill(w);
    this.sx1 = new Int32Array(dry ? 0 : h);
    this.x0 = w;
    this.y0 = h;
    this.clip = { x0: 0, y0: 0, x1: w, y1: h };
  }

  /** Dry run: a shape may cover pixels in [x0, x1) × [y0, y1). */
  dryGrow(x0: number, y0: number, x1: number, y1: number): void {
    if (x0 >= x1 || y0 >= y1) return;
    const b = this.dryBox;
    this.dryBox = b
      ? { x0: Math.min(b.x0, x0), y0: Math.min(b.y0, y0), x1: Math.max(b.x1, x1), y1: Math.max(b.y1, y1) }
      : { x0, y0, x1, y1 };
  }

  /** Dry run: the pending shapes may give their pixels to `part` (then drop them). */
  dryClaim(part: number): void {
    const d = this.dryBox, b = this.partBoxes[part];
    if (part >= 0 && d) {
      this.partBoxes[part] = b
        ? {
          x0: Math.min(b.x0, d.x0),
          y0: Math.min(b.y0, d.y0),
          x1: Math.max(b.x1, d.x1),
          y1: Math.max(b.y1, d.y1),
        }
        : { ...d };
    }
    this.dryBox = null;
  }

  private resetBox(): void {
    const { sx0, sx1, w } = this;
    for (let y = this.y0; y < this.y1; y++) {
      sx0[y] = w;
      sx1[y] = 0;
    }
    this.x0 = this.w;
    this.y0 = this.h;
    this.x1 = 0;
    this.y1 = 0;
  }

  /** Record that row y has coverage in [xa, xb) (xa < xb). */
  mark(y: number, xa: number, xb: number): void {
    if (xa < this.sx0[y]) this.sx0[y] = xa;
    if (xb > this.sx1[y]) this.sx1[y] = xb;
    if (xa < this.x0) this.x0 = xa;
    if (xb > this.x1) this.x1 = xb;
    if (y < this.y0) this.y0 = y;
    if (y + 1 > this.y1) this.y1 = y + 1;
  }

  // Integer box of a float box (same rule as the original bounding-box scan), clipped.
  private box(x0: number, y0: number, x1: number, y1: number): [number, number, number, number] {
    const c = this.clip;
    return [
      Math.max(c.x0, Math.floor(x0)),
      Math.max(c.y0, Math.floor(y0)),
      Math.min(c.x1, Math.ceil(x1) + 1),
      Math.min(c.y1, Math.ceil(y1) + 1),
    ];
  }

  /** Coverage of a rotated ellipse with a `soft`-pixel antialiased edge. */
  ellipse(cx: number, cy: number, rx: number, ry: number, rot = 0, soft = 1): void {
    const r = Math.max(rx, ry) + soft;
    const [bx0, by0, bx1, by1] = this.box(cx - r, cy - r, cx + r, cy + r);
    if (this.dry) return this.dryGrow(bx0, by0, bx1, by1);
    const c = Math.cos(rot), s = Math.sin(rot), m = Math.min(rx, ry);
    const { cov, w } = this;
    // Row interval: coverage > 0 needs u² + v² < D², a quadratic in dx (padded for safety).
    const D = 1 + (0.5 * soft) / m + 0.01;
    const irx2 = 1 / (rx * rx), iry2 = 1 / (ry * ry);
    const A = c * c * irx2 + s * s * iry2, B1 = 2 * c * s * (irx2 - iry2), C1 = s * s * irx2 + c * c * iry2;
    const analytic = Number.isFinite(A) && Number.isFinite(B1) && Number.isFinite(C1) && Number.isFinite(D) &&
      A > 0;
    for (let y = by0; y < by1; y++) {
      const dy = y + 0.5 - cy;
      let xa = bx0, xb = bx1;
      if (analytic) {
        const B = B1 * dy, C = C1 * dy * dy - D * D, disc = B * B - 4 * A * C;
        if (disc < 0) continue;
        const sq = Math.sqrt(disc);
        const lo = Math.floor(cx + (-B - sq) / (2 * A) - 0.5) - 1,
          hi = Math.ceil(cx + (-B + sq) / (2 * A) - 0.5) + 2;
        if (lo > xa) xa = lo;
        if (hi < xb) xb = hi;
      }
      const dys = dy * s, dyc = dy * c, row = y * w;
      let wa = w, wb = 0;
      for (let x = xa; x < xb; x++) {
        const dx = x + 0.5 - cx;
        const u = (dx * c + dys) / rx, v = (-dx * s + dyc) / ry;
        const d = Math.sqrt(u * u + v * v);
        let a = ((1 - d) * m) / soft + 0.5;
        if (a <= 0) continue;
        if (a > 1) a = 1;
        const i = row + x;
        if (a > cov[i]) cov[i] = a;
        if (x < wa) wa = x;
        wb = x + 1;
      }
      if (wa < wb) this.mark(y, wa, wb);
    }
  }

  /** Almond (lens) shape: |v| ≤ h·(1 − u²) in a frame rotated by `rot`; used for eyes/lips. */
  lens(cx: number, cy: number, hw: number, hTop: number, hBot: number, rot = 0, soft = 1): void {
    const r = Math.max(hw, hTop, hBot) + soft;
    const [bx0, by0, bx1, by1] = this.box(cx - r, cy - r, cx + r, cy + r);
    if (this.dry) return this.dryGrow(bx0, by0, bx1, by1);
    const c = Math.cos(rot), s = Math.sin(rot);
    const { cov, w } = this;
    // Coverage > 0 needs |u| < 1 and |v| < max(hTop, hBot) + soft/2: a rotated rectangle.
    const H = Math.max(hTop, hBot) + 0.5 * soft + 1, HW = hw + 1;
    const ac = Math.abs(c), as = Math.abs(s);
    for (let y = by0; y < by1; y++) {
      const dy = y + 0.5 - cy;
      let lo = -Infinity, hi = Infinity;
      if (ac > 1e-6) {
        const p = (-HW - dy * s) / c, q = (HW - dy * s) / c;
        lo = Math.max(lo, Math.min(p, q));
        hi = Math.min(hi, Math.max(p, q));
      } else if (Math.abs(dy * s) >= HW) continue;
      if (as > 1e-6) {
        const p = (dy * c - H) / s, q = (dy * c + H) / s;
        lo = Math.max(lo, Math.min(p, q));
        hi = Math.min(hi, Math.max(p, q));
      } else if (Math.abs(dy * c) >= H) continue;
      if (!(lo <= hi)) continue;
      const xa = Math.max(bx0, Math.floor(cx + lo - 0.5) - 1),
        xb = Math.min(bx1, Math.ceil(cx + hi - 0.5) + 2);
      const dys = dy * s, dyc = dy * c, row = y * w;
      let wa = w, wb = 0;
      for (let x = xa; x < xb; x++) {
        const dx = x + 0.5 - cx;
        const u = (dx * c + dys) / hw, v = -dx * s + dyc;
        if (u <= -1 || u >= 1) continue;
        const lim = (v < 0 ? hTop : hBot) * (1 - u * u);
        let a = (lim - Math.abs(v)) / soft + 0.5;
        const ae = ((1 - Math.abs(u)) * hw) / soft + 0.5;
        if (ae < a) a = ae;
        if (a <= 0) continue;
        if (a > 1) a = 1;
        const i = row + x;
        if (a > cov[i]) cov[i] = a;
        if (x < wa) wa = x;
        wb = x + 1;
      }
      if (wa < wb) this.mark(y, wa, wb);
    }
  }

  /** Coverage of a polyline whose half-width goes linearly from w0 (start) to w1 (end). */
  stroke(pts: number[], w0: number, w1 = w0, soft = 1): void {
    const n = pts.length / 2;
    const { cov, w } = this;
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
      const [bx0, by0, bx1, by1] = this.box(
        Math.min(ax, bx) - wm,
        Math.min(ay, by) - wm,
        Math.max(ax, bx) + wm,
        Math.max(ay, by) + wm,
      );
      if (this.dry) {
        this.dryGrow(bx0, by0, bx1, by1);
        continue;
      }
      const ex = bx - ax, ey = by - ay, l2 = ex * ex + ey * ey || 1;
      const R = wm + 1;
      for (let y = by0; y < by1; y++) {
        // x range of the capsule on this row: segment points within R rows, widened by R
        const py = y + 0.5;
        let t0 = 0, t1 = 1;
        if (Math.abs(ey) < 1e-9) {
          if (Math.abs(ay - py) > R) continue;
        } else {
          const p = (py - R - ay) / ey, q = (py + R - ay) / ey;
          t0 = Math.max(0, Math.min(p, q));
          t1 = Math.min(1, Math.max(p, q));
          if (t0 > t1) continue;
        }
        const xp = ax + t0 * ex, xq = ax + t1 * ex;
        const xa = Math.max(bx0, Math.floor(Math.min(xp, xq) - R - 0.5) - 1);
        const xb = Math.min(bx1, Math.ceil(Math.max(xp, xq) + R - 0.5) + 2);
        const row = y * w, pyl = y + 0.5 - ay;
        let ma = w, mb = 0;
        for (let x = xa; x < xb; x++) {
          const px = x + 0.5 - ax;
          let t = (px * ex + pyl * ey) / l2;
          t = t < 0 ? 0 : t > 1 ? 1 : t;
          const d = hypot2(px - t * ex, pyl - t * ey);
          let a = (wa + (wb - wa) * t - d) / soft + 0.5;
          if (a <= 0) continue;
          if (a > 1) a = 1;
          const i = row + x;
          if (a > cov[i]) cov[i] = a;
          if (x < ma) ma = x;
          mb = x + 1;
        }
        if (ma < mb) this.mark(y, ma, mb);
      }
    }
  }

  /** Multiply the current coverage by a clip mask (1 = keep), e.g. keep iris inside the eye. */
  clipTo(keep: Uint8Array | Float32Array): void {
    if (this.dry) return; // clipping only removes coverage
    const { cov, sx0, sx1, w } = this;
    for (let y = this.y0; y < this.y1; y++) {
      for (let i = y * w + sx0[y], e = y * w + sx1[y]; i < e; i++) cov[i] *= keep[i];
    }
  }

  /** Keep coverage only where the part map currently holds one of `parts`. */
  clipToParts(parts: readonly number[]): void {
    if (this.dry) return;
    const ok = new Uint8Array(256);
    for (const p of parts) ok[p] = 1;
    const { cov, part, sx0, sx1, w } = this;
    for (let y = this.y0; y < this.y1; y++) {
      for (let i = y * w + sx0[y], e = y * w + sx1[y]; i < e; i++) if (!ok[part[i]]) cov[i] = 0;
    }
  }

  /**
   * Blend `color` with opacity coverage·alpha, modulated by `tex` (colour × (1 + amp·tex))
   * and claim `part` where coverage·alpha > 0.5 (part < 0: leave the part map alone).
   * Clears the coverage buffer.
   */
  paint(color: RGB, part: number, alpha = 1, tex?: Float32Array, amp = 0): void {
    if (this.dry) return this.dryClaim(alpha > 0.5 ? part : -1); // a > 0.5 needs alpha > 0.5
    if (!(alpha > 0)) {
      this.clearCov();
      return;
    }
    const [r, g, b] = color;
    const { cov, rgb, sx0, sx1, w } = this;
    const pm = this.part;
    for (let y = this.y0; y < this.y1; y++) {
      const e = y * w + sx1[y];
      if (tex) {
        for (let i = y * w + sx0[y]; i < e; i++) {
          const a = cov[i] * alpha;
          if (a <= 0) continue;
          cov[i] = 0;
          const m = 1 + amp * tex[i];
          const o = i * 3;
          rgb[o] += (r * m - rgb[o]) * a;
          rgb[o + 1] += (g * m - rgb[o + 1]) * a;
          rgb[o + 2] += (b * m - rgb[o + 2]) * a;
          if (part >= 0 && a > 0.5) pm[i] = part;
        }
      } else {
        for (let i = y * w + sx0[y]; i < e; i++) {
          const a = cov[i] * alpha;
          if (a <= 0) continue;
          cov[i] = 0;
          const o = i * 3;
          rgb[o] += (r - rgb[o]) * a;
          rgb[o + 1] += (g - rgb[o + 1]) * a;
          rgb[o + 2] += (b - rgb[o + 2]) * a;
          if (part >= 0 && a > 0.5) pm[i] = part;
        }
      }
    }
    this.resetBox();
  }

  /** Multiply brightness by (1 + amount·cov) (negative = shadow) without touching parts. */
  shade(amount: number): void {
    if (this.dry) return this.dryClaim(-1);
    const { cov, rgb, sx0, sx1, w } = this;
    for (let y = this.y0; y < this.y1; y++) {
      for (let i = y * w + sx0[y], e = y * w + sx1[y]; i < e; i++) {
        const a = cov[i];
        if (a <= 0) continue;
        cov[i] = 0;
        const m = 1 + amount * a, o = i * 3;
        rgb[o] *= m;
        rgb[o + 1] *= m;
        rgb[o + 2] *= m;
      }
    }
    this.resetBox();
  }

  /** Drop pending coverage without painting. */
  clearCov(): void {
    if (this.dry) return this.dryClaim(-1);
    for (let y = this.y0; y < this.y1; y++) {
      if (this.sx0[y] < this.sx1[y]) this.cov.fill(0, y * this.w + this.sx0[y], y * this.w + this.sx1[y]);
    }
    this.resetBox();
  }

  /** Convert to 8-bit RGB. */
  toBytes(): Uint8Array {
    return toBytes(this.rgb);
  }
}

/** Float RGB (0..1) to bytes, rounding half up and clamping. */
export function toBytes(rgb: Float32Array, out = new Uint8Array(rgb.length)): Uint8Array {
  for (let i = 0; i < rgb.length; i++) {
    const v = rgb[i] * 255 + 0.5;
    out[i] = v <= 0 ? 0 : v >= 255 ? 255 : v;
  }
  return out;
}

/**
 * Smooth value noise in [-1, 1] with feature size `cell` pixels (bilinear on a random grid).
 * With `win`, only that box of the output is computed (the same values as a full call).
 */
export function valueNoise(
  w: number,
  h: number,
  cell: number,
  rng: Rng,
  win?: Box,
  out: Float32Array = new Float32Array(w * h),
): Float32Array {
  const wx0 = win ? win.x0 : 0, wx1 = win ? win.x1 : w, wy0 = win ? win.y0 : 0, wy1 = win ? win.y1 : h;
  const gw = Math.ceil(w / cell) + 2, gh = Math.ceil(h / cell) + 2;
  const g = new Float32Array(gw * gh);
  for (let i = 0; i < g.length; i++) g[i] = rng.next() * 2 - 1;
  const fx = new Int32Array(w), tx = new Float32Array(w);
  for (let x = 0; x < w; x++) {
    const u = x / cell;
    fx[x] = Math.floor(u);
    const t = u - fx[x];
    tx[x] = t * t * (3 - 2 * t);
  }
  // Rows of the grid interpolated along x (float64, exactly the per-pixel values), two at a time.
  let la = new Float64Array(w), lb = new Float64Array(w), ga = -1;
  const line = (gy: number, dst: Float64Array) => {
    const r = gy * gw;
    for (let x = wx0; x < wx1; x++) {
      const gx = fx[x];
      dst[x] = g[r + gx] + (g[r + gx + 1] - g[r + gx]) * tx[x];
    }
  };
  for (let y = wy0; y < wy1; y++) {
    const v = y / cell, gy = Math.floor(v);
    let ty = v - gy;
    ty = ty * ty * (3 - 2 * ty);
    if (gy !== ga) {
      if (ga >= 0 && gy === ga + 1) {
        const t = la;
        la = lb;
        lb = t;
      } else line(gy, la);
      line(gy + 1, lb);
      ga = gy;
    }
    const o = y * w;
    for (let x = wx0; x < wx1; x++) {
      const a = la[x];
      out[o + x] = a + (lb[x] - a) * ty;
    }
  }
  return out;
}

/**
 * `n` random bytes, four per 32-bit draw (uniform noise needs no more than 8 bits: it is added
 * at amplitudes ≤ 0.1 and then quantised to 1/255). A quarter of the generator calls.
 */
export function randomBytes(rng: Rng, n: number, out = new Uint8Array(n)): Uint8Array {
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const u = rng.u32();
    out[i] = u & 255;
    out[i + 1] = (u >>> 8) & 255;
    out[i + 2] = (u >>> 16) & 255;
    out[i + 3] = u >>> 24;
  }
  if (i < n) {
    const u = rng.u32();
    for (let k = 0; i < n; i++, k += 8) out[i] = (u >>> k) & 255;
  }
  return out;
}

/** Byte b → the centre of its 1/256 bin in [-1, 1): uniform, mean 0, std ≈ 1/√3. */
export const SYM_UNIFORM: Float64Array = Float64Array.from({ length: 256 }, (_, b) => (b + 0.5) / 128 - 1);

/** Fine grain: white noise in [-1, 1] (skin pores), 256 levels. */
export function whiteNoise(n: number, rng: Rng, out: Float32Array = new Float32Array(n)): Float32Array {
  const bytes = randomBytes(rng, n);
  for (let i = 0; i < n; i++) out[i] = SYM_UNIFORM[bytes[i]];
  return out;
}

/** Hair-strand texture: per-column noise stretched along y, plus a slow variation. */
export function strandNoise(
  w: number,
  h: number,
  scale: number,
  rng: Rng,
  win?: Box,
  out: Float32Array = new Float32Array(w * h),
): Float32Array {
  const wx0 = win ? win.x0 : 0, wx1 = win ? win.x1 : w, wy0 = win ? win.y0 : 0, wy1 = win ? win.y1 : h;
  const cols = new Float32Array(w);
  for (let x = 0; x < w; x++) cols[x] = rng.next() * 2 - 1;
  // smooth columns a little so strands are ~2 px wide at 512
  const sm = new Float32Array(w);
  for (let x = 0; x < w; x++) {
    sm[x] = (cols[Math.max(0, x - 1)] + 2 * cols[x] + cols[Math.min(w - 1, x + 1)]) / 4;
  }
  valueNoise(w, h, 40 * scale, rng, win, out);
  // plus per-pixel grain from a position hash (the same in windowed and full renders)
  const salt = rng.u32();
  for (let y = wy0; y < wy1; y++) {
    const o = y * w;
    for (let x = wx0; x < wx1; x++) {
      let q = Math.imul(x, 0x9e3779b1) ^ Math.imul(y, 0x85ebca77) ^ salt;
      q = Math.imul(q ^ (q >>> 15), 0x2c1b3c6d);
      q ^= q >>> 12;
      out[o + x] = 0.7 * sm[x] + 0.5 * out[o + x] + 0.5 * (((q >>> 0) & 1023) / 512 - 1);
    }
  }
  return out;
}
