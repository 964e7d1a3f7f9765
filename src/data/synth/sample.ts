/**
 * One synthetic MMTT sample, end to end: draw an identity from (seed, index), render it,
 * simulate the camera (sensor noise, sometimes JPEG), manipulate, and caption from the log.
 * Deterministic per (seed, index), independent of worker count.
 */
import { decodeJpeg, encodeJpeg, type Image } from "../image_io.ts";
import type { ForgeryType } from "../mmtt.ts";
import { type Region, regionLabels, REGIONS } from "../regions.ts";
import { Rng } from "../rng.ts";
import type { Canvas } from "./canvas.ts";
import { writeCaption } from "./captions.ts";
import { sampleFace } from "./face_params.ts";
import { renderFace } from "./face_render.ts";
import { type Fact, manipulate, regionPresent } from "./manipulate.ts";

/** A generated sample (8-bit image and 0/255 mask) with its annotations. */
export interface SynthSample {
  index: number;
  image: Image;
  mask: Image;
  caption: string;
  multilabel: number[];
  forgery_type: ForgeryType;
  strong: boolean;
  facts: Fact[];
  /** The camera image before manipulation (tests compare it with `image`). */
  source: Uint8Array;
  /** Per-step masks (0/1) whose union is the mask. */
  stepMasks: Uint8Array[];
  /** Part maps before and after (tests check that captioned regions are in the mask). */
  partBefore: Uint8Array;
  partAfter: Uint8Array;
}

function camera(c: Canvas, rng: Rng): void {
  const sigma = rng.range(0.004, 0.012) * Math.sqrt(3); // uniform noise with that std
  const rgb = c.rgb;
  for (let i = 0; i < rgb.length; i++) rgb[i] += (rng.next() * 2 - 1) * sigma;
  if (rng.chance(0.3)) {
    const img: Image = { width: c.w, height: c.h, channels: 3, data: c.toBytes() };
    const back = decodeJpeg(encodeJpeg(img, Math.round(rng.range(72, 95)))).data;
    for (let i = 0; i < rgb.length; i++) rgb[i] = back[i] / 255;
  }
}

function toBytes(rgb: Float32Array): Uint8Array {
  const out = new Uint8Array(rgb.length);
  for (let i = 0; i < out.length; i++) {
    const v = rgb[i] * 255 + 0.5;
    out[i] = v <= 0 ? 0 : v >= 255 ? 255 : v;
  }
  return out;
}

/** Generate sample `index` of the set with `seed` at size×size. */
export function generateSample(seed: number, index: number, size = 512): SynthSample {
  for (let attempt = 0; attempt < 8; attempt++) {
    const rng = Rng.derive(seed, index, attempt);
    const f = sampleFace(rng);
    const c = renderFace(f, size);
    camera(c, rng);
    // quantise the camera image once so "outside the mask" is byte-identical in the output
    const source = toBytes(c.rgb);
    for (let i = 0; i < source.length; i++) c.rgb[i] = source[i] / 255;
    const forged = manipulate(c, f, rng);
    const facts = forged.facts.filter((x) => regionPresent(x.region, forged.mask, c.part, forged.partAfter));
    if (!facts.length) continue;
    const caption = writeCaption(facts, f.sex, rng);
    const multilabel = regionLabels(caption);
    const said = new Set<Region>(facts.map((x) => x.region));
    const labelled = REGIONS.filter((_, i) => multilabel[i]);
    if (labelled.length !== said.size || labelled.some((r) => !said.has(r))) {
      throw new Error(
        `synth: caption labels [${labelled}] differ from described regions [${[...said]}]: "${caption}"`,
      );
    }
    const mask = new Uint8Array(size * size);
    for (let i = 0; i < mask.length; i++) mask[i] = forged.mask[i] ? 255 : 0;
    return {
      index,
      image: { width: size, height: size, channels: 3, data: toBytes(forged.rgb) },
      mask: { width: size, height: size, channels: 1, data: mask },
      caption,
      multilabel,
      forgery_type: forged.type,
      strong: forged.strong,
      facts,
      source,
      stepMasks: forged.stepMasks,
      partBefore: c.part,
      partAfter: forged.partAfter,
    };
  }
  throw new Error(`synth: sample ${index} (seed ${seed}) produced no visible manipulation in 8 attempts`);
}
