/**
 * From a photo and its 68 landmarks to what the manipulations need: an aligned square face
 * crop (eyes level, FFHQ-like framing) and a parsing-like part map in the synthetic renderer's
 * part ids (parts.ts), so the generator's Editor, measurements and captions work unchanged.
 *
 * Parts are smooth shapes, never rectangles: closed Catmull-Rom splines through the landmarks
 * (face outline with a forehead arc, brows, eyes, nose, outer and inner lip lines), tilted
 * ellipses (cheeks, chin, irises) and a band along the jaw line, rasterised with analytic
 * anti-aliased coverage (4 sub-rows per pixel, exact horizontal coverage) and claimed where
 * coverage > 0.5. Teeth are the bright, unsaturated pixels of the open mouth. Hair, ears,
 * beard, wrinkles and other marks are not located (landmarks do not reach them).
 * Test: tests/data/photos_test.ts.
 */
import type { Image } from "../image_io.ts";
import { toRgb } from "../image_io.ts";
import { P } from "../synth/parts.ts";

/** An aligned face crop: float RGB (0..1), landmarks in crop pixels, and its part map. */
export interface PhotoFace {
  size: number;
  /** [size·size·3] RGB, 0..1. */
  rgb: Float32Array;
  /** [size·size] part ids (parts.ts). */
  part: Uint8Array;
  /** [68 × 2] landmarks in crop pixels. */
  points: Float64Array;
  /** A name for messages (the file name). */
  name: string;
}

type Pt = [number, number];

function pt(l: Float64Array, i: number): Pt {
  return [l[2 * i], l[2 * i + 1]];
}
function mean(l: Float64Array, ids: number[]): Pt {
  let x = 0, y = 0;
  for (const i of ids) (x += l[2 * i]), (y += l[2 * i + 1]);
  return [x / ids.length, y / ids.length];
}
const range = (a: number, b: number) => Array.from({ length: b - a + 1 }, (_, i) => a + i);

/** The similarity that maps crop pixel (u, v) to image point c + side·R·((u+.5)/S − .5, …). */
export interface CropTransform {
  cx: number;
  cy: number;
  side: number;
  angle: number;
  size: number;
}

/**
 * FFHQ-like framing from the landmarks: the crop is centred a little below the eyes, rotated so
 * the eyes are level, and its side is about 4× the eye distance (or 3.6× eye-to-mouth).
 */
export function cropTransform(points: Float64Array, size: number): CropTransform {
  const eL = mean(points, range(36, 41)), eR = mean(points, range(42, 47));
  const m = mean(points, [48, 54]);
  const em: Pt = [(eL[0] + eR[0]) / 2, (eL[1] + eR[1]) / 2];
  const x: Pt = [eR[0] - eL[0], eR[1] - eL[1]], y: Pt = [m[0] - em[0], m[1] - em[1]];
  // x − rot90(y): an in-plane direction that uses both the eye line and the eye-mouth axis
  const d: Pt = [x[0] + y[1], x[1] - y[0]];
  const half = Math.max(Math.hypot(x[0], x[1]) * 2.0, Math.hypot(y[0], y[1]) * 1.8);
  return {
    cx: em[0] + 0.1 * y[0],
    cy: em[1] + 0.1 * y[1],
    side: 2 * half,
    angle: Math.atan2(d[1], d[0]),
    size,
  };
}

/** Image point of crop pixel centre (u, v). */
export function cropToImage(t: CropTransform, u: number, v: number): Pt {
  const a = ((u + 0.5) / t.size - 0.5) * t.side, b = ((v + 0.5) / t.size - 0.5) * t.side;
  const c = Math.cos(t.angle), s = Math.sin(t.angle);
  return [t.cx + c * a - s * b - 0.5, t.cy + s * a + c * b - 0.5];
}

/** Crop pixel coordinates of image point (x, y) (inverse of `cropToImage`). */
export function imageToCrop(t: CropTransform, x: number, y: number): Pt {
  const dx = x + 0.5 - t.cx, dy = y + 0.5 - t.cy;
  const c = Math.cos(t.angle), s = Math.sin(t.angle);
  const a = c * dx + s * dy, b = -s * dx + c * dy;
  return [(a / t.side + 0.5) * t.size - 0.5, (b / t.side + 0.5) * t.size - 0.5];
}

function refl(i: number, n: number): number {
  if (i < 0) i = -i - 1;
  if (i >= n) i = 2 * n - 1 - i;
  return i < 0 ? 0 : i >= n ? n - 1 : i;
}

/**
 * Resample the crop (bilinear, k×k sub-samples per pixel when shrinking so nothing aliases;
 * reflecting borders where the crop leaves the photo). Returns [S·S·3] floats 0..1.
 */
export function sampleCrop(img: Image, t: CropTransform): Float32Array {
  const src = toRgb(img), W = src.width, H = src.height, d = src.data, S = t.size;
  const k = Math.max(1, Math.min(4, Math.round(t.side / S)));
  const out = new Float32Array(S * S * 3);
  const c = Math.cos(t.angle), s = Math.sin(t.angle);
  for (let v = 0; v < S; v++) {
    for (let u = 0; u < S; u++) {
      let r = 0, g = 0, b = 0;
      for (let j = 0; j < k; j++) {
        for (let i = 0; i < k; i++) {
          const a = ((u + (i + 0.5) / k) / S - 0.5) * t.side, bb = ((v + (j + 0.5) / k) / S - 0.5) * t.side;
          const x = t.cx + c * a - s * bb - 0.5, y = t.cy + s * a + c * bb - 0.5;
          const fx = Math.floor(x), fy = Math.floor(y), ax = x - fx, ay = y - fy;
          const x0 = refl(fx, W), x1 = refl(fx + 1, W), y0 = refl(fy, H), y1 = refl(fy + 1, H);
          const p00 = (y0 * W + x0) * 3,
            p01 = (y0 * W + x1) * 3,
            p10 = (y1 * W + x0) * 3,
            p11 = (y1 * W + x1) * 3;
          const w00 = (1 - ax) * (1 - ay), w01 = ax * (1 - ay), w10 = (1 - ax) * ay, w11 = ax * ay;
          r += d[p00] * w00 + d[p01] * w01 + d[p10] * w10 + d[p11] * w11;
          g += d[p00 + 1] * w00 + d[p01 + 1] * w01 + d[p10 + 1] * w10 + d[p11 + 1] * w11;
          b += d[p00 + 2] * w00 + d[p01 + 2] * w01 + d[p10 + 2] * w10 + d[p11 + 2] * w11;
        }
      }
      const o = (v * S + u) * 3, n = 255 * k * k;
      out[o] = r / n;
      out[o + 1] = g / n;
      out[o + 2] = b / n;
    }
  }
  return out;
}

// ---- smooth curves and anti-aliased filling ----

/** Closed (or open) Catmull-Rom spline through `pts`, `per` samples per segment. */
export function spline(pts: Pt[], closed: boolean, per = 8): Pt[] {
  const n = pts.length, out: Pt[] = [];
  const at = (i: number) => closed ? pts[(i + n) % n] : pts[Math.max(0, Math.min(n - 1, i))];
  const segs = closed ? n : n - 1;
  for (let i = 0; i < segs; i++) {
    const p0 = at(i - 1), p1 = at(i), p2 = at(i + 1), p3 = at(i + 2);
    for (let k = 0; k < per; k++) {
      const t = k / per, t2 = t * t, t3 = t2 * t;
      const f = (a: number, b: number, c: number, d: number) =>
        0.5 * (2 * b + (-a + c) * t + (2 * a - 5 * b + 4 * c - d) * t2 + (-a + 3 * b - 3 * c + d) * t3);
      out.push([f(p0[0], p1[0], p2[0], p3[0]), f(p0[1], p1[1], p2[1], p3[1])]);
    }
  }
  if (!closed) out.push(pts[n - 1]);
  return out;
}

/** Polygon of a rotated ellipse (centre, radii, angle), 48 vertices. */
export function ellipsePoly(c: Pt, rx: number, ry: number, rot = 0): Pt[] {
  const out: Pt[] = [], cs = Math.cos(rot), sn = Math.sin(rot);
  for (let i = 0; i < 48; i++) {
    const a = (2 * Math.PI * i) / 48, x = rx * Math.cos(a), y = ry * Math.sin(a);
    out.push([c[0] + cs * x - sn * y, c[1] + sn * x + cs * y]);
  }
  return out;
}

/**
 * Anti-aliased coverage (0..1) of a closed polygon (even-odd) on an S×S grid, pixel centres at
 * integer + 0.5 of the polygon's coordinate frame shifted by 0.5 (landmarks are pixel-centre
 * based). 4 sub-rows per pixel; along each sub-row the covered length per pixel is exact.
 */
export function coverage(poly: Pt[], S: number): Float32Array {
  const cov = new Float32Array(S * S);
  let ymin = Infinity, ymax = -Infinity;
  for (const [, y] of poly) (ymin = Math.min(ymin, y)), (ymax = Math.max(ymax, y));
  const SUB = 4, n = poly.length, xs: number[] = [];
  const r0 = Math.max(0, Math.floor(ymin + 0.5)), r1 = Math.min(S - 1, Math.ceil(ymax + 0.5));
  for (let row = r0; row <= r1; row++) {
    for (let s = 0; s < SUB; s++) {
      const yy = row - 0.5 + (s + 0.5) / SUB; // in landmark coordinates (pixel centres at integers)
      xs.length = 0;
      for (let i = 0; i < n; i++) {
        const [x0, y0] = poly[i], [x1, y1] = poly[(i + 1) % n];
        if ((y0 <= yy && y1 > yy) || (y1 <= yy && y0 > yy)) xs.push(x0 + ((yy - y0) / (y1 - y0)) * (x1 - x0));
      }
      xs.sort((a, b) => a - b);
      for (let k = 0; k + 1 < xs.length; k += 2) {
        const a = xs[k] + 0.5, b = xs[k + 1] + 0.5; // pixel x covers [x, x+1) in these units
        const xa = Math.max(0, Math.floor(a)), xb = Math.min(S - 1, Math.floor(b));
        for (let x = xa; x <= xb; x++) {
          const len = Math.min(b, x + 1) - Math.max(a, x);
          if (len > 0) cov[row * S + x] += len / SUB;
        }
      }
    }
  }
  return cov;
}

/** Claim `id` where the polygon's coverage > 0.5 and `allow(current id)` holds. */
function claim(part: Uint8Array, poly: Pt[], S: number, id: number, allow?: (p: number) => boolean): void {
  const cov = coverage(poly, S);
  for (let i = 0; i < cov.length; i++) if (cov[i] > 0.5 && (!allow || allow(part[i]))) part[i] = id;
}

// ---- the part map ----

const SKINS = new Set<number>([P.skin, P.forehead, P.cheekL, P.cheekR, P.chin, P.jaw]);

/**
 * Parsing-like part map of an aligned crop (size S) from its landmarks. Sides are the
 * subject's: the subject's left eye (landmarks 42–47) lies on the image's right.
 */
export function buildPartMap(points: Float64Array, rgb: Float32Array, S: number): Uint8Array {
  const L = (i: number) => pt(points, i);
  const part = new Uint8Array(S * S);
  const j0 = L(0), j16 = L(16);
  const cx = (j0[0] + j16[0]) / 2, halfW = (j16[0] - j0[0]) / 2;
  const brows = range(17, 26).map(L);
  const browY = brows.reduce((a, p) => a + p[1], 0) / brows.length;
  const nose = L(33), fh = Math.max(4, (nose[1] - browY) * 0.8);
  // face outline: the jaw line and a forehead arc above the brows
  const outline: Pt[] = [
    ...range(0, 16).map(L),
    [j16[0] - 0.02 * halfW, browY - 0.4 * fh],
    [cx + 0.72 * halfW, browY - 0.85 * fh],
    [cx, browY - fh],
    [cx - 0.72 * halfW, browY - 0.85 * fh],
    [j0[0] + 0.02 * halfW, browY - 0.4 * fh],
  ];
  claim(part, spline(outline, true), S, P.skin);
  const inSkin = (p: number) => SKINS.has(p);
  // brow thickness from the brow-to-eye gap
  const eyeTop = Math.min(...[37, 38, 43, 44].map((i) => L(i)[1]));
  const bt = Math.max(2, (eyeTop - browY) * 0.45);
  // forehead: the skin above a curve that follows the brows' upper edge and rises at the temples
  const top = browY - 2 * fh;
  const fore: Pt[] = [
    [j0[0] - 0.1 * halfW, L(17)[1] - 0.2 * bt],
    ...brows.map(([x, y]): Pt => [x, y - 0.6 * bt]),
    [j16[0] + 0.1 * halfW, L(26)[1] - 0.2 * bt],
    [j16[0] + 0.1 * halfW, top],
    [j0[0] - 0.1 * halfW, top],
  ];
  claim(part, spline(fore.slice(0, 12), false, 6).concat(fore.slice(12)), S, P.forehead, inSkin);
  // jaw: the outer band of the lower face along the jaw line (landmarks 2–14)
  const faceC: Pt = [cx, (L(27)[1] + L(8)[1]) / 2];
  const band = 0.16 * halfW;
  const outer = range(2, 14).map(L);
  const inner = outer.map(([x, y]): Pt => {
    const dx = faceC[0] - x, dy = faceC[1] - y, d = Math.hypot(dx, dy) || 1;
    return [x + (dx / d) * band, y + (dy / d) * band];
  }).reverse();
  claim(part, spline(outer, false, 6).concat(spline(inner, false, 6)), S, P.jaw, (p) => p === P.skin);
  // cheeks: tilted ellipses between the eye, the nose wing and the jaw
  for (
    const [eye, wing, jawPt, mouth, id, sgn] of [[41, 31, 3, 48, P.cheekR, -1], [46, 35, 13, 54, P.cheekL, 1]]
  ) {
    const e = L(eye), wgt = L(wing), j = L(jawPt), m = L(mouth);
    const c: Pt = [(wgt[0] + j[0]) / 2, (e[1] + m[1]) / 2 + 0.05 * fh];
    const rx = Math.abs(j[0] - wgt[0]) * 0.42, ry = Math.max(2, (m[1] - e[1]) * 0.42);
    claim(part, ellipsePoly(c, rx, ry, sgn * 0.25), S, id, (p) => p === P.skin || p === P.jaw);
  }
  // chin: an ellipse between the lower lip and the chin point
  const lipLow = L(57), chinPt = L(8);
  const cw = Math.abs(L(10)[0] - L(6)[0]);
  claim(
    part,
    ellipsePoly(
      [chinPt[0], (lipLow[1] + chinPt[1]) / 2 + 0.1 * (chinPt[1] - lipLow[1])],
      cw * 0.42,
      (chinPt[1] - lipLow[1]) * 0.5,
    ),
    S,
    P.chin,
    inSkin,
  );
  // nose: bridge from 27 down to the tip, widening to the alae around the nostrils
  const nw = Math.abs(L(35)[0] - L(31)[0]), bw = 0.2 * nw;
  const noseC = [27, 28, 29, 30].map(L);
  const nosePoly: Pt[] = [
    [noseC[0][0] + bw * 0.9, noseC[0][1]],
    [noseC[1][0] + bw, noseC[1][1]],
    [noseC[2][0] + bw * 1.2, noseC[2][1]],
    [L(35)[0] + 0.28 * nw, L(35)[1] - 0.35 * (L(35)[1] - noseC[2][1])],
    [L(35)[0] + 0.05 * nw, L(35)[1] + 0.05 * nw],
    [L(34)[0], L(34)[1] + 0.06 * nw],
    [L(33)[0], L(33)[1] + 0.08 * nw],
    [L(32)[0], L(32)[1] + 0.06 * nw],
    [L(31)[0] - 0.05 * nw, L(31)[1] + 0.05 * nw],
    [L(31)[0] - 0.28 * nw, L(31)[1] - 0.35 * (L(31)[1] - noseC[2][1])],
    [noseC[2][0] - bw * 1.2, noseC[2][1]],
    [noseC[1][0] - bw, noseC[1][1]],
    [noseC[0][0] - bw * 0.9, noseC[0][1]],
  ];
  claim(part, spline(nosePoly, true, 6), S, P.nose, inSkin);
  // brows: a band from the landmarks (which trace the brow's upper half) down by the thickness,
  // tapering toward the tail
  for (const [ids, id] of [[range(17, 21), P.browR], [range(22, 26), P.browL]] as [number[], number][]) {
    const pts = ids.map(L);
    const tailFirst = id === P.browR; // 17 and 26 are the outer ends
    const th = (k: number) => bt * (tailFirst ? 0.55 + 0.45 * k / 4 : 1 - 0.45 * k / 4);
    const up = pts.map(([x, y], k): Pt => [x, y - 0.35 * th(k)]);
    const low = pts.map(([x, y], k): Pt => [x, y + 0.65 * th(k)]).reverse();
    claim(part, spline([...up, ...low], true, 6), S, id, (p) => SKINS.has(p));
  }
  // eyes (slightly enlarged to hold the lash line) and irises clipped to them
  for (
    const [ids, eyeId, pupilId] of [[range(36, 41), P.eyeR, P.pupilR], [range(42, 47), P.eyeL, P.pupilL]] as [
      number[],
      number,
      number,
    ][]
  ) {
    const pts = ids.map(L), c = mean(points, ids);
    const poly = spline(
      pts.map(([x, y]): Pt => [c[0] + (x - c[0]) * 1.1, c[1] + (y - c[1]) * 1.25]),
      true,
      6,
    );
    claim(part, poly, S, eyeId);
    const ew = Math.hypot(pts[3][0] - pts[0][0], pts[3][1] - pts[0][1]);
    claim(part, ellipsePoly(c, 0.21 * ew, 0.21 * ew), S, pupilId, (p) => p === eyeId);
  }
  gateUpperSkin(part, rgb, S, browY);
  // lips (outer line) and the open mouth (inner line), teeth by colour inside the mouth
  claim(part, spline(range(48, 59).map(L), true, 6), S, P.lip);
  const innerPts = range(60, 67).map(L);
  claim(part, spline(innerPts, true, 6), S, P.mouth, (p) => p === P.lip);
  for (let i = 0; i < part.length; i++) {
    if (part[i] !== P.mouth) continue;
    const r = rgb[i * 3], g = rgb[i * 3 + 1], b = rgb[i * 3 + 2];
    const mx = Math.max(r, g, b), mn = Math.min(r, g, b);
    if (mx > 0.55 && mx - mn < 0.22 * mx) part[i] = P.tooth;
  }
  return part;
}

/**
 * Hair, caps and bangs often cover the forehead, which landmarks cannot see: skin pixels above
 * the brows whose colour is far from the cheeks' and nose's (log luminance and chromaticity,
 * in units of their spread) leave the part map, and the decision is smoothed with a 7×7
 * majority so the edge stays a curve.
 */
function gateUpperSkin(part: Uint8Array, rgb: Float32Array, S: number, browY: number): void {
  const feat = (i: number): [number, number, number] => {
    const r = rgb[i * 3] + 1e-3, g = rgb[i * 3 + 1] + 1e-3, b = rgb[i * 3 + 2] + 1e-3, s = r + g + b;
    return [Math.log(s), r / s, g / s];
  };
  const ref: [number, number, number][] = [];
  for (let i = 0; i < part.length; i++) {
    if (part[i] === P.cheekL || part[i] === P.cheekR || part[i] === P.nose) ref.push(feat(i));
  }
  if (ref.length < 20) return;
  const mu = [0, 1, 2].map((k) => ref.reduce((a, f) => a + f[k], 0) / ref.length);
  const sd = [0, 1, 2].map((k, j) =>
    Math.max([0.12, 0.012, 0.01][j], Math.sqrt(ref.reduce((a, f) => a + (f[k] - mu[k]) ** 2, 0) / ref.length))
  );
  const far = new Uint8Array(S * S), cand = new Uint8Array(S * S);
  const yMax = Math.min(S, Math.ceil(browY));
  for (let y = 0; y < yMax; y++) {
    for (let x = 0; x < S; x++) {
      const i = y * S + x;
      if (!SKINS.has(part[i])) continue;
      cand[i] = 1;
      const f = feat(i);
      const d = Math.hypot((f[0] - mu[0]) / sd[0], (f[1] - mu[1]) / sd[1], (f[2] - mu[2]) / sd[2]);
      far[i] = d > 2.5 ? 1 : 0;
    }
  }
  const R = 3;
  for (let y = 0; y < yMax; y++) {
    for (let x = 0; x < S; x++) {
      const i = y * S + x;
      if (!cand[i]) continue;
      let n = 0, k = 0;
      for (let j = Math.max(0, y - R); j <= Math.min(S - 1, y + R); j++) {
        for (let q = Math.max(0, x - R); q <= Math.min(S - 1, x + R); q++) {
          if (cand[j * S + q]) (n++, k += far[j * S + q]);
        }
      }
      if (2 * k > n) part[i] = P.bg;
    }
  }
  // what is left must connect to the skin at brow level (a flood fill upward from it)
  const keep = new Uint8Array(S * S), stack: number[] = [];
  const y0 = Math.max(0, Math.min(S - 1, Math.floor(browY)));
  for (let x = 0; x < S; x++) {
    const i = y0 * S + x;
    if (SKINS.has(part[i])) (keep[i] = 1, stack.push(i));
  }
  while (stack.length) {
    const i = stack.pop()!, x = i % S, y = (i - x) / S;
    for (const j of [x > 0 ? i - 1 : -1, x < S - 1 ? i + 1 : -1, y > 0 ? i - S : -1, y < y0 ? i + S : -1]) {
      if (j >= 0 && !keep[j] && SKINS.has(part[j])) (keep[j] = 1, stack.push(j));
    }
  }
  for (let i = 0; i < y0 * S; i++) if (SKINS.has(part[i]) && !keep[i]) part[i] = P.bg;
}

/** Crop, resample and map the parts of one detected face. */
export function preparePhoto(img: Image, points: Float64Array, size: number, name: string): PhotoFace {
  const t = cropTransform(points, size);
  const rgb = sampleCrop(img, t);
  const local = new Float64Array(136);
  for (let i = 0; i < 68; i++) {
    const [u, v] = imageToCrop(t, points[2 * i], points[2 * i + 1]);
    local[2 * i] = u;
    local[2 * i + 1] = v;
  }
  return { size, rgb, part: buildPartMap(local, rgb, size), points: local, name };
}
