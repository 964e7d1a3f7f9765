/**
 * The four manipulation paradigms of MMTT, each producing the forged float image, the
 * process-derived mask (exactly the pixels the blend may touch) and a log of facts for the
 * captioner: face swap, attribute edit, and two inpainting families
 * I_f = (1 − M)·I + M·I_g with I_g from patch synthesis or a diffusion-like noisy re-render.
 */
import type { ForgeryType } from "../mmtt.ts";
import type { Region } from "../regions.ts";
import { Rng } from "../rng.ts";
import { type Canvas, randomBytes, SYM_UNIFORM } from "./canvas.ts";
import { type EditKind, EDITS, type Side } from "./edits.ts";
import { type FaceParams, sampleFace } from "./face_params.ts";
import { partBounds, releaseCanvas, renderFace } from "./face_render.ts";
import { blurRgb, type Box, boxOf, composite, dilate, featherInside, growBox, partMask } from "./masks.ts";
import { P, PART_REGION, partsOfRegion } from "./parts.ts";

/** Visible traces a caption can cite. */
export type Artifact = "blur" | "color" | "edge" | "texture" | "lighting" | "asymmetry" | "repeat";

/** One captionable statement about a manipulated region. */
export interface Fact {
  region: Region;
  side: Side;
  change: string;
  artifact: Artifact;
}

/** Result of one manipulation. */
export interface Forgery {
  type: ForgeryType;
  strong: boolean;
  /** The forged float image (the input canvas's buffer, edited in place). */
  rgb: Float32Array;
  mask: Uint8Array;
  /** Bounding box of `mask` (null when empty); `rgb` equals the input outside it. */
  box: Box | null;
  /** Per-step masks whose union is `mask` (kept for the invariant tests). */
  stepMasks: Uint8Array[];
  partAfter: Uint8Array;
  facts: Fact[];
}

// Scratch RGB planes for generated content (one isolate each, used synchronously).
const rgbScratch = new Map<string, Float32Array>();
function scratchRgb(name: string, n: number): Float32Array {
  let a = rgbScratch.get(name);
  if (!a || a.length !== n) {
    a = new Float32Array(n);
    rgbScratch.set(name, a);
  }
  return a;
}

// Bounding box of the pixels whose part id is flagged in `ok` (null when none).
function boxOfParts(part: Uint8Array, ok: Uint8Array, w: number, h: number): Box | null {
  let x0 = w, y0 = h, x1 = 0, y1 = 0;
  for (let y = 0; y < h; y++) {
    for (let x = 0, i = y * w; x < w; x++, i++) {
      if (!ok[part[i]]) continue;
      if (x < x0) x0 = x;
      if (x >= x1) x1 = x + 1;
      if (y < y0) y0 = y;
      y1 = y + 1;
    }
  }
  return x0 < x1 ? { x0, y0, x1, y1 } : null;
}

function unionBox(a: Box | null, b: Box): Box {
  return a
    ? {
      x0: Math.min(a.x0, b.x0),
      y0: Math.min(a.y0, b.y0),
      x1: Math.max(a.x1, b.x1),
      y1: Math.max(a.y1, b.y1),
    }
    : b;
}

// Rows/columns of `b` as index ranges; loops below visit only these.
function eachRow(b: Box, w: number, fn: (start: number, end: number, y: number) => void): void {
  for (let y = b.y0; y < b.y1; y++) fn(y * w + b.x0, y * w + b.x1, y);
}

function pickEdits(f: FaceParams, rng: Rng, n: number): EditKind[] {
  const out: EditKind[] = [];
  for (let tries = 0; out.length < n && tries < 40; tries++) {
    const pool = EDITS.filter((e) => e.ok(f) && !out.some((o) => o.region === e.region));
    if (!pool.length) break;
    out.push(rng.weighted(pool, pool.map((e) => e.weight)));
  }
  return out;
}

function artifactFor(strong: boolean, rng: Rng, side: Side, base: Artifact[]): Artifact {
  if ((side === "left" || side === "right") && rng.chance(0.35)) return "asymmetry";
  return rng.pick(strong ? [...base, "edge", "color"] : base);
}

// Apply artifacts to the generated content before blending (so the caption is true). Only the
// box `roi` of the result is valid (it is all the blend reads); `src` is valid 2·r beyond it
// when the artifact is a blur. Returns `src` itself (edited in place) or a scratch plane.
function degradeSource(
  src: Float32Array,
  w: number,
  h: number,
  a: Artifact,
  rng: Rng,
  strong: boolean,
  roi: Box,
): Float32Array {
  if (a === "blur") {
    const out = scratchRgb("degrade", src.length);
    blurRgb(src, w, h, strong ? 3 : 1, roi, out);
    return out;
  }
  if (a === "color") {
    const t = [rng.normal(), rng.normal(), rng.normal()].map((v) => v * (strong ? 0.07 : 0.035));
    const t0 = t[0], t1 = t[1], t2 = t[2];
    eachRow(roi, w, (s, e) => {
      for (let i = s * 3; i < e * 3; i += 3) {
        src[i] += t0;
        src[i + 1] += t1;
        src[i + 2] += t2;
      }
    });
    return src;
  }
  if (a === "lighting") {
    const g = (strong ? 0.25 : 0.12) * (rng.chance(0.5) ? 1 : -1);
    for (let y = roi.y0; y < roi.y1; y++) {
      for (let x = roi.x0; x < roi.x1; x++) {
        const m = 1 + g * (x / w - 0.5) * 2, o = (y * w + x) * 3;
        src[o] *= m;
        src[o + 1] *= m;
        src[o + 2] *= m;
      }
    }
    return src;
  }
  return src;
}

// Blend `src` into `base` over the grown region; returns the grown region (the edit's mask).
function blend(
  base: Float32Array,
  src: Float32Array,
  region: Uint8Array,
  w: number,
  h: number,
  artifact: Artifact,
  strong: boolean,
): Uint8Array {
  const grown = dilate(region, w, h, strong ? 1 : 3);
  const b = boxOf(grown, w, h);
  if (!b) return grown;
  const alpha = featherInside(grown, w, h, artifact === "edge" ? 0 : strong ? 2 : 4, b);
  composite(base, src, alpha, w, b);
  return grown;
}

// Box that the blend of `region` can touch (its dilation reach), or null when empty.
function blendBox(region: Uint8Array, w: number, h: number, strong: boolean): Box | null {
  const b = boxOf(region, w, h);
  return b ? growBox(b, strong ? 1 : 3, w, h) : null;
}

// partAfter = before, with `after` where the mask is set.
function partsAfter(
  before: Uint8Array,
  after: Uint8Array,
  mask: Uint8Array,
  b: Box | null,
  w: number,
): Uint8Array {
  const out = before.slice();
  if (b) {
    eachRow(b, w, (s, e) => {
      for (let i = s; i < e; i++) if (mask[i]) out[i] = after[i];
    });
  }
  return out;
}

/** Attribute edit (also used, with a noisy re-render, by diffusion inpainting). */
function attributeEdit(
  c: Canvas,
  f: FaceParams,
  rng: Rng,
  strong: boolean,
  nParts: number,
  diffusion: boolean,
): Forgery {
  const { w, h } = c;
  const g = structuredClone(f);
  const results = pickEdits(f, rng, nParts).map((e) => e.apply(g, rng, strong));
  const ok = new Uint8Array(256);
  for (const r of results) for (const p of r.parts) ok[p] = 1;
  // Re-render only a window that holds every pixel the edit can read: the changed parts' old
  // pixels and the dry-run bounds of their new ones, grown by the reach of the dilations
  // (≤ 10 + 3) and blurs (2·2 + 2·3). Inside it the pixels are those of a full render.
  let win = boxOfParts(c.part, ok, w, h);
  const bounds = partBounds(g, w);
  for (let p = 0; p < bounds.length; p++) if (ok[p] && bounds[p]) win = unionBox(win, bounds[p]!);
  const REACH = 10 + 3 + 2 * 2 + 2 * 3 + 1;
  let after = win ? renderFace(g, w, growBox(win, REACH, w, h)) : renderFace(g, w);
  const rgb = c.rgb;
  const mask = new Uint8Array(w * h);
  const stepMasks: Uint8Array[] = [];
  const facts: Fact[] = [];
  // the union of the old and new part masks of every changed part (all inside the window)
  let region: Uint8Array = new Uint8Array(w * h);
  const before = c.part, now = after.part, cl = after.clip;
  let n = 0;
  for (let y = cl.y0; y < cl.y1; y++) {
    for (let i = y * w + cl.x0, e = y * w + cl.x1; i < e; i++) {
      const v = ok[before[i]] | ok[now[i]];
      region[i] = v;
      n += v;
    }
  }
  if (n === 0) {
    // nothing changed: fall back to the nose, which needs a full re-render
    releaseCanvas(after);
    after = renderFace(g, w);
    region = partMask(c.part, [P.nose]);
  }
  const artifact = diffusion
    ? rng.pick<Artifact>(["blur", "texture", "color"])
    : artifactFor(strong, rng, results[0]?.side ?? null, ["blur", "texture", "lighting", "color"]);
  let src = after.rgb;
  if (diffusion) {
    // diffusion-like: the regenerated area is coarser (a blob around the parts), smoothed,
    // colour-drifted and re-noised
    region = dilate(region, w, h, strong ? 10 : 6);
    const roi = blendBox(region, w, h, strong);
    // the degrade blur (if any) reads 2·r beyond the blend box
    const need = roi && growBox(roi, artifact === "blur" ? 2 * (strong ? 3 : 1) : 0, w, h);
    const blurred = scratchRgb("diffusion", src.length);
    if (need) blurRgb(src, w, h, strong ? 2 : 1, need, blurred);
    src = blurred;
    const drift = [rng.normal(), rng.normal(), rng.normal()].map((v) => v * (strong ? 0.05 : 0.02));
    // re-noise (±0.01, uniform, 256 levels) from its own stream, only where it can be seen
    const noiseRng = Rng.derive(rng.u32(), 0x6e015e);
    if (need) {
      const bw = need.x1 - need.x0, noise = new Uint8Array(bw * 3);
      for (let y = need.y0; y < need.y1; y++) {
        randomBytes(noiseRng, bw * 3, noise);
        for (let x = 0, i = (y * w + need.x0) * 3; x < bw * 3; x += 3, i += 3) {
          src[i] += drift[0] + SYM_UNIFORM[noise[x]] * 0.01;
          src[i + 1] += drift[1] + SYM_UNIFORM[noise[x + 1]] * 0.01;
          src[i + 2] += drift[2] + SYM_UNIFORM[noise[x + 2]] * 0.01;
        }
      }
    }
  }
  const roi = blendBox(region, w, h, strong);
  if (roi) src = degradeSource(src, w, h, artifact, rng, strong, roi);
  else degradeSource(src, w, h, artifact, rng, strong, { x0: 0, y0: 0, x1: 0, y1: 0 });
  const m = blend(rgb, src, region, w, h, artifact, strong);
  stepMasks.push(m);
  mask.set(m);
  for (const r of results) facts.push({ region: r.region, side: r.side, change: r.change, artifact });
  const box = boxOf(mask, w, h);
  const partAfter = partsAfter(c.part, after.part, mask, box, w);
  releaseCanvas(after);
  return {
    type: diffusion ? "inpaint_diffusion" : "attribute_edit",
    strong,
    rgb,
    mask,
    box,
    stepMasks,
    partAfter,
    facts,
  };
}

const SWAP_PARTS = [
  P.skin,
  P.forehead,
  P.cheekL,
  P.cheekR,
  P.chin,
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
  P.tongue,
  P.wrinkle,
  P.freckle,
  P.scar,
  P.dimple,
  P.mustache,
  P.beard,
];

/** Face swap: another identity's inner face, blended over the target's. */
function faceSwap(c: Canvas, f: FaceParams, rng: Rng, strong: boolean, nParts: number): Forgery {
  const { w, h } = c;
  const d = sampleFace(rng);
  // keep the target's head: outline, hair, ears, background, clothes, glasses
  for (
    const key of [
      "cx",
      "cy",
      "rx",
      "ryTop",
      "ryBot",
      "jawTaper",
      "hairStyle",
      "hairColor",
      "hairY",
      "earY",
      "earRx",
      "earRy",
      "bg",
      "bgKind",
      "clothes",
      "glasses",
      "sex",
      "beard",
      "mustache",
      "facialHairColor",
    ] as const
  ) {
    (d as unknown as Record<string, unknown>)[key] = structuredClone(f[key]);
  }
  d.eyeY = f.eyeY + rng.range(-3, 3);
  d.browY = d.eyeY - (f.eyeY - f.browY);
  if (!strong) d.skin = [0, 1, 2].map((i) => f.skin[i] * 0.75 + d.skin[i] * 0.25) as FaceParams["skin"];
  const k = w / 512;
  // inner-face oval from the brows to below the mouth
  const region = new Uint8Array(w * h);
  const ocx = f.cx * k, ocy = ((f.browY + f.mouthY) / 2 + 6) * k;
  const orx = f.rx * 0.82 * k, ory = ((f.mouthY - f.browY) / 2 + 26) * k;
  const allow = new Uint8Array(256);
  for (const p of SWAP_PARTS) allow[p] = 1;
  const ox0 = Math.max(0, Math.floor(ocx - orx) - 1), ox1 = Math.min(w, Math.ceil(ocx + orx) + 2);
  const oy0 = Math.max(0, Math.floor(ocy - ory) - 1), oy1 = Math.min(h, Math.ceil(ocy + ory) + 2);
  // Only the donor's pixels the blend can read are rendered: the oval box, grown by the blend
  // dilation (≤ 3) and the blur reach (2·r ≤ 4). Inside, they equal a full render's.
  const reach = 3 + 2 * 2 + 1;
  const donor = renderFace(d, w, growBox({ x0: ox0, y0: oy0, x1: ox1, y1: oy1 }, reach, w, h));
  const cp = c.part, dp = donor.part;
  for (let y = oy0; y < oy1; y++) {
    for (let x = ox0; x < ox1; x++) {
      const u = (x - ocx) / orx, v = (y - ocy) / ory, i = y * w + x;
      if (u * u + v * v <= 1 && allow[cp[i]] && allow[dp[i]]) region[i] = 1;
    }
  }
  const artifact = artifactFor(strong, rng, null, ["blur", "color", "lighting", "texture"]);
  const roi = blendBox(region, w, h, strong) ?? { x0: 0, y0: 0, x1: 0, y1: 0 };
  let src = donor.rgb;
  if (rng.chance(0.4) || artifact === "blur") {
    const out = scratchRgb("swapBlur", src.length);
    blurRgb(src, w, h, strong ? 2 : 1, roi, out);
    src = out;
  }
  src = degradeSource(src, w, h, artifact === "blur" ? "texture" : artifact, rng, strong, roi);
  const rgb = c.rgb;
  const m = blend(rgb, src, region, w, h, artifact, strong);
  const box = boxOf(m, w, h);
  const partAfter = partsAfter(c.part, donor.part, m, box, w);
  releaseCanvas(donor);
  // mention the regions that changed most visibly, 1..nParts of them
  const cand: { region: Region; side: Side }[] = [
    { region: "eye", side: "both" },
    { region: "eyebrow", side: "both" },
    { region: "nose", side: null },
    { region: "lip", side: null },
    { region: "skin", side: null },
    { region: "cheek", side: "both" },
    { region: "mouth", side: null },
  ];
  if (distance(d.irisColor, f.irisColor) > 0.15) cand.push({ region: "pupil", side: "both" });
  const chosen = rng.shuffle(cand).slice(0, nParts).filter((x) =>
    regionPresent(x.region, m, c.part, partAfter, { box, w })
  );
  if (!chosen.length) chosen.push({ region: "skin", side: null });
  const facts = chosen.map((x) => ({ region: x.region, side: x.side, change: "swapped", artifact }));
  return { type: "face_swap", strong, rgb, mask: m, box, stepMasks: [m], partAfter, facts };
}

function distance(a: number[], b: number[]): number {
  return Math.hypot(a[0] - b[0], a[1] - b[1], a[2] - b[2]);
}

/**
 * True when the mask covers some pixel of `region` before or after the edit. `scan.box`, when
 * given, must contain every set pixel of the mask (only it is scanned; w = image width).
 */
export function regionPresent(
  r: Region,
  mask: Uint8Array,
  before: Uint8Array,
  after: Uint8Array,
  scan?: { box: Box | null; w: number },
): boolean {
  const ok = new Uint8Array(256);
  for (const p of partsOfRegion(r)) ok[p] = 1;
  if (!scan) {
    for (let i = 0; i < mask.length; i++) if (mask[i] && (ok[before[i]] || ok[after[i]])) return true;
    return false;
  }
  const { box, w } = scan;
  if (!box) return false;
  for (let y = box.y0; y < box.y1; y++) {
    for (let i = y * w + box.x0, e = y * w + box.x1; i < e; i++) {
      if (mask[i] && (ok[before[i]] || ok[after[i]])) return true;
    }
  }
  return false;
}

const PATCH_REGIONS: Region[] = [
  "eyebrow",
  "eyebrow",
  "wrinkle",
  "freckle",
  "scar",
  "mustache",
  "beard",
  "dimple",
  "cheek",
  "forehead",
  "chin",
  "lip",
  "eye",
  "nose",
];

/** Patch-based inpainting: the region is refilled with blocks copied from elsewhere on the face. */
function patchInpaint(c: Canvas, f: FaceParams, rng: Rng, strong: boolean, nParts: number): Forgery {
  const { w, h } = c;
  const hist = new Int32Array(256);
  for (let i = 0; i < c.part.length; i++) hist[c.part[i]]++;
  const present = PATCH_REGIONS.filter((r) => partsOfRegion(r).reduce((n, p) => n + hist[p], 0) > 20);
  const regions = [...new Set(rng.shuffle(present.slice()))].slice(0, Math.max(1, Math.min(nParts, 3)));
  const facts: Fact[] = [];
  const paired: Record<string, [number, number]> = {
    eyebrow: [P.browL, P.browR],
    eye: [P.eyeL, P.eyeR],
    cheek: [P.cheekL, P.cheekR],
  };
  let mirror = false;
  const holeParts: number[] = [];
  for (const r of regions) {
    let parts = partsOfRegion(r), side: Side = null;
    if (paired[r]) {
      const s = rng.chance(0.5) ? "left" : "right";
      parts = [s === "left" ? paired[r][0] : paired[r][1]];
      if (r === "eye") parts.push(s === "left" ? P.pupilL : P.pupilR);
      side = s;
      mirror = mirror || rng.chance(0.5);
    }
    holeParts.push(...parts);
    facts.push({ region: r, side, change: mirror && side ? "mirrored" : "erased", artifact: "repeat" });
  }
  const region = partMask(c.part, holeParts);
  const grown = dilate(region, w, h, strong ? 2 : 4);
  const box = boxOf(grown, w, h);
  // Generated content; only the pixels of `grown` are read by the blend, and all are written.
  const src = scratchRgb("patch", c.rgb.length);
  const k = w / 512;
  if (box && mirror) {
    const cx = f.cx * k;
    for (let y = box.y0; y < box.y1; y++) {
      for (let x = box.x0; x < box.x1; x++) {
        const i = y * w + x;
        if (!grown[i]) continue;
        const mx = Math.min(w - 1, Math.max(0, Math.round(2 * cx - x)));
        for (let ch = 0; ch < 3; ch++) src[i * 3 + ch] = c.rgb[(y * w + mx) * 3 + ch];
      }
    }
  } else if (box) {
    // block copies from skin areas outside the hole: visible seams and repeated texture
    const B = Math.max(4, Math.round((strong ? 20 : 12) * k));
    const donorOk = new Uint8Array(256);
    for (const p of [P.cheekL, P.cheekR, P.forehead, P.skin, P.chin]) donorOk[p] = 1;
    const part = c.part;
    // the block grid starts at 0; blocks that miss the box cannot hit the hole
    for (let by = Math.floor(box.y0 / B) * B; by < box.y1; by += B) {
      for (let bx = Math.floor(box.x0 / B) * B; bx < box.x1; bx += B) {
        let hit = false;
        for (let y = by; y < Math.min(h, by + B) && !hit; y++) {
          for (let x = bx; x < Math.min(w, bx + B); x++) {
            if (grown[y * w + x]) {
              hit = true;
              break;
            }
          }
        }
        if (!hit) continue;
        let dx = 0, dy = 0;
        for (let t = 0; t < 30; t++) {
          const ox = Math.round(rng.range(-90, 90) * k), oy = Math.round(rng.range(-60, 60) * k);
          const sx = bx + ox + (B >> 1), sy = by + oy + (B >> 1);
          if (sx < 0 || sy < 0 || sx >= w || sy >= h) continue;
          if (donorOk[part[sy * w + sx]] && !grown[sy * w + sx]) {
            dx = ox;
            dy = oy;
            break;
          }
        }
        for (let y = by; y < Math.min(h, by + B); y++) {
          for (let x = bx; x < Math.min(w, bx + B); x++) {
            const sx = Math.min(w - 1, Math.max(0, x + dx)), sy = Math.min(h - 1, Math.max(0, y + dy));
            for (let ch = 0; ch < 3; ch++) src[(y * w + x) * 3 + ch] = c.rgb[(sy * w + sx) * 3 + ch];
          }
        }
      }
    }
  }
  const rgb = c.rgb;
  if (box) composite(rgb, src, featherInside(grown, w, h, strong ? 0 : 2, box), w, box);
  const partAfter = c.part.slice();
  for (let i = 0; i < grown.length; i++) if (grown[i]) partAfter[i] = P.skin;
  return { type: "inpaint_patch", strong, rgb, mask: grown, box, stepMasks: [grown], partAfter, facts };
}

/** Draw a forgery type and apply it to the rendered face `c` of identity `f`. */
export function manipulate(c: Canvas, f: FaceParams, rng: Rng): Forgery {
  const type = rng.weighted<ForgeryType>([
    "face_swap",
    "attribute_edit",
    "inpaint_patch",
    "inpaint_diffusion",
  ], [
    0.22,
    0.38,
    0.18,
    0.22,
  ]);
  const strong = rng.chance(0.45);
  const nParts = rng.weighted([1, 2, 3, 4, 5], [0.3, 0.32, 0.22, 0.11, 0.05]);
  if (type === "face_swap") return faceSwap(c, f, rng, strong, nParts);
  if (type === "inpaint_patch") return patchInpaint(c, f, rng, strong, nParts);
  return attributeEdit(c, f, rng, strong, nParts, type === "inpaint_diffusion");
}

/** Region name of a part id (re-exported for tests). */
export { PART_REGION };
