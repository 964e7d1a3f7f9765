/**
 * Writes explanations from the manipulation log the way an annotator would: only the
 * manipulated regions, a concrete change and artifact for each, sides from the subject's
 * point of view, the person referred to naturally, varied wording and order. Phrase banks
 * avoid every region synonym except the region being described (e.g. no "line", "brow",
 * "vision"), so `regionLabels(caption)` marks exactly the described regions.
 */
import type { Region } from "../regions.ts";
import type { Rng } from "../rng.ts";
import type { Artifact, Fact } from "./manipulate.ts";

const NOUN: Record<Region, [string, string]> = {
  eye: ["eye", "eyes"],
  pupil: ["pupil", "pupils"],
  lip: ["lip", "lips"],
  mouth: ["mouth", "mouth"],
  nose: ["nose", "nose"],
  ear: ["ear", "ears"],
  cheek: ["cheek", "cheeks"],
  forehead: ["forehead", "forehead"],
  chin: ["chin", "chin"],
  jaw: ["jaw", "jaw"],
  eyebrow: ["eyebrow", "eyebrows"],
  tooth: ["tooth", "teeth"],
  tongue: ["tongue", "tongue"],
  beard: ["beard", "beard"],
  mustache: ["mustache", "mustache"],
  skin: ["skin", "skin"],
  hair: ["hair", "hair"],
  wrinkle: ["wrinkle", "wrinkles"],
  freckle: ["freckle", "freckles"],
  scar: ["scar", "scar"],
  dimple: ["dimple", "dimples"],
};

const CHANGE: Record<string, string[]> = {
  enlarged: ["{is} noticeably larger than {natural}", "{has} been enlarged", "{looks} oversized"],
  shrunk: ["{is} smaller than {natural}", "{has} been shrunk", "{looks} unnaturally small"],
  recoloured: [
    "{has} an unnatural colour",
    "{has} been recoloured",
    "{shows} a colour that does not fit the rest of the face",
  ],
  dilated: ["{looks} too wide", "{has} been dilated", "{appears} abnormally large"],
  constricted: ["{looks} tiny", "{has} been constricted", "{appears} unnaturally small"],
  thickened: ["{is} thicker than {natural}", "{has} been thickened", "{looks} heavy and dense"],
  thinned: ["{is} thinner than {natural}", "{has} been thinned out", "{looks} sparse"],
  darkened: ["{is} darker than expected", "{has} been darkened", "{looks} painted on"],
  plumped: ["{looks} fuller than {natural}", "{has} been plumped", "{appears} swollen"],
  opened: ["{has} been opened", "{appears} open in an odd way", "{looks} artificially opened"],
  closed: ["{has} been closed", "{looks} shut in an odd way"],
  yellowed: ["{looks} yellowish", "{has} been discoloured"],
  whitened: ["{looks} too white", "{has} been whitened"],
  widened: ["{is} wider than {natural}", "{has} been widened"],
  narrowed: ["{is} narrower than {natural}", "{has} been narrowed"],
  added: ["{was} added", "{appears} to be fake", "{looks} artificially added"],
  removed: [
    "{was} removed, leaving a bare patch",
    "{appears} to have been erased",
    "{is} missing where traces remain",
  ],
  changed: ["{has} been altered", "{looks} different from a natural one"],
  reddened: ["{looks} too red", "{has} an artificial flush", "{has} been tinted red"],
  brightened: ["{looks} too bright", "{has} an odd shine", "{has} been brightened"],
  lengthened: ["{looks} elongated", "{has} been stretched"],
  shortened: ["{looks} shortened", "{has} been compressed"],
  smoothed: ["{looks} overly smooth", "{has} a plastic look", "{has} been smoothed"],
  swapped: [
    "{does} not match the rest of the head",
    "{seems} to come from another person",
    "{looks} pasted in",
  ],
  erased: ["{has} been erased", "{was} painted over", "{appears} partly wiped out"],
  mirrored: [
    "{looks} copied from the other side",
    "{is} a mirrored copy",
    "{appears} duplicated from its counterpart",
  ],
};

const ARTIFACT: Record<Artifact, string[]> = {
  blur: [
    "with blurry edges",
    "and the area is slightly blurred",
    "and its details are smeared",
    "with soft, unfocused borders",
  ],
  color: [
    "with a visible colour mismatch",
    "and its tone differs from the surrounding area",
    "with an odd colour cast",
    "and the colours do not blend in",
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
    "and shows blocky, patch-like seams",
    "with copied texture patches",
    "leaving a patchy, repetitive surface",
  ],
};

const OPENERS = [
  "",
  "",
  "",
  "This image has been manipulated. ",
  "The face shows signs of editing. ",
  "Several areas look altered. ",
];
const LINKS = ["", "", "Also, ", "In addition, ", "Moreover, ", "Besides, ", "Meanwhile, "];

function person(sex: "man" | "woman", rng: Rng): { subj: string; poss: string } {
  const subj = sex === "man"
    ? rng.pick(["the man", "this man", "the person", "the subject", "the gentleman", "this individual"])
    : rng.pick(["the woman", "this woman", "the person", "the subject", "the lady", "this individual"]);
  const poss = rng.chance(0.5) ? (sex === "man" ? "his" : "her") : `${subj}'s`;
  return { subj, poss };
}

function nounPhrase(f: Fact, poss: string, rng: Rng): { np: string; plural: boolean } {
  const [one, many] = NOUN[f.region];
  const det = rng.chance(0.5) ? "the" : poss;
  if (f.side === "left" || f.side === "right") return { np: `${det} ${f.side} ${one}`, plural: false };
  if (f.side === "both" && many !== one) {
    return { np: rng.chance(0.3) ? `both ${many}` : `${det} ${many}`, plural: true };
  }
  return { np: `${det} ${many}`, plural: many !== one };
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

/** Compose a caption (≤ 120 words) describing `facts` about a `sex` subject. */
export function writeCaption(facts: Fact[], sex: "man" | "woman", rng: Rng): string {
  const { subj, poss } = person(sex, rng);
  const order = rng.shuffle(facts.slice());
  const sentences: string[] = [];
  order.forEach((f, i) => {
    const { np, plural } = nounPhrase(f, poss, rng);
    const change = verbs(rng.pick(CHANGE[f.change] ?? CHANGE.changed), plural, f);
    // asymmetry only makes sense for a one-sided change
    const kind = f.artifact === "asymmetry" && f.side !== "left" && f.side !== "right"
      ? "texture"
      : f.artifact;
    const art = rng.chance(0.85) ? " " + rng.pick(ARTIFACT[kind]) : "";
    const form = rng.int(3);
    let s: string;
    if (form === 0 || i > 0) s = `${np} ${change}${art}`;
    else if (form === 1) s = `in this photo of ${subj}, ${np} ${change}${art}`;
    else s = `looking at ${subj}, ${np} ${change}${art}`;
    const link = i > 0 ? rng.pick(LINKS) : "";
    sentences.push(link ? `${link}${s}.` : `${cap(s)}.`);
  });
  let text = rng.pick(OPENERS) + sentences.join(" ");
  const words = text.split(/\s+/);
  if (words.length > 120) text = words.slice(0, 120).join(" ").replace(/[,;]?$/, ".");
  return text;
}
