/**
 * One synthetic MMTT sample, end to end: draw an identity from (seed, index), render it,
 * simulate the camera (sensor noise, sometimes JPEG), manipulate, and caption from the log.
 * Deterministic per (seed, index), independent of worker count.
 */
import { decodeJpeg, encodeJpeg, type Image } from "../image_io.ts";
import type { ForgeryType } from "../mmtt.ts";
import { type Region, regionLabels, REGIONS } from "../regions.ts";
import { Rng } from "../rng.ts";
import { type Canvas, randomBytes, SYM_UNIFORM, toBytes } from "./canvas.ts";
import { writeCaption } from "./captions.ts";
import { sampleFace } from "./face_params.ts";
import { releaseCanvas, renderFace } from "./face_render.ts";
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

// b / 255 as stored in a Float32Array.
const BYTE_TO_UNIT = Float32Array.from({ length: 256 }, (_, b) => b / 255);

/**
 * Camera simulation on the rendered canvas: sensor noise, and sometimes a JPEG round trip.
 * Returns the 8-bit camera image and leaves `c.rgb` = those bytes / 255, so that "outside the
 * mask" is byte-identical in the output. (One fused pass: noise, quantise; then requantise.)
 * The uniform noise has 256 levels (four per generator call).
 */
function camera(c: Canvas, rng: Rng): Uint8Array {
  const sigma = rng.range(0.004, 0.012) * Math.sqrt(3); // uniform noise with that std
  const rgb = c.rgb, n = rgb.length;
  const noise = new Float64Array(256);
  for (let b = 0; b < 256; b++) noise[b] = SYM_UNIFORM[b] * sigma;
  let bytes: Uint8Array = randomBytes(rng, n);
  for (let i = 0; i < n; i++) {
    const v = Math.fround(rgb[i] + noise[bytes[i]]) * 255 + 0.5;
    bytes[i] = v <= 0 ? 0 : v >= 255 ? 255 : v;
  }
  if (rng.chance(0.3)) {
    const img: Image = { width: c.w, height: c.h, channels: 3, data: bytes };
    bytes = decodeJpeg(encodeJpeg(img, Math.round(rng.range(72, 95)))).data;
  }
  for (let i = 0; i < n; i++) rgb[i] = BYTE_TO_UNIT[bytes[i]];
  return bytes;
}

/** Generate sample `index` of the set with `seed` at size×size. */
export function generateSample(seed: number, index: number, size = 512): SynthSample {
  for (let attempt = 0; attempt < 8; attempt++) {
    const rng = Rng.derive(seed, index, attempt);
    const f = sampleFace(rng);
    const c = renderFace(f, size);
    const source = camera(c, rng);
    const forged = manipulate(c, f, rng);
    const scan = { box: forged.box, w: size };
    const facts = forged.facts.filter((x) =>
      regionPresent(x.region, forged.mask, c.part, forged.partAfter, scan)
    );
    if (!facts.length) {
      releaseCanvas(c);
      continue;
    }
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
    // the forged image equals the camera image outside the mask box: requantise only the box
    const image = source.slice();
    const b = forged.box;
    if (b) {
      for (let y = b.y0; y < b.y1; y++) {
        const s0 = (y * size + b.x0) * 3, s1 = (y * size + b.x1) * 3;
        toBytes(forged.rgb.subarray(s0, s1), image.subarray(s0, s1));
      }
    }
    const partBefore = c.part.slice();
    releaseCanvas(c);
    return {
      index,
      image: { width: size, height: size, channels: 3, data: image },
      mask: { width: size, height: size, channels: 1, data: mask },
      caption,
      multilabel,
      forgery_type: forged.type,
      strong: forged.strong,
      facts,
      source,
      stepMasks: forged.stepMasks,
      partBefore,
      partAfter: forged.partAfter,
    };
  }
  throw new Error(`synth: sample ${index} (seed ${seed}) produced no visible manipulation in 8 attempts`);
}
