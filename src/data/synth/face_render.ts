/**
 * Procedural portrait renderer: draws a FaceParams into a Canvas and fills the per-pixel
 * part map (parts.ts), so every region mask is exact. Pure: the same params give the same
 * pixels (texture randomness comes from `texSeed`, one derived stream per layer, so changing
 * one attribute leaves every other layer's pixels identical — attribute edits rely on it).
 */
import { Rng } from "../rng.ts";
import { Canvas, type RGB, strandNoise, valueNoise, whiteNoise } from "./canvas.ts";
import { clamp01, type FaceParams } from "./face_params.ts";
import type { Box } from "./masks.ts";
import { P } from "./parts.ts";

const FACE_PARTS = [P.skin, P.forehead, P.cheekL, P.cheekR, P.chin, P.jaw];

function mul(c: RGB, k: number): RGB {
  return [clamp01(c[0] * k), clamp01(c[1] * k), clamp01(c[2] * k)];
}

function mix(a: RGB, b: RGB, t: number): RGB {
  return [a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t, a[2] + (b[2] - a[2]) * t];
}

interface Textures {
  fine: Float32Array;
  blotch: Float32Array;
  skinTex: Float32Array;
  hairTex: Float32Array;
}

// Edits and swaps re-render the same identity; caching its textures saves a third of a render.
// Evicted entries lend their buffers to the next identity (no 4 MB of fresh arrays per face).
const texCache = new Map<string, Textures>();
let windowTex: Textures | null = null;
function newTextures(n: number): Textures {
  return {
    fine: new Float32Array(n),
    blotch: new Float32Array(n),
    skinTex: new Float32Array(n),
    hairTex: new Float32Array(n),
  };
}
function textures(seed: number, size: number, win?: Box): Textures {
  const k = size / 512, n = size * size;
  let t: Textures;
  if (win) {
    // a windowed render: textures for the window only, in a scratch set (not cached)
    if (!windowTex || windowTex.fine.length !== n) windowTex = newTextures(n);
    t = windowTex;
  } else {
    const key = `${seed}/${size}`;
    const hit = texCache.get(key);
    if (hit) return hit;
    let reuse: Textures | undefined;
    if (texCache.size >= 3) {
      const oldKey = texCache.keys().next().value!;
      reuse = texCache.get(oldKey);
      texCache.delete(oldKey);
    }
    t = reuse && reuse.fine.length === n ? reuse : newTextures(n);
    texCache.set(key, t);
  }
  const { fine, blotch, skinTex, hairTex } = t;
  whiteNoise(n, Rng.derive(seed, 1), fine);
  valueNoise(size, size, 18 * k, Rng.derive(seed, 2), win, blotch);
  const x0 = win ? win.x0 : 0, x1 = win ? win.x1 : size, y0 = win ? win.y0 : 0, y1 = win ? win.y1 : size;
  for (let y = y0; y < y1; y++) {
    for (let i = y * size + x0, e = y * size + x1; i < e; i++) skinTex[i] = 0.6 * fine[i] + 0.8 * blotch[i];
  }
  strandNoise(size, size, k, Rng.derive(seed, 3), win, hairTex);
  return t;
}

// The background of an identity, cached too (an attribute edit re-renders the same one).
const bgCache = new Map<string, Float32Array>();

// Canvases handed back with `releaseCanvas`, reused by `renderFace` (no 5 MB allocation and
// zero-fill per render, and much less GC).
const pool: Canvas[] = [];

/** Give a canvas from `renderFace` back for reuse; the caller must not touch it afterwards. */
export function releaseCanvas(c: Canvas): void {
  if (pool.includes(c)) return;
  if (pool.length >= 4) pool.shift(); // keep the most recent (e.g. drop warm-up sizes)
  pool.push(c);
}

/**
 * Render `f` at size×size pixels (into a pooled canvas when one is free). With `clip`, only
 * that box is rendered (rgb and part map elsewhere are undefined); inside it the pixels are
 * those of the full render.
 */
export function renderFace(f: FaceParams, size = 512, clip?: Box): Canvas {
  const k = size / 512;
  const pi = pool.findIndex((p) => p.w === size && p.h === size);
  const c = pi >= 0 ? pool.splice(pi, 1)[0] : new Canvas(size, size);
  if (pi >= 0) c.part.fill(0); // rgb is fully overwritten by the background, cov is clear
  const full = !clip || (clip.x0 <= 0 && clip.y0 <= 0 && clip.x1 >= size && clip.y1 >= size);
  c.clip = full ? { x0: 0, y0: 0, x1: size, y1: size } : { ...clip! };
  const win = full ? undefined : c.clip;
  const tex = (layer: number) => Rng.derive(f.texSeed, layer);
  const { fine, blotch, skinTex, hairTex } = textures(f.texSeed, size, win);

  const bgKey = `${f.texSeed}/${size}/${f.bgKind}/${f.bg}`;
  const bgHit = win ? undefined : bgCache.get(bgKey);
  if (bgHit) c.rgb.set(bgHit);
  else if (win) drawBackground(c, f, k, tex, fine);
  else {
    drawBackground(c, f, k, tex, fine);
    let reuse: Float32Array | undefined;
    if (bgCache.size >= 2) {
      const oldKey = bgCache.keys().next().value!;
      reuse = bgCache.get(oldKey);
      bgCache.delete(oldKey);
    }
    if (reuse && reuse.length === c.rgb.length) reuse.set(c.rgb);
    else reuse = c.rgb.slice();
    bgCache.set(bgKey, reuse);
  }
  if (f.hairStyle === "long") {
    c.ellipse(f.cx * k, (f.cy + 40) * k, f.rx * 1.35 * k, f.ryTop * 1.45 * k);
    c.paint(mul(f.hairColor, 0.85), P.hair, 1, hairTex, 0.25);
  }
  drawLayers(c, f, k, fine, blotch, skinTex, hairTex);
  return c;
}

// Everything after the background and long hair (shared by the real and the dry render).
function drawLayers(
  c: Canvas,
  f: FaceParams,
  k: number,
  fine: Float32Array,
  blotch: Float32Array,
  skinTex: Float32Array,
  hairTex: Float32Array,
): void {
  const tex = (layer: number) => Rng.derive(f.texSeed, layer);
  // shoulders and neck
  c.ellipse(f.cx * k, 540 * k, 230 * k, 95 * k);
  c.paint(f.clothes, P.clothes, 1, blotch, 0.15);
  c.stroke([f.cx * k, (f.cy + f.ryBot * 0.6) * k, f.cx * k, 470 * k], f.rx * 0.55 * k);
  c.paint(mul(f.skin, 0.82), P.neck, 1, skinTex, f.skinTex);
  // ears
  for (const s of [-1, 1]) {
    const ex = (f.cx + s * (f.rx - 3)) * k, ey = f.earY * k;
    const rx = f.earRx * f.earScale * k, ry = f.earRy * f.earScale * k;
    c.ellipse(ex, ey, rx, ry, s * 0.15);
    c.paint(mul(f.skin, 0.95), s > 0 ? P.earL : P.earR, 1, skinTex, f.skinTex);
    c.ellipse(ex + s * 2 * k, ey, rx * 0.55, ry * 0.65, s * 0.15, 2 * k);
    c.shade(-0.18);
  }
  faceShape(c, f, k);
  c.paint(f.skin, P.skin, 1, skinTex, f.skinTex);
  assignFaceAreas(c, f, k);
  faceShading(c, f, k);
  // cheeks blush and forehead shine
  for (const s of [-1, 1]) {
    c.ellipse((f.cx + s * f.eyeDx * 1.1) * k, (f.noseY + 5) * k, 24 * k, 16 * k, 0, 14 * k);
  }
  c.paint(f.blushColor, -1, f.blush);
  if (f.foreheadShine > 0) {
    c.ellipse((f.cx - f.lightDx * 20) * k, (f.browY - 30) * k, 38 * k, 14 * k, 0, 16 * k);
    c.shade(f.foreheadShine * 3);
  }
  skinMarks(c, f, k, skinTex, tex(5));
  nose(c, f, k);
  for (const s of [-1, 1]) eye(c, f, k, s);
  for (const s of [-1, 1]) brow(c, f, k, s, hairTex);
  mouth(c, f, k);
  facialHair(c, f, k, hairTex, fine);
  hair(c, f, k, hairTex, tex(8));
  if (f.glasses) glasses(c, f, k);
}

const dryCanvases = new Map<number, Canvas>();

/**
 * For each part id, a box that holds every pixel `renderFace(f, size)` can give that part
 * (null: none). From shape bounding boxes only (a dry run, no pixels): cheap and conservative.
 */
export function partBounds(f: FaceParams, size = 512): (Box | null)[] {
  let c = dryCanvases.get(size);
  if (!c) dryCanvases.set(size, c = new Canvas(size, size, true));
  c.partBoxes.length = 0;
  c.dryClaim(-1);
  const k = size / 512;
  if (f.hairStyle === "long") {
    c.ellipse(f.cx * k, (f.cy + 40) * k, f.rx * 1.35 * k, f.ryTop * 1.45 * k);
    c.paint([0, 0, 0], P.hair, 1);
  }
  drawLayers(c, f, k, EMPTY_TEX, EMPTY_TEX, EMPTY_TEX, EMPTY_TEX);
  return c.partBoxes.slice();
}
const EMPTY_TEX = new Float32Array(0);

// The backdrop: a graded, grained wall plus clutter (soft-edged objects and lines, as in real
// photos, whose backgrounds have edges too; a noise-residual probe must not find the face by
// its edges alone).
function drawBackground(
  c: Canvas,
  f: FaceParams,
  k: number,
  tex: (l: number) => Rng,
  fine: Float32Array,
): void {
  background(c, f, k, tex(4), fine);
  const rng = tex(9), n = rng.int(12);
  for (let j = 0; j < n; j++) {
    const col: RGB = [rng.next(), rng.next(), rng.next()];
    const x = rng.range(0, 512) * k, y = rng.range(0, 512) * k;
    if (rng.chance(0.5)) {
      c.ellipse(x, y, rng.range(8, 90) * k, rng.range(8, 90) * k, rng.range(0, 3), rng.range(0.6, 2) * k);
    } else {
      const a = rng.range(0, Math.PI), L = rng.range(40, 300) * k;
      c.stroke(
        [x, y, x + Math.cos(a) * L, y + Math.sin(a) * L],
        rng.range(1, 6) * k,
        undefined,
        rng.range(0.6, 1.5) * k,
      );
    }
    c.paint(col, -1, rng.range(0.25, 0.8));
  }
}

function background(c: Canvas, f: FaceParams, k: number, rng: Rng, fine: Float32Array): void {
  const [a, b] = f.bg;
  const a0 = a[0], a1 = a[1], a2 = a[2], d0 = b[0] - a0, d1 = b[1] - a1, d2 = b[2] - a2;
  const { w, h, rgb, clip } = c;
  const nz = valueNoise(w, h, 60 * k, rng, clip, bgNoise(w * h));
  const kind = f.bgKind, gs = f.bgGrain;
  for (let y = clip.y0; y < clip.y1; y++) {
    const ty = y / h;
    for (let x = clip.x0, i = y * w + clip.x0; x < clip.x1; x++, i++) {
      const n = nz[i];
      let t = kind === 0 ? ty : kind === 1 ? x / w : 0.5 + 0.5 * n;
      t = t + 0.15 * n;
      t = t < 0 ? 0 : t > 1 ? 1 : t; // clamp01
      const o = i * 3, gr = 1 + fine[i] * gs;
      rgb[o] = (a0 + d0 * t) * gr;
      rgb[o + 1] = (a1 + d1 * t) * gr;
      rgb[o + 2] = (a2 + d2 * t) * gr;
    }
  }
}

let bgNoiseBuf: Float32Array | null = null;
function bgNoise(n: number): Float32Array {
  if (!bgNoiseBuf || bgNoiseBuf.length !== n) bgNoiseBuf = new Float32Array(n);
  return bgNoiseBuf;
}

function faceShape(c: Canvas, f: FaceParams, k: number): void {
  const cx = f.cx * k, cy = f.cy * k, rx = f.rx * k, top = f.ryTop * k, bot = f.ryBot * f.chinScale * k;
  const y0 = Math.max(c.clip.y0, Math.floor(cy - top)), y1 = Math.min(c.clip.y1, Math.ceil(cy + bot) + 1);
  if (c.dry) {
    return c.dryGrow(Math.max(0, Math.floor(cx - rx - 2)), y0, Math.min(c.w, Math.ceil(cx + rx + 3)), y1);
  }
  for (let y = y0; y < y1; y++) {
    const dy = y + 0.5 - cy;
    let hw: number;
    if (dy < 0) hw = rx * Math.sqrt(Math.max(0, 1 - (dy / top) ** 2));
    else {
      const t = dy / bot;
      hw = rx * Math.sqrt(Math.max(0, 1 - t ** 2.4)) * (1 - f.jawTaper * t * t);
    }
    const x0 = Math.max(c.clip.x0, Math.floor(cx - hw - 1)), x1 = Math.min(c.clip.x1, Math.ceil(cx + hw + 2));
    let wa = c.w, wb = 0;
    for (let x = x0; x < x1; x++) {
      const a = hw - Math.abs(x + 0.5 - cx) + 0.5;
      if (a > 0) {
        c.cov[y * c.w + x] = a > 1 ? 1 : a;
        if (x < wa) wa = x;
        wb = x + 1;
      }
    }
    if (wa < wb) c.mark(y, wa, wb);
  }
}

// Bounding box of face + ears (x0, y0, x1, y1), clamped to the canvas.
function faceBox(c: Canvas, f: FaceParams, k: number): [number, number, number, number] {
  const r = (f.rx + f.earRx * 2.5) * k, cl = c.clip;
  return [
    Math.max(cl.x0, Math.floor(f.cx * k - r)),
    Math.max(cl.y0, Math.floor((f.cy - f.ryTop) * k)),
    Math.min(cl.x1, Math.ceil(f.cx * k + r)),
    Math.min(cl.y1, Math.ceil((f.cy + f.ryBot * f.chinScale) * k) + 1),
  ];
}

// Split face skin into the named areas with smooth, parsing-like boundaries: the forehead is
// above a curve that follows the brows and dips at the temples, cheeks are tilted ellipses
// under the eyes, the chin an ellipse under the mouth, and the jaw the outer band of the lower
// face (a fixed fraction of the outline's half-width), so no boundary is an axis-aligned cut.
function assignFaceAreas(c: Canvas, f: FaceParams, k: number): void {
  const [x0, y0, x1, y1] = faceBox(c, f, k);
  if (c.dry) {
    for (const p of [P.forehead, P.chin, P.jaw, P.cheekL, P.cheekR]) {
      c.dryGrow(x0, y0, x1, y1);
      c.dryClaim(p);
    }
    return;
  }
  const cx = f.cx * k, cy = f.cy * k, rx = f.rx * k, bot = f.ryBot * f.chinScale * k;
  const foreBase = (f.browY - 7) * k, arch = (f.browArch + 8) * k, archW = f.eyeDx * 1.9 * k;
  const chX = f.eyeDx * 1.08 * k, chY = ((f.eyeY + f.eyeH + f.mouthY) / 2 + 3) * k;
  const chRx = f.eyeDx * 0.62 * k, chRy = (f.mouthY - f.eyeY) * 0.42 * k;
  const chinTop = (f.mouthY + f.lipBot + 4) * k, chinCy = cy + bot;
  const chinRx = f.mouthW * 1.1 * k, chinRy = Math.max(1, chinCy - chinTop);
  const jawY = (f.mouthY - 8) * k;
  const cs = Math.cos(0.25), sn = Math.sin(0.25);
  for (let y = y0; y < y1; y++) {
    const dy = y + 0.5 - cy;
    let hw = rx;
    if (dy > 0) {
      const t = Math.min(1, dy / bot);
      hw = rx * Math.sqrt(Math.max(0, 1 - t ** 2.4)) * (1 - f.jawTaper * t * t);
    }
    for (let x = x0; x < x1; x++) {
      const i = y * c.w + x;
      if (c.part[i] !== P.skin) continue;
      const dx = x + 0.5 - cx, u = dx / archW, py = y + 0.5;
      if (py < foreBase - arch * (1 - Math.min(1, u * u))) {
        c.part[i] = P.forehead;
        continue;
      }
      const qx = dx / chinRx, qy = (py - chinCy) / chinRy;
      if (qx * qx + qy * qy < 1) {
        c.part[i] = P.chin;
        continue;
      }
      const s = dx > 0 ? 1 : -1, ex = dx - s * chX, ey = py - chY;
      const a = (ex * cs + s * ey * sn) / chRx, b = (-s * ex * sn + ey * cs) / chRy;
      if (a * a + b * b < 1) {
        c.part[i] = s > 0 ? P.cheekL : P.cheekR;
        continue;
      }
      if (py > jawY && Math.abs(dx) > 0.6 * hw * (1 + 0.15 * Math.min(1, (py - jawY) / (bot * 0.3)))) {
        c.part[i] = P.jaw;
      } else if (py > chinTop) c.part[i] = P.jaw;
    }
  }
}

// Directional light across the face and darkening toward its rim (a cheap 3D cue).
function faceShading(c: Canvas, f: FaceParams, k: number): void {
  if (c.dry) return;
  const cx = f.cx * k, cy = f.cy * k, rx = f.rx * k, ry = ((f.ryTop + f.ryBot) / 2) * k;
  const isFace = new Uint8Array(32);
  for (const p of [...FACE_PARTS, P.earL, P.earR, P.neck]) isFace[p] = 1;
  const [x0, y0, x1] = faceBox(c, f, k);
  const { part, rgb, w } = c;
  const lk = f.lightAmt * f.lightDx;
  for (let y = y0; y < c.clip.y1; y++) {
    const v = (y - cy) / ry, vv = 0.5 * v * v;
    for (let x = x0; x < x1; x++) {
      const i = y * w + x;
      if (!isFace[part[i]]) continue;
      const u = (x - cx) / rx;
      const m = 1 + lk * u - 0.12 * (u * u + vv);
      const o = i * 3;
      rgb[o] *= m;
      rgb[o + 1] *= m;
      rgb[o + 2] *= m;
    }
  }
}

function skinMarks(c: Canvas, f: FaceParams, k: number, skinTex: Float32Array, rng: Rng): void {
  const dark = mul(f.skin, 0.72);
  if (f.wrinkles > 0) {
    const w = f.wrinkles;
    for (let j = 0; j < 2 + Math.round(2 * w); j++) {
      const y = (f.browY - 14 - j * 9) * k, hw = (30 + 12 * w - j * 3) * k;
      c.stroke(
        [f.cx * k - hw, y + 2 * k, f.cx * k, y - 2 * k, f.cx * k + hw, y + 2 * k],
        1.1 * k,
        0.8 * k,
        1.5 * k,
      );
    }
    for (const s of [-1, 1]) {
      const ex = (f.cx + s * (f.eyeDx + f.eyeW + 4)) * k, ey = f.eyeY * k;
      for (let j = -1; j <= 1; j++) {
        c.stroke([ex, ey + j * 4 * k, ex + s * 12 * w * k, ey + j * 8 * k], 0.9 * k, 0.5 * k);
      }
      const nx = (f.cx + s * f.noseW * 1.1) * k;
      c.stroke(
        [nx, f.noseY * k, nx + s * 10 * k, (f.mouthY - 4) * k, nx + s * 14 * k, (f.mouthY + 8) * k],
        1.3 * k,
        0.7 * k,
        2 * k,
      );
    }
    c.clipToParts(FACE_PARTS);
    c.paint(dark, P.wrinkle, 0.55 + 0.35 * w);
  }
  if (f.freckles > 0) {
    for (let j = 0; j < f.freckles; j++) {
      const s = rng.chance(0.5) ? 1 : -1;
      const x = (f.cx + s * rng.range(8, f.eyeDx * 1.5)) * k;
      const y = (f.eyeY + rng.range(16, 48)) * k;
      c.ellipse(x, y, rng.range(1.2, 2.4) * k, rng.range(1.2, 2.2) * k);
    }
    c.clipToParts(FACE_PARTS);
    c.paint(mix(f.skin, [0.45, 0.25, 0.12], 0.55), P.freckle, 0.8);
  }
  if (f.scar) {
    const s = f.scar;
    const x = (f.cx + s.x * f.rx) * k, y = (f.cy + s.y * f.ryBot) * k;
    const dx = Math.cos(s.angle) * s.len * 0.5 * k, dy = Math.sin(s.angle) * s.len * 0.5 * k;
    c.stroke([x - dx, y - dy, x + dx * 0.1, y + dy * 0.1 + 1.5 * k, x + dx, y + dy], 2.6 * k, 1.2 * k);
    c.clipToParts(FACE_PARTS);
    c.paint(mix(f.skin, [0.92, 0.62, 0.6], 0.55), P.scar, 0.9, skinTex, 0.05);
    c.stroke([x - dx, y - dy, x + dx, y + dy], 0.6 * k);
    c.shade(-0.15);
  }
  if (f.dimples) {
    for (const s of [-1, 1]) {
      c.ellipse((f.cx + s * (f.mouthW + 10)) * k, (f.mouthY + 4) * k, 3 * k, 5.5 * k, s * 0.3, 2.5 * k);
    }
    c.paint(dark, P.dimple, 0.6);
  }
}

function nose(c: Canvas, f: FaceParams, k: number): void {
  const cx = f.cx * k, ny = f.noseY * k, nw = f.noseW * k, top = (f.noseY - f.noseLen) * k;
  // region label: bridge + lower nose
  c.stroke([cx, top, cx, ny - 6 * k], nw * 0.45);
  c.ellipse(cx, ny, nw * 1.05, 11 * k);
  c.clipToParts([...FACE_PARTS, P.freckle, P.wrinkle]);
  claim(c, P.nose);
  const side = -f.lightDx >= 0 ? 1 : -1;
  c.stroke([cx + side * nw * 0.45, top + 8 * k, cx + side * nw * 0.55, ny - 4 * k], 3 * k, 4 * k, 4 * k);
  c.shade(-0.12);
  c.ellipse(cx, ny - 2 * k, nw * 0.45, 8 * k, 0, 3 * k);
  c.shade(0.07);
  for (const s of [-1, 1]) {
    c.ellipse(cx + s * nw * 0.75, ny + 1 * k, nw * 0.35, 7 * k, s * 0.5, 2 * k);
    c.shade(-0.08);
    c.ellipse(cx + s * nw * 0.42, ny + 5 * k, nw * 0.22, 3.2 * k, s * 0.4, 1.2 * k);
    c.paint(mul(f.skin, 0.35), P.nose, 0.85);
  }
  c.ellipse(cx, ny + 16 * k, nw * 0.9, 4 * k, 0, 4 * k);
  c.shade(-0.08);
}

/** Set `part` where pending coverage > 0.5, leaving colours alone; clears coverage. */
function claim(c: Canvas, part: number): void {
  if (c.dry) return c.dryClaim(part);
  for (let y = c.y0; y < c.y1; y++) {
    for (let i = y * c.w + c.sx0[y], e = y * c.w + c.sx1[y]; i < e; i++) if (c.cov[i] > 0.5) c.part[i] = part;
  }
  c.clearCov();
}

function eye(c: Canvas, f: FaceParams, k: number, s: number): void {
  const left = s > 0;
  const sc = left ? f.eyeScaleL : f.eyeScaleR;
  const ex = (f.cx + s * f.eyeDx) * k, ey = f.eyeY * k;
  const w = f.eyeW * sc * k, h = f.eyeH * sc * k, tilt = -s * f.eyeTilt;
  const eyePart = left ? P.eyeL : P.eyeR, pupilPart = left ? P.pupilL : P.pupilR;
  // socket shadow and lid crease
  c.ellipse(ex, ey - h * 0.4, w * 1.25, h * 1.9, tilt, 5 * k);
  c.shade(-0.1);
  c.lens(ex, ey, w, h, h * 0.75, tilt, 1.2 * k);
  c.paint([0.93, 0.91, 0.88], eyePart, 1);
  const r = f.irisR * sc * k;
  const ix = ex + s * 0.5 * k, iy = ey + 0.5 * k;
  c.ellipse(ix, iy, r, r);
  c.clipToParts([eyePart]);
  c.paint(f.irisColor, pupilPart, 1);
  c.ellipse(ix, iy, r * 0.95, r * 0.95, 0, r * 0.5);
  c.clipToParts([pupilPart]);
  c.shade(-0.25);
  c.ellipse(ix, iy, r * f.pupilScale, r * f.pupilScale);
  c.clipToParts([pupilPart]);
  c.paint([0.04, 0.03, 0.03], pupilPart, 1);
  c.ellipse(ix - s * r * 0.35, iy - r * 0.35, r * 0.18, r * 0.18);
  c.clipToParts([pupilPart, eyePart]);
  c.paint([1, 1, 1], -1, 0.9);
  // upper lid line (lashes) and a soft lower lid
  const pts: number[] = [];
  for (let t = -1; t <= 1.001; t += 0.25) {
    const u = t * w, v = -h * (1 - t * t);
    pts.push(ex + u * Math.cos(tilt) - v * Math.sin(tilt), ey + u * Math.sin(tilt) + v * Math.cos(tilt));
  }
  c.stroke(pts, 1.2 * k, 2.2 * k);
  c.paint([0.08, 0.06, 0.06], eyePart, 0.95);
  c.lens(ex, ey + h * 0.1, w, 0.1, h * 0.85, tilt, 2.5 * k);
  c.shade(-0.06);
}

function brow(c: Canvas, f: FaceParams, k: number, s: number, hairTex: Float32Array): void {
  const left = s > 0;
  const th = (left ? f.browThickL : f.browThickR) * k;
  if (th <= 0.05) return;
  const bx = (f.cx + s * (f.eyeDx - 2)) * k, by = (f.browY + (left ? f.browDyL : 0)) * k, L = f.browLen * k;
  const pts: number[] = [];
  for (let t = 0; t <= 1.001; t += 0.2) {
    const x = bx + s * (t - 0.45) * L;
    const y = by - f.browArch * k * Math.sin(Math.PI * Math.min(1, t * 1.2));
    pts.push(x, y);
  }
  c.stroke(pts, th, th * 0.45, 1.5 * k);
  c.paint(f.browColor, left ? P.browL : P.browR, 0.92, hairTex, 0.35);
}

function mouth(c: Canvas, f: FaceParams, k: number): void {
  const cx = f.cx * k, my = f.mouthY * k, mw = f.mouthW * k;
  const open = f.mouthOpen * 7 * k;
  if (open > 0.5) {
    c.lens(cx, my + open * 0.5, mw * 0.9, open * 0.6, open * 0.7, 0, 1.2 * k);
    c.paint([0.3, 0.08, 0.1], P.mouth, 1);
    c.lens(cx, my - open * 0.05, mw * 0.7, 0.1, open * 0.55, 0, 1.2 * k);
    c.clipToParts([P.mouth]);
    c.paint(f.toothColor, P.tooth, 1);
    if (f.tongue) {
      c.ellipse(cx, my + open * 1.1, mw * 0.45, open * 0.5);
      c.clipToParts([P.mouth]);
      c.paint([0.78, 0.35, 0.38], P.tongue, 1);
    }
  }
  c.lens(cx, my - 0.3 * k, mw, f.lipTop * k, 0.6 * k, 0, 1.2 * k);
  c.paint(mul(f.lipColor, 0.92), P.lip, 1);
  c.lens(cx, my + open + 0.3 * k, mw * 0.92, 0.6 * k, f.lipBot * k, 0, 1.2 * k);
  c.paint(f.lipColor, P.lip, 1);
  c.ellipse(cx, my + open + f.lipBot * 0.35 * k, mw * 0.35, f.lipBot * 0.25 * k, 0, 2 * k);
  c.shade(0.1);
  c.stroke([cx - mw, my, cx, my + open * 0.3 + 0.8 * k, cx + mw, my], 0.9 * k);
  c.paint(mul(f.lipColor, 0.45), P.lip, 0.8);
}

function facialHair(c: Canvas, f: FaceParams, k: number, hairTex: Float32Array, fine: Float32Array): void {
  const keep = [P.skin, P.chin, P.jaw, P.cheekL, P.cheekR, P.dimple, P.wrinkle, P.freckle, P.scar];
  if (f.beard > 0) {
    c.ellipse(f.cx * k, (f.mouthY + 18) * k, f.rx * 1.02 * k, (f.ryBot - 60) * k, 0, 4 * k);
    c.clipToParts(keep);
    for (let y = c.y0; y < c.y1; y++) {
      if (y < (f.noseY + 12) * k && c.sx0[y] < c.sx1[y]) {
        c.cov.fill(0, y * c.w + c.sx0[y], y * c.w + c.sx1[y]);
      }
    }
    if (f.beard === 2) c.paint(f.facialHairColor, P.beard, 0.9, hairTex, 0.4);
    else c.paint(mul(f.facialHairColor, 1.1), P.beard, 0.45, fine, 0.5);
  }
  if (f.mustache) {
    const my = (f.mouthY - f.lipTop - 5) * k, mw = f.mouthW * 1.05 * k;
    c.stroke(
      [
        f.cx * k - mw,
        my + 6 * k,
        f.cx * k - mw * 0.4,
        my,
        f.cx * k,
        my + 1 * k,
        f.cx * k + mw * 0.4,
        my,
        f.cx * k + mw,
        my + 6 * k,
      ],
      4.5 * k,
      4.5 * k,
      2 * k,
    );
    c.clipToParts([...keep, P.beard, P.nose]);
    c.paint(f.facialHairColor, P.mustache, 0.92, hairTex, 0.4);
  }
}

function hair(c: Canvas, f: FaceParams, k: number, hairTex: Float32Array, rng: Rng): void {
  if (f.hairStyle === "bald") return;
  const cx = f.cx * k, cy = f.cy * k, rx = f.rx * k, top = f.ryTop * k;
  const hy = f.hairY * k;
  const part = f.hairStyle === "sidepart" ? (rng.chance(0.5) ? -1 : 1) : 0;
  c.ellipse(cx, cy - top * 0.12, rx * 1.1, top * 1.05);
  // (the edge noise is only read under the pending coverage: compute its box only)
  const edge = f.hairStyle === "curly"
    ? valueNoise(c.w, c.h, 7 * k, rng, { x0: c.x0, y0: c.y0, x1: c.x1, y1: c.y1 }, bgNoise(c.w * c.h))
    : null;
  // keep only above a hairline that dips at the temples (and slants for a side part)
  for (let y = c.y0; y < c.y1; y++) {
    for (let x = c.sx0[y]; x < c.sx1[y]; x++) {
      const i = y * c.w + x;
      if (c.cov[i] <= 0) continue;
      const u = (x + 0.5 - cx) / rx;
      let line = hy + (top * 0.55) * u * u * u * u + part * u * 12 * k;
      if (Math.abs(u) > 0.9) line = (f.eyeY - 6) * k; // temples / sideburns
      if (f.hairStyle === "long" && Math.abs(u) > 0.93) line = c.h;
      let a = (line - y) / (2 * k) + 0.5;
      if (edge) a += edge[i] * 4;
      c.cov[i] *= a <= 0 ? 0 : a >= 1 ? 1 : a;
    }
  }
  c.paint(f.hairColor, P.hair, 1, hairTex, 0.35);
  if (f.hairStyle === "bun") {
    c.ellipse(cx, cy - top * 1.05, rx * 0.45, top * 0.3);
    c.paint(f.hairColor, P.hair, 1, hairTex, 0.35);
  }
}

function glasses(c: Canvas, f: FaceParams, k: number): void {
  const g = f.glasses!;
  for (const s of [-1, 1]) {
    const ex = (f.cx + s * f.eyeDx) * k, ey = f.eyeY * k;
    const rw = (f.eyeW + 9) * k, rh = (f.eyeH + 11) * k;
    const pts: number[] = [];
    for (let a = 0; a <= Math.PI * 2 + 0.01; a += Math.PI / 12) {
      const ca = Math.cos(a), sa = Math.sin(a);
      const q = g.round ? 1 : 1 / Math.max(Math.abs(ca), Math.abs(sa)) ** 0.6;
      pts.push(ex + rw * ca * Math.min(q, 1.25), ey + rh * sa * Math.min(q, 1.25));
    }
    c.stroke(pts, g.thick * k);
  }
  c.stroke([
    (f.cx - f.eyeDx + f.eyeW + 9) * k,
    f.eyeY * k - 3 * k,
    (f.cx + f.eyeDx - f.eyeW - 9) * k,
    f.eyeY * k - 3 * k,
  ], g.thick * k);
  c.paint(g.color, P.glasses, 1);
}
