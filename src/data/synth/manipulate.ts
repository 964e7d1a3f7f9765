/**
 * The four manipulation paradigms of MMTT, each producing the forged float image, the
 * process-derived mask (exactly the pixels the blend may touch) and a log of facts for the
 * captioner: face swap, attribute edit, and two inpainting families
 * I_f = (1 − M)·I + M·I_g with I_g from patch synthesis or a diffusion-like noisy re-render.
 */
import type { ForgeryType } from "../mmtt.ts";
import type { Region } from "../regions.ts";
import type { Rng } from "../rng.ts";
import type { Canvas } from "./canvas.ts";
import { type EditKind, EDITS, type Side } from "./edits.ts";
import { type FaceParams, sampleFace } from "./face_params.ts";
import { renderFace } from "./face_render.ts";
import { blurRgb, composite, count, dilate, featherInside, orInto, partMask } from "./masks.ts";
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
  rgb: Float32Array;
  mask: Uint8Array;
  /** Per-step masks whose union is `mask` (kept for the invariant tests). */
  stepMasks: Uint8Array[];
  partAfter: Uint8Array;
  facts: Fact[];
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

// Apply artifacts to the generated content before blending (so the caption is true).
function degradeSource(
  src: Float32Array,
  w: number,
  h: number,
  a: Artifact,
  rng: Rng,
  strong: boolean,
): Float32Array {
  if (a === "blur") return blurRgb(src, w, h, strong ? 3 : 1);
  if (a === "color") {
    const t = [rng.normal(), rng.normal(), rng.normal()].map((v) => v * (strong ? 0.07 : 0.035));
    const out = src.slice();
    for (let i = 0; i < out.length; i++) out[i] += t[i % 3];
    return out;
  }
  if (a === "lighting") {
    const out = src.slice(), g = (strong ? 0.25 : 0.12) * (rng.chance(0.5) ? 1 : -1);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const m = 1 + g * (x / w - 0.5) * 2, o = (y * w + x) * 3;
        out[o] *= m;
        out[o + 1] *= m;
        out[o + 2] *= m;
      }
    }
    return out;
  }
  return src;
}

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
  const alpha = featherInside(grown, w, h, artifact === "edge" ? 0 : strong ? 2 : 4);
  composite(base, src, alpha);
  return grown;
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
  const after = renderFace(g, w);
  const rgb = c.rgb.slice();
  const mask = new Uint8Array(w * h);
  const stepMasks: Uint8Array[] = [];
  const facts: Fact[] = [];
  let src = after.rgb;
  let region: Uint8Array = new Uint8Array(w * h);
  for (const r of results) orInto(region, orInto(partMask(c.part, r.parts), partMask(after.part, r.parts)));
  if (count(region) === 0) region = partMask(c.part, [P.nose]);
  const artifact = diffusion
    ? rng.pick<Artifact>(["blur", "texture", "color"])
    : artifactFor(strong, rng, results[0]?.side ?? null, ["blur", "texture", "lighting", "color"]);
  if (diffusion) {
    // diffusion-like: the regenerated area is coarser (a blob around the parts), smoothed,
    // colour-drifted and re-noised
    region = dilate(region, w, h, strong ? 10 : 6);
    src = blurRgb(src, w, h, strong ? 2 : 1);
    const drift = [rng.normal(), rng.normal(), rng.normal()].map((v) => v * (strong ? 0.05 : 0.02));
    for (let i = 0; i < src.length; i++) src[i] += drift[i % 3] + (rng.next() - 0.5) * 0.02;
  }
  src = degradeSource(src, w, h, artifact, rng, strong);
  const m = blend(rgb, src, region, w, h, artifact, strong);
  stepMasks.push(m);
  orInto(mask, m);
  for (const r of results) facts.push({ region: r.region, side: r.side, change: r.change, artifact });
  const partAfter = c.part.slice();
  for (let i = 0; i < mask.length; i++) if (mask[i]) partAfter[i] = after.part[i];
  return {
    type: diffusion ? "inpaint_diffusion" : "attribute_edit",
    strong,
    rgb,
    mask,
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
  const donor = renderFace(d, w);
  const k = w / 512;
  // inner-face oval from the brows to below the mouth
  const region = new Uint8Array(w * h);
  const ocx = f.cx * k, ocy = ((f.browY + f.mouthY) / 2 + 6) * k;
  const orx = f.rx * 0.82 * k, ory = ((f.mouthY - f.browY) / 2 + 26) * k;
  const allow = partMask(c.part, SWAP_PARTS), allow2 = partMask(donor.part, SWAP_PARTS);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const u = (x - ocx) / orx, v = (y - ocy) / ory, i = y * w + x;
      if (u * u + v * v <= 1 && allow[i] && allow2[i]) region[i] = 1;
    }
  }
  const artifact = artifactFor(strong, rng, null, ["blur", "color", "lighting", "texture"]);
  let src = donor.rgb;
  if (rng.chance(0.4) || artifact === "blur") src = blurRgb(src, w, h, strong ? 2 : 1);
  src = degradeSource(src, w, h, artifact === "blur" ? "texture" : artifact, rng, strong);
  const rgb = c.rgb.slice();
  const m = blend(rgb, src, region, w, h, artifact, strong);
  const partAfter = c.part.slice();
  for (let i = 0; i < m.length; i++) if (m[i]) partAfter[i] = donor.part[i];
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
    regionPresent(x.region, m, c.part, partAfter)
  );
  if (!chosen.length) chosen.push({ region: "skin", side: null });
  const facts = chosen.map((x) => ({ region: x.region, side: x.side, change: "swapped", artifact }));
  return { type: "face_swap", strong, rgb, mask: m, stepMasks: [m], partAfter, facts };
}

function distance(a: number[], b: number[]): number {
  return Math.hypot(a[0] - b[0], a[1] - b[1], a[2] - b[2]);
}

/** True when the mask covers some pixel of `region` before or after the edit. */
export function regionPresent(r: Region, mask: Uint8Array, before: Uint8Array, after: Uint8Array): boolean {
  const ok = new Uint8Array(256);
  for (const p of partsOfRegion(r)) ok[p] = 1;
  for (let i = 0; i < mask.length; i++) if (mask[i] && (ok[before[i]] || ok[after[i]])) return true;
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
  const present = PATCH_REGIONS.filter((r) => count(partMask(c.part, partsOfRegion(r))) > 20);
  const regions = [...new Set(rng.shuffle(present.slice()))].slice(0, Math.max(1, Math.min(nParts, 3)));
  const region = new Uint8Array(w * h);
  const facts: Fact[] = [];
  const paired: Record<string, [number, number]> = {
    eyebrow: [P.browL, P.browR],
    eye: [P.eyeL, P.eyeR],
    cheek: [P.cheekL, P.cheekR],
  };
  let mirror = false;
  for (const r of regions) {
    let parts = partsOfRegion(r), side: Side = null;
    if (paired[r]) {
      const s = rng.chance(0.5) ? "left" : "right";
      parts = [s === "left" ? paired[r][0] : paired[r][1]];
      if (r === "eye") parts.push(s === "left" ? P.pupilL : P.pupilR);
      side = s;
      mirror = mirror || rng.chance(0.5);
    }
    orInto(region, partMask(c.part, parts));
    facts.push({ region: r, side, change: mirror && side ? "mirrored" : "erased", artifact: "repeat" });
  }
  const grown = dilate(region, w, h, strong ? 2 : 4);
  const src = c.rgb.slice();
  const k = w / 512;
  if (mirror) {
    const cx = f.cx * k;
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const i = y * w + x;
        if (!grown[i]) continue;
        const mx = Math.min(w - 1, Math.max(0, Math.round(2 * cx - x)));
        for (let ch = 0; ch < 3; ch++) src[i * 3 + ch] = c.rgb[(y * w + mx) * 3 + ch];
      }
    }
  } else {
    // block copies from skin areas outside the hole: visible seams and repeated texture
    const B = Math.max(4, Math.round((strong ? 20 : 12) * k));
    const donorOk = partMask(c.part, [P.cheekL, P.cheekR, P.forehead, P.skin, P.chin]);
    for (let by = 0; by < h; by += B) {
      for (let bx = 0; bx < w; bx += B) {
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
          if (donorOk[sy * w + sx] && !grown[sy * w + sx]) {
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
  const rgb = c.rgb.slice();
  const alpha = featherInside(grown, w, h, strong ? 0 : 2);
  composite(rgb, src, alpha);
  const partAfter = c.part.slice();
  for (let i = 0; i < grown.length; i++) if (grown[i]) partAfter[i] = P.skin;
  return { type: "inpaint_patch", strong, rgb, mask: grown, stepMasks: [grown], partAfter, facts };
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
