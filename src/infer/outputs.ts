/**
 * The files one report becomes on disk, shared by `deno task infer`, the demo and the server's
 * `--save`: BASE.mask.png (0/255 at the input size), BASE.overlay.png (src/infer/overlay.ts)
 * and BASE.json (`reportJSON` plus the output paths). Each is written atomically.
 * @module
 */
import { dirname } from "node:path";
import { encodePng, writeFileAtomic } from "../data/image_io.ts";
import { type Report, reportJSON } from "./analyze.ts";
import { renderOverlay } from "./overlay.ts";

/** Paths `writeOutputs` wrote. */
export interface OutputFiles {
  mask: string;
  overlay: string;
  json: string;
}

/** The binary mask of a report as a 0/255 grey PNG at the input size. */
export function maskPng(r: Report): Uint8Array {
  const m = r.mask;
  const gray = new Uint8Array(m.binary.length);
  for (let i = 0; i < gray.length; i++) gray[i] = m.binary[i] ? 255 : 0;
  return encodePng({ width: m.width, height: m.height, channels: 1, data: gray });
}

/**
 * Writes the three outputs of one report under `outBase` (a path without extension). The
 * report must carry its input (`keepInput`) for the overlay.
 */
export async function writeOutputs(r: Report, outBase: string): Promise<OutputFiles> {
  if (!r.input) throw new Error(`writeOutputs: the report of '${r.image.source}' was made without keepInput`);
  await Deno.mkdir(dirname(outBase), { recursive: true });
  const files = { mask: `${outBase}.mask.png`, overlay: `${outBase}.overlay.png`, json: `${outBase}.json` };
  const overlayPng = encodePng(renderOverlay(r.input, r));
  const json = JSON.stringify({ ...reportJSON(r), outputs: files }, null, 2) + "\n";
  await writeFileAtomic(files.mask, maskPng(r));
  await writeFileAtomic(files.overlay, overlayPng);
  await writeFileAtomic(files.json, new TextEncoder().encode(json));
  return files;
}
