// The 5×7 font and its renderer: glyph table shape, pixel-exact drawing, scaling, clipping,
// fallback for non-ASCII, descender offset and word wrapping.
import { assert, assertEquals } from "../eval/assert_helpers.ts";
import { CELL_W, drawText, glyphRows, textWidth, wrapText } from "../../src/infer/font5x7.ts";
import type { Image } from "../../src/data/image_io.ts";

const blank = (w: number, h: number): Image => ({
  width: w,
  height: h,
  channels: 3,
  data: new Uint8Array(w * h * 3),
});
const lit = (img: Image) => {
  const on: [number, number][] = [];
  for (let i = 0; i < img.width * img.height; i++) {
    if (img.data[i * 3]) on.push([i % img.width, Math.floor(i / img.width)]);
  }
  return on;
};
const bits = (rows: Uint8Array) => rows.reduce((n, r) => n + r.toString(2).split("1").length - 1, 0);

Deno.test("font: every printable character has a distinct glyph; 'T' has its shape", () => {
  for (let c = 33; c <= 126; c++) assert(bits(glyphRows(String.fromCharCode(c))) > 0, `glyph ${c}`);
  assertEquals(bits(glyphRows(" ")), 0);
  assertEquals(Array.from(glyphRows("T")), [31, 4, 4, 4, 4, 4, 4]);
  assertEquals(Array.from(glyphRows("é")), Array.from(glyphRows("?")));
  // no two characters share a bitmap (legibility)
  const seen = new Set<string>();
  for (let c = 33; c <= 126; c++) {
    const k = Array.from(glyphRows(String.fromCharCode(c))).join(",");
    assert(!seen.has(k), `duplicate glyph for '${String.fromCharCode(c)}'`);
    seen.add(k);
  }
});

Deno.test("drawText: pixel-exact at scale 1 and 3, clipped at the border, descenders lowered", () => {
  const a = blank(20, 12);
  drawText(a, "T", 1, 1, 1, [255, 0, 0]);
  const on = lit(a);
  assertEquals(on.length, 11); // 5 across + 6 down
  assert(on.every(([x, y]) => (y === 1 && x >= 1 && x <= 5) || (x === 3 && y >= 1 && y <= 7)));
  const b = blank(40, 30);
  drawText(b, "T", 0, 0, 3, [255, 0, 0]);
  assertEquals(lit(b).length, 11 * 9);
  const c = blank(4, 4);
  drawText(c, "TT", -2, -1, 1, [255, 0, 0]); // partially outside: no throw, some pixels drawn
  assert(lit(c).length > 0);
  const d = blank(10, 12);
  drawText(d, "p", 0, 0, 1, [255, 0, 0]);
  assertEquals(Math.min(...lit(d).map(([, y]) => y)), 2);
  assertEquals(Math.max(...lit(d).map(([, y]) => y)), 8);
  assertEquals(textWidth("abc", 2), 3 * CELL_W * 2);
});

Deno.test("wrapText: greedy lines within the width, long words split, nothing lost", () => {
  const text = "the left eye is blurred and the jawline shows a seam abcdefghijklmnopqrstuvwxyz";
  const lines = wrapText(text, 12);
  assert(lines.every((l) => l.length <= 12));
  assertEquals(lines.join(" ").replaceAll(" ", ""), text.replaceAll(" ", ""));
  assertEquals(wrapText("a b c", 3), ["a b", "c"]);
  assertEquals(wrapText("", 5), []);
});
