// The library names DESIGN §6 makes part of the contract are exported from mod.ts.
import { assertEquals, assertOk } from "./assert.ts";
import * as ft from "../mod.ts";

Deno.test("mod.ts exports the contract names", () => {
  for (
    const name of ["regionLabels", "ptbTokenize", "captionMetrics", "maskMetrics", "plm", "readMMTT"] as const
  ) {
    assertEquals(typeof ft[name], "function", name);
  }
  assertEquals(ft.REGIONS.length, 21);
  assertEquals(ft.REGIONS[0], "eye");
  assertEquals(ft.REGIONS[20], "dimple");
  assertOk(ft.regionLabels("The left eyebrow is blurred.").length === 21);
});
