/**
 * Reading a predictions file (PRED.json): an array of one record per image,
 * `{image_id, instance_id, caption, mask_path, multilabel?}`. Mask paths are relative to
 * the file's folder unless absolute, and must stay inside that folder unless `allowOutside`.
 * The file as a whole must parse (else an Error naming
 * it); problems with single records are returned as issue lines so the evaluator can count
 * them (or stop, with --strict).
 */
import { dirname, isAbsolute, relative, resolve, sep } from "node:path";

/** One validated prediction. */
export interface Prediction {
  image_id: string;
  instance_id: string;
  caption: string;
  /** Absolute mask path, or null when the record has none (scored as an empty mask). */
  maskFile: string | null;
  multilabel?: number[];
}

/** Key joining image and instance ids (the MMTT sample identity). */
export function sampleKey(imageId: string, instanceId: string): string {
  return `${imageId}/${instanceId}`;
}

const idField = (v: unknown): string | null =>
  typeof v === "string" && v.length > 0 ? v : typeof v === "number" && Number.isFinite(v) ? String(v) : null;

/** Parse PRED.json; returns predictions by key plus issue lines (bad or duplicate records). */
export async function readPredictions(
  path: string,
  opts: { allowOutside?: boolean } = {},
): Promise<{ byKey: Map<string, Prediction>; issues: { kind: string; line: string }[]; total: number }> {
  let text: string;
  try {
    // Only regular files: reading a FIFO would block forever.
    if (!(await Deno.stat(path)).isFile) throw new Error("not a regular file");
    text = await Deno.readTextFile(path);
  } catch (e) {
    throw new Error(`predictions '${path}': cannot read file (${(e as Error).message})`);
  }
  let arr: unknown;
  try {
    arr = JSON.parse(text);
  } catch (e) {
    throw new Error(`predictions '${path}': invalid JSON (${(e as Error).message})`);
  }
  if (!Array.isArray(arr)) {
    throw new Error(`predictions '${path}': expected a JSON array of records, got ${typeof arr}`);
  }
  const base = dirname(resolve(path));
  const byKey = new Map<string, Prediction>();
  const issues: { kind: string; line: string }[] = [];
  arr.forEach((raw, i) => {
    const where = `predictions '${path}' record ${i}`;
    if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
      issues.push({ kind: "bad_record", line: `${where}: expected an object` });
      return;
    }
    const r = raw as Record<string, unknown>;
    const imageId = idField(r.image_id);
    const instanceId = idField(r.instance_id);
    if (imageId === null || instanceId === null) {
      const f = imageId === null ? "image_id" : "instance_id";
      issues.push({ kind: "bad_record", line: `${where}: field '${f}' missing or not a string/number` });
      return;
    }
    if (typeof r.caption !== "string") {
      issues.push({ kind: "bad_record", line: `${where}: field 'caption' missing or not a string` });
      return;
    }
    let maskFile: string | null = null;
    if (r.mask_path !== undefined && r.mask_path !== null && r.mask_path !== "") {
      if (typeof r.mask_path !== "string") {
        issues.push({ kind: "bad_record", line: `${where}: field 'mask_path' is not a string` });
        return;
      }
      maskFile = resolve(base, r.mask_path);
      const rel = relative(base, maskFile);
      if (!opts.allowOutside && (rel === ".." || rel.startsWith(".." + sep) || isAbsolute(rel))) {
        issues.push({
          kind: "bad_record",
          line: `${where}: field 'mask_path': '${r.mask_path}' resolves outside the predictions folder ` +
            `'${base}' (--allow-outside-root permits it)`,
        });
        return;
      }
    }
    let multilabel: number[] | undefined;
    if (r.multilabel !== undefined && r.multilabel !== null) {
      const m = r.multilabel;
      if (!Array.isArray(m) || m.length !== 21 || !m.every((x) => typeof x === "number")) {
        issues.push({ kind: "bad_record", line: `${where}: 'multilabel' must be 21 numbers` });
        return;
      }
      multilabel = m as number[];
    }
    const key = sampleKey(imageId, instanceId);
    if (byKey.has(key)) {
      issues.push({ kind: "duplicate", line: `${where}: duplicate id ${key} (first record kept)` });
      return;
    }
    byKey.set(key, { image_id: imageId, instance_id: instanceId, caption: r.caption, maskFile, multilabel });
  });
  return { byKey, issues, total: arr.length };
}
