/**
 * The overlay PNG of a report: the input image with the forged area tinted red (alpha 0.45)
 * and outlined in yellow, above a dark text panel listing the selected regions with their
 * probabilities, the mask area and the explanation, drawn with the 5×7 font (font5x7.ts).
 * Images narrower than 512 px are enlarged (nearest, integer factor) first so the text stays
 * legible; the font scale grows with the width (2× at 512 px).
 * @module
 */
import type { Image } from "../data/image_io.ts";
import { CELL_H, CELL_W, drawText, wrapText } from "./font5x7.ts";
import type { Report } from "./analyze.ts";

const MIN_WIDTH = 512;
const TINT: readonly [number, number, number] = [255, 32, 32];
const EDGE: readonly [number, number, number] = [255, 230, 0];
const ALPHA = 0.45;

/** Nearest-neighbour enlargement by an integer factor (RGB image and its 0/1 mask). */
function enlarge(img: Image, mask: Uint8Array, k: number): { img: Image; mask: Uint8Array } {
  if (k === 1) return { img, mask };
  const W = img.width * k, H = img.height * k;
  const data = new Uint8Array(W * H * 3), m = new Uint8Array(W * H);
  for (let y = 0; y < H; y++) {
    const sy = Math.floor(y / k);
    for (let x = 0; x < W; x++) {
      const s = sy * img.width + Math.floor(x / k), d = y * W + x;
      data[d * 3] = img.data[s * 3],
        data[d * 3 + 1] = img.data[s * 3 + 1],
        data[d * 3 + 2] = img.data[s * 3 + 2];
      m[d] = mask[s];
    }
  }
  return { img: { width: W, height: H, channels: 3, data }, mask: m };
}

/** Text lines of the panel: [text, colour]. */
function panelLines(r: Report, maxChars: number): [string, readonly [number, number, number]][] {
  const white = [240, 240, 240] as const, yellow = [255, 220, 80] as const, grey = [170, 170, 170] as const;
  const out: [string, readonly [number, number, number]][] = [];
  const regions = r.regions.selected.length
    ? r.regions.selected.map((n) => `${n} ${r.regions.probabilities[n].toFixed(2)}`).join(", ")
    : "none above " + r.regions.threshold;
  out.push(["Regions:", yellow]);
  for (const l of wrapText(regions, maxChars)) out.push([l, white]);
  out.push([
    `Mask: ${(r.mask.areaFraction * 100).toFixed(2)}% of the image (p >= ${r.mask.threshold})`,
    yellow,
  ]);
  out.push(["Explanation:", yellow]);
  for (const l of wrapText(r.explanation || "(empty)", maxChars)) out.push([l, white]);
  out.push([
    `model ${r.model.config} ${
      r.model.sha256 ? r.model.sha256.slice(0, 12) : r.model.checkpoint
    }, ${r.decoding.mode}`,
    grey,
  ]);
  return out;
}

/** Renders the overlay image for `img` (the decoded input, RGB) and its report. */
export function renderOverlay(input: Image, r: Report): Image {
  if (input.channels !== 3) throw new Error(`renderOverlay: expected RGB, got ${input.channels} channels`);
  const k = Math.max(1, Math.ceil(MIN_WIDTH / input.width));
  const { img, mask } = enlarge(input, r.mask.binary, k);
  const W = img.width, H = img.height;
  const scale = Math.max(2, Math.round(W / 256));
  const margin = 4 * scale;
  const maxChars = Math.max(8, Math.floor((W - 2 * margin) / (CELL_W * scale)));
  const lines = panelLines(r, maxChars);
  const panelH = lines.length * CELL_H * scale + 2 * margin;
  const out: Image = {
    width: W,
    height: H + panelH,
    channels: 3,
    data: new Uint8Array(W * (H + panelH) * 3),
  };
  const d = out.data;
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const i = y * W + x, o = i * 3;
      if (!mask[i]) {
        d[o] = img.data[o], d[o + 1] = img.data[o + 1], d[o + 2] = img.data[o + 2];
        continue;
      }
      const edge = x === 0 || y === 0 || x === W - 1 || y === H - 1 || !mask[i - 1] || !mask[i + 1] ||
        !mask[i - W] ||
        !mask[i + W];
      for (let c = 0; c < 3; c++) {
        d[o + c] = edge ? EDGE[c] : Math.round(img.data[o + c] * (1 - ALPHA) + TINT[c] * ALPHA);
      }
    }
  }
  d.fill(24, H * W * 3);
  lines.forEach(([text, color], i) =>
    drawText(out, text, margin, H + margin + i * CELL_H * scale, scale, color)
  );
  return out;
}
