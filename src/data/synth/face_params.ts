/**
 * Identity and appearance parameters of a procedural portrait, and their random sampling.
 * Coordinates are in a 512×512 frame (the renderer scales them to the output size). Sides
 * are the subject's: `L` fields belong to the subject's left, drawn at x > cx.
 */
import type { Rng } from "../rng.ts";
import type { RGB } from "./canvas.ts";

/** Hair styles the renderer knows. */
export type HairStyle = "short" | "long" | "bald" | "curly" | "bun" | "sidepart";

/** Everything the renderer needs to draw one face; rendering is a pure function of this. */
export interface FaceParams {
  sex: "man" | "woman";
  old: boolean;
  cx: number;
  cy: number;
  rx: number;
  ryTop: number;
  ryBot: number;
  jawTaper: number;
  skin: RGB;
  skinTex: number;
  blush: number;
  blushColor: RGB;
  lightDx: number;
  lightAmt: number;
  eyeY: number;
  eyeDx: number;
  eyeW: number;
  eyeH: number;
  eyeScaleL: number;
  eyeScaleR: number;
  eyeTilt: number;
  irisR: number;
  irisColor: RGB;
  pupilScale: number;
  browY: number;
  browThickL: number;
  browThickR: number;
  browLen: number;
  browArch: number;
  browColor: RGB;
  browDyL: number;
  noseY: number;
  noseW: number;
  noseLen: number;
  mouthY: number;
  mouthW: number;
  lipTop: number;
  lipBot: number;
  lipColor: RGB;
  mouthOpen: number;
  toothColor: RGB;
  tongue: boolean;
  earY: number;
  earRx: number;
  earRy: number;
  earScale: number;
  hairStyle: HairStyle;
  hairColor: RGB;
  hairY: number;
  beard: 0 | 1 | 2; // none, stubble, full
  mustache: boolean;
  facialHairColor: RGB;
  freckles: number;
  wrinkles: number;
  scar: null | { x: number; y: number; len: number; angle: number };
  dimples: boolean;
  foreheadShine: number;
  chinScale: number;
  glasses: null | { round: boolean; color: RGB; thick: number };
  bg: [RGB, RGB];
  bgKind: 0 | 1 | 2;
  /** Fine texture of the backdrop (amplitude of white grain): walls, fabric, foliage. */
  bgGrain: number;
  clothes: RGB;
  texSeed: number;
}

const SKIN_TONES: RGB[] = [
  [0.96, 0.83, 0.74],
  [0.93, 0.76, 0.64],
  [0.87, 0.68, 0.54],
  [0.78, 0.58, 0.44],
  [0.66, 0.46, 0.33],
  [0.52, 0.35, 0.24],
  [0.4, 0.26, 0.18],
];
const IRIS: RGB[] = [
  [0.35, 0.22, 0.12],
  [0.25, 0.15, 0.08],
  [0.3, 0.45, 0.65],
  [0.35, 0.5, 0.35],
  [0.5, 0.45, 0.3],
  [0.45, 0.5, 0.55],
];
const HAIR: RGB[] = [
  [0.08, 0.06, 0.05],
  [0.22, 0.14, 0.08],
  [0.4, 0.26, 0.14],
  [0.72, 0.56, 0.32],
  [0.55, 0.22, 0.1],
  [0.6, 0.6, 0.6],
  [0.85, 0.85, 0.82],
];

function jitter(c: RGB, rng: Rng, amt: number): RGB {
  return [
    clamp01(c[0] + rng.normal() * amt),
    clamp01(c[1] + rng.normal() * amt),
    clamp01(c[2] + rng.normal() * amt),
  ];
}

// Background colours: random hue pulled toward grey, like real indoor/outdoor backdrops.
function muted(rng: Rng): RGB {
  const g = rng.range(0.25, 0.85), s = rng.range(0.1, 0.45);
  return [
    clamp01(g + (rng.next() - 0.5) * s),
    clamp01(g + (rng.next() - 0.5) * s),
    clamp01(g + (rng.next() - 0.5) * s),
  ];
}

/** Clamp to [0, 1]. */
export function clamp01(v: number): number {
  return v < 0 ? 0 : v > 1 ? 1 : v;
}

/** Draw a random identity. */
export function sampleFace(rng: Rng): FaceParams {
  const sex = rng.chance(0.5) ? "man" : "woman";
  const old = rng.chance(0.25);
  const cx = 256 + rng.normal() * 6;
  const cy = 240 + rng.normal() * 6;
  const rx = rng.range(96, 118) * (sex === "man" ? 1.03 : 0.98);
  const ryTop = rng.range(118, 138);
  const ryBot = rng.range(138, 162);
  const eyeY = cy + rng.range(-8, 6);
  const eyeH = rng.range(8, 12);
  const irisR = rng.range(7.5, 10);
  const skin = jitter(rng.pick(SKIN_TONES), rng, 0.025);
  const hairIdx = old ? rng.pick([5, 6, 1, 0]) : rng.int(5);
  const hairColor = jitter(HAIR[hairIdx], rng, 0.03);
  const styles: HairStyle[] = sex === "man"
    ? ["short", "short", "bald", "curly", "sidepart", "long"]
    : ["long", "long", "bun", "curly", "sidepart", "short"];
  const beardRoll = sex === "man" ? rng.next() : 1;
  const mouthW = rng.range(28, 40);
  const browThick = rng.range(2.5, 5.5) * (sex === "man" ? 1.25 : 0.9);
  return {
    sex,
    old,
    cx,
    cy,
    rx,
    ryTop,
    ryBot,
    jawTaper: rng.range(0.18, 0.42) * (sex === "man" ? 0.8 : 1.1),
    skin,
    skinTex: rng.range(0.025, 0.06) * (old ? 1.4 : 1),
    blush: sex === "woman" ? rng.range(0.05, 0.2) : rng.range(0, 0.08),
    blushColor: [0.85, 0.4, 0.4],
    lightDx: rng.range(-1, 1),
    lightAmt: rng.range(0.06, 0.2),
    eyeY,
    eyeDx: rng.range(38, 48),
    eyeW: rng.range(19, 25),
    eyeH,
    eyeScaleL: 1,
    eyeScaleR: 1,
    eyeTilt: rng.range(-0.08, 0.1),
    irisR,
    irisColor: jitter(rng.pick(IRIS), rng, 0.03),
    pupilScale: rng.range(0.38, 0.5),
    browY: eyeY - rng.range(22, 30),
    browThickL: browThick,
    browThickR: browThick,
    browLen: rng.range(30, 40),
    browArch: rng.range(3, 9),
    browColor: hairIdx >= 5 && !old ? hairColor : jitter(HAIR[Math.min(hairIdx, 2)], rng, 0.02),
    browDyL: 0,
    noseY: cy + rng.range(38, 50),
    noseW: rng.range(15, 23),
    noseLen: rng.range(40, 52),
    mouthY: cy + rng.range(76, 90),
    mouthW,
    lipTop: rng.range(4, 7) * (sex === "woman" ? 1.2 : 1),
    lipBot: rng.range(6, 10) * (sex === "woman" ? 1.2 : 1),
    lipColor: jitter(
      sex === "woman" && rng.chance(0.5)
        ? [0.75, 0.25, 0.3]
        : [skin[0] * 0.85, skin[1] * 0.55, skin[2] * 0.55],
      rng,
      0.03,
    ),
    mouthOpen: rng.chance(0.35) ? rng.range(0.3, 1) : 0,
    toothColor: jitter([0.93, 0.9, 0.82], rng, 0.02),
    tongue: false,
    earY: eyeY + rng.range(8, 16),
    earRx: rng.range(11, 15),
    earRy: rng.range(24, 32),
    earScale: 1,
    hairStyle: old && sex === "man" && rng.chance(0.3) ? "bald" : rng.pick(styles),
    hairColor,
    hairY: cy - ryTop * rng.range(0.45, 0.62),
    beard: beardRoll < 0.25 ? 2 : beardRoll < 0.45 ? 1 : 0,
    mustache: sex === "man" && rng.chance(0.3),
    facialHairColor: jitter(HAIR[Math.min(hairIdx, 4)], rng, 0.03),
    freckles: rng.chance(0.2) ? rng.int(60) + 20 : 0,
    wrinkles: old ? rng.range(0.5, 1) : rng.chance(0.15) ? rng.range(0.2, 0.4) : 0,
    scar: rng.chance(0.1)
      ? {
        x: rng.range(-0.6, 0.6),
        y: rng.range(-0.3, 0.5),
        len: rng.range(14, 30),
        angle: rng.range(0, Math.PI),
      }
      : null,
    dimples: rng.chance(0.15),
    foreheadShine: rng.range(0, 0.08),
    chinScale: 1,
    glasses: rng.chance(0.15)
      ? { round: rng.chance(0.5), color: jitter([0.1, 0.1, 0.12], rng, 0.08), thick: rng.range(1.5, 3) }
      : null,
    bg: [muted(rng), muted(rng)],
    bgKind: rng.int(3) as 0 | 1 | 2,
    bgGrain: rng.range(0.015, 0.06),
    clothes: [rng.next() * 0.8, rng.next() * 0.8, rng.next() * 0.8],
    texSeed: rng.u32(),
  };
}
