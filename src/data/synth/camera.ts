/**
 * Camera model, applied AFTER compositing to the whole image, so forged and untouched pixels
 * go through the same pipeline and no residual statistic tells them apart: exposure/white
 * balance/vignetting, an in-plane similarity warp (pose roll, scale, crop offset; bilinear
 * resampling), an optional defocus, sensor noise (read + shot), 8-bit quantisation and, in
 * 30 % of images, a JPEG round trip at a random quality 60–95. Masks and part maps follow the same warp (nearest).
 * Deterministic in the parameters (the noise has its own seed).
 */
import { decodeJpeg, encodeJpeg } from "../image_io.ts";
import { Rng } from "../rng.ts";
import { randomBytes, SYM_UNIFORM } from "./canvas.ts";
import { blurRgb } from "./masks.ts";

/** Everything the camera does to one image. */
export interface CameraParams {
  /** Roll (radians), scale (>1 zooms in) and offset (fraction of the size) of the warp. */
  angle: number;
  scale: number;
  tx: number;
  ty: number;
  /** Per-channel gain (white balance × exposure), gamma, vignetting strength. */
  gain: [number, number, number];
  gamma: number;
  vignette: number;
  /** Defocus blur radius in pixels at 512 (0: none). */
  defocus: number;
  /** Read-noise std and shot-noise factor (units of full scale). */
  readSigma: number;
  shot: number;
  noiseSeed: number;
  /** JPEG quality, or 0 for no JPEG. */
  jpeg: number;
}

/** Draw camera parameters. */
export function sampleCamera(rng: Rng): CameraParams {
  const wb = rng.range(-0.06, 0.06), ev = rng.range(0.85, 1.12);
  return {
    angle: rng.normal() * 0.07,
    scale: rng.range(0.82, 1.18),
    tx: rng.normal() * 0.04,
    ty: rng.normal() * 0.04,
    gain: [ev * (1 + wb), ev, ev * (1 - wb)],
    gamma: rng.range(0.85, 1.15),
    vignette: rng.chance(0.5) ? rng.range(0, 0.25) : 0,
    defocus: rng.chance(0.25) ? 1 : 0,
    readSigma: rng.range(0.008, 0.022),
    shot: rng.range(0, 0.02),
    noiseSeed: rng.u32(),
    jpeg: rng.chance(0.3) ? Math.round(rng.range(60, 95)) : 0,
  };
}

// Reflect an index into [0, n).
function refl(i: number, n: number): number {
  if (i < 0) i = -i - 1;
  if (i >= n) i = 2 * n - 1 - i;
  return i < 0 ? 0 : i >= n ? n - 1 : i;
}

// Affine coefficients of the inverse warp: source = (ax·x + bx·y + cx0, ay·x + by·y + cy0)
// for the output pixel (x, y) (pixel centres, in pixel units).
function inverse(p: CameraParams, w: number, h: number): [number, number, number, number, number, number] {
  const c = Math.cos(p.angle) / p.scale, s = Math.sin(p.angle) / p.scale;
  const ox = w / 2 + p.tx * w - 0.5, oy = h / 2 + p.ty * h - 0.5;
  // dx = x − ox, dy = y − oy; sx = w/2 − 0.5 + c·dx + s·dy; sy = h/2 − 0.5 − s·dx + c·dy
  return [c, s, w / 2 - 0.5 - c * ox - s * oy, -s, c, h / 2 - 0.5 + s * ox - c * oy];
}

/** Warp a label plane (mask or part map) like the image, nearest neighbour. */
export function warpLabels(m: Uint8Array, w: number, h: number, p: CameraParams): Uint8Array {
  const [ax, bx, cx0, ay, by, cy0] = inverse(p, w, h), out = new Uint8Array(w * h);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const sx = ax * x + bx * y + cx0, sy = ay * x + by * y + cy0;
      out[y * w + x] = m[refl(Math.round(sy), h) * w + refl(Math.round(sx), w)];
    }
  }
  return out;
}

// Gamma as a table over [0, 2) (4096 steps, linear interpolation): no Math.pow per value.
const GAMMA_N = 4096;
function gammaTable(g: number): Float32Array {
  const t = new Float32Array(GAMMA_N + 2);
  for (let i = 0; i < t.length; i++) t[i] = Math.pow((2 * i) / GAMMA_N, g);
  return t;
}

/**
 * Run the camera on the float RGB image `rgb` (w×h×3, 0..1; not modified) and return the
 * 8-bit result. One pass does the warp (bilinear, reflecting borders), exposure, white
 * balance, gamma, vignetting, noise and quantisation; defocus and JPEG are optional extras.
 */
export function applyCamera(rgb: Float32Array, w: number, h: number, p: CameraParams): Uint8Array {
  const n = w * h;
  let img = rgb;
  const r = Math.round(p.defocus * w / 512);
  if (r > 0) {
    img = new Float32Array(n * 3);
    blurRgb(rgb, w, h, r, { x0: 0, y0: 0, x1: w, y1: h }, img);
  }
  const [ax, bx, cx0, ay, by, cy0] = inverse(p, w, h);
  // tone curve (gamma) and noise std per level, as tables over [0, 2)
  const gt = gammaTable(p.gamma), gs = GAMMA_N / 2;
  const sdt = new Float32Array(GAMMA_N + 2);
  for (let i = 0; i < sdt.length; i++) sdt[i] = (p.readSigma + p.shot * Math.sqrt(gt[i])) * Math.sqrt(3);
  const hx = w / 2, hy = h / 2, r2 = 1 / (hx * hx + hy * hy), vg = p.vignette;
  const g0 = p.gain[0] * gs, g1 = p.gain[1] * gs, g2 = p.gain[2] * gs;
  const bytes = randomBytes(Rng.derive(p.noiseSeed, 0xca3e), n * 3);
  const out = new Uint8Array(n * 3);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const sx = ax * x + bx * y + cx0, sy = ay * x + by * y + cy0;
      const fx = Math.floor(sx), fy = Math.floor(sy), u = sx - fx, v = sy - fy;
      let a: number, b: number, c: number, d: number;
      if (fx >= 0 && fy >= 0 && fx < w - 1 && fy < h - 1) {
        a = (fy * w + fx) * 3;
        b = a + 3;
        c = a + w * 3;
        d = c + 3;
      } else {
        const x0 = refl(fx, w), x1 = refl(fx + 1, w), y0 = refl(fy, h), y1 = refl(fy + 1, h);
        a = (y0 * w + x0) * 3;
        b = (y0 * w + x1) * 3;
        c = (y1 * w + x0) * 3;
        d = (y1 * w + x1) * 3;
      }
      const wa = (1 - u) * (1 - v), wb = u * (1 - v), wc = (1 - u) * v, wd = u * v;
      const vig = 1 - vg * ((x - hx) * (x - hx) + (y - hy) * (y - hy)) * r2;
      const o = (y * w + x) * 3;
      for (let ch = 0; ch < 3; ch++) {
        let t = (img[a + ch] * wa + img[b + ch] * wb + img[c + ch] * wc + img[d + ch] * wd) *
          (ch === 0 ? g0 : ch === 1 ? g1 : g2);
        t = t < 0 ? 0 : t > GAMMA_N ? GAMMA_N : t;
        const ti = t | 0;
        const val = (gt[ti] + (gt[ti + 1] - gt[ti]) * (t - ti)) * vig;
        const q = (val + SYM_UNIFORM[bytes[o + ch]] * sdt[ti]) * 255 + 0.5;
        out[o + ch] = q <= 0 ? 0 : q >= 255 ? 255 : q;
      }
    }
  }
  if (p.jpeg > 0) {
    return decodeJpeg(encodeJpeg({ width: w, height: h, channels: 3, data: out }, p.jpeg)).data;
  }
  return out;
}
