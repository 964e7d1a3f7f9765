/**
 * Localization metrics (DESIGN §5): the prediction is binarised at 0.5 and resized to the
 * ground-truth size with nearest neighbour, then per-image IoU / precision / recall are
 * averaged over images, with the empty-mask conventions: empty union -> IoU 1; empty
 * prediction -> precision 1 if the ground truth is empty too, else 0; empty ground truth ->
 * recall 1 if the prediction is empty too, else 0. Cumulative IoU pools the pixel counts
 * of all images. `MaskAccumulator` streams images one at a time so memory stays flat.
 */

/** A probability map in [0, 1], row-major. */
export interface ProbMap {
  width: number;
  height: number;
  data: Float32Array;
}

/** A ground-truth mask, row-major: 0 = authentic, > 0 = forged. */
export interface GtMask {
  width: number;
  height: number;
  data: Uint8Array;
}

/** Dataset-level mask scores, as fractions. */
export interface MaskScores {
  iou: number;
  precision: number;
  recall: number;
  cumulativeIoU: number;
}

/** Pixel counts of one image after binarising and resizing. */
export interface MaskCounts {
  tp: number;
  fp: number;
  fn: number;
}

/** Nearest-neighbour source index along one axis (pixel centres, like PyTorch 'nearest'). */
function nearestIndex(dst: number, dstSize: number, srcSize: number): number {
  return Math.min(srcSize - 1, Math.floor((dst * srcSize) / dstSize));
}

/** TP/FP/FN pixel counts of one prediction against its ground truth. */
export function maskCounts(pred: ProbMap, gt: GtMask): MaskCounts {
  checkMap("prediction", pred);
  checkMap("ground truth", gt);
  const { width: W, height: H } = gt;
  const same = pred.width === W && pred.height === H;
  const cols = new Int32Array(W);
  for (let x = 0; x < W; x++) cols[x] = same ? x : nearestIndex(x, W, pred.width);
  let tp = 0;
  let fp = 0;
  let fn = 0;
  for (let y = 0; y < H; y++) {
    const sy = same ? y : nearestIndex(y, H, pred.height);
    const prow = sy * pred.width;
    const grow = y * W;
    for (let x = 0; x < W; x++) {
      const p = pred.data[prow + cols[x]] >= 0.5;
      const g = gt.data[grow + x] > 0;
      if (p && g) tp++;
      else if (p) fp++;
      else if (g) fn++;
    }
  }
  return { tp, fp, fn };
}

function checkMap(what: string, m: { width: number; height: number; data: ArrayLike<number> }) {
  if (!(m.width > 0 && m.height > 0) || m.data.length !== m.width * m.height) {
    throw new Error(
      `${what} mask: expected ${m.width}x${m.height} = ${m.width * m.height} values, got ${m.data.length}`,
    );
  }
}

/** Per-image IoU / precision / recall with the empty-mask conventions. */
export function imageScores(c: MaskCounts): { iou: number; precision: number; recall: number } {
  const union = c.tp + c.fp + c.fn;
  const predPos = c.tp + c.fp;
  const gtPos = c.tp + c.fn;
  return {
    iou: union === 0 ? 1 : c.tp / union,
    precision: predPos === 0 ? (gtPos === 0 ? 1 : 0) : c.tp / predPos,
    recall: gtPos === 0 ? (predPos === 0 ? 1 : 0) : c.tp / gtPos,
  };
}

/** Streaming accumulator: add images one by one, read the averages at the end. */
export class MaskAccumulator {
  /** Images added. */
  count = 0;
  private iouSum = 0;
  private pSum = 0;
  private rSum = 0;
  private tp = 0;
  private union = 0;

  /** Add one image's counts. */
  addCounts(c: MaskCounts): void {
    const s = imageScores(c);
    this.count++;
    this.iouSum += s.iou;
    this.pSum += s.precision;
    this.rSum += s.recall;
    this.tp += c.tp;
    this.union += c.tp + c.fp + c.fn;
  }

  /** Add one image. */
  add(pred: ProbMap, gt: GtMask): void {
    this.addCounts(maskCounts(pred, gt));
  }

  /** Averages so far (NaN when empty; cumulative IoU 1 when no pixel is positive anywhere). */
  result(): MaskScores {
    const n = this.count;
    return {
      iou: this.iouSum / n,
      precision: this.pSum / n,
      recall: this.rSum / n,
      cumulativeIoU: n === 0 ? NaN : this.union === 0 ? 1 : this.tp / this.union,
    };
  }
}

/** Mask metrics over parallel arrays of predictions and ground truths. */
export function maskMetrics(preds: readonly ProbMap[], gts: readonly GtMask[]): MaskScores {
  if (preds.length !== gts.length) {
    throw new Error(`maskMetrics: ${preds.length} predictions for ${gts.length} ground truths`);
  }
  if (preds.length === 0) throw new Error("maskMetrics: no images");
  const acc = new MaskAccumulator();
  for (let i = 0; i < preds.length; i++) acc.add(preds[i], gts[i]);
  return acc.result();
}
