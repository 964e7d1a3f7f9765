/**
 * One synthetic MMTT sample, end to end: draw an identity from (seed, index), render it,
 * manipulate (or, for the untouched share, leave it alone), caption from the measured facts,
 * and only then run the camera model (camera.ts) on the whole image, so forged and untouched
 * pixels share the same noise, resampling and JPEG. Deterministic per (seed, index),
 * independent of worker count.
 */
import type { Image } from "../image_io.ts";
import type { ForgeryType } from "../mmtt.ts";
import { type Region, regionLabels, REGIONS } from "../regions.ts";
import { Rng } from "../rng.ts";
import { applyCamera, type CameraParams, sampleCamera, warpLabels } from "./camera.ts";
import { writeCaption, writeRealCaption } from "./captions.ts";
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
  /** null for an untouched image (empty mask, a caption saying so). */
  forgery_type: ForgeryType | null;
  strong: boolean;
  facts: Fact[];
  /** With `debug`: the camera image of the unmanipulated render (same camera). */
  source?: Uint8Array;
  /** With `debug`: per-step masks (0/1, in output coordinates) whose union is the mask. */
  stepMasks?: Uint8Array[];
  /** With `debug`: part maps before and after, in output coordinates. */
  partBefore?: Uint8Array;
  partAfter?: Uint8Array;
  /** With `debug`: the camera that made the image (and the source). */
  camera?: CameraParams;
}

/** Options of `generateSample`. */
export interface SampleOptions {
  /** Probability that the sample is left untouched (default 0). */
  realShare?: number;
  /** Also return the source image, step masks and part maps (tests). */
  debug?: boolean;
}

/** Generate sample `index` of the set with `seed` at size×size. */
export function generateSample(seed: number, index: number, size = 512, o: SampleOptions = {}): SynthSample {
  const real = (o.realShare ?? 0) > 0 && Rng.derive(seed, index, 0x7ea1).chance(o.realShare!);
  const mk = (m: Uint8Array) => {
    const out = new Uint8Array(m.length);
    for (let i = 0; i < m.length; i++) out[i] = m[i] ? 255 : 0;
    return out;
  };
  for (let attempt = 0; attempt < 8; attempt++) {
    const rng = Rng.derive(seed, index, attempt);
    const f = sampleFace(rng);
    const c = renderFace(f, size);
    const cam = sampleCamera(rng);
    if (real) {
      const image = applyCamera(c.rgb, size, size, cam);
      const zero = new Uint8Array(size * size);
      const part = o.debug ? warpLabels(c.part, size, size, cam) : undefined;
      releaseCanvas(c);
      return {
        index,
        image: { width: size, height: size, channels: 3, data: image },
        mask: { width: size, height: size, channels: 1, data: zero },
        caption: writeRealCaption(f.sex, rng),
        multilabel: REGIONS.map(() => 0),
        forgery_type: null,
        strong: false,
        facts: [],
        source: o.debug ? image : undefined,
        stepMasks: o.debug ? [] : undefined,
        partBefore: part,
        partAfter: part,
        camera: o.debug ? cam : undefined,
      };
    }
    const pristine = o.debug ? c.rgb.slice() : null;
    const partBefore = o.debug ? c.part.slice() : null;
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
    const image = applyCamera(forged.rgb, size, size, cam);
    const mask = mk(warpLabels(forged.mask, size, size, cam));
    const out: SynthSample = {
      index,
      image: { width: size, height: size, channels: 3, data: image },
      mask: { width: size, height: size, channels: 1, data: mask },
      caption,
      multilabel,
      forgery_type: forged.type,
      strong: forged.strong,
      facts,
    };
    if (o.debug) {
      out.source = applyCamera(pristine!, size, size, cam);
      out.stepMasks = forged.stepMasks.map((m) => warpLabels(m, size, size, cam));
      out.partBefore = warpLabels(partBefore!, size, size, cam);
      out.partAfter = warpLabels(forged.partAfter, size, size, cam);
      out.camera = cam;
    }
    releaseCanvas(c);
    return out;
  }
  throw new Error(`synth: sample ${index} (seed ${seed}) produced no visible manipulation in 8 attempts`);
}
