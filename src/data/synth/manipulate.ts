/**
 * The four manipulation paradigms of MMTT: face swap, attribute edit, and two inpainting
 * families I_f = (1 − M)·I + M·I_g (a MAT-like smooth fill or mirror copy; a diffusion-like
 * re-render). Each produces the forged float image, the process-derived mask (exactly the
 * pixels a blend may touch) and facts for the captioner.
 *
 * Truthful labels: every blend is one step (`Editor.step`) that names its facts and then
 * MEASURES them: a planned fact whose region changed by less than `MIN_DELTA` grey levels
 * (low-passed, so grain alone does not count) is dropped, a step with no fact left is undone,
 * and any other region class that visibly changed inside the step is named too (that is how
 * face swaps name the swapped face's parts, from the part map).
 */
import type { ForgeryType } from "../mmtt.ts";
import type { Region } from "../regions.ts";
import { Rng } from "../rng.ts";
import type { Canvas } from "./canvas.ts";
import { type EditKind, EDITS, type Side } from "./edits.ts";
import { type FaceParams, sampleFace } from "./face_params.ts";
import { partBounds, releaseCanvas, renderFace } from "./face_render.ts";
import { regrain, residualStd, smoothFill, visibleChange } from "./fill.ts";
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
  /** Measured visible change of the region (grey levels, low-passed mean); ≥ MIN_DELTA. */
  delta: number;
  /** Index of the edit step that made it (facts of one step share a sentence). */
  step: number;
  /** True when the fact was not planned but measured (another class the step changed). */
  spill: boolean;
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

/** Minimum visible change of a named region, in grey levels (mean of the low-passed |Δ|). */
export const MIN_DELTA = 6;
/**
 * Minimum change for a skin area (skin, forehead, cheek, chin, jaw) that was not the planned
 * target: around an edited or swapped feature the skin always moves a few levels
 * (antialiasing, the feature's own shading), which is not a visible change of the skin area.
 */
export const MIN_SPILL_SKIN = 10;

// Region classes that are skin areas: a pixel that changes between a feature and one of these
// counts toward the feature only (an erased eyebrow changed the eyebrow, not the forehead).
const SKINLIKE = new Set<Region | null>(["skin", "forehead", "cheek", "chin", "jaw"]);

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

function copyBox(dst: Float32Array, src: Float32Array, b: Box, w: number): void {
  for (let y = b.y0; y < b.y1; y++) {
    dst.set(src.subarray((y * w + b.x0) * 3, (y * w + b.x1) * 3), (y * w + b.x0) * 3);
  }
}

/** A planned statement: the fact and the part ids (one side only for sided facts) it is about. */
export interface Plan {
  region: Region;
  side: Side;
  change: string;
  artifact: Artifact;
  parts: number[];
}

/**
 * Accumulates steps on a canvas: blend, measure, keep or undo. `partAfter` is the part map
 * after the kept steps; `mask` their union. Shared with the photo mode (src/data/photos/).
 */
export class Editor {
  readonly mask: Uint8Array;
  readonly partAfter: Uint8Array;
  readonly stepMasks: Uint8Array[] = [];
  readonly facts: Fact[] = [];
  box: Box | null = null;
  private readonly prev: Float32Array;

  constructor(readonly c: Canvas) {
    this.mask = new Uint8Array(c.w * c.h);
    this.partAfter = c.part.slice();
    this.prev = scratchRgb("editorPrev", c.rgb.length);
  }

  /**
   * Blend `src` into the canvas with `alpha` over `grown` (its box `b`), where the new part
   * ids are `newPart` (read where `grown` is set). Keeps planned facts that changed visibly,
   * adds every other visibly changed class as a fact (with `extra`'s change and artifact, or
   * "changed" and the first plan's artifact),
   * and undoes the step when nothing is left. Returns the kept facts.
   */
  step(
    grown: Uint8Array,
    b: Box,
    src: Float32Array,
    alpha: Float32Array,
    newPart: Uint8Array,
    plans: Plan[],
    extra: { change: string; artifact: Artifact } | null,
  ): Fact[] {
    const { w, h, rgb } = this.c;
    copyBox(this.prev, rgb, growBox(b, 2, w, h), w);
    composite(rgb, src, alpha, w, b);
    const before = this.partAfter;
    const d = lowpassDelta(this.prev, rgb, w, h, b, before, newPart);
    const kept: Fact[] = [];
    const k2 = (w / 512) ** 2;
    for (const pl of plans) {
      const ok = new Uint8Array(256);
      for (const p of pl.parts) ok[p] = 1;
      // a planned fact is judged on the plain low-pass (a one-pixel shift of an outline, or a
      // texture that differs only in grain, is not a visible change)
      const sel = new Uint8Array(w * h);
      let n = 0;
      for (let y = b.y0; y < b.y1; y++) {
        for (let i = y * w + b.x0, e = y * w + b.x1; i < e; i++) {
          if (grown[i] && (ok[before[i]] || ok[newPart[i]])) (sel[i] = 1), n++;
        }
      }
      const delta = n ? visibleChange(this.prev, rgb, w, h, sel, b) : 0;
      if (n >= Math.max(3, 12 * k2) && delta >= MIN_DELTA) {
        kept.push({
          region: pl.region,
          side: pl.side,
          change: pl.change,
          artifact: pl.artifact,
          delta,
          step: this.stepMasks.length,
          spill: false,
        });
      }
    }
    // every class that visibly changed inside the step and is not yet stated
    const sum = new Float64Array(PART_REGION.length), cnt = new Int32Array(PART_REGION.length);
    const clsIdx = new Map<Region, number>();
    // Pixels within 2 px of a planned part (before or after) hold its antialiased outline and
    // shading; they belong to the planned change, not to a neighbouring class.
    let near: Uint8Array | null = null;
    if (plans.length) {
      const own = new Uint8Array(256);
      for (const pl of plans) for (const p of pl.parts) own[p] = 1;
      const m = new Uint8Array(w * h);
      for (let y = b.y0; y < b.y1; y++) {
        for (let i = y * w + b.x0, e = y * w + b.x1; i < e; i++) {
          if (own[before[i]] || own[newPart[i]]) m[i] = 1;
        }
      }
      near = dilate(m, w, h, 2);
    }
    // (on the 2×2-subsampled grid that lowpassDelta fills: counts are a quarter of the pixels)
    for (let y = b.y0; y < b.y1; y += 2) {
      for (let i = y * w + b.x0, e = y * w + b.x1; i < e; i += 2) {
        if (!grown[i] || (near && near[i])) continue;
        const pb = before[i], pa = newPart[i], cb = PART_REGION[pb], ca = PART_REGION[pa];
        if (cb === ca) {
          if (cb) (sum[pb] += d[i]), cnt[pb]++;
          continue;
        }
        const sb = SKINLIKE.has(cb), sa = SKINLIKE.has(ca);
        if (cb && (!sb || sa)) (sum[pb] += d[i]), cnt[pb]++;
        if (ca && (!sa || sb)) (sum[pa] += d[i]), cnt[pa]++;
      }
    }
    // aggregate part ids to classes (both sides together)
    const cs = new Float64Array(32), cc = new Int32Array(32);
    const classes: Region[] = [];
    for (let p = 0; p < PART_REGION.length; p++) {
      const r = PART_REGION[p];
      if (!r || !cnt[p]) continue;
      let j = clsIdx.get(r);
      if (j === undefined) clsIdx.set(r, j = classes.push(r) - 1);
      cs[j] += sum[p];
      cc[j] += cnt[p];
    }
    const stated = new Set<Region>([...this.facts, ...kept].map((f) => f.region));
    // a planned fact covers the classes of all its parts (an enlarged eye includes its pupil)
    for (const pl of plans) for (const p of pl.parts) if (PART_REGION[p]) stated.add(PART_REGION[p]!);
    let stepPixels = 0;
    for (let y = b.y0; y < b.y1; y++) {
      for (let i = y * w + b.x0, e = y * w + b.x1; i < e; i++) stepPixels += grown[i];
    }
    // a stated skin change covers the skin areas (forehead, cheeks, chin, jaw) it recoloured
    if (stated.has("skin")) { for (const r of SKINLIKE) stated.add(r!); }
    const planned = new Set<Region>(plans.map((p) => p.region));
    classes.forEach((r, j) => {
      const delta = cs[j] / cc[j];
      const min = SKINLIKE.has(r) ? MIN_SPILL_SKIN : MIN_DELTA;
      // a sliver of another class at the edge of a local edit is not a visible change of it
      const minPix = Math.max(6, 40 * k2, extra ? 0 : 0.08 * stepPixels);
      if (stated.has(r) || delta < min || 4 * cc[j] < minPix) return;
      if (SKINLIKE.has(r) && kept.some((f) => f.region === "skin")) return;
      // a planned fact that failed its own (sided) test is not re-added under another name
      if (planned.has(r) && !extra) return;
      const side: Side = r === "eye" || r === "eyebrow" || r === "cheek" || r === "ear" || r === "pupil"
        ? "both"
        : null;
      const ex = extra ?? { change: "changed", artifact: plans[0]?.artifact ?? "blur" };
      kept.push({
        region: r,
        side,
        change: ex.change,
        artifact: ex.artifact,
        delta,
        step: this.stepMasks.length,
        spill: !extra,
      });
    });
    // a step whose planned facts all failed is undone, even if it spilled into other classes
    if (!kept.length || (!extra && !kept.some((f) => !f.spill))) {
      copyBox(rgb, this.prev, b, w);
      kept.length = 0;
      return kept;
    }
    for (let y = b.y0; y < b.y1; y++) {
      for (let i = y * w + b.x0, e = y * w + b.x1; i < e; i++) {
        if (!grown[i]) continue;
        this.mask[i] = 1;
        before[i] = newPart[i];
      }
    }
    this.stepMasks.push(grown);
    this.box = unionBox(this.box, b);
    this.facts.push(...kept);
    return kept;
  }
}

// Per pixel of `b` (full-size plane, valid inside b): max-channel |mean of (cur − prev)| over
// the 5×5 neighbours that have the same (before, after) part pair as the pixel, in grey levels.
// Averaging removes grain; keeping to the same parts stops a big change of one part from
// leaking into its neighbour's score. Only every second row and column of `b` (from its
// corner) is computed: class means need no more, and this is 4× cheaper.
const lpScratch = new Map<number, Float32Array>();
function lowpassDelta(
  prev: Float32Array,
  cur: Float32Array,
  w: number,
  h: number,
  b: Box,
  before: Uint8Array,
  after: Uint8Array,
): Float32Array {
  let out = lpScratch.get(w * h);
  if (!out) lpScratch.set(w * h, out = new Float32Array(w * h));
  const bw = b.x1 - b.x0, bh = b.y1 - b.y0;
  const d = new Float32Array(bw * bh * 3), key = new Uint16Array(bw * bh);
  for (let y = 0; y < bh; y++) {
    for (let x = 0; x < bw; x++) {
      const i = (b.y0 + y) * w + b.x0 + x, o = i * 3, l = y * bw + x;
      d[l * 3] = cur[o] - prev[o];
      d[l * 3 + 1] = cur[o + 1] - prev[o + 1];
      d[l * 3 + 2] = cur[o + 2] - prev[o + 2];
      key[l] = before[i] * 256 + after[i];
    }
  }
  for (let y = 0; y < bh; y += 2) {
    for (let x = 0; x < bw; x += 2) {
      const l = y * bw + x, kk = key[l];
      let r = 0, g = 0, bl = 0, n = 0;
      for (let j = Math.max(0, y - 2); j <= Math.min(bh - 1, y + 2); j++) {
        for (let q = Math.max(0, x - 2); q <= Math.min(bw - 1, x + 2); q++) {
          const m = j * bw + q;
          if (key[m] !== kk) continue;
          r += d[m * 3];
          g += d[m * 3 + 1];
          bl += d[m * 3 + 2];
          n++;
        }
      }
      out[(b.y0 + y) * w + b.x0 + x] = (Math.max(Math.abs(r), Math.abs(g), Math.abs(bl)) / n) * 255;
    }
  }
  return out;
}

// Edits whose parts overlap are never combined (their re-render would change each other's parts).
const CONFLICT: Region[][] = [
  ["eye", "pupil"],
  ["lip", "mouth", "tooth", "tongue", "mustache"],
  ["skin", "cheek", "forehead", "chin", "jaw", "wrinkle", "freckle", "scar", "dimple", "beard"],
];
function conflicts(a: Region, b: Region): boolean {
  if (a === b) return true;
  if (a === "skin" || b === "skin") return CONFLICT[2].includes(a) && CONFLICT[2].includes(b);
  return CONFLICT.slice(0, 2).some((g) => g.includes(a) && g.includes(b)) ||
    (a === "chin" && b === "jaw") || (a === "jaw" && b === "chin");
}

function pickEdits(f: FaceParams, rng: Rng, n: number): EditKind[] {
  const out: EditKind[] = [];
  for (let tries = 0; out.length < n && tries < 40; tries++) {
    const pool = EDITS.filter((e) => e.ok(f) && !out.some((o) => conflicts(o.region, e.region)));
    if (!pool.length) break;
    out.push(rng.weighted(pool, pool.map((e) => e.weight)));
  }
  return out;
}

/** An artifact for a fact (one-sided facts often read as asymmetry). */
export function artifactFor(strong: boolean, rng: Rng, side: Side, base: Artifact[]): Artifact {
  if ((side === "left" || side === "right") && rng.chance(0.35)) return "asymmetry";
  return rng.pick(strong ? [...base, "edge", "color"] : base);
}

/**
 * A blur that keeps the pixel-scale grain: box-blur(r) + (src − box-blur(1)). Mid-scale detail
 * is smeared (what a caption's "blurry" means) while a one-pixel high-pass sees the same grain.
 */
export function softBlur(
  src: Float32Array,
  w: number,
  h: number,
  r: number,
  roi: Box,
  out: Float32Array,
): void {
  const fine = scratchRgb("softFine", src.length);
  blurRgb(src, w, h, 1, roi, fine);
  blurRgb(src, w, h, r, roi, out);
  for (let y = roi.y0; y < roi.y1; y++) {
    for (let i = (y * w + roi.x0) * 3, e = (y * w + roi.x1) * 3; i < e; i++) out[i] += src[i] - fine[i];
  }
}

// Apply an artifact to generated content `src` inside `roi` (src must be valid 2·r beyond it
// for blurs); `sel` limits colour casts to the named region. Returns the plane to blend from.
/** Apply artifact `a` to generated content (see above); returns the plane to blend from. */
export function degrade(
  src: Float32Array,
  w: number,
  h: number,
  a: Artifact,
  rng: Rng,
  strong: boolean,
  roi: Box,
  sel: Uint8Array,
): Float32Array {
  if (a === "blur" || a === "texture") {
    const out = scratchRgb("degrade", src.length);
    softBlur(src, w, h, a === "blur" ? (strong ? 4 : 3) : 2, roi, out);
    return out;
  }
  if (a === "color") {
    const t = [rng.normal(), rng.normal(), rng.normal()].map((v) => v * (strong ? 0.08 : 0.05));
    for (let y = roi.y0; y < roi.y1; y++) {
      for (let i = y * w + roi.x0, e = y * w + roi.x1; i < e; i++) {
        if (!sel[i]) continue;
        src[i * 3] += t[0];
        src[i * 3 + 1] += t[1];
        src[i * 3 + 2] += t[2];
      }
    }
    return src;
  }
  if (a === "lighting") {
    const g = (strong ? 0.3 : 0.18) * (rng.chance(0.5) ? 1 : -1);
    const cx = (roi.x0 + roi.x1) / 2, hw = Math.max(1, (roi.x1 - roi.x0) / 2);
    for (let y = roi.y0; y < roi.y1; y++) {
      for (let x = roi.x0; x < roi.x1; x++) {
        if (!sel[y * w + x]) continue;
        const m = 1 + g * (x - cx) / hw, o = (y * w + x) * 3;
        src[o] *= m;
        src[o + 1] *= m;
        src[o + 2] *= m;
      }
    }
    return src;
  }
  return src;
}

/** Feather radius of a blend for an artifact (0: a hard edge). */
export function featherFor(a: Artifact, strong: boolean): number {
  return a === "edge" ? 0 : strong ? 2 : 4;
}

/** Attribute edit (also used, with a diffusion-like re-render over a blob, by diffusion inpainting). */
function attributeEdit(
  ed: Editor,
  f: FaceParams,
  rng: Rng,
  strong: boolean,
  nParts: number,
  diffusion: boolean,
): void {
  const c = ed.c, { w, h } = c;
  const g = structuredClone(f);
  const results = pickEdits(f, rng, nParts).map((e) => e.apply(g, rng, strong));
  const ok = new Uint8Array(256);
  for (const r of results) for (const p of r.parts) ok[p] = 1;
  // Re-render only a window that holds every pixel the edits can read: the changed parts' old
  // pixels and the dry-run bounds of their new ones, grown by the reach of the dilations and blurs.
  let win: Box | null = boxOf(partMask(c.part, [...ok.keys()].filter((p) => ok[p])), w, h);
  const bounds = partBounds(g, w);
  for (let p = 0; p < bounds.length; p++) if (ok[p] && bounds[p]) win = unionBox(win, bounds[p]!);
  const REACH = 10 + 4 + 2 * 4 + 4;
  const after = win ? renderFace(g, w, growBox(win, REACH, w, h)) : renderFace(g, w);
  const cl = after.clip;
  const src = scratchRgb("edit", c.rgb.length);
  for (const r of results) {
    const rok = new Uint8Array(256);
    for (const p of r.parts) rok[p] = 1;
    let region: Uint8Array = new Uint8Array(w * h);
    let n = 0;
    for (let y = cl.y0; y < cl.y1; y++) {
      for (let i = y * w + cl.x0, e = y * w + cl.x1; i < e; i++) {
        const v = rok[ed.partAfter[i]] | rok[after.part[i]];
        region[i] = v;
        n += v;
      }
    }
    if (!n) continue;
    const named = region;
    const artifact = diffusion
      ? rng.weighted<Artifact>(["blur", "color", "texture", "lighting"], [0.4, 0.3, 0.15, 0.15])
      : artifactFor(strong, rng, r.side, ["blur", "texture", "lighting", "color"]);
    if (diffusion) {
      // the regenerated blob grows into the surrounding skin, never into other features
      const blob = dilate(region, w, h, Math.max(1, Math.round((strong ? 10 : 6) * w / 512)));
      for (let i = 0; i < blob.length; i++) {
        if (blob[i] && !region[i] && !(SKIN_OK[ed.partAfter[i]] && SKIN_OK[after.part[i]])) blob[i] = 0;
      }
      region = blob;
    }
    const grown = dilate(region, w, h, strong ? 1 : 2);
    const b = boxOf(grown, w, h)!;
    const need = growBox(b, 2 * 4 + 2, w, h);
    copyBox(src, after.rgb, need, w);
    let gen = src;
    if (diffusion) {
      // diffusion-like: the regenerated blob is re-synthesised (mid-scale smoothing, grain kept)
      // with a slight colour drift
      const sm = scratchRgb("diffusion", src.length);
      softBlur(src, w, h, strong ? 2 : 1, growBox(b, 2 * 4, w, h), sm);
      const drift = [rng.normal(), rng.normal(), rng.normal()].map((v) => v * 0.006);
      for (let y = need.y0; y < need.y1; y++) {
        for (let i = (y * w + need.x0) * 3, e = (y * w + need.x1) * 3; i < e; i += 3) {
          sm[i] += drift[0];
          sm[i + 1] += drift[1];
          sm[i + 2] += drift[2];
        }
      }
      gen = sm;
    }
    gen = degrade(gen, w, h, artifact, rng, strong, b, named);
    const alpha = featherInside(grown, w, h, featherFor(artifact, strong), b);
    ed.step(grown, b, gen, alpha, after.part, [{ ...r, artifact }], null);
  }
  releaseCanvas(after);
}

// Keys of the target's head a face swap keeps (outline, hair, ears, background, accessories).
const HEAD_KEYS = [
  "cx",
  "cy",
  "rx",
  "ryTop",
  "ryBot",
  "jawTaper",
  "chinScale",
  "hairStyle",
  "hairColor",
  "hairY",
  "earY",
  "earRx",
  "earRy",
  "earScale",
  "bg",
  "bgKind",
  "clothes",
  "glasses",
  "sex",
  "beard",
  "mustache",
  "facialHairColor",
] as const;

// Every part of the face inside its outline (forehead to jaw), as a face swap replaces it.
const SWAP_PARTS = [
  P.skin,
  P.forehead,
  P.cheekL,
  P.cheekR,
  P.chin,
  P.jaw,
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
const SKIN_AREAS = [P.skin, P.forehead, P.cheekL, P.cheekR, P.chin, P.jaw];
const SKIN_OK = new Uint8Array(256);
for (const p of SKIN_AREAS) SKIN_OK[p] = 1;

/**
 * Face swap: another identity's whole face (the target's outline, hair, ears and accessories
 * kept) colour-matched to the target's skin and blended in with a soft seam. The facts are
 * the classes that visibly changed, read from the part maps.
 */
function faceSwap(ed: Editor, f: FaceParams, rng: Rng, strong: boolean): void {
  const c = ed.c, { w, h } = c;
  const d = sampleFace(rng);
  for (const key of HEAD_KEYS) (d as unknown as Record<string, unknown>)[key] = structuredClone(f[key]);
  // the scene's light stays; the donor often shares skin detail (swaps transfer the inner face)
  d.lightDx = f.lightDx;
  d.lightAmt = f.lightAmt;
  d.foreheadShine = f.foreheadShine;
  d.blush = f.blush;
  d.blushColor = f.blushColor;
  if (rng.chance(0.6)) {
    d.texSeed = f.texSeed;
    d.skinTex = f.skinTex;
    d.freckles = f.freckles;
    d.wrinkles = f.wrinkles;
    d.scar = structuredClone(f.scar);
    d.dimples = f.dimples;
  }
  const artifact = rng.weighted<Artifact>(["color", "blur", "lighting", "edge", "texture"], [
    0.35,
    0.25,
    0.15,
    strong ? 0.15 : 0.05,
    0.1,
  ]);
  if (artifact === "lighting") d.lightDx = -Math.sign(f.lightDx || 1) * rng.range(0.7, 1);
  const k = w / 512;
  const fb: Box = {
    x0: Math.max(0, Math.floor((f.cx - f.rx - 4) * k)),
    y0: Math.max(0, Math.floor((f.cy - f.ryTop - 4) * k)),
    x1: Math.min(w, Math.ceil((f.cx + f.rx + 4) * k)),
    y1: Math.min(h, Math.ceil((f.cy + f.ryBot * f.chinScale + 4) * k)),
  };
  const reach = 3 + 2 * 4 + 2;
  const donor = renderFace(d, w, growBox(fb, reach, w, h));
  const allow = new Uint8Array(256), skinOk = new Uint8Array(256);
  for (const p of SWAP_PARTS) allow[p] = 1;
  for (const p of SKIN_AREAS) skinOk[p] = 1;
  const region = new Uint8Array(w * h);
  const cp = c.part, dp = donor.part, rgb = c.rgb, drgb = donor.rgb;
  const mt = [0, 0, 0], md = [0, 0, 0];
  let nt = 0;
  for (let y = fb.y0; y < fb.y1; y++) {
    for (let i = y * w + fb.x0, e = y * w + fb.x1; i < e; i++) {
      if (!allow[cp[i]] || !allow[dp[i]]) continue;
      region[i] = 1;
      if (skinOk[cp[i]] && skinOk[dp[i]]) {
        for (let ch = 0; ch < 3; ch++) (mt[ch] += rgb[i * 3 + ch]), (md[ch] += drgb[i * 3 + ch]);
        nt++;
      }
    }
  }
  // Colour matching: shift the donor to the target's mean skin colour (partly, for a colour
  // mismatch artifact), as face-swap pipelines do before blending.
  const keep = artifact === "color" ? (strong ? 0.2 : 0.45) : 1;
  const shift = [0, 1, 2].map((ch) => nt ? ((mt[ch] - md[ch]) / nt) * keep : 0);
  const b0 = boxOf(region, w, h);
  if (!b0) {
    releaseCanvas(donor);
    return;
  }
  // the seam sits slightly inside the outline, like a blended swap's soft mask
  const grown = region;
  const b = b0;
  const need = growBox(b, 2 * 4 + 2, w, h);
  const src = scratchRgb("swap", rgb.length);
  for (let y = need.y0; y < need.y1; y++) {
    for (let i = y * w + need.x0, e = y * w + need.x1; i < e; i++) {
      src[i * 3] = drgb[i * 3] + shift[0];
      src[i * 3 + 1] = drgb[i * 3 + 1] + shift[1];
      src[i * 3 + 2] = drgb[i * 3 + 2] + shift[2];
    }
  }
  // (colour and lighting artifacts are already in the donor: the partial match, the other light)
  const gen = artifact === "color" || artifact === "lighting"
    ? src
    : degrade(src, w, h, artifact, rng, strong, b, region);
  const alpha = featherInside(grown, w, h, artifact === "edge" ? 1 : strong ? 5 : 8, b);
  const newPart = c.part.slice();
  for (let y = b.y0; y < b.y1; y++) {
    for (let i = y * w + b.x0, e = y * w + b.x1; i < e; i++) if (grown[i]) newPart[i] = dp[i];
  }
  releaseCanvas(donor);
  ed.step(grown, b, gen, alpha, newPart, [], { change: "swapped", artifact });
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

// Patch inpainting targets and their relative frequency (eyebrows, eyes and lips first).
const PATCH: [Region, number][] = [
  ["eyebrow", 5],
  ["eye", 4],
  ["lip", 3.5],
  ["nose", 1.2],
  ["mustache", 1],
  ["beard", 0.8],
  ["wrinkle", 1],
  ["freckle", 0.8],
  ["scar", 0.6],
  ["dimple", 0.5],
  ["cheek", 0.5],
];
const PAIRED: Partial<Record<Region, [number[], number[]]>> = {
  eyebrow: [[P.browL], [P.browR]],
  eye: [[P.eyeL, P.pupilL], [P.eyeR, P.pupilR]],
  cheek: [[P.cheekL], [P.cheekR]],
};
// Mirror image of a part id (left ↔ right).
const MIRROR_PART = Array.from({ length: 256 }, (_, p) => p);
for (
  const [a, b] of [[P.cheekL, P.cheekR], [P.earL, P.earR], [P.eyeL, P.eyeR], [P.pupilL, P.pupilR], [
    P.browL,
    P.browR,
  ]]
) {
  MIRROR_PART[a] = b;
  MIRROR_PART[b] = a;
}
const MARKS = new Set<Region>(["wrinkle", "freckle", "scar", "dimple", "beard", "mustache"]);

/**
 * Patch-based inpainting, one step per region: the region is either filled smoothly from its
 * surroundings (a MAT-like fill carrying matched grain) or, for a paired part, replaced by a
 * mirror copy of its counterpart. The mirror decision is made per region, before its fact.
 * `cx512` is the mirror axis (the face's centre column) in units of a 512-wide image.
 */
export function patchInpaint(ed: Editor, cx512: number, rng: Rng, strong: boolean, nParts: number): void {
  const c = ed.c, { w, h } = c;
  const hist = new Int32Array(256);
  for (let i = 0; i < c.part.length; i++) hist[c.part[i]]++;
  const k2 = (w / 512) ** 2;
  const pool = PATCH.filter(([r]) => partsOfRegion(r).reduce((n, p) => n + hist[p], 0) > 40 * k2);
  const regions: Region[] = [];
  while (regions.length < nParts && pool.length) {
    const j = pool.indexOf(rng.weighted(pool, pool.map((x) => x[1])));
    regions.push(pool[j][0]);
    pool.splice(j, 1);
  }
  const src = scratchRgb("patch", c.rgb.length);
  const cx = cx512 * (w / 512);
  for (const r of regions) {
    let parts = partsOfRegion(r), side: Side = null;
    const pair = PAIRED[r];
    if (pair) {
      side = rng.chance(0.5) ? "left" : "right";
      parts = side === "left" ? pair[0] : pair[1];
    }
    const mirror = pair !== undefined && rng.chance(0.45); // decided for this region only
    const hole = partMask(ed.partAfter, parts);
    const grown = dilate(hole, w, h, strong ? 2 : 4);
    const b = boxOf(grown, w, h);
    if (!b) continue;
    const newPart = ed.partAfter.slice();
    let artifact: Artifact;
    let fillHole = grown;
    if (mirror) {
      artifact = rng.pick<Artifact>(["repeat", "repeat", "edge", "blur"]);
      const own = new Uint8Array(256), core = hole.slice();
      for (const p of parts) own[p] = 1;
      for (let y = b.y0; y < b.y1; y++) {
        for (let x = b.x0; x < b.x1; x++) {
          const i = y * w + x;
          if (!grown[i]) continue;
          const mx = Math.min(w - 1, Math.max(0, Math.round(2 * cx - x - 1))), j = y * w + mx;
          src[i * 3] = c.rgb[j * 3];
          src[i * 3 + 1] = c.rgb[j * 3 + 1];
          src[i * 3 + 2] = c.rgb[j * 3 + 2];
          newPart[i] = MIRROR_PART[ed.partAfter[j]];
          if (own[newPart[i]]) core[i] = 1;
        }
      }
      fillHole = dilate(core, w, h, 1);
    } else {
      artifact = rng.weighted<Artifact>(["texture", "blur", "color", "edge"], [
        0.35,
        0.3,
        0.2,
        strong ? 0.2 : 0.05,
      ]);
      // the hole is the part and its antialiased edge; the blend's ring beyond it keeps the
      // original pixels (known to the fill), so the fill meets them without a seam
      fillHole = dilate(hole, w, h, 1);
      const fb = growBox(b, Math.round(8 * w / 512) + 2, w, h);
      smoothFill(c.rgb, w, fillHole, fb, src);
      regrain(src, w, fillHole, b, residualStd(c.rgb, w, h, grown, fb), Rng.derive(rng.u32(), 0x9a1));
      for (let y = b.y0; y < b.y1; y++) {
        for (let i = y * w + b.x0, e = y * w + b.x1; i < e; i++) if (fillHole[i]) newPart[i] = P.skin;
      }
    }
    const gen = artifact === "blur" || artifact === "color"
      ? degrade(src, w, h, artifact, rng, strong, b, fillHole)
      : src;
    // the ring between the core (the part, or its mirror image, plus 1 px) and the blend mask
    // keeps its own pixels: only the feather inside the core mixes old and new
    for (let y = b.y0; y < b.y1; y++) {
      for (let i = y * w + b.x0, e = y * w + b.x1; i < e; i++) {
        if (grown[i] && !fillHole[i]) {
          gen[i * 3] = c.rgb[i * 3];
          gen[i * 3 + 1] = c.rgb[i * 3 + 1];
          gen[i * 3 + 2] = c.rgb[i * 3 + 2];
          newPart[i] = ed.partAfter[i];
        }
      }
    }
    const alpha = featherInside(grown, w, h, artifact === "edge" ? 0 : strong ? 2 : 3, b);
    const change = mirror ? "mirrored" : MARKS.has(r) ? "removed" : "erased";
    ed.step(grown, b, gen, alpha, newPart, [{ region: r, side, change, artifact, parts }], null);
  }
}

/** Relative frequency of the forgery types (MMTT: diffusion inpainting and face swap lead). */
export const TYPE_WEIGHTS: Record<ForgeryType, number> = {
  inpaint_diffusion: 0.34,
  face_swap: 0.3,
  attribute_edit: 0.2,
  inpaint_patch: 0.16,
};

/** Draw a forgery type and apply it to the rendered face `c` of identity `f`. */
export function manipulate(c: Canvas, f: FaceParams, rng: Rng): Forgery {
  const types = Object.keys(TYPE_WEIGHTS) as ForgeryType[];
  const type = rng.weighted(types, types.map((t) => TYPE_WEIGHTS[t]));
  const strong = rng.chance(0.45);
  const nParts = rng.weighted([1, 2, 3, 4, 5], [0.12, 0.3, 0.28, 0.18, 0.12]);
  const ed = new Editor(c);
  if (type === "face_swap") faceSwap(ed, f, rng, strong);
  else if (type === "inpaint_patch") patchInpaint(ed, f.cx, rng, strong, nParts);
  else attributeEdit(ed, f, rng, strong, nParts, type === "inpaint_diffusion");
  return {
    type,
    strong,
    rgb: c.rgb,
    mask: ed.mask,
    box: ed.box,
    stepMasks: ed.stepMasks,
    partAfter: ed.partAfter,
    facts: ed.facts,
  };
}

/** Region name of a part id (re-exported for tests). */
export { PART_REGION };
