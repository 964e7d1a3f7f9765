/**
 * The demo's data step: generate a synthetic MMTT set (or reuse one already on disk with the
 * same n / seed / size), and load a split into memory at the model's input size
 * (CLIP-normalised images, 0/1 masks, region labels).
 * @module
 */
import { join } from "node:path";
import { generateDataset } from "../data/synth/generate.ts";
import { MANIFEST_FILE, readManifest } from "../data/manifest.ts";
import { type MMTTRecord, readMMTT, SPLIT_FILES, splitPath } from "../data/mmtt.ts";
import { buildBatch } from "../data/batch.ts";
import { REGIONS } from "../data/regions.ts";
import type { Rng } from "../tensor/rng.ts";

/** Parameters that identify a generated set. */
export interface SetParams {
  n: number;
  seed: number;
  size: number;
}

async function countFiles(dir: string): Promise<number> {
  let n = 0;
  try {
    for await (const e of Deno.readDir(dir)) if (e.isFile && e.name.endsWith(".png")) n++;
  } catch {
    return -1;
  }
  return n;
}

/**
 * Why the folder cannot be reused (null when it holds a complete set made with `p`):
 * stats.json must match n / seed / size, the three split files must exist and add up to n,
 * and images/ must hold n PNGs.
 */
export async function reuseProblem(dir: string, p: SetParams): Promise<string | null> {
  let stats: { n?: number; seed?: number; size?: number };
  try {
    stats = JSON.parse(await Deno.readTextFile(join(dir, "stats.json")));
  } catch {
    return "no stats.json";
  }
  if (stats.n !== p.n || stats.seed !== p.seed || stats.size !== p.size) {
    return `made with n=${stats.n} seed=${stats.seed} size=${stats.size}`;
  }
  // A set the generator finished carries a manifest (seed, count); counting files alone
  // cannot tell a complete set from one a killed re-run left half-replaced.
  let manifest;
  try {
    manifest = await readManifest(dir);
  } catch (e) {
    return (e as Error).message;
  }
  if (!manifest) return `no ${MANIFEST_FILE} (not a complete generator run)`;
  if (manifest.count !== p.n || manifest.seed !== p.seed || manifest.size !== p.size) {
    return `${MANIFEST_FILE} says n=${manifest.count} seed=${manifest.seed} size=${manifest.size}`;
  }
  let total = 0;
  for (const file of Object.values(SPLIT_FILES)) {
    try {
      const rows = JSON.parse(await Deno.readTextFile(join(dir, file)));
      total += Array.isArray(rows) ? rows.length : 0;
    } catch {
      return `no readable ${file}`;
    }
  }
  if (total !== p.n) return `split files hold ${total} records, expected ${p.n}`;
  const images = await countFiles(join(dir, "images"));
  if (images !== p.n) return `images/ holds ${Math.max(0, images)} PNGs, expected ${p.n}`;
  return null;
}

/** Generate the set into `dir` unless a complete one with the same parameters is there. */
export async function ensureDataset(
  dir: string,
  p: SetParams,
  log: (line: string) => void,
): Promise<{ reused: boolean; seconds: number }> {
  const t0 = performance.now();
  const why = await reuseProblem(dir, p);
  if (why === null) {
    log(`  reusing ${dir} (n=${p.n}, seed=${p.seed}, size=${p.size})`);
    return { reused: true, seconds: (performance.now() - t0) / 1000 };
  }
  log(`  generating ${p.n} samples at ${p.size}x${p.size} into ${dir}`);
  // Keep the per-sample progress lines; the generator's statistics block stays in stats.json.
  await generateDataset({
    out: dir,
    n: p.n,
    seed: p.seed,
    size: p.size,
    force: true, // reuseProblem said the folder holds another set: replace it once the new one is done
    log: (line) => line.startsWith("synth:") && log(`  ${line}`),
  });
  return { reused: false, seconds: (performance.now() - t0) / 1000 };
}

/** A split held in memory at the model size. */
export interface InMemorySplit {
  records: MMTTRecord[];
  /** (N,3,S,S) CLIP-normalised. */
  images: Float32Array;
  /** (N,1,S,S) 0/1. */
  masks: Float32Array;
  /** (N,21) 0/1. */
  labels: Float32Array;
  size: number;
}

/** Read and preprocess a whole split at `size`×`size` (no augmentation). */
export async function loadSplit(
  dir: string,
  split: keyof typeof SPLIT_FILES,
  size: number,
): Promise<InMemorySplit> {
  const records = await readMMTT(splitPath(dir, split), dir);
  if (records.length === 0) throw new Error(`split '${split}' of '${dir}' is empty; use a larger --n`);
  const b = buildBatch(
    records.map((r) => ({
      id: r.instance_id,
      imageFile: r.imageFile,
      maskFile: r.maskFile,
      caption: r.caption,
      multilabel: r.multilabel,
      seed: 0,
    })),
    size,
    false,
  );
  return { records, images: b.images, masks: b.masks, labels: b.labels, size };
}

/**
 * A training batch of `idx` from `s`, each sample mirrored left-right with probability ½
 * (image and mask together; region classes have no side, so labels stay).
 */
export function sampleBatch(
  s: InMemorySplit,
  idx: number[],
  rng: Rng,
): { images: Float32Array; masks: Float32Array; labels: Float32Array } {
  const S = s.size, hw = S * S, R = REGIONS.length, B = idx.length;
  const images = new Float32Array(B * 3 * hw), masks = new Float32Array(B * hw);
  const labels = new Float32Array(B * R);
  idx.forEach((i, b) => {
    const flip = rng.uniform() < 0.5;
    const copy = (src: Float32Array, so: number, dst: Float32Array, d0: number) => {
      if (!flip) {
        dst.set(src.subarray(so, so + hw), d0);
        return;
      }
      for (let y = 0; y < S; y++) {
        const r = so + y * S, o = d0 + y * S;
        for (let x = 0; x < S; x++) dst[o + x] = src[r + S - 1 - x];
      }
    };
    for (let c = 0; c < 3; c++) copy(s.images, (i * 3 + c) * hw, images, (b * 3 + c) * hw);
    copy(s.masks, i * hw, masks, b * hw);
    labels.set(s.labels.subarray(i * R, i * R + R), b * R);
  });
  return { images, masks, labels };
}
