/**
 * The stamp a synthetic set carries: `manifest.json` in its root, written last, listing the
 * generator's seed, count, size and version and every file's size and SHA-256. A reader that
 * finds it can tell a complete set from a partial or mixed one (files of two runs); official
 * MMTT folders have none and are read as before.
 * @module
 */
import { join } from "node:path";

/** File name of the manifest in a set's root. */
export const MANIFEST_FILE = "manifest.json";

/** One listed file. */
export interface ManifestEntry {
  bytes: number;
  sha256: string;
}

/** The manifest's JSON form. */
export interface SetManifest {
  format: "forgerytalker-synth";
  version: 1;
  /** True once every file is written; synth renames the set into place only after. */
  complete: boolean;
  generator: string;
  seed: number;
  count: number;
  size: number;
  created: string;
  /** Paths relative to the root ("/"-separated) → size and checksum. */
  files: Record<string, ManifestEntry>;
}

/** Lower-case hex SHA-256 of `bytes`. */
export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const d = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>));
  let s = "";
  for (const b of d) s += b.toString(16).padStart(2, "0");
  return s;
}

/**
 * Read and check `<root>/manifest.json`; null when there is none. Throws naming the file
 * when it is unreadable, malformed or marked incomplete.
 */
export async function readManifest(root: string): Promise<SetManifest | null> {
  const path = join(root, MANIFEST_FILE);
  let text: string;
  try {
    const st = await Deno.stat(path);
    if (!st.isFile) throw new Error("not a regular file");
    text = await Deno.readTextFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return null;
    throw new Error(`manifest '${path}': cannot read (${(e as Error).message})`);
  }
  let m: SetManifest;
  try {
    m = JSON.parse(text);
  } catch (e) {
    throw new Error(`manifest '${path}': invalid JSON (${(e as Error).message})`);
  }
  if (m?.format !== "forgerytalker-synth" || m.version !== 1 || typeof m.files !== "object" || !m.files) {
    throw new Error(`manifest '${path}': expected format 'forgerytalker-synth' version 1 with a 'files' map`);
  }
  if (m.complete !== true) {
    throw new Error(`manifest '${path}': the set is marked incomplete (a generator run did not finish)`);
  }
  return m;
}
