/**
 * The instruction built from region labels; the same text feeds the Q-Former and the report
 * decoder's encoder. Regions are listed in the official order (`REGIONS`).
 * - paper: "These facial areas may be manipulated by AI: [R]. Please describe the specific
 *   issues in these areas." (no region above threshold: [R] = "none").
 * - official: the official code's longer wording, and its region-free variant when empty.
 * @module
 */
import { REGIONS } from "../data/regions.ts";
import type { TemplateKind } from "./config.ts";

/** The paper's template; `[R]` is the comma-separated region list. */
export const PAPER_TEMPLATE =
  "These facial areas may be manipulated by AI: [R]. Please describe the specific issues in these areas.";

/** The official code's template with regions. */
export const OFFICIAL_TEMPLATE =
  "The following facial areas may have been modified by AI: [R]. These areas might have been manipulated either by replacing the entire face or by altering specific facial features. Please identify these areas and describe why they appear unnatural.";

/** The official code's text when no region is predicted. */
export const OFFICIAL_TEMPLATE_EMPTY =
  "The following facial areas may have been modified by AI. These areas might have been manipulated either by replacing the entire face or by altering specific facial features. Please identify these areas and describe why they appear unnatural.";

/** Region names whose score passes `threshold` (scores: 21 numbers in REGIONS order). */
export function selectedRegions(scores: ArrayLike<number>, threshold = 0.5): string[] {
  if (scores.length !== REGIONS.length) {
    throw new Error(`selectedRegions: expected ${REGIONS.length} scores, got ${scores.length}`);
  }
  const out: string[] = [];
  for (let i = 0; i < REGIONS.length; i++) if (scores[i] > threshold) out.push(REGIONS[i]);
  return out;
}

/** The instruction for a list of region names. */
export function instruction(regions: readonly string[], template: TemplateKind = "paper"): string {
  if (template === "official") {
    return regions.length ? OFFICIAL_TEMPLATE.replace("[R]", regions.join(", ")) : OFFICIAL_TEMPLATE_EMPTY;
  }
  return PAPER_TEMPLATE.replace("[R]", regions.length ? regions.join(", ") : "none");
}
