/**
 * Pixel-domain manipulations of real face photos, on an `Editor` (synth/manipulate.ts) so
 * every blend is measured and kept only when its named region visibly changed:
 * - `photoFaceSwap`: the donor's whole face (aligned by a landmark similarity, colour-matched
 *   to the target's skin, soft seam) inside both faces' outlines;
 * - `photoRegionSwap` (inpaint_diffusion): per region, the donor's aligned part regenerated into
 *   a blob that grows into the skin, re-synthesised at mid scale with a slight colour drift;
 * - `photoAttributeEdit`: local warps (eyes, lips, nose, brows) and recolouring (lips, brows,
 *   irises, cheeks, teeth, skin smoothing), each edit its own step;
 * - inpaint_patch reuses the generator's `patchInpaint` (smooth fill or mirror copy) directly.
 * Masks are exactly the union of the step masks; nothing outside a step mask changes.
 * Test: tests/data/photos_test.ts.
 */
import type { Region } from "../regions.ts";
import type { Rng } from "../rng.ts";
import {
  type Artifact,
  artifactFor,
  degrade,
  type Editor,
  featherFor,
  softBlur,
} from "../synth/manipulate.ts";
import { type Box, boxOf, dilate, featherInside, growBox, partMask } from "../synth/masks.ts";
import { P, partsOfRegion } from "../synth/parts.ts";
import type { PhotoFace } from "./part_map.ts";

const SKIN_AREAS = [P.skin, P.forehead, P.cheekL, P.cheekR, P.chin, P.jaw];
const SKIN_OK = new Uint8Array(256);
for (const p of SKIN_AREAS) SKIN_OK[p] = 1;
const FACE_PARTS = [
  ...SKIN_AREAS,
  P.eyeL,
  P.eyeR,
  P.pupilL,
  P.pupilR,
  P.browL,
  P.browR,
  P.nose,
  P.lip,
  P.mouth,
  P.tooth,
];
const FACE_OK = new Uint8Array(256);
for (const p of FACE_PARTS) FACE_OK[p] = 1;

/** A donor face resampled into the target's frame. */
export interface Aligned {
  rgb: Float32Array;
  part: Uint8Array;
}

/**
 * Least-squares similarity (scale, rotation, shift) taking target landmarks to the donor's,
 * over the inner face (17–67), as complex numbers: z_d ≈ b·(z_t − μ_t) + μ_d.
 */
export function similarity(
  target: Float64Array,
  donor: Float64Array,
): [number, number, number, number, number, number] {
  let mtx = 0, mty = 0, mdx = 0, mdy = 0;
  const ids = Array.from({ length: 51 }, (_, i) => 17 + i);
  for (const i of ids) {
    mtx += target[2 * i], mty += target[2 * i + 1], mdx += donor[2 * i], mdy += donor[2 * i + 1];
  }
  mtx /= ids.length, mty /= ids.length, mdx /= ids.length, mdy /= ids.length;
  let re = 0, im = 0, nn = 0;
  for (const i of ids) {
    const tx = target[2 * i] - mtx, ty = target[2 * i + 1] - mty;
    const dx = donor[2 * i] - mdx, dy = donor[2 * i + 1] - mdy;
    // conj(t)·d
    re += tx * dx + ty * dy;
    im += tx * dy - ty * dx;
    nn += tx * tx + ty * ty;
  }
  return [re / nn, im / nn, mtx, mty, mdx, mdy];
}

/** Resample `donor` into the frame of `target` (bilinear colour, nearest parts). */
export function alignDonor(target: PhotoFace, donor: PhotoFace): Aligned {
  const S = target.size, D = donor.size;
  const [br, bi, mtx, mty, mdx, mdy] = similarity(target.points, donor.points);
  const rgb = new Float32Array(S * S * 3), part = new Uint8Array(S * S);
  const cl = (v: number, n: number) => (v < 0 ? 0 : v > n - 1 ? n - 1 : v);
  for (let y = 0; y < S; y++) {
    for (let x = 0; x < S; x++) {
      const tx = x - mtx, ty = y - mty;
      const sx = cl(br * tx - bi * ty + mdx, D), sy = cl(bi * tx + br * ty + mdy, D);
      const fx = Math.min(D - 2, Math.floor(sx)), fy = Math.min(D - 2, Math.floor(sy));
      const ax = sx - fx, ay = sy - fy, o = (y * S + x) * 3;
      const a = (fy * D + fx) * 3, b = a + 3, c = a + D * 3, d = c + 3;
      for (let ch = 0; ch < 3; ch++) {
        const r = donor.rgb;
        rgb[o + ch] = (r[a + ch] * (1 - ax) + r[b + ch] * ax) * (1 - ay) +
          (r[c + ch] * (1 - ax) + r[d + ch] * ax) * ay;
      }
      part[y * S + x] = donor.part[Math.round(sy) * D + Math.round(sx)];
    }
  }
  return { rgb, part };
}

// Per-channel mean and std of `rgb` over the pixels where `sel` is set.
function stats(rgb: Float32Array, sel: Uint8Array): { mu: number[]; sd: number[]; n: number } {
  const s = [0, 0, 0], q = [0, 0, 0];
  let n = 0;
  for (let i = 0; i < sel.length; i++) {
    if (!sel[i]) continue;
    n++;
    for (let c = 0; c < 3; c++) (s[c] += rgb[i * 3 + c]), (q[c] += rgb[i * 3 + c] ** 2);
  }
  const mu = s.map((v) => (n ? v / n : 0));
  return { mu, sd: q.map((v, c) => (n ? Math.sqrt(Math.max(1e-6, v / n - mu[c] ** 2)) : 1)), n };
}

// Colour transfer (mean and std per channel, ratio clamped) of `src` inside `roi`, taking the
// statistics of `srcSel` to those of `dstSel` in `dst`; `keep` < 1 leaves a partial mismatch.
function colourMatch(
  src: Float32Array,
  srcSel: Uint8Array,
  dst: Float32Array,
  dstSel: Uint8Array,
  keep: number,
  roi: Box,
  w: number,
): void {
  const a = stats(src, srcSel), b = stats(dst, dstSel);
  if (a.n < 10 || b.n < 10) return;
  for (let c = 0; c < 3; c++) {
    const k = 1 + (Math.min(1.5, Math.max(0.67, b.sd[c] / a.sd[c])) - 1) * keep;
    const m = a.mu[c] + (b.mu[c] - a.mu[c]) * keep;
    for (let y = roi.y0; y < roi.y1; y++) {
      for (let i = y * w + roi.x0, e = y * w + roi.x1; i < e; i++) {
        src[i * 3 + c] = (src[i * 3 + c] - a.mu[c]) * k + m;
      }
    }
  }
}

/** Whole-face swap from an aligned donor; facts are every class that visibly changed. */
export function photoFaceSwap(ed: Editor, don: Aligned, rng: Rng, strong: boolean): void {
  const c = ed.c, { w, h } = c, k = w / 512;
  const region = new Uint8Array(w * h), skinBoth = new Uint8Array(w * h), skinDon = new Uint8Array(w * h);
  for (let i = 0; i < region.length; i++) {
    if (FACE_OK[ed.partAfter[i]] && FACE_OK[don.part[i]]) region[i] = 1;
    if (SKIN_OK[ed.partAfter[i]] && SKIN_OK[don.part[i]]) skinBoth[i] = 1;
  }
  // the seam sits inside both outlines
  const inner = dilateInverse(region, w, h, Math.max(1, Math.round(3 * k)));
  const b = boxOf(inner, w, h);
  if (!b) return;
  for (let i = 0; i < skinDon.length; i++) skinDon[i] = skinBoth[i] & inner[i];
  const artifact = rng.weighted<Artifact>(["color", "blur", "lighting", "edge", "texture"], [
    0.35,
    0.25,
    0.15,
    strong ? 0.15 : 0.05,
    0.1,
  ]);
  const src = don.rgb.slice();
  const need = growBox(b, 12, w, h);
  colourMatch(src, skinDon, c.rgb, skinDon, artifact === "color" ? (strong ? 0.2 : 0.45) : 1, need, w);
  const gen = artifact === "color" ? src : degrade(src, w, h, artifact, rng, strong, b, inner);
  const alpha = featherInside(inner, w, h, artifact === "edge" ? 1 : Math.round((strong ? 5 : 8) * k), b);
  const newPart = ed.partAfter.slice();
  for (let i = 0; i < inner.length; i++) if (inner[i]) newPart[i] = don.part[i];
  ed.step(inner, b, gen, alpha, newPart, [], { change: "swapped", artifact });
}

// Erode a 0/1 mask by r (the complement dilated).
function dilateInverse(m: Uint8Array, w: number, h: number, r: number): Uint8Array {
  const inv = new Uint8Array(m.length);
  for (let i = 0; i < m.length; i++) inv[i] = m[i] ? 0 : 1;
  const d = dilate(inv, w, h, r);
  const out = new Uint8Array(m.length);
  for (let i = 0; i < m.length; i++) out[i] = m[i] && !d[i] ? 1 : 0;
  return out;
}

type Side = "left" | "right" | "both" | null;

const PAIRED: Partial<Record<Region, [number[], number[]]>> = {
  eyebrow: [[P.browL], [P.browR]],
  eye: [[P.eyeL, P.pupilL], [P.eyeR, P.pupilR]],
  cheek: [[P.cheekL], [P.cheekR]],
};

function partsFor(r: Region, side: Side): number[] {
  const pair = PAIRED[r];
  if (pair && side === "left") return pair[0];
  if (pair && side === "right") return pair[1];
  if (r === "eye") return [P.eyeL, P.eyeR, P.pupilL, P.pupilR];
  if (r === "lip") return [P.lip, P.mouth, P.tooth];
  return partsOfRegion(r);
}

function present(part: Uint8Array, parts: number[], min: number): boolean {
  const ok = new Uint8Array(256);
  for (const p of parts) ok[p] = 1;
  let n = 0;
  for (let i = 0; i < part.length; i++) n += ok[part[i]];
  return n >= min;
}

// Regions a regeneration can target, by frequency (eyebrows, eyes and lips first, as in MMTT).
const REGEN: [Region, number][] = [["eyebrow", 5], ["eye", 4], ["lip", 3.5], ["nose", 2], ["cheek", 0.6], [
  "chin",
  0.5,
]];

/**
 * Diffusion-like regeneration of `nParts` regions from an aligned donor: per region, the
 * union of both faces' part grows into the surrounding skin, and the donor's pixels there,
 * matched to the ring around the blob, are smoothed at mid scale (grain kept) with a drift.
 */
export function photoRegionSwap(ed: Editor, don: Aligned, rng: Rng, strong: boolean, nParts: number): void {
  const c = ed.c, { w, h } = c, k = w / 512;
  const pool = REGEN.filter(([r]) => present(ed.partAfter, partsFor(r, null), 30 * k * k));
  for (let n = 0; n < nParts && pool.length; n++) {
    const j = pool.indexOf(rng.weighted(pool, pool.map((x) => x[1])));
    const r = pool[j][0];
    pool.splice(j, 1);
    const side: Side = PAIRED[r] ? rng.pick<Side>(["left", "right", "both", "both"]) : null;
    const parts = partsFor(r, side === "both" ? null : side);
    const ok = new Uint8Array(256);
    for (const p of parts) ok[p] = 1;
    const core = new Uint8Array(w * h);
    for (let i = 0; i < core.length; i++) core[i] = ok[ed.partAfter[i]] | ok[don.part[i]];
    const blob = dilate(core, w, h, Math.max(1, Math.round((strong ? 6 : 4) * k)));
    for (let i = 0; i < blob.length; i++) {
      if (blob[i] && !core[i] && !(SKIN_OK[ed.partAfter[i]] && SKIN_OK[don.part[i]])) blob[i] = 0;
    }
    const b = boxOf(blob, w, h);
    if (!b) continue;
    const ring = dilate(blob, w, h, Math.max(2, Math.round(6 * k)));
    for (let i = 0; i < ring.length; i++) if (blob[i] || !SKIN_OK[ed.partAfter[i]]) ring[i] = 0;
    const src = don.rgb.slice();
    const need = growBox(b, 2 * 4 + 2, w, h);
    // the donor's skin ring is matched to the target's
    const donRing = new Uint8Array(w * h);
    for (let i = 0; i < ring.length; i++) donRing[i] = ring[i] & SKIN_OK[don.part[i]];
    colourMatch(src, donRing, c.rgb, ring, 1, need, w);
    // the donor's pixels fill the part itself; toward the blob's edge they fade into the
    // target's own skin (regenerated, not replaced), as an inpainting model continues the
    // surrounding skin
    const wCore = featherInside(
      dilate(core, w, h, 1),
      w,
      h,
      Math.max(1, Math.round(3 * k)),
      need,
    );
    for (let y = need.y0; y < need.y1; y++) {
      for (let i = y * w + need.x0, e = y * w + need.x1; i < e; i++) {
        const a = wCore[i];
        for (let ch = 0; ch < 3; ch++) {
          src[i * 3 + ch] = c.rgb[i * 3 + ch] + (src[i * 3 + ch] - c.rgb[i * 3 + ch]) * a;
        }
      }
    }
    const sm = new Float32Array(src.length);
    softBlur(src, w, h, strong ? 2 : 1, growBox(b, 8, w, h), sm);
    const drift = [rng.normal(), rng.normal(), rng.normal()].map((v) => v * 0.008);
    for (let y = need.y0; y < need.y1; y++) {
      for (let i = (y * w + need.x0) * 3, e = (y * w + need.x1) * 3; i < e; i += 3) {
        sm[i] += drift[0];
        sm[i + 1] += drift[1];
        sm[i + 2] += drift[2];
      }
    }
    const artifact = rng.weighted<Artifact>(["blur", "color", "texture", "lighting"], [0.4, 0.3, 0.15, 0.15]);
    const gen = degrade(sm, w, h, artifact, rng, strong, b, core);
    const grown = dilate(blob, w, h, 1);
    const gb = boxOf(grown, w, h)!;
    const alpha = featherInside(grown, w, h, featherFor(artifact, strong), gb);
    const newPart = ed.partAfter.slice();
    for (let i = 0; i < grown.length; i++) if (blob[i]) newPart[i] = don.part[i];
    const planSide = side === "both" ? "both" : side;
    ed.step(grown, gb, gen, alpha, newPart, [{
      region: r,
      side: planSide,
      change: "changed",
      artifact,
      parts,
    }], null);
  }
}

// ---- attribute edits: local warps and recolouring ----

/** Centroid and extent of the pixels of `parts`. */
function partGeom(
  part: Uint8Array,
  w: number,
  parts: number[],
): { cx: number; cy: number; rx: number; ry: number; n: number } {
  const ok = new Uint8Array(256);
  for (const p of parts) ok[p] = 1;
  let n = 0, sx = 0, sy = 0, x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
  for (let i = 0; i < part.length; i++) {
    if (!ok[part[i]]) continue;
    const x = i % w, y = (i - x) / w;
    n++, sx += x, sy += y;
    x0 = Math.min(x0, x), x1 = Math.max(x1, x), y0 = Math.min(y0, y), y1 = Math.max(y1, y);
  }
  return n
    ? { cx: sx / n, cy: sy / n, rx: (x1 - x0 + 1) / 2, ry: (y1 - y0 + 1) / 2, n }
    : { cx: 0, cy: 0, rx: 0, ry: 0, n };
}

/**
 * Local warp around (cx, cy): scale sx, sy inside an ellipse of radii (ax, ay), fading smoothly
 * to the identity at its edge. Writes the warped colour (bilinear) and parts (nearest) into
 * `rgb`/`part` (copies of the canvas) inside the ellipse's box.
 */
function localWarp(
  src: Float32Array,
  srcPart: Uint8Array,
  w: number,
  h: number,
  g: { cx: number; cy: number; ax: number; ay: number; sx: number; sy: number },
  rgb: Float32Array,
  part: Uint8Array,
): Box {
  const b: Box = {
    x0: Math.max(0, Math.floor(g.cx - g.ax)),
    y0: Math.max(0, Math.floor(g.cy - g.ay)),
    x1: Math.min(w, Math.ceil(g.cx + g.ax) + 1),
    y1: Math.min(h, Math.ceil(g.cy + g.ay) + 1),
  };
  for (let y = b.y0; y < b.y1; y++) {
    for (let x = b.x0; x < b.x1; x++) {
      const dx = x - g.cx, dy = y - g.cy, d2 = (dx / g.ax) ** 2 + (dy / g.ay) ** 2;
      if (d2 >= 1) continue;
      const f = (1 - d2) ** 2;
      const kx = 1 + (g.sx - 1) * f, ky = 1 + (g.sy - 1) * f;
      const px = Math.min(w - 1.001, Math.max(0, g.cx + dx / kx)),
        py = Math.min(h - 1.001, Math.max(0, g.cy + dy / ky));
      const fx = Math.floor(px), fy = Math.floor(py), ux = px - fx, uy = py - fy, o = (y * w + x) * 3;
      const a = (fy * w + fx) * 3, bb = a + 3, c = a + w * 3, d = c + 3;
      for (let ch = 0; ch < 3; ch++) {
        rgb[o + ch] = (src[a + ch] * (1 - ux) + src[bb + ch] * ux) * (1 - uy) +
          (src[c + ch] * (1 - ux) + src[d + ch] * ux) * uy;
      }
      part[y * w + x] = srcPart[Math.round(py) * w + Math.round(px)];
    }
  }
  return b;
}

interface PhotoEdit {
  region: Region;
  change: string;
  /** Sides the edit may take (paired regions). */
  sided: boolean;
  weight: number;
  kind: "warp" | "colour";
  /** Warp scales (x, y) or colour transform per pixel. */
  scale?: (strong: boolean, rng: Rng) => [number, number];
  colour?: (rgb: number[], strong: boolean, t: number[]) => void;
  /** Random parameters of a colour edit. */
  draw?: (rng: Rng) => number[];
}

const lum = (p: number[]) => 0.299 * p[0] + 0.587 * p[1] + 0.114 * p[2];

const PHOTO_EDITS: PhotoEdit[] = [
  {
    region: "eye",
    change: "enlarged",
    sided: true,
    weight: 2,
    kind: "warp",
    scale: (s) => [s ? 1.35 : 1.25, s ? 1.45 : 1.3],
  },
  {
    region: "eye",
    change: "shrunk",
    sided: true,
    weight: 1.2,
    kind: "warp",
    scale: (s) => [s ? 0.75 : 0.82, s ? 0.7 : 0.8],
  },
  {
    region: "lip",
    change: "plumped",
    sided: false,
    weight: 2,
    kind: "warp",
    scale: (s) => [s ? 1.12 : 1.08, s ? 1.5 : 1.35],
  },
  {
    region: "lip",
    change: "widened",
    sided: false,
    weight: 0.8,
    kind: "warp",
    scale: (s) => [s ? 1.3 : 1.2, 1],
  },
  {
    region: "lip",
    change: "reddened",
    sided: false,
    weight: 1.5,
    kind: "colour",
    draw: (r) => [r.range(0.6, 1)],
    colour: (p, s, t) => {
      const a = (s ? 0.35 : 0.22) * t[0];
      p[0] = p[0] + (Math.min(1, p[0] * 1.5 + 0.1) - p[0]) * a * 2;
      p[1] *= 1 - a;
      p[2] *= 1 - a * 0.6;
    },
  },
  {
    region: "nose",
    change: "widened",
    sided: false,
    weight: 1,
    kind: "warp",
    scale: (s) => [s ? 1.4 : 1.28, 1],
  },
  {
    region: "nose",
    change: "narrowed",
    sided: false,
    weight: 0.8,
    kind: "warp",
    scale: (s) => [s ? 0.7 : 0.78, 1],
  },
  {
    region: "eyebrow",
    change: "thickened",
    sided: true,
    weight: 1.6,
    kind: "warp",
    scale: (s) => [1.05, s ? 1.9 : 1.6],
  },
  {
    region: "eyebrow",
    change: "darkened",
    sided: true,
    weight: 1.6,
    kind: "colour",
    colour: (p, s) => {
      const k = s ? 0.45 : 0.6;
      for (let c = 0; c < 3; c++) p[c] *= k;
    },
  },
  {
    region: "pupil",
    change: "recoloured",
    sided: false,
    weight: 1,
    kind: "colour",
    draw: (r) => r.pick([[0.2, 0.55, 0.95], [0.25, 0.8, 0.35], [0.85, 0.55, 0.15], [0.6, 0.3, 0.85]]),
    colour: (p, s, t) => {
      const l = lum(p) * (s ? 1.6 : 1.3) + 0.05;
      for (let c = 0; c < 3; c++) p[c] = p[c] + (t[c] * l * 1.4 - p[c]) * (s ? 0.85 : 0.65);
    },
  },
  {
    region: "cheek",
    change: "reddened",
    sided: true,
    weight: 0.7,
    kind: "colour",
    colour: (p, s) => {
      const a = s ? 0.3 : 0.2;
      p[0] = p[0] + (1 - p[0]) * a * 0.5;
      p[1] *= 1 - a * 0.6;
      p[2] *= 1 - a * 0.5;
    },
  },
  {
    region: "tooth",
    change: "yellowed",
    sided: false,
    weight: 0.5,
    kind: "colour",
    colour: (p, s) => {
      const a = s ? 0.5 : 0.35;
      p[2] *= 1 - a;
      p[1] *= 1 - a * 0.2;
    },
  },
  {
    region: "skin",
    change: "smoothed",
    sided: false,
    weight: 0.6,
    kind: "colour",
    colour: () => {},
  },
];

function editParts(e: PhotoEdit, side: Side): number[] {
  if (e.region === "eye") return partsFor("eye", side === "both" ? null : side);
  if (e.region === "lip") return [P.lip, P.mouth, P.tooth];
  if (e.region === "skin") return SKIN_AREAS;
  return partsFor(e.region, side === "both" ? null : side);
}

const CONFLICTS: Region[][] = [["eye", "pupil"], ["lip", "tooth"], ["skin", "cheek"]];
function clash(a: Region, b: Region): boolean {
  return a === b || CONFLICTS.some((g) => g.includes(a) && g.includes(b));
}

/**
 * Attribute edits: `nParts` non-conflicting warps or recolourings, each blended over the
 * union of its old and new part masks (grown a little) as its own measured step.
 */
export function photoAttributeEdit(ed: Editor, rng: Rng, strong: boolean, nParts: number): void {
  const c = ed.c, { w, h } = c, k = w / 512;
  const chosen: PhotoEdit[] = [];
  for (let tries = 0; chosen.length < nParts && tries < 30; tries++) {
    const pool = PHOTO_EDITS.filter((e) =>
      !chosen.some((o) => clash(o.region, e.region)) && present(ed.partAfter, editParts(e, null), 20 * k * k)
    );
    if (!pool.length) break;
    chosen.push(rng.weighted(pool, pool.map((e) => e.weight)));
  }
  for (const e of chosen) {
    const side: Side = e.sided
      ? rng.pick<Side>(["left", "right", "both"])
      : e.region === "pupil"
      ? "both"
      : null;
    const parts = editParts(e, side);
    const gen = c.rgb.slice(), newPart = ed.partAfter.slice();
    const ok = new Uint8Array(256);
    for (const p of parts) ok[p] = 1;
    const artifact = artifactFor(strong, rng, side, ["blur", "texture", "lighting", "color"]);
    if (e.kind === "warp") {
      // one warp per connected side (both eyes: each around its own centre)
      const groups = side === "both" && PAIRED[e.region]
        ? [PAIRED[e.region]![0], PAIRED[e.region]![1]]
        : [parts];
      const [sx, sy] = e.scale!(strong, rng);
      for (const gp of groups) {
        const g = partGeom(ed.partAfter, w, gp);
        if (!g.n) continue;
        localWarp(
          c.rgb,
          ed.partAfter,
          w,
          h,
          {
            cx: g.cx,
            cy: g.cy,
            ax: g.rx * Math.max(1.6, sx) + 4 * k,
            ay: g.ry * Math.max(1.6, sy) + 4 * k + (e.region === "eyebrow" ? g.ry : 0),
            sx,
            sy,
          },
          gen,
          newPart,
        );
      }
    } else if (e.region === "skin") {
      const b = boxOf(partMask(ed.partAfter, SKIN_AREAS), w, h);
      if (!b) continue;
      softBlur(c.rgb, w, h, strong ? 5 : 4, growBox(b, 2, w, h), gen);
      const t = [rng.normal(), rng.normal(), rng.normal()].map((v) => v * 0.02);
      for (let i = 0; i < newPart.length; i++) {
        if (!SKIN_OK[ed.partAfter[i]]) continue;
        for (let ch = 0; ch < 3; ch++) gen[i * 3 + ch] = gen[i * 3 + ch] + t[ch] + 0.04;
      }
    } else {
      const t = e.draw ? e.draw(rng) : [];
      const p = [0, 0, 0];
      for (let i = 0; i < newPart.length; i++) {
        if (!ok[ed.partAfter[i]]) continue;
        p[0] = gen[i * 3], p[1] = gen[i * 3 + 1], p[2] = gen[i * 3 + 2];
        e.colour!(p, strong, t);
        gen[i * 3] = p[0], gen[i * 3 + 1] = p[1], gen[i * 3 + 2] = p[2];
      }
    }
    // the step mask: old and new parts, grown so the changed outline and its shading are inside
    const region = new Uint8Array(w * h);
    for (let i = 0; i < region.length; i++) region[i] = ok[ed.partAfter[i]] | ok[newPart[i]];
    const grown = e.kind === "warp"
      ? dilate(region, w, h, Math.max(1, Math.round(3 * k)))
      : e.region === "skin"
      ? region
      : dilate(region, w, h, 1);
    if (e.region === "skin") {
      // smoothing the skin must not blur the features' outlines
      for (let i = 0; i < grown.length; i++) if (grown[i] && !SKIN_OK[newPart[i]]) grown[i] = 0;
    }
    // outside the step mask the parts stay as they were
    for (let i = 0; i < grown.length; i++) if (!grown[i]) newPart[i] = ed.partAfter[i];
    const b = boxOf(grown, w, h);
    if (!b) continue;
    const out =
      artifact === "lighting" || artifact === "color" || artifact === "blur" || artifact === "texture"
        ? degrade(gen, w, h, artifact, rng, strong, b, region)
        : gen;
    // blush and skin tone fade out softly, as retouching does
    const soft = e.region === "cheek" || e.region === "skin" ? Math.round(6 * k) : 0;
    const alpha = featherInside(grown, w, h, Math.max(soft, featherFor(artifact, strong)), b);
    const planSide = side === "both" ? "both" : side;
    ed.step(grown, b, out, alpha, newPart, [{
      region: e.region,
      side: planSide,
      change: e.change,
      artifact,
      parts,
    }], null);
  }
}
