/**
 * PLM (DESIGN §5): per sample, |pred ∩ gt| / |pred ∪ gt| over the 21 region labels
 * (both empty -> 1), averaged over samples. Labels are 0/1 vectors; any value > 0.5
 * counts as positive so probability vectors thresholded at 0.5 work too.
 */

/** Number of region classes. */
export const NUM_REGIONS = 21;

/** PLM of one sample. */
export function plmSample(pred: ArrayLike<number>, gt: ArrayLike<number>): number {
  if (pred.length !== NUM_REGIONS || gt.length !== NUM_REGIONS) {
    throw new Error(
      `plm: expected ${NUM_REGIONS}-long label vectors, got ${pred.length} and ${gt.length}`,
    );
  }
  let inter = 0;
  let union = 0;
  for (let i = 0; i < NUM_REGIONS; i++) {
    const p = pred[i] > 0.5;
    const g = gt[i] > 0.5;
    if (p && g) inter++;
    if (p || g) union++;
  }
  return union === 0 ? 1 : inter / union;
}

/** Mean PLM over parallel arrays of predicted and ground-truth label vectors. */
export function plm(preds: ReadonlyArray<ArrayLike<number>>, gts: ReadonlyArray<ArrayLike<number>>): number {
  if (preds.length !== gts.length) {
    throw new Error(`plm: ${preds.length} predictions for ${gts.length} ground truths`);
  }
  if (preds.length === 0) throw new Error("plm: no samples");
  let s = 0;
  for (let i = 0; i < preds.length; i++) s += plmSample(preds[i], gts[i]);
  return s / preds.length;
}
