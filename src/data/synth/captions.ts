/**
 * Writes explanations from the measured facts the way an annotator would: only regions that
 * visibly changed, a concrete change and artifact for each, sides from the subject's point of
 * view, the person referred to naturally, varied wording and order, and appearance phrases
 * ("skin tone", "facial skin", "nose bridge"). A face swap's parts are listed in one sentence.
 * Phrase banks avoid every region synonym except the region being described (no "line",
 * "brow", "vision", "locks", "facial hair"...), so `regionLabels(caption)` marks exactly the
 * described regions; `sample.ts` asserts it.
 */
import type { Region } from "../regions.ts";
import type { Rng } from "../rng.ts";
import type { Artifact, Fact } from "./manipulate.ts";

// Noun phrases per region: [singular, plural] forms, then extra phrasings (all naming only the
// region itself). Plural extras are used for "both"/unsided facts.
const NOUN: Record<Region, { one: string; many: string; extra: string[] }> = {
  eye: { one: "eye", many: "eyes", extra: ["eye region", "eye area", "eye shape"] },
  pupil: { one: "pupil", many: "pupils", extra: ["pupils and irises"] },
  lip: { one: "lip", many: "lips", extra: ["lip contour", "lip colour", "upper and lower lips"] },
  mouth: { one: "mouth", many: "mouth", extra: ["mouth area", "mouth corners"] },
  nose: { one: "nose", many: "nose", extra: ["nose bridge", "nose tip", "nasal area"] },
  ear: { one: "ear", many: "ears", extra: [] },
  cheek: { one: "cheek", many: "cheeks", extra: ["cheek area"] },
  forehead: { one: "forehead", many: "forehead", extra: ["forehead area", "upper forehead"] },
  chin: { one: "chin", many: "chin", extra: ["chin area"] },
  jaw: { one: "jaw", many: "jaw", extra: ["lower jaw", "jaw area"] },
  eyebrow: { one: "eyebrow", many: "eyebrows", extra: ["eyebrow shape", "eyebrow arch"] },
  tooth: { one: "tooth", many: "teeth", extra: ["front teeth"] },
  tongue: { one: "tongue", many: "tongue", extra: [] },
  beard: { one: "beard", many: "beard", extra: ["beard area"] },
  mustache: { one: "mustache", many: "mustache", extra: ["moustache"] },
  skin: { one: "skin", many: "skin", extra: ["facial skin", "skin tone", "skin texture"] },
  hair: { one: "hair", many: "hair", extra: ["hair colour"] },
  wrinkle: { one: "wrinkle", many: "wrinkles", extra: ["creases", "fine lines"] },
  freckle: { one: "freckle", many: "freckles", extra: [] },
  scar: { one: "scar", many: "scar", extra: [] },
  dimple: { one: "dimple", many: "dimples", extra: [] },
};
// Phrases ending in a singular head noun although they name a plural thing.
const EXTRA_SINGULAR = new Set([
  "eye region",
  "eye area",
  "eye shape",
  "lip contour",
  "lip colour",
  "mouth area",
  "nose bridge",
  "nose tip",
  "nasal area",
  "cheek area",
  "forehead area",
  "upper forehead",
  "chin area",
  "lower jaw",
  "jaw area",
  "eyebrow shape",
  "eyebrow arch",
  "beard area",
  "moustache",
  "facial skin",
  "skin tone",
  "skin texture",
  "hair colour",
]);

const CHANGE: Record<string, string[]> = {
  enlarged: [
    "{is} noticeably larger than {natural}",
    "{has} been enlarged",
    "{looks} oversized",
    "{appears} bigger than it should",
    "{seems} stretched to a larger size",
  ],
  shrunk: [
    "{is} smaller than {natural}",
    "{has} been shrunk",
    "{looks} unnaturally small",
    "{appears} reduced in size",
  ],
  recoloured: [
    "{has} an unnatural colour",
    "{has} been recoloured",
    "{shows} a colour that does not fit the rest of the face",
    "{has} a strange, saturated hue",
    "{looks} tinted",
  ],
  dilated: ["{looks} too wide", "{has} been dilated", "{appears} abnormally large"],
  constricted: ["{looks} tiny", "{has} been constricted", "{appears} unnaturally small"],
  thickened: [
    "{is} thicker than {natural}",
    "{has} been thickened",
    "{looks} heavy and dense",
    "{appears} bolder than expected",
  ],
  thinned: ["{is} thinner than {natural}", "{has} been thinned out", "{looks} sparse", "{appears} too faint"],
  darkened: ["{is} darker than expected", "{has} been darkened", "{looks} painted on", "{appears} filled in"],
  plumped: ["{looks} fuller than {natural}", "{has} been plumped", "{appears} swollen", "{seems} puffed up"],
  opened: ["{has} been opened", "{appears} open in an odd way", "{looks} artificially opened"],
  closed: ["{has} been closed", "{looks} shut in an odd way", "{appears} pressed together unnaturally"],
  yellowed: ["{looks} yellowish", "{has} been discoloured", "{appears} stained"],
  whitened: ["{looks} too white", "{has} been whitened", "{appears} unnaturally bright"],
  widened: ["{is} wider than {natural}", "{has} been widened", "{looks} broadened"],
  narrowed: ["{is} narrower than {natural}", "{has} been narrowed", "{looks} pinched"],
  added: ["{was} added", "{appears} to be fake", "{looks} artificially added", "{seems} pasted on"],
  removed: [
    "{was} removed, leaving a bare patch",
    "{appears} to have been erased",
    "{is} missing where traces remain",
    "{has} been wiped away",
  ],
  changed: [
    "{has} been altered",
    "{looks} different from a natural one",
    "{appears} modified",
    "{shows} signs of editing",
  ],
  reddened: ["{looks} too red", "{has} an artificial flush", "{has} been tinted red", "{appears} flushed"],
  brightened: ["{looks} too bright", "{has} an odd shine", "{has} been brightened", "{appears} glossy"],
  lengthened: ["{looks} elongated", "{has} been stretched", "{appears} longer than normal"],
  shortened: ["{looks} shortened", "{has} been compressed", "{appears} shorter than normal"],
  smoothed: [
    "{looks} overly smooth",
    "{has} a plastic look",
    "{has} been smoothed",
    "{has} an uneven tone",
    "{appears} retouched",
  ],
  swapped: [
    "{does} not match the rest of the head",
    "{seems} to come from another person",
    "{looks} pasted in from a different face",
    "{appears} to belong to someone else",
    "{was} replaced with another person's features",
  ],
  erased: [
    "{has} been erased",
    "{was} painted over",
    "{appears} partly wiped out",
    "{has} been filled in with plain texture",
  ],
  mirrored: [
    "{looks} copied from the other side",
    "{is} a mirrored copy",
    "{appears} duplicated from its counterpart",
    "{seems} to be a flipped copy of the opposite one",
  ],
};

const ARTIFACT: Record<Artifact, string[]> = {
  blur: [
    "with blurry edges",
    "and the area is slightly blurred",
    "and its details are smeared",
    "with soft, unfocused borders",
    "and looks out of focus",
  ],
  color: [
    "with a visible colour mismatch",
    "and its tone differs from the surrounding area",
    "with an odd colour cast",
    "and the colours do not blend in",
    "with a shade that stands out",
  ],
  edge: [
    "with a hard edge around it",
    "and a sharp boundary is visible",
    "with an abrupt transition at its border",
    "and the outline looks cut out",
  ],
  texture: [
    "with an unnaturally smooth texture",
    "and the texture looks flat",
    "with missing fine detail",
    "and the surface looks waxy",
    "with a blotchy, uneven finish",
  ],
  lighting: [
    "with inconsistent lighting",
    "and the shading does not follow the light",
    "with a lighting direction that does not match",
    "and it is lit differently from the rest of the face",
  ],
  asymmetry: ["making the face asymmetric", "so the two sides no longer match", "creating a clear asymmetry"],
  repeat: [
    "with repeated texture",
    "and shows copied, patch-like seams",
    "with duplicated patterns",
    "leaving a patchy, repetitive surface",
  ],
};

const OPENERS = [
  "",
  "",
  "",
  "",
  "",
  "",
  "",
  "",
  "This image has been manipulated. ",
  "The face shows signs of editing. ",
  "Several areas look altered. ",
  "This portrait is not authentic. ",
  "Some parts of the face were tampered with. ",
  "The photo has clear traces of forgery. ",
];
const CLOSERS = [
  "",
  "",
  "",
  "",
  "",
  "",
  "",
  "",
  "",
  " Overall, the image is likely forged.",
  " These traces point to a manipulated photo.",
  " The rest of the face looks natural.",
  " Other areas appear untouched.",
];
const LINKS = [
  "",
  "",
  "",
  "Also, ",
  "In addition, ",
  "Moreover, ",
  "Besides, ",
  "Meanwhile, ",
  "Furthermore, ",
];
const LEADS = [
  "{s}",
  "{s}",
  "{s}",
  "{s}",
  "{s}",
  "in this photo of {subj}, {s}",
  "looking at {subj}, {s}",
  "it appears that {s}",
  "on closer inspection, {s}",
  "one can notice that {s}",
  "there are signs that {s}",
];

/** Who the caption is about: "person" when the sex is not known (photos), with neutral words. */
export type Subject = "man" | "woman" | "person";

function person(sex: Subject, rng: Rng): { subj: string; poss: string } {
  if (sex === "person") {
    const subj = rng.pick(["the person", "the subject", "this individual", "this person"]);
    return { subj, poss: rng.chance(0.5) ? "their" : `${subj}'s` };
  }
  const subj = sex === "man"
    ? rng.pick([
      "the man",
      "this man",
      "the person",
      "the subject",
      "the gentleman",
      "this individual",
      "the guy",
    ])
    : rng.pick([
      "the woman",
      "this woman",
      "the person",
      "the subject",
      "the lady",
      "this individual",
      "the girl",
    ]);
  const poss = rng.chance(0.5) ? (sex === "man" ? "his" : "her") : `${subj}'s`;
  return { subj, poss };
}

// The noun of a fact without determiner ("left eye", "skin tone", "eyebrows").
function bareNoun(f: Fact, rng: Rng): { noun: string; plural: boolean } {
  const n = NOUN[f.region];
  if (f.side === "left" || f.side === "right") return { noun: `${f.side} ${n.one}`, plural: false };
  if (n.extra.length && rng.chance(0.3)) {
    const e = rng.pick(n.extra);
    return { noun: e, plural: !EXTRA_SINGULAR.has(e) };
  }
  return { noun: n.many, plural: n.many !== n.one };
}

function nounPhrase(f: Fact, poss: string, rng: Rng): { np: string; plural: boolean } {
  const n = NOUN[f.region];
  const det = rng.chance(0.5) ? "the" : poss;
  if (f.side === "left" || f.side === "right") return { np: `${det} ${f.side} ${n.one}`, plural: false };
  if (n.extra.length && rng.chance(0.3)) {
    const e = rng.pick(n.extra);
    return { np: `${det} ${e}`, plural: !EXTRA_SINGULAR.has(e) };
  }
  if (f.side === "both" && n.many !== n.one) {
    return { np: rng.chance(0.3) ? `both ${n.many}` : `${det} ${n.many}`, plural: true };
  }
  return { np: `${det} ${n.many}`, plural: n.many !== n.one };
}

function verbs(s: string, plural: boolean, f: Fact): string {
  const other = f.side === "left" ? "the right one" : f.side === "right" ? "the left one" : "normal";
  return s
    .replaceAll("{is}", plural ? "are" : "is")
    .replaceAll("{has}", plural ? "have" : "has")
    .replaceAll("{was}", plural ? "were" : "was")
    .replaceAll("{does}", plural ? "do" : "does")
    .replaceAll("{looks}", plural ? "look" : "looks")
    .replaceAll("{appears}", plural ? "appear" : "appears")
    .replaceAll("{seems}", plural ? "seem" : "seems")
    .replaceAll("{shows}", plural ? "show" : "shows")
    .replaceAll("{natural}", other);
}

function cap(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

function list(items: string[]): string {
  return items.length === 1 ? items[0] : `${items.slice(0, -1).join(", ")} and ${items[items.length - 1]}`;
}

function artifactPhrase(f: Fact, rng: Rng): string {
  // asymmetry only makes sense for a one-sided change
  const kind = f.artifact === "asymmetry" && f.side !== "left" && f.side !== "right" ? "texture" : f.artifact;
  return rng.chance(0.35) ? " " + rng.pick(ARTIFACT[kind]) : "";
}

/**
 * Compose a caption (≤ 120 words) describing `facts` about a `sex` subject. Long fact lists
 * are written more tersely (no opener, closer or artifact phrases, then grouped), never cut.
 */
export function writeCaption(facts: Fact[], sex: Subject, rng: Rng): string {
  for (let terse = 0; terse < 3; terse++) {
    const text = compose(facts, sex, rng, terse);
    if (text.split(/\s+/).length <= 120) return text;
  }
  // the shortest form: one list of every region, one verb
  const nouns = facts.map((f) => bareNoun(f, rng).noun);
  return `The ${list(nouns)} were manipulated.`;
}

function compose(facts: Fact[], sex: Subject, rng: Rng, terse: number): string {
  const { subj, poss } = person(sex, rng);
  const sentences: string[] = [];
  const swapped = facts.filter((f) => f.change === "swapped");
  // a spilled fact joins its step's planned fact, or stands alone when that one is not stated
  const joins = (f: Fact) =>
    f.spill && facts.some((x) => !x.spill && x.step === f.step && x.change !== "swapped");
  const rest = rng.shuffle(facts.filter((f) => f.change !== "swapped" && !joins(f)));
  // classes an edit changed besides its own (e.g. the pupil of an erased eye) join its sentence
  const spill = (f: Fact) => {
    if (f.spill) return "";
    const more = facts.filter((x) => x.spill && x.step === f.step).map((x) => bareNoun(x, rng).noun);
    if (!more.length) return "";
    return rng.pick([", which also changed the ", ", affecting the ", ", along with the "]) + list(more);
  };
  const lead = (s: string) => terse ? s : rng.pick(LEADS).replace("{subj}", subj).replace("{s}", s);
  const art = (f: Fact) => terse ? "" : artifactPhrase(f, rng);
  if (swapped.length) {
    // one sentence for the swapped face: its changed parts, listed
    const nouns = rng.shuffle(swapped.slice()).map((f) => bareNoun({ ...f, side: null }, rng).noun);
    const det = rng.chance(0.5) ? "the" : poss;
    const change = verbs(rng.pick(CHANGE.swapped), true, swapped[0]);
    const nps = `${det} ${list(nouns)}`;
    const head = rng.chance(0.25) ? `the whole face was swapped: ${nps} ${change}` : `${nps} ${change}`;
    sentences.push(`${cap(lead(head))}${art(swapped[0])}.`);
  }
  rest.forEach((f) => {
    const i = sentences.length;
    const { np, plural } = nounPhrase(f, poss, rng);
    const change = verbs(rng.pick(CHANGE[f.change] ?? CHANGE.changed), plural, f);
    const s = i === 0 ? lead(`${np} ${change}`) : `${np} ${change}`;
    const link = i > 0 && !terse ? rng.pick(LINKS) : "";
    const body = `${s}${spill(f)}${art(f)}`;
    sentences.push(link ? `${link}${body}.` : `${cap(body)}.`);
  });
  return terse ? sentences.join(" ") : rng.pick(OPENERS) + sentences.join(" ") + rng.pick(CLOSERS);
}

const REAL = [
  "No manipulation is visible: the face of {subj} looks natural and consistent.",
  "This appears to be an authentic photo; lighting, texture and edges are consistent across the face.",
  "The image shows no signs of editing.",
  "Nothing in this portrait of {subj} looks altered; it seems to be a real, unedited photo.",
  "There are no traces of forgery in this image.",
  "The face of {subj} appears genuine, with no tampered areas.",
];

/** Caption of an untouched image (names no region, so its multilabel is all zeros). */
export function writeRealCaption(sex: Subject, rng: Rng): string {
  return rng.pick(REAL).replace("{subj}", person(sex, rng).subj);
}
