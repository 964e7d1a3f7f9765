/**
 * Attribute edits: each changes some FaceParams of one region (geometry or colour) and says
 * which parts can change, on which side, and how (a `change` word the captioner phrases).
 * Re-rendering the edited params and compositing over the union of the old and new part
 * masks gives an edit whose mask is exactly the pixels it may touch.
 */
import type { Region } from "../regions.ts";
import type { Rng } from "../rng.ts";
import type { RGB } from "./canvas.ts";
import { clamp01, type FaceParams } from "./face_params.ts";
import { P } from "./parts.ts";

/** Side of a fact, from the subject's point of view. */
export type Side = "left" | "right" | "both" | null;

/** What an edit did, for the mask and the caption. */
export interface EditResult {
  region: Region;
  parts: number[];
  side: Side;
  change: string;
}

/** One kind of attribute edit. */
export interface EditKind {
  region: Region;
  /** Relative frequency; MMTT's most edited regions are eyebrows, eyes and lips. */
  weight: number;
  ok(f: FaceParams): boolean;
  apply(f: FaceParams, rng: Rng, strong: boolean): EditResult;
}

const FACE = [P.skin, P.forehead, P.cheekL, P.cheekR, P.chin, P.jaw];

function tint(c: RGB, rng: Rng, amt: number): RGB {
  return [
    clamp01(c[0] + rng.normal() * amt),
    clamp01(c[1] + rng.normal() * amt),
    clamp01(c[2] + rng.normal() * amt),
  ];
}

function pickSide(rng: Rng): "left" | "right" | "both" {
  const r = rng.next();
  return r < 0.4 ? "left" : r < 0.8 ? "right" : "both";
}

function sideParts(side: Side, l: number, r: number): number[] {
  return side === "left" ? [l] : side === "right" ? [r] : [l, r];
}

/** The attribute edits the generator draws from. */
export const EDITS: EditKind[] = [
  {
    region: "eye",
    weight: 14,
    ok: () => true,
    apply(f, rng, strong) {
      const side = pickSide(rng);
      const grow = rng.chance(0.65);
      const s = grow
        ? 1 + (strong ? rng.range(0.22, 0.4) : rng.range(0.08, 0.14))
        : 1 - (strong ? rng.range(0.22, 0.32) : rng.range(0.08, 0.12));
      if (side !== "right") f.eyeScaleL *= s;
      if (side !== "left") f.eyeScaleR *= s;
      return {
        region: "eye",
        parts: [...sideParts(side, P.eyeL, P.eyeR), ...sideParts(side, P.pupilL, P.pupilR)],
        side,
        change: grow ? "enlarged" : "shrunk",
      };
    },
  },
  {
    region: "pupil",
    weight: 4,
    ok: () => true,
    apply(f, rng, strong) {
      const c = rng.chance(0.5);
      if (c) f.irisColor = strong ? [rng.next(), rng.next() * 0.6, rng.next()] : tint(f.irisColor, rng, 0.12);
      else f.pupilScale = strong ? rng.range(0.62, 0.75) : rng.range(0.2, 0.28);
      return {
        region: "pupil",
        parts: [P.pupilL, P.pupilR],
        side: "both",
        change: c ? "recoloured" : f.pupilScale > 0.5 ? "dilated" : "constricted",
      };
    },
  },
  {
    region: "eyebrow",
    weight: 16,
    ok: () => true,
    apply(f, rng, strong) {
      const side = pickSide(rng);
      const mode = rng.int(3);
      let change = "thickened";
      if (mode === 0) {
        const k = strong ? rng.range(1.8, 2.6) : rng.range(1.3, 1.5);
        if (side !== "right") f.browThickL *= k;
        if (side !== "left") f.browThickR *= k;
      } else if (mode === 1) {
        const k = strong ? rng.range(0.3, 0.45) : rng.range(0.6, 0.75);
        if (side !== "right") f.browThickL *= k;
        if (side !== "left") f.browThickR *= k;
        change = "thinned";
      } else {
        f.browColor = strong ? tint([0.05, 0.04, 0.04], rng, 0.02) : tint(f.browColor, rng, 0.08);
        change = "darkened";
      }
      return { region: "eyebrow", parts: sideParts(side, P.browL, P.browR), side, change };
    },
  },
  {
    region: "lip",
    weight: 18,
    ok: () => true,
    apply(f, rng, strong) {
      if (rng.chance(0.6)) {
        const target: RGB = rng.pick([[0.8, 0.1, 0.2], [0.55, 0.15, 0.4], [0.85, 0.55, 0.5], [
          0.6,
          0.2,
          0.15,
        ]]);
        const t = strong ? 0.8 : 0.35;
        f.lipColor = [0, 1, 2].map((i) => f.lipColor[i] + (target[i] - f.lipColor[i]) * t) as RGB;
        return { region: "lip", parts: [P.lip], side: null, change: "recoloured" };
      }
      const k = strong ? rng.range(1.5, 1.9) : rng.range(1.15, 1.3);
      f.lipTop *= k;
      f.lipBot *= k;
      return { region: "lip", parts: [P.lip, P.mouth, P.tooth], side: null, change: "plumped" };
    },
  },
  {
    region: "mouth",
    weight: 5,
    ok: () => true,
    apply(f, rng, strong) {
      const opening = f.mouthOpen < 0.3;
      f.mouthOpen = opening ? (strong ? rng.range(0.8, 1.2) : rng.range(0.4, 0.6)) : 0;
      f.mouthW *= strong ? rng.range(1.1, 1.25) : 1;
      return {
        region: "mouth",
        parts: [P.mouth, P.lip, P.tooth, P.tongue],
        side: null,
        change: opening ? "opened" : "closed",
      };
    },
  },
  {
    region: "tooth",
    weight: 3,
    ok: (f) => f.mouthOpen >= 0.3,
    apply(f, rng, strong) {
      const yellow = rng.chance(0.5);
      f.toothColor = yellow ? (strong ? [0.85, 0.75, 0.45] : [0.9, 0.85, 0.68]) : [1, 1, 1];
      return { region: "tooth", parts: [P.tooth], side: null, change: yellow ? "yellowed" : "whitened" };
    },
  },
  {
    region: "nose",
    weight: 8,
    ok: () => true,
    apply(f, rng, strong) {
      const wider = rng.chance(0.5);
      f.noseW *= wider ? (strong ? 1.4 : 1.15) : (strong ? 0.7 : 0.87);
      if (rng.chance(0.4)) f.noseLen *= strong ? 1.2 : 1.08;
      return { region: "nose", parts: [P.nose], side: null, change: wider ? "widened" : "narrowed" };
    },
  },
  {
    region: "beard",
    weight: 4,
    ok: (f) => f.sex === "man",
    apply(f, rng) {
      const had = f.beard > 0;
      f.beard = had ? (rng.chance(0.5) ? 0 : (f.beard === 2 ? 1 : 2)) : (rng.chance(0.5) ? 1 : 2);
      const change = f.beard === 0 ? "removed" : had ? "changed" : "added";
      return { region: "beard", parts: [P.beard], side: null, change };
    },
  },
  {
    region: "mustache",
    weight: 3,
    ok: (f) => f.sex === "man",
    apply(f) {
      f.mustache = !f.mustache;
      return {
        region: "mustache",
        parts: [P.mustache],
        side: null,
        change: f.mustache ? "added" : "removed",
      };
    },
  },
  {
    region: "hair",
    weight: 3,
    ok: (f) => f.hairStyle !== "bald",
    apply(f, rng, strong) {
      f.hairColor = strong
        ? tint(
          rng.pick<RGB>([[0.85, 0.7, 0.4], [0.6, 0.15, 0.1], [0.1, 0.08, 0.07], [0.8, 0.8, 0.8]]),
          rng,
          0.03,
        )
        : tint(f.hairColor, rng, 0.08);
      return { region: "hair", parts: [P.hair], side: null, change: "recoloured" };
    },
  },
  {
    region: "wrinkle",
    weight: 5,
    ok: () => true,
    apply(f, rng, strong) {
      const add = f.wrinkles < 0.45;
      f.wrinkles = add ? (strong ? rng.range(0.8, 1) : rng.range(0.45, 0.6)) : 0;
      return { region: "wrinkle", parts: [P.wrinkle], side: null, change: add ? "added" : "removed" };
    },
  },
  {
    region: "freckle",
    weight: 3,
    ok: () => true,
    apply(f, rng, strong) {
      const add = f.freckles === 0;
      f.freckles = add ? (strong ? 70 : 30) + rng.int(10) : 0;
      return { region: "freckle", parts: [P.freckle], side: null, change: add ? "added" : "removed" };
    },
  },
  {
    region: "scar",
    weight: 2,
    ok: () => true,
    apply(f, rng) {
      const add = f.scar === null;
      f.scar = add
        ? {
          x: rng.range(-0.6, 0.6),
          y: rng.range(-0.3, 0.5),
          len: rng.range(16, 30),
          angle: rng.range(0, Math.PI),
        }
        : null;
      return { region: "scar", parts: [P.scar], side: null, change: add ? "added" : "removed" };
    },
  },
  {
    region: "dimple",
    weight: 2,
    ok: () => true,
    apply(f) {
      f.dimples = !f.dimples;
      return { region: "dimple", parts: [P.dimple], side: null, change: f.dimples ? "added" : "removed" };
    },
  },
  {
    region: "cheek",
    weight: 5,
    ok: () => true,
    apply(f, rng, strong) {
      f.blush = strong ? rng.range(0.45, 0.6) : rng.range(0.25, 0.32);
      f.blushColor = rng.pick<RGB>([[0.9, 0.3, 0.35], [0.85, 0.45, 0.3], [0.75, 0.3, 0.5]]);
      return { region: "cheek", parts: [P.cheekL, P.cheekR], side: "both", change: "reddened" };
    },
  },
  {
    region: "forehead",
    weight: 3,
    ok: () => true,
    apply(f, rng, strong) {
      f.foreheadShine = strong ? rng.range(0.15, 0.2) : rng.range(0.09, 0.12);
      return { region: "forehead", parts: [P.forehead], side: null, change: "brightened" };
    },
  },
  {
    region: "chin",
    weight: 3,
    ok: () => true,
    apply(f, rng, strong) {
      const longer = rng.chance(0.5);
      f.chinScale = longer ? (strong ? 1.1 : 1.04) : (strong ? 0.9 : 0.96);
      return { region: "chin", parts: [P.chin], side: null, change: longer ? "lengthened" : "shortened" };
    },
  },
  {
    region: "jaw",
    weight: 2,
    ok: () => true,
    apply(f, rng, strong) {
      const wider = rng.chance(0.5);
      f.jawTaper *= wider ? (strong ? 0.4 : 0.7) : (strong ? 1.7 : 1.3);
      return { region: "jaw", parts: [P.jaw], side: null, change: wider ? "widened" : "narrowed" };
    },
  },
  {
    region: "ear",
    weight: 2,
    ok: (f) => f.hairStyle !== "long",
    apply(f, rng, strong) {
      const k = strong ? rng.range(1.25, 1.4) : rng.range(1.08, 1.14);
      f.earScale *= k;
      return { region: "ear", parts: [P.earL, P.earR], side: "both", change: "enlarged" };
    },
  },
  {
    region: "skin",
    weight: 2,
    ok: () => true,
    apply(f, rng, strong) {
      // mostly a tone change (a visible, low-frequency edit), with some smoothing
      f.skinTex *= strong ? 0.5 : 0.75;
      f.skin = tint(f.skin, rng, strong ? 0.07 : 0.045);
      return { region: "skin", parts: FACE, side: null, change: "smoothed" };
    },
  },
];
