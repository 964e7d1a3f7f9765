/** Generate one sample and write its image and mask PNGs; returns its MMTT record. */
import { join } from "node:path";
import { encodePng, writeFileAtomic } from "../image_io.ts";
import { generateSample } from "./sample.ts";
import type { SynthRecord } from "./stats.ts";

const IMAGE_PNG = { filter: "up", strategy: "rle" } as const;
const MASK_PNG = { filter: "none", strategy: "rle" } as const;

/** Zero-padded file stem for a sample index. */
export function sampleStem(index: number): string {
  return String(index).padStart(6, "0");
}

/** Generate sample `index` and write `images/<stem>.png` and `masks/<stem>.png` under `out`. */
export async function writeSample(
  out: string,
  seed: number,
  index: number,
  size: number,
  realShare = 0,
): Promise<SynthRecord> {
  const s = generateSample(seed, index, size, { realShare });
  const stem = sampleStem(index);
  const img_path = `images/${stem}.png`, mask_path = `masks/${stem}.png`;
  // Up filter + zlib's run-length strategy: ~4x faster than adaptive filtering at level 1 and,
  // on these noisy images, ~40% smaller files (about 285 KiB); masks (0/255) need no filter.
  await writeFileAtomic(join(out, img_path), encodePng(s.image, 1, IMAGE_PNG));
  await writeFileAtomic(join(out, mask_path), encodePng(s.mask, 1, MASK_PNG));
  let area = 0;
  for (let i = 0; i < s.mask.data.length; i++) area += s.mask.data[i] ? 1 : 0;
  return {
    index,
    image_id: `synth_${stem}`,
    instance_id: stem,
    img_path,
    mask_path,
    caption: s.caption,
    multilabel: s.multilabel,
    // untouched images carry no forgery_type (the field is optional in the MMTT layout)
    forgery_type: s.forgery_type ?? undefined,
    strong: s.strong,
    maskFraction: area / s.mask.data.length,
  };
}
