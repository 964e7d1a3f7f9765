/**
 * Part ids of the synthetic face renderer's per-pixel part map, and how they map to the 21
 * region classes. Sides are the subject's: the subject's left appears on the image's right
 * (x > face centre). Later layers overwrite earlier ones, so each pixel has one part.
 */
import type { Region } from "../regions.ts";

/** Part ids (Uint8 values in the part map). */
export const P = {
  bg: 0,
  clothes: 1,
  neck: 2,
  skin: 3, // face skin not covered by a named area
  forehead: 4,
  cheekL: 5,
  cheekR: 6,
  chin: 7,
  jaw: 8,
  earL: 9,
  earR: 10,
  eyeL: 11,
  eyeR: 12,
  pupilL: 13,
  pupilR: 14,
  browL: 15,
  browR: 16,
  nose: 17,
  lip: 18,
  mouth: 19,
  tooth: 20,
  tongue: 21,
  hair: 22,
  beard: 23,
  mustache: 24,
  wrinkle: 25,
  freckle: 26,
  scar: 27,
  dimple: 28,
  glasses: 29,
} as const;

/** Number of part ids. */
export const N_PARTS = 30;

/** Region class of each part id (null: not one of the 21 classes). */
export const PART_REGION: readonly (Region | null)[] = [
  null,
  null,
  "skin",
  "skin",
  "forehead",
  "cheek",
  "cheek",
  "chin",
  "jaw",
  "ear",
  "ear",
  "eye",
  "eye",
  "pupil",
  "pupil",
  "eyebrow",
  "eyebrow",
  "nose",
  "lip",
  "mouth",
  "tooth",
  "tongue",
  "hair",
  "beard",
  "mustache",
  "wrinkle",
  "freckle",
  "scar",
  "dimple",
  null,
];

/** Part ids per region (e.g. eye → [eyeL, eyeR]). */
export function partsOfRegion(r: Region): number[] {
  const out: number[] = [];
  PART_REGION.forEach((pr, i) => {
    if (pr === r) out.push(i);
  });
  return out;
}

/** Which side a part is on, from the subject's point of view. */
export function partSide(p: number): "left" | "right" | null {
  if (p === P.cheekL || p === P.earL || p === P.eyeL || p === P.pupilL || p === P.browL) return "left";
  if (p === P.cheekR || p === P.earR || p === P.eyeR || p === P.pupilR || p === P.browR) return "right";
  return null;
}
