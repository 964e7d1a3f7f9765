/**
 * MMTT annotation reader. One JSON file per split (`train-mutilabel.json`, ...) holds an array
 * of `{image_id, instance_id, img_path, mask_path, caption, multilabel}` with paths relative
 * to a root folder. Every record is validated (fields, image readable, channel count, mask
 * size); a bad record throws an error naming the file, record index and field, or with
 * `skipBad` is skipped and counted.
 */
import { isAbsolute, join, resolve } from "node:path";
import { probeImage } from "./image_probe.ts";
import { regionLabels, REGIONS } from "./regions.ts";

/** The forgery paradigms our synthetic generator writes into `forgery_type`. */
export const FORGERY_TYPES = ["face_swap", "attribute_edit", "inpaint_patch", "inpaint_diffusion"] as const;

/** One forgery paradigm. */
export type ForgeryType = typeof FORGERY_TYPES[number];

/** A validated MMTT record: the official fields plus resolved absolute file paths. */
export interface MMTTRecord {
  image_id: string;
  instance_id: string;
  img_path: string;
  mask_path: string;
  caption: string;
  multilabel: number[];
  /** Synthetic sets only: which manipulation made the sample. */
  forgery_type?: string;
  /** Absolute path of the image. */
  imageFile: string;
  /** Absolute path of the mask, or null when the record has none (= all authentic). */
  maskFile: string | null;
}

/** Options for `readMMTT`. */
export interface ReadMMTTOptions {
  /** Skip invalid records instead of throwing; see `report` for what was skipped. */
  skipBad?: boolean;
  /** Check image headers on disk (default true). False checks only the JSON fields. */
  checkFiles?: boolean;
  /** Expected image size, e.g. 512 (default: any size, mask must match the image). */
  expectSize?: number;
  /** Filled in when given: how many records were skipped and why. */
  report?: { skipped: number; errors: string[] };
}

/** The split files of the official layout, by split name. */
export const SPLIT_FILES = {
  train: "train-mutilabel.json",
  eval: "eval-mutilabel.json",
  test: "test-mutilabel.json",
} as const;

/** Path of a split's JSON file under a dataset root. */
export function splitPath(root: string, split: keyof typeof SPLIT_FILES): string {
  return join(root, SPLIT_FILES[split]);
}

class RecordError extends Error {}

async function readHead(path: string, n: number): Promise<Uint8Array> {
  const f = await Deno.open(path, { read: true });
  try {
    const buf = new Uint8Array(n);
    let off = 0;
    while (off < n) {
      const got = await f.read(buf.subarray(off));
      if (got === null) break;
      off += got;
    }
    return buf.subarray(0, off);
  } finally {
    f.close();
  }
}

async function probeFile(path: string) {
  let head: Uint8Array;
  try {
    head = await readHead(path, 65536);
  } catch (e) {
    throw new Error(`cannot read '${path}' (${(e as Error).message})`);
  }
  try {
    return probeImage(head, path);
  } catch (e) {
    // A JPEG's frame header can sit behind a large EXIF block: retry on the whole file.
    if (head.length < 65536) throw e;
    return probeImage(await Deno.readFile(path), path);
  }
}

function str(rec: Record<string, unknown>, field: string, allowNumber: boolean): string {
  const v = rec[field];
  if (typeof v === "string" && v.length > 0) return v;
  if (allowNumber && typeof v === "number" && Number.isFinite(v)) return String(v);
  if (v === undefined) throw new RecordError(`field '${field}': missing`);
  throw new RecordError(`field '${field}': expected a non-empty string, got ${JSON.stringify(v)}`);
}

async function validate(
  raw: unknown,
  root: string,
  opts: ReadMMTTOptions,
): Promise<MMTTRecord> {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    throw new RecordError(`expected an object, got ${Array.isArray(raw) ? "an array" : typeof raw}`);
  }
  const r = raw as Record<string, unknown>;
  const image_id = str(r, "image_id", true);
  const instance_id = str(r, "instance_id", true);
  const img_path = str(r, "img_path", false);
  const caption = typeof r.caption === "string" ? r.caption : (() => {
    throw new RecordError(
      r.caption === undefined ? "field 'caption': missing" : "field 'caption': expected a string",
    );
  })();
  let mask_path = "";
  if (r.mask_path !== undefined && r.mask_path !== null && r.mask_path !== "") {
    mask_path = str(r, "mask_path", false);
  }
  let multilabel: number[];
  if (r.multilabel === undefined) multilabel = regionLabels(caption);
  else {
    const m = r.multilabel;
    if (!Array.isArray(m) || m.length !== REGIONS.length || !m.every((v) => v === 0 || v === 1)) {
      throw new RecordError(`field 'multilabel': expected ${REGIONS.length} zeros/ones`);
    }
    multilabel = m as number[];
  }
  let forgery_type: string | undefined;
  if (r.forgery_type !== undefined) {
    if (
      typeof r.forgery_type !== "string" || !(FORGERY_TYPES as readonly string[]).includes(r.forgery_type)
    ) {
      throw new RecordError(`field 'forgery_type': expected one of ${FORGERY_TYPES.join(", ")}`);
    }
    forgery_type = r.forgery_type;
  }
  const abs = (p: string) => (isAbsolute(p) ? p : join(root, p));
  const imageFile = abs(img_path);
  const maskFile = mask_path ? abs(mask_path) : null;
  if (opts.checkFiles !== false) {
    let img;
    try {
      img = await probeFile(imageFile);
    } catch (e) {
      throw new RecordError(`field 'img_path': ${(e as Error).message}`);
    }
    if (img.channels !== 3) {
      throw new RecordError(
        `field 'img_path': image '${imageFile}': expected RGB, got ${img.channels} channels`,
      );
    }
    if (opts.expectSize && (img.width !== opts.expectSize || img.height !== opts.expectSize)) {
      throw new RecordError(
        `field 'img_path': image '${imageFile}' is ${img.width}x${img.height}, expected ${opts.expectSize}x${opts.expectSize}`,
      );
    }
    if (maskFile) {
      let m;
      try {
        m = await probeFile(maskFile);
      } catch (e) {
        throw new RecordError(`field 'mask_path': ${(e as Error).message}`);
      }
      if (m.channels === 4) {
        throw new RecordError(`field 'mask_path': mask '${maskFile}': expected greyscale, got 4 channels`);
      }
      if (m.width !== img.width || m.height !== img.height) {
        throw new RecordError(
          `field 'mask_path': mask '${maskFile}' is ${m.width}x${m.height}, expected ${img.width}x${img.height} like its image`,
        );
      }
    }
  }
  const rec: MMTTRecord = {
    image_id,
    instance_id,
    img_path,
    mask_path,
    caption,
    multilabel,
    imageFile,
    maskFile,
  };
  if (forgery_type) rec.forgery_type = forgery_type;
  return rec;
}

/**
 * Read and validate an MMTT split file. Paths in records are relative to `root`.
 * Throws `MMTT '<json>' record <i> field '<f>': ...` on the first bad record unless
 * `opts.skipBad`, in which case bad records are dropped and counted in `opts.report`.
 */
export async function readMMTT(
  jsonPath: string,
  root: string,
  opts: ReadMMTTOptions = {},
): Promise<MMTTRecord[]> {
  let text: string;
  try {
    text = await Deno.readTextFile(jsonPath);
  } catch (e) {
    throw new Error(`MMTT '${jsonPath}': cannot read file (${(e as Error).message})`);
  }
  let arr: unknown;
  try {
    arr = JSON.parse(text);
  } catch (e) {
    throw new Error(`MMTT '${jsonPath}': invalid JSON (${(e as Error).message})`);
  }
  if (!Array.isArray(arr)) throw new Error(`MMTT '${jsonPath}': expected a JSON array of records`);
  const absRoot = resolve(root);
  const out: (MMTTRecord | null)[] = new Array(arr.length).fill(null);
  const errors: string[] = [];
  // Validate with a small pool of concurrent file reads; results keep the file's order.
  let next = 0;
  const worker = async () => {
    while (next < arr.length) {
      const i = next++;
      try {
        out[i] = await validate(arr[i], absRoot, opts);
      } catch (e) {
        if (!(e instanceof RecordError)) throw e;
        errors[i] = `MMTT '${jsonPath}' record ${i}: ${e.message}`;
      }
    }
  };
  await Promise.all(Array.from({ length: 16 }, worker));
  const bad = errors.filter((e) => e !== undefined);
  if (bad.length > 0 && !opts.skipBad) {
    const more = bad.length > 1 ? ` (and ${bad.length - 1} more bad records; --skip-bad skips them)` : "";
    throw new Error(bad[0] + more);
  }
  if (opts.report) {
    opts.report.skipped += bad.length;
    opts.report.errors.push(...bad);
  }
  return out.filter((r): r is MMTTRecord => r !== null);
}
