/**
 * Forgeries of real face photographs with exact masks and truthful captions: the photo-mode
 * counterpart of synth/sample.ts. A prepared face (aligned crop + part map, part_map.ts) is
 * manipulated on the generator's `Editor` (face swap, region regeneration, patch inpainting,
 * attribute warps and recolouring; edits.ts), captioned from the measured facts, and only then
 * passed through the generator's camera model (noise, resampling, JPEG), so forged and
 * untouched pixels share one pipeline. Deterministic in (seed, index) for a given photo list.
 *
 * Library entry for the demo: `forgePhoto(image, { seed, kind })`. Test: tests/data/photos_test.ts.
 */
import { fileURLToPath } from "node:url";
import type { Image } from "../image_io.ts";
import type { ForgeryType } from "../mmtt.ts";
import { type Region, regionLabels, REGIONS } from "../regions.ts";
import { Rng } from "../rng.ts";
import { applyCamera, type CameraParams, sampleCamera, warpLabels } from "../synth/camera.ts";
import { writeCaption, writeRealCaption } from "../synth/captions.ts";
import { Canvas } from "../synth/canvas.ts";
import { Editor, type Fact, patchInpaint, regionPresent, TYPE_WEIGHTS } from "../synth/manipulate.ts";
import { P } from "../synth/parts.ts";
import { alignDonor, photoAttributeEdit, photoFaceSwap, photoRegionSwap } from "./edits.ts";
import { detectFace } from "./landmarks.ts";
import { type PhotoFace, preparePhoto } from "./part_map.ts";

/** The bundled public-domain face crops (data/photos/, see its README for sources and licences). */
export const BUNDLED_PHOTOS: { readonly graceHopper: string; readonly astronaut: string } = {
  graceHopper: fileURLToPath(new URL("../../../data/photos/grace_hopper_256.jpg", import.meta.url)),
  astronaut: fileURLToPath(new URL("../../../data/photos/astronaut_256.jpg", import.meta.url)),
};

/** One forged (or untouched) photo sample. */
export interface PhotoSample {
  /** size×size RGB after the camera model. */
  image: Image;
  /** size×size one-channel mask, 0/255 (all 0 for an untouched image). */
  mask: Image;
  caption: string;
  multilabel: number[];
  /** null for an untouched copy. */
  forgeryType: ForgeryType | null;
  strong: boolean;
  facts: Fact[];
  /** With `debug`: the same camera run on the unmanipulated crop. */
  source?: Uint8Array;
  /** With `debug`: the float crop before and after the manipulation (before the camera). */
  before?: Float32Array;
  after?: Float32Array;
  /** With `debug`: 0/1 mask and part maps in crop coordinates (before the camera warp). */
  rawMask?: Uint8Array;
  partBefore?: Uint8Array;
  partAfter?: Uint8Array;
  camera?: CameraParams;
}

/** Options of `forgeFace`. */
export interface ForgeOptions {
  /** Force a forgery type (default: drawn with the generator's TYPE_WEIGHTS). */
  kind?: ForgeryType;
  /** Probability of an untouched copy (empty mask, a caption saying so); default 0. */
  realShare?: number;
  /** Skip the camera model (tests of the exact mask; the demo may want the clean crop). */
  noCamera?: boolean;
  debug?: boolean;
}

// Landmark index of the mirror image of each of the 68 points (iBUG order).
const FLIP68: number[] = (() => {
  const m = Array.from({ length: 68 }, (_, i) => i);
  const pairs: [number, number][] = [];
  for (let i = 0; i < 8; i++) pairs.push([i, 16 - i]);
  for (let i = 0; i < 5; i++) pairs.push([17 + i, 26 - i]);
  pairs.push([31, 35], [32, 34], [36, 45], [37, 44], [38, 43], [39, 42], [40, 47], [41, 46]);
  pairs.push([48, 54], [49, 53], [50, 52], [55, 59], [56, 58], [60, 64], [61, 63], [65, 67]);
  for (const [a, b] of pairs) (m[a] = b), (m[b] = a);
  return m;
})();
const FLIP_PART = Array.from({ length: 256 }, (_, p) => p);
for (const [a, b] of [[P.cheekL, P.cheekR], [P.eyeL, P.eyeR], [P.pupilL, P.pupilR], [P.browL, P.browR]]) {
  FLIP_PART[a] = b;
  FLIP_PART[b] = a;
}

/** The mirror image of a prepared face (a stand-in donor when only one photo is available). */
export function flipFace(f: PhotoFace): PhotoFace {
  const S = f.size, rgb = new Float32Array(f.rgb.length), part = new Uint8Array(f.part.length);
  for (let y = 0; y < S; y++) {
    for (let x = 0; x < S; x++) {
      const i = y * S + x, j = y * S + (S - 1 - x);
      rgb[i * 3] = f.rgb[j * 3];
      rgb[i * 3 + 1] = f.rgb[j * 3 + 1];
      rgb[i * 3 + 2] = f.rgb[j * 3 + 2];
      part[i] = FLIP_PART[f.part[j]];
    }
  }
  const points = new Float64Array(136);
  for (let i = 0; i < 68; i++) {
    const j = FLIP68[i];
    points[2 * i] = S - 1 - f.points[2 * j];
    points[2 * i + 1] = f.points[2 * j + 1];
  }
  return { size: S, rgb, part, points, name: `${f.name} (mirrored)` };
}

const mk255 = (m: Uint8Array) => {
  const out = new Uint8Array(m.length);
  for (let i = 0; i < m.length; i++) out[i] = m[i] ? 255 : 0;
  return out;
};

/**
 * Forge one sample from a prepared `target` face (and `donor` for swaps) with the stream
 * `Rng.derive(seed, index, attempt)`; up to 8 attempts when no step made a visible change.
 */
export function forgeFace(
  target: PhotoFace,
  donor: PhotoFace,
  seed: number,
  index: number,
  o: ForgeOptions = {},
): PhotoSample {
  const S = target.size;
  if (donor.size !== S) throw new Error(`photos: donor size ${donor.size} differs from target size ${S}`);
  const real = (o.realShare ?? 0) > 0 && Rng.derive(seed, index, 0x7ea1).chance(o.realShare!);
  const camera = (rgb: Float32Array, cam: CameraParams) => {
    if (o.noCamera) {
      const out = new Uint8Array(rgb.length);
      for (let i = 0; i < rgb.length; i++) out[i] = Math.max(0, Math.min(255, Math.round(rgb[i] * 255)));
      return out;
    }
    return applyCamera(rgb, S, S, cam);
  };
  const warpMask = (m: Uint8Array, cam: CameraParams) => (o.noCamera ? m.slice() : warpLabels(m, S, S, cam));
  const aligned = new Map<number, ReturnType<typeof alignDonor>>();
  for (let attempt = 0; attempt < 8; attempt++) {
    const rng = Rng.derive(seed, index, attempt);
    const cam = sampleCamera(rng);
    // a photo crop has real content up to its border only: the camera zooms in (never out) and
    // its offset keeps the view inside the crop, so no reflected border shows
    cam.scale = 1 + Math.abs(cam.scale - 1);
    const slack = (1 - 1 / cam.scale) / 2;
    cam.tx = Math.max(-slack, Math.min(slack, cam.tx));
    cam.ty = Math.max(-slack, Math.min(slack, cam.ty));
    if (real) {
      const image = camera(target.rgb, cam);
      return {
        image: { width: S, height: S, channels: 3, data: image },
        mask: { width: S, height: S, channels: 1, data: new Uint8Array(S * S) },
        caption: writeRealCaption("person", rng),
        multilabel: REGIONS.map(() => 0),
        forgeryType: null,
        strong: false,
        facts: [],
        source: o.debug ? image : undefined,
        camera: o.debug ? cam : undefined,
      };
    }
    const types = Object.keys(TYPE_WEIGHTS) as ForgeryType[];
    const drawn = rng.weighted(types, types.map((t) => TYPE_WEIGHTS[t]));
    const type = o.kind ?? drawn;
    const strong = rng.chance(0.45);
    const nParts = rng.weighted([1, 2, 3, 4, 5], [0.12, 0.3, 0.28, 0.18, 0.12]);
    const c = new Canvas(S, S);
    c.rgb.set(target.rgb);
    c.part.set(target.part);
    const ed = new Editor(c);
    const don = () => {
      if (!aligned.has(0)) aligned.set(0, alignDonor(target, donor));
      return aligned.get(0)!;
    };
    if (type === "face_swap") photoFaceSwap(ed, don(), rng, strong);
    else if (type === "inpaint_diffusion") photoRegionSwap(ed, don(), rng, strong, nParts);
    else if (type === "attribute_edit") photoAttributeEdit(ed, rng, strong, nParts);
    else {
      let cx = 0;
      for (const i of [27, 28, 29, 30, 33, 51, 57, 8]) cx += target.points[2 * i];
      patchInpaint(ed, (cx / 8) * (512 / S), rng, strong, nParts);
    }
    const scan = { box: ed.box, w: S };
    const facts = ed.facts.filter((x) => regionPresent(x.region, ed.mask, target.part, ed.partAfter, scan));
    if (!facts.length) continue;
    const caption = writeCaption(facts, "person", rng);
    const multilabel = regionLabels(caption);
    const said = new Set<Region>(facts.map((x) => x.region));
    const labelled = REGIONS.filter((_, i) => multilabel[i]);
    if (labelled.length !== said.size || labelled.some((r) => !said.has(r))) {
      throw new Error(
        `photos: caption labels [${labelled}] differ from described regions [${[...said]}]: "${caption}"`,
      );
    }
    const image = camera(c.rgb, cam);
    const out: PhotoSample = {
      image: { width: S, height: S, channels: 3, data: image },
      mask: { width: S, height: S, channels: 1, data: mk255(warpMask(ed.mask, cam)) },
      caption,
      multilabel,
      forgeryType: type,
      strong,
      facts,
    };
    if (o.debug) {
      out.source = camera(target.rgb, cam);
      out.before = target.rgb.slice();
      out.after = c.rgb.slice();
      out.rawMask = ed.mask.slice();
      out.partBefore = target.part.slice();
      out.partAfter = ed.partAfter.slice();
      out.camera = cam;
    }
    return out;
  }
  throw new Error(
    `photos: '${target.name}' (seed ${seed}, sample ${index}${
      o.kind ? `, kind ${o.kind}` : ""
    }) gave no visible manipulation in 8 attempts`,
  );
}

/** Options of `forgePhoto`. */
export interface ForgePhotoOptions {
  seed: number;
  /** Force a forgery type (default: drawn like the generator's mix). */
  kind?: ForgeryType;
  /** Output size (square; default 512). */
  size?: number;
  /** Donor photo for face swaps and region regeneration (default: a bundled photo, or the mirror). */
  donor?: Image;
  /** Skip the camera model (the forged crop exactly as blended). Default false. */
  noCamera?: boolean;
}

/** What `forgePhoto` returns: the forged image, its exact mask and the MMTT annotations. */
export interface ForgedPhoto {
  image: Image;
  /** One channel, 0/255. */
  mask: Image;
  caption: string;
  multilabel: number[];
  forgeryType: ForgeryType;
  /** The aligned, unmanipulated crop (same camera when `noCamera` is false). */
  original: Image;
  facts: Fact[];
}

/**
 * Detect the face in `image`, crop and align it to `size`, and forge it (deterministic in
 * `seed`). Throws when no face is found. Face swaps take their donor from `donor`, else from
 * the bundled astronaut photo (or the mirrored target when the target is that photo).
 */
export async function forgePhoto(image: Image, opts: ForgePhotoOptions): Promise<ForgedPhoto> {
  const size = opts.size ?? 512;
  const target = await prepareImage(image, size, "image");
  if (!target) throw new Error("photos: no face found in the image");
  let donor: PhotoFace | null = null;
  if (opts.donor) {
    donor = await prepareImage(opts.donor, size, "donor");
    if (!donor) throw new Error("photos: no face found in the donor image");
  } else {
    const { readImage } = await import("../image_io.ts");
    donor = await prepareImage(await readImage(BUNDLED_PHOTOS.astronaut), size, "astronaut_256.jpg");
    if (donor && sameFace(donor, target)) donor = null;
  }
  const s = forgeFace(target, donor ?? flipFace(target), opts.seed, 0, {
    kind: opts.kind,
    noCamera: opts.noCamera,
    debug: true,
  });
  return {
    image: s.image,
    mask: s.mask,
    caption: s.caption,
    multilabel: s.multilabel,
    forgeryType: s.forgeryType!,
    original: { width: size, height: size, channels: 3, data: s.source! },
    facts: s.facts,
  };
}

// Two crops of the same photo (the donor would not change anything).
function sameFace(a: PhotoFace, b: PhotoFace): boolean {
  let d = 0;
  for (let i = 0; i < a.rgb.length; i += 97) d += Math.abs(a.rgb[i] - b.rgb[i]);
  return d / (a.rgb.length / 97) < 0.02;
}

/** Detect, align and map one image; null when no face is found. */
export async function prepareImage(image: Image, size: number, name: string): Promise<PhotoFace | null> {
  const f = await detectFace(image);
  return f ? preparePhoto(image, f.points, size, name) : null;
}
