/**
 * The 21 facial-region keyword classes and caption → multi-label conversion.
 *
 * The synonym table is the official one (MMTT's `to_mutilabel.py`): a class fires when any
 * of its synonyms occurs as a whole word, case-insensitively. "Whole word" follows Python's
 * `\b` on Unicode strings: letters, digits and `_` are word characters, so "left-eye" matches
 * `eye` but "eyebrow" does not match `eye` and "eyebrows" does not match `brows`.
 * Negations still count ("no beard" marks beard), exactly as in the official labels.
 */

/** Region class names in the official label order. */
export const REGIONS = [
  "eye",
  "pupil",
  "lip",
  "mouth",
  "nose",
  "ear",
  "cheek",
  "forehead",
  "chin",
  "jaw",
  "eyebrow",
  "tooth",
  "tongue",
  "beard",
  "mustache",
  "skin",
  "hair",
  "wrinkle",
  "freckle",
  "scar",
  "dimple",
] as const;

/** One region class name. */
export type Region = typeof REGIONS[number];

/** Official synonyms per class (data from the MMTT labelling script). */
export const REGION_SYNONYMS: Readonly<Record<Region, readonly string[]>> = {
  eye: ["eye", "eyes", "ocular", "optic", "vision"],
  pupil: ["pupil", "pupils"],
  lip: ["lip", "lips", "labium", "labia"],
  mouth: ["mouth", "mouths", "oral cavity", "buccal"],
  nose: ["nose", "noses", "nasal", "nostril", "nostrils"],
  ear: ["ear", "ears", "auricle", "pinna", "pinnae"],
  cheek: ["cheek", "cheeks", "buccal", "malar"],
  forehead: ["forehead", "frontal", "brow", "brows"],
  chin: ["chin", "chins", "mentum"],
  jaw: ["jaw", "jaws", "mandible", "maxilla"],
  eyebrow: ["eyebrow", "eyebrows"],
  tooth: ["tooth", "teeth", "dentition"],
  tongue: ["tongue", "tongues", "glossa", "lingua"],
  beard: ["beard", "beards", "facial hair"],
  mustache: ["mustache", "mustaches", "moustache", "moustaches"],
  skin: ["skin", "derma", "epidermis", "cutis"],
  hair: ["hair", "hairs", "locks", "tresses", "strands"],
  wrinkle: ["wrinkle", "wrinkles", "line", "lines", "crease", "creases"],
  freckle: ["freckle", "freckles", "lentigo", "lentigines"],
  scar: ["scar", "scars", "cicatrix", "cicatrices"],
  dimple: ["dimple", "dimples", "fossa", "fossae"],
};

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

// One regex per class: (?<![word])(syn1|syn2|...)(?![word]) with Unicode word characters,
// which is what Python's `\b` means for str patterns. Multi-word synonyms keep their single
// space, as in the official table.
const MATCHERS: RegExp[] = REGIONS.map((r) => {
  const alts = [...REGION_SYNONYMS[r]].sort((a, b) => b.length - a.length).map(escapeRe).join("|");
  return new RegExp(`(?<![\\p{L}\\p{N}_])(?:${alts})(?![\\p{L}\\p{N}_])`, "iu");
});

/** 21 zeros/ones: class i is 1 when any of its synonyms appears in the caption as a word. */
export function regionLabels(caption: string): number[] {
  return MATCHERS.map((re) => (re.test(caption) ? 1 : 0));
}

/** The names of the classes that `regionLabels` marks. */
export function regionNames(caption: string): Region[] {
  const l = regionLabels(caption);
  return REGIONS.filter((_, i) => l[i] === 1);
}
