/**
 * A 5×7 bitmap font for printable ASCII (32..126), authored for this project, and a text
 * renderer that draws it into 8-bit RGB images at any integer scale. Each glyph is 7 rows of
 * 5 bits (left to right); a character cell is 6×10 pixels (one column of spacing, two rows
 * for descenders, one row of line spacing). Characters outside the table draw as '?'. Used by the overlay PNG (overlay.ts).
 * @module
 */
import type { Image } from "../data/image_io.ts";

// One entry per character from ' ' (32) to '~' (126): seven 5-bit rows. Descender letters
// (g, p, q, y) are drawn two rows lower, so their rows span the x-height to below the baseline.
const GLYPHS: readonly string[] = [
  "00000 00000 00000 00000 00000 00000 00000", // space
  "00100 00100 00100 00100 00100 00000 00100", // !
  "01010 01010 01010 00000 00000 00000 00000", // "
  "01010 01010 11111 01010 11111 01010 01010", // #
  "00100 01111 10100 01110 00101 11110 00100", // $
  "11000 11001 00010 00100 01000 10011 00011", // %
  "01100 10010 10100 01000 10101 10010 01101", // &
  "01100 00100 01000 00000 00000 00000 00000", // '
  "00010 00100 01000 01000 01000 00100 00010", // (
  "01000 00100 00010 00010 00010 00100 01000", // )
  "00000 00100 10101 01110 10101 00100 00000", // *
  "00000 00100 00100 11111 00100 00100 00000", // +
  "00000 00000 00000 00000 01100 00100 01000", // ,
  "00000 00000 00000 11111 00000 00000 00000", // -
  "00000 00000 00000 00000 00000 01100 01100", // .
  "00000 00001 00010 00100 01000 10000 00000", // /
  "01110 10001 10011 10101 11001 10001 01110", // 0
  "00100 01100 00100 00100 00100 00100 01110", // 1
  "01110 10001 00001 00010 00100 01000 11111", // 2
  "11111 00010 00100 00010 00001 10001 01110", // 3
  "00010 00110 01010 10010 11111 00010 00010", // 4
  "11111 10000 11110 00001 00001 10001 01110", // 5
  "00110 01000 10000 11110 10001 10001 01110", // 6
  "11111 00001 00010 00100 01000 01000 01000", // 7
  "01110 10001 10001 01110 10001 10001 01110", // 8
  "01110 10001 10001 01111 00001 00010 01100", // 9
  "00000 01100 01100 00000 01100 01100 00000", // :
  "00000 01100 01100 00000 01100 00100 01000", // ;
  "00010 00100 01000 10000 01000 00100 00010", // <
  "00000 00000 11111 00000 11111 00000 00000", // =
  "01000 00100 00010 00001 00010 00100 01000", // >
  "01110 10001 00001 00010 00100 00000 00100", // ?
  "01110 10001 00001 01101 10101 10101 01110", // @
  "01110 10001 10001 10001 11111 10001 10001", // A
  "11110 10001 10001 11110 10001 10001 11110", // B
  "01110 10001 10000 10000 10000 10001 01110", // C
  "11100 10010 10001 10001 10001 10010 11100", // D
  "11111 10000 10000 11110 10000 10000 11111", // E
  "11111 10000 10000 11110 10000 10000 10000", // F
  "01110 10001 10000 10111 10001 10001 01111", // G
  "10001 10001 10001 11111 10001 10001 10001", // H
  "01110 00100 00100 00100 00100 00100 01110", // I
  "00111 00010 00010 00010 00010 10010 01100", // J
  "10001 10010 10100 11000 10100 10010 10001", // K
  "10000 10000 10000 10000 10000 10000 11111", // L
  "10001 11011 10101 10101 10001 10001 10001", // M
  "10001 10001 11001 10101 10011 10001 10001", // N
  "01110 10001 10001 10001 10001 10001 01110", // O
  "11110 10001 10001 11110 10000 10000 10000", // P
  "01110 10001 10001 10001 10101 10010 01101", // Q
  "11110 10001 10001 11110 10100 10010 10001", // R
  "01111 10000 10000 01110 00001 00001 11110", // S
  "11111 00100 00100 00100 00100 00100 00100", // T
  "10001 10001 10001 10001 10001 10001 01110", // U
  "10001 10001 10001 10001 10001 01010 00100", // V
  "10001 10001 10001 10101 10101 10101 01010", // W
  "10001 10001 01010 00100 01010 10001 10001", // X
  "10001 10001 10001 01010 00100 00100 00100", // Y
  "11111 00001 00010 00100 01000 10000 11111", // Z
  "01110 01000 01000 01000 01000 01000 01110", // [
  "00000 10000 01000 00100 00010 00001 00000", // backslash
  "01110 00010 00010 00010 00010 00010 01110", // ]
  "00100 01010 10001 00000 00000 00000 00000", // ^
  "00000 00000 00000 00000 00000 00000 11111", // _
  "01000 00100 00010 00000 00000 00000 00000", // `
  "00000 00000 01110 00001 01111 10001 01111", // a
  "10000 10000 10110 11001 10001 10001 11110", // b
  "00000 00000 01110 10000 10000 10001 01110", // c
  "00001 00001 01101 10011 10001 10001 01111", // d
  "00000 00000 01110 10001 11111 10000 01110", // e
  "00110 01001 01000 11100 01000 01000 01000", // f
  "01111 10001 10001 10001 01111 00001 01110", // g (descender)
  "10000 10000 10110 11001 10001 10001 10001", // h
  "00100 00000 01100 00100 00100 00100 01110", // i
  "00010 00000 00110 00010 00010 10010 01100", // j
  "10000 10000 10010 10100 11000 10100 10010", // k
  "01100 00100 00100 00100 00100 00100 01110", // l
  "00000 00000 11010 10101 10101 10001 10001", // m
  "00000 00000 10110 11001 10001 10001 10001", // n
  "00000 00000 01110 10001 10001 10001 01110", // o
  "11110 10001 10001 10001 11110 10000 10000", // p (descender)
  "01111 10001 10001 10001 01111 00001 00001", // q (descender)
  "00000 00000 10110 11001 10000 10000 10000", // r
  "00000 00000 01110 10000 01110 00001 11110", // s
  "01000 01000 11100 01000 01000 01001 00110", // t
  "00000 00000 10001 10001 10001 10011 01101", // u
  "00000 00000 10001 10001 10001 01010 00100", // v
  "00000 00000 10001 10001 10101 10101 01010", // w
  "00000 00000 10001 01010 00100 01010 10001", // x
  "10001 10001 10001 10001 01111 00001 01110", // y (descender)
  "00000 00000 11111 00010 00100 01000 11111", // z
  "00010 00100 00100 01000 00100 00100 00010", // {
  "00100 00100 00100 00100 00100 00100 00100", // |
  "01000 00100 00100 00010 00100 00100 01000", // }
  "00000 00000 01000 10101 00010 00000 00000", // ~
];

/** Glyph width and height in font pixels. */
export const GLYPH_W = 5, GLYPH_H = 7;
/** Character cell (glyph, descender room and spacing) in font pixels. */
export const CELL_W = 6, CELL_H = 10;

const DESCENDERS = new Set(["g", "p", "q", "y"]);

// rows[c * 7 + r]: bit 4 = leftmost column
const ROWS = new Uint8Array(GLYPHS.length * GLYPH_H);
GLYPHS.forEach((g, c) => g.split(" ").forEach((r, y) => (ROWS[c * GLYPH_H + y] = parseInt(r, 2))));

/** The 7 row bitmasks of a character ('?' for anything outside printable ASCII). */
export function glyphRows(ch: string): Uint8Array {
  let code = ch.codePointAt(0) ?? 63;
  if (code < 32 || code > 126) code = 63;
  const i = code - 32;
  return ROWS.subarray(i * GLYPH_H, (i + 1) * GLYPH_H);
}

/** Width in pixels of `text` drawn at `scale`. */
export function textWidth(text: string, scale: number): number {
  return text.length * CELL_W * scale;
}

/**
 * Draws `text` into an RGB image with its top-left corner at (x, y); each font pixel is a
 * scale×scale square of `color`. Pixels outside the image are clipped.
 */
export function drawText(
  img: Image,
  text: string,
  x: number,
  y: number,
  scale: number,
  color: readonly [number, number, number],
): void {
  if (img.channels !== 3) throw new Error(`drawText: expected an RGB image, got ${img.channels} channels`);
  const { width: W, height: H, data } = img;
  let cx = x;
  for (const ch of text) {
    const rows = glyphRows(ch);
    const dy = DESCENDERS.has(ch) ? 2 : 0;
    for (let gy = 0; gy < GLYPH_H; gy++) {
      const bits = rows[gy];
      if (!bits) continue;
      for (let gx = 0; gx < GLYPH_W; gx++) {
        if (!(bits & (1 << (GLYPH_W - 1 - gx)))) continue;
        for (let sy = 0; sy < scale; sy++) {
          const py = y + (gy + dy) * scale + sy;
          if (py < 0 || py >= H) continue;
          for (let sx = 0; sx < scale; sx++) {
            const px = cx + gx * scale + sx;
            if (px < 0 || px >= W) continue;
            const o = (py * W + px) * 3;
            data[o] = color[0], data[o + 1] = color[1], data[o + 2] = color[2];
          }
        }
      }
    }
    cx += CELL_W * scale;
  }
}

/** Greedy word wrap to lines of at most `maxChars` characters (long words are split). */
export function wrapText(text: string, maxChars: number): string[] {
  const lines: string[] = [];
  let cur = "";
  for (let word of text.split(/\s+/).filter(Boolean)) {
    while (word.length > maxChars) {
      if (cur) lines.push(cur), cur = "";
      lines.push(word.slice(0, maxChars));
      word = word.slice(maxChars);
    }
    if (!cur) cur = word;
    else if (cur.length + 1 + word.length <= maxChars) cur += " " + word;
    else lines.push(cur), cur = word;
  }
  if (cur) lines.push(cur);
  return lines;
}
