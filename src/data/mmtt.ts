/**
 * MMTT annotation reader. One JSON file per split (`train-mutilabel.json`, ...) holds an array
 * of `{image_id, instance_id, img_path, mask_path, caption, multilabel}` with paths relative
 * to a root folder. Every record is validated (fields, paths inside the root, image readable,
 * channel count, mask size, size caps); a bad record throws an error naming the file, record
 * index and field, or with `skipBad` is skipped and counted. `verify` decodes every image and
 * mask instead of reading headers only. A set stamped with a manifest.json (synthetic sets)
 * must match it: a partial or mixed set is refused.
 */
import { isAbsolute, join, relative, resolve, sep } from "node:path";
import { checkRegularFile, probeImage } from "./image_probe.ts";
import { checkImageSize, imageLimits } from "./png.ts";
import { MANIFEST_FILE, readManifest, type SetManifest, sha256Hex } from "./manifest.ts";
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
  /**
   * Decode every image and mask fully (and check manifest checksums) instead of reading
   * headers only; every bad record is reported by file and field. Implies checkFiles.
   */
  verify?: boolean;
  /** Accept record paths that resolve outside `root` (absolute or `../` paths). Default false. */
  allowOutside?: boolean;
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

/** Context shared by the record checks of one `readMMTT` call. */
interface Ctx {
  root: string;
  opts: ReadMMTTOptions;
  manifest: SetManifest | null;
}

// Header facts (or, with verify, the decoded image's) plus the manifest checks; only regular
// files are opened, so a FIFO in the data cannot block the reader.
async function probeFile(path: string, what: string, ctx: Ctx) {
  let st: Deno.FileInfo;
  try {
    st = await Deno.stat(path);
  } catch (e) {
    throw new Error(`cannot read '${path}' (${(e as Error).message})`);
  }
  checkRegularFile(path, st, what);
  const listed = ctx.manifest ? ctx.manifest.files[relative(ctx.root, path).split(sep).join("/")] : undefined;
  if (ctx.manifest) {
    if (!listed) {
      throw new Error(`${what} '${path}' is not listed in the set's ${MANIFEST_FILE} (a mixed set?)`);
    }
    if (listed.bytes !== st.size) {
      throw new Error(
        `${what} '${path}' is ${st.size} bytes, the set's ${MANIFEST_FILE} says ${listed.bytes} ` +
          `(a partial or mixed set; regenerate it)`,
      );
    }
  }
  if (ctx.opts.verify) {
    let bytes: Uint8Array;
    try {
      bytes = await Deno.readFile(path);
    } catch (e) {
      throw new Error(`cannot read '${path}' (${(e as Error).message})`);
    }
    if (listed && (await sha256Hex(bytes)) !== listed.sha256) {
      throw new Error(`${what} '${path}' does not match its checksum in the set's ${MANIFEST_FILE}`);
    }
    // Loaded on demand: importing the codecs instantiates WebAssembly, which header-only
    // readers (and synth's main thread, which imports this module) should not pay for.
    const { decodeImage } = await import("./image_io.ts");
    const img = decodeImage(bytes, path);
    return { width: img.width, height: img.height, channels: img.channels };
  }
  let head: Uint8Array;
  try {
    head = await readHead(path, 65536);
  } catch (e) {
    throw new Error(`cannot read '${path}' (${(e as Error).message})`);
  }
  let h;
  try {
    h = probeImage(head, path);
  } catch (e) {
    // A JPEG's frame header can sit behind a large EXIF block: retry on the whole file.
    if (head.length < 65536) throw e;
    h = probeImage(await Deno.readFile(path), path);
  }
  checkImageSize(path, h.width, h.height, h.format === "jpeg" ? 4 : h.channels, imageLimits());
  return h;
}

/** Throw unless `abs` lies inside `root` (lexically, after resolving `..`). */
function inside(root: string, abs: string, field: string, raw: string): void {
  const rel = relative(root, abs);
  if (rel === "" || rel === ".." || rel.startsWith(".." + sep) || isAbsolute(rel)) {
    throw new RecordError(
      `field '${field}': '${raw}' resolves outside the data root '${root}' ` +
        `(allowOutside / --allow-outside-root permits it)`,
    );
  }
}

function str(rec: Record<string, unknown>, field: string, allowNumber: boolean): string {
  const v = rec[field];
  if (typeof v === "string" && v.length > 0) return v;
  if (allowNumber && typeof v === "number" && Number.isFinite(v)) return String(v);
  if (v === undefined) throw new RecordError(`field '${field}': missing`);
  throw new RecordError(`field '${field}': expected a non-empty string, got ${JSON.stringify(v)}`);
}

async function validate(raw: unknown, ctx: Ctx): Promise<MMTTRecord> {
  const { root, opts } = ctx;
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
  const abs = (p: string) => (isAbsolute(p) ? resolve(p) : resolve(root, p));
  const imageFile = abs(img_path);
  const maskFile = mask_path ? abs(mask_path) : null;
  if (!opts.allowOutside) {
    inside(root, imageFile, "img_path", img_path);
    if (maskFile) inside(root, maskFile, "mask_path", mask_path);
  }
  if (opts.checkFiles !== false || opts.verify) {
    // Both files are checked even when the first is bad, so a report names every bad field.
    const errs: string[] = [];
    let img;
    try {
      img = await probeFile(imageFile, "image", ctx);
      if (img.channels !== 3) {
        throw new Error(`image '${imageFile}': expected RGB, got ${img.channels} channels`);
      }
      if (opts.expectSize && (img.width !== opts.expectSize || img.height !== opts.expectSize)) {
        throw new Error(
          `image '${imageFile}' is ${img.width}x${img.height}, expected ${opts.expectSize}x${opts.expectSize}`,
        );
      }
    } catch (e) {
      errs.push(`field 'img_path': ${(e as Error).message}`);
      img = undefined;
    }
    if (maskFile) {
      try {
        const m = await probeFile(maskFile, "mask", ctx);
        if (m.channels === 4) throw new Error(`mask '${maskFile}': expected greyscale, got 4 channels`);
        if (img && (m.width !== img.width || m.height !== img.height)) {
          throw new Error(
            `mask '${maskFile}' is ${m.width}x${m.height}, expected ${img.width}x${img.height} like its image`,
          );
        }
      } catch (e) {
        errs.push(`field 'mask_path': ${(e as Error).message}`);
      }
    }
    if (errs.length) throw new RecordError(errs.join("; "));
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
  let bytes: Uint8Array;
  try {
    const st = await Deno.stat(jsonPath);
    if (!st.isFile) throw new Error("not a regular file");
    bytes = await Deno.readFile(jsonPath);
  } catch (e) {
    throw new Error(`MMTT '${jsonPath}': cannot read file (${(e as Error).message})`);
  }
  let arr: unknown;
  try {
    arr = JSON.parse(new TextDecoder().decode(bytes));
  } catch (e) {
    throw new Error(`MMTT '${jsonPath}': invalid JSON (${(e as Error).message})`);
  }
  if (!Array.isArray(arr)) throw new Error(`MMTT '${jsonPath}': expected a JSON array of records`);
  const absRoot = resolve(root);
  let manifest: SetManifest | null;
  try {
    manifest = await readManifest(absRoot);
  } catch (e) {
    throw new Error(`MMTT '${jsonPath}': ${(e as Error).message}`);
  }
  if (manifest) {
    // The split file itself must be the one the manifest stamped: a re-run that died half-way
    // (or files copied from another set) leaves JSONs and images of different generations.
    const key = relative(absRoot, resolve(jsonPath)).split(sep).join("/");
    const listed = manifest.files[key];
    if (!listed || listed.sha256 !== (await sha256Hex(bytes))) {
      throw new Error(
        `MMTT '${jsonPath}': ${listed ? "does not match" : "is not listed in"} the set's ${MANIFEST_FILE} ` +
          `(seed ${manifest.seed}, ${manifest.count} samples): a mixed or partial set; regenerate it`,
      );
    }
  }
  const ctx: Ctx = { root: absRoot, opts, manifest };
  const out: (MMTTRecord | null)[] = new Array(arr.length).fill(null);
  const errors: string[] = [];
  // Validate with a small pool of concurrent file reads; results keep the file's order.
  let next = 0;
  const worker = async () => {
    while (next < arr.length) {
      const i = next++;
      try {
        out[i] = await validate(arr[i], ctx);
      } catch (e) {
        if (!(e instanceof RecordError)) throw e;
        errors[i] = `MMTT '${jsonPath}' record ${i}: ${e.message}`;
      }
    }
  };
  await Promise.all(Array.from({ length: 16 }, worker));
  const bad = errors.filter((e) => e !== undefined);
  if (bad.length > 0 && !opts.skipBad) {
    if (opts.verify) {
      // verify is an audit: list every bad record (up to 50 lines), not just the first.
      const shown = bad.slice(0, 50);
      const more = bad.length > 50 ? `\n(and ${bad.length - 50} more)` : "";
      throw new Error(`${bad.length} bad record${bad.length > 1 ? "s" : ""}:\n${shown.join("\n")}${more}`);
    }
    const more = bad.length > 1 ? ` (and ${bad.length - 1} more bad records; --skip-bad skips them)` : "";
    throw new Error(bad[0] + more);
  }
  if (opts.report) {
    opts.report.skipped += bad.length;
    opts.report.errors.push(...bad);
  }
  return out.filter((r): r is MMTTRecord => r !== null);
}
