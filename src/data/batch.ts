/**
 * Builds one training/eval batch from records: decode, (augment), resize, CLIP-normalise.
 * Runs inside loader workers, or on the calling thread when the loader has 0 workers.
 */
import { readImageSync, toGray, toRgb } from "./image_io.ts";
import { REGIONS } from "./regions.ts";
import { Rng } from "./rng.ts";
import { augment, normalizeClip, resizeBicubic, resizeMaskNearest } from "./transforms.ts";

/** The per-sample inputs a batch job needs (plain data, so it can cross to a worker). */
export interface BatchItem {
  id: string;
  imageFile: string;
  maskFile: string | null;
  caption: string;
  multilabel: number[];
  /** Seed of this sample's augmentation stream (derived from seed, epoch, index). */
  seed: number;
}

/** One batch; arrays are (B,3,H,W), (B,1,H,W) with 0/1, and (B,21). */
export interface Batch {
  ids: string[];
  images: Float32Array;
  masks: Float32Array;
  labels: Float32Array;
  captions: string[];
}

/** Load and preprocess `items` into a batch at size×size. */
export function buildBatch(items: BatchItem[], size: number, doAugment: boolean): Batch {
  const B = items.length, hw = size * size;
  const images = new Float32Array(B * 3 * hw);
  const masks = new Float32Array(B * hw);
  const labels = new Float32Array(B * REGIONS.length);
  const captions: string[] = [];
  items.forEach((it, b) => {
    const img = toRgb(readImageSync(it.imageFile));
    let mask: Uint8Array;
    if (it.maskFile) {
      const m = toGray(readImageSync(it.maskFile));
      if (m.width !== img.width || m.height !== img.height) {
        throw new Error(
          `mask '${it.maskFile}': expected ${img.width}x${img.height} like its image, got ${m.width}x${m.height}`,
        );
      }
      mask = m.data;
    } else mask = new Uint8Array(img.width * img.height);
    let caption = it.caption;
    let small: Uint8Array;
    if (doAugment) {
      const a = augment(img, mask, caption, new Rng(it.seed), { size });
      normalizeClip(a.image, images, b * 3 * hw);
      small = a.mask;
      caption = a.caption;
    } else {
      const r = img.width === size && img.height === size ? img : resizeBicubic(img, size, size);
      normalizeClip(r, images, b * 3 * hw);
      small = resizeMaskNearest(mask, img.width, img.height, size, size);
    }
    for (let i = 0; i < hw; i++) masks[b * hw + i] = small[i];
    labels.set(it.multilabel, b * REGIONS.length);
    captions.push(caption);
  });
  return { ids: items.map((i) => i.id), images, masks, labels, captions };
}
