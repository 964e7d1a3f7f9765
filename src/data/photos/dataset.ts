/**
 * `deno task synth --photos DIR`: the photo-mode sample loop behind `generateDataset`
 * (synth/generate.ts writes the staging folder, splits, stats and manifest around it).
 * Every .jpg/.jpeg/.png in DIR (not recursive, sorted by name) is decoded and its face found
 * once; a photo that cannot be read or has no face is skipped with one line, and no usable
 * photo at all is an error. Sample i forges photo `Rng.derive(seed, i, 0x9407).int(P)` with a
 * different photo as donor (the mirror image when DIR holds one usable photo).
 */
import { join } from "node:path";
import { encodePng, readImage, writeFileAtomic } from "../image_io.ts";
import { Rng } from "../rng.ts";
import type { SynthRecord } from "../synth/stats.ts";
import { sampleStem } from "../synth/write_sample.ts";
import { flipFace, forgeFace } from "./forge.ts";
import { detectFace } from "./landmarks.ts";
import { type PhotoFace, preparePhoto } from "./part_map.ts";

const EXT = /\.(jpe?g|png)$/i;

/**
 * Load and prepare the face photos of `dir` at `size`. `warn` gets one line per skipped file.
 * Throws when the folder cannot be read, holds no image files, or no image has a face.
 */
export async function loadPhotoFolder(
  dir: string,
  size: number,
  warn: (line: string) => void,
): Promise<PhotoFace[]> {
  const names: string[] = [];
  try {
    for await (const e of Deno.readDir(dir)) {
      if ((e.isFile || e.isSymlink) && EXT.test(e.name)) names.push(e.name);
    }
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) throw new Error(`--photos '${dir}' does not exist`);
    if (e instanceof Deno.errors.NotADirectory) throw new Error(`--photos '${dir}' is not a folder`);
    throw e;
  }
  names.sort();
  if (!names.length) throw new Error(`--photos '${dir}' holds no .jpg, .jpeg or .png files`);
  const faces: PhotoFace[] = [];
  for (const name of names) {
    const path = join(dir, name);
    let img;
    try {
      img = await readImage(path);
    } catch (e) {
      warn(`synth: skipped '${name}': ${(e as Error).message}`);
      continue;
    }
    const f = await detectFace(img);
    if (!f) {
      warn(`synth: skipped '${name}': no face found`);
      continue;
    }
    faces.push(preparePhoto(img, f.points, size, name));
  }
  if (!faces.length) {
    throw new Error(
      `--photos '${dir}': none of its ${names.length} image file(s) has a face the detector can find (a frontal face of at least ~40 px is needed)`,
    );
  }
  return faces;
}

/** Forge sample `index` from the prepared photos and write its image and mask PNGs under `out`. */
export async function writePhotoSample(
  out: string,
  faces: PhotoFace[],
  seed: number,
  index: number,
  realShare: number,
  mirrors: Map<number, PhotoFace>,
): Promise<SynthRecord> {
  const pick = Rng.derive(seed, index, 0x9407);
  const t = pick.int(faces.length);
  let donor: PhotoFace;
  if (faces.length > 1) {
    const d = pick.int(faces.length - 1);
    donor = faces[d >= t ? d + 1 : d];
  } else {
    if (!mirrors.has(t)) mirrors.set(t, flipFace(faces[t]));
    donor = mirrors.get(t)!;
  }
  const s = forgeFace(faces[t], donor, seed, index, { realShare });
  const stem = sampleStem(index);
  const img_path = `images/${stem}.png`, mask_path = `masks/${stem}.png`;
  await writeFileAtomic(join(out, img_path), encodePng(s.image, 1, { filter: "up", strategy: "rle" }));
  await writeFileAtomic(join(out, mask_path), encodePng(s.mask, 1, { filter: "none", strategy: "rle" }));
  let area = 0;
  for (let i = 0; i < s.mask.data.length; i++) area += s.mask.data[i] ? 1 : 0;
  return {
    index,
    image_id: `photo_${stem}`,
    instance_id: stem,
    img_path,
    mask_path,
    caption: s.caption,
    multilabel: s.multilabel,
    forgery_type: s.forgeryType ?? undefined,
    strong: s.strong,
    maskFraction: area / s.mask.data.length,
  };
}
