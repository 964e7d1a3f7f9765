// Mask IoU / precision / recall conventions, nearest resize, cumulative IoU, and PLM.
import { assertAlmostEquals, assertEquals, assertThrows } from "./assert_helpers.ts";
import { maskCounts, maskMetrics } from "../../src/eval/mask_metrics.ts";
import { plm, plmSample } from "../../src/eval/plm.ts";

const prob = (w: number, h: number, v: number[]) => ({ width: w, height: h, data: Float32Array.from(v) });
const gt = (w: number, h: number, v: number[]) => ({ width: w, height: h, data: Uint8Array.from(v) });

Deno.test("mask metrics: threshold 0.5 and a partial overlap", () => {
  // pred positives at 0,1 (0.5 counts); gt positives at 1,2 -> tp 1, fp 1, fn 1.
  const m = maskMetrics([prob(2, 2, [0.5, 0.9, 0.49, 0])], [gt(2, 2, [0, 255, 1, 0])]);
  assertAlmostEquals(m.iou, 1 / 3, 1e-12);
  assertEquals(m.precision, 0.5);
  assertEquals(m.recall, 0.5);
  assertAlmostEquals(m.cumulativeIoU, 1 / 3, 1e-12);
});

Deno.test("mask metrics: empty-mask conventions", () => {
  const z = prob(2, 1, [0, 0]);
  // both empty: IoU 1, P 1, R 1
  assertEquals(maskMetrics([z], [gt(2, 1, [0, 0])]), { iou: 1, precision: 1, recall: 1, cumulativeIoU: 1 });
  // empty prediction, forged gt: IoU 0, P 0, R 0
  const a = maskMetrics([z], [gt(2, 1, [1, 0])]);
  assertEquals([a.iou, a.precision, a.recall], [0, 0, 0]);
  // empty gt, predicted pixels: IoU 0, P 0, R 0
  const b = maskMetrics([prob(2, 1, [1, 0])], [gt(2, 1, [0, 0])]);
  assertEquals([b.iou, b.precision, b.recall], [0, 0, 0]);
});

Deno.test("mask metrics: per-image mean vs pooled cumulative IoU", () => {
  const m = maskMetrics(
    [prob(2, 1, [1, 1]), prob(2, 1, [0, 0])],
    [gt(2, 1, [1, 0]), gt(2, 1, [0, 0])],
  );
  assertAlmostEquals(m.iou, (0.5 + 1) / 2, 1e-12);
  assertAlmostEquals(m.cumulativeIoU, 1 / 2, 1e-12);
});

Deno.test("mask metrics: prediction resized to the ground-truth size with nearest", () => {
  // 2x2 prediction [1,0;0,1] upsampled to 4x4 gives 2x2 blocks.
  const c = maskCounts(
    prob(2, 2, [1, 0, 0, 1]),
    gt(4, 4, [
      1,
      1,
      0,
      0,
      1,
      1,
      0,
      0,
      0,
      0,
      1,
      1,
      0,
      0,
      1,
      1,
    ]),
  );
  assertEquals(c, { tp: 8, fp: 0, fn: 0 });
  // 4x4 prediction downsampled to 2x2 samples pixels (0,0), (2,0), (0,2), (2,2).
  const d = maskCounts(
    prob(4, 4, [1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0]),
    gt(2, 2, [1, 0, 0, 1]),
  );
  assertEquals(d, { tp: 2, fp: 0, fn: 0 });
});

Deno.test("mask metrics: size mismatch in data is an error naming the mask", () => {
  assertThrows(() => maskMetrics([prob(2, 2, [1])], [gt(1, 1, [1])]), /prediction mask: expected 2x2/);
});

Deno.test("PLM: intersection over union of positive labels, both empty -> 1", () => {
  const v = (...on: number[]) => Array.from({ length: 21 }, (_, i) => (on.includes(i) ? 1 : 0));
  assertEquals(plmSample(v(0, 1, 2), v(1, 2, 3)), 0.5);
  assertEquals(plmSample(v(), v()), 1);
  assertEquals(plmSample(v(4), v()), 0);
  assertAlmostEquals(plm([v(0, 1, 2), v(), v(4)], [v(1, 2, 3), v(), v(5)]), 0.5, 1e-12);
  assertThrows(() => plm([[1, 0]], [[1, 0]]), /21-long/);
});
