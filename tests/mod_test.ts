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

Deno.test("mod.ts exports what custom ops and training loops need", () => {
  for (
    const name of [
      "record",
      "needsGrad",
      "backward",
      "noGrad",
      "Optimizer",
      "AdamW",
      "SGD",
      "decayGroups",
    ] as const
  ) {
    assertEquals(typeof ft[name], "function", name);
  }
  // a custom op built only from the public surface: y = 3x with its own backward
  const x = ft.tensor([1, 2], [2]).requireGrad();
  ft.tidy(() => {
    assertOk(ft.needsGrad(x));
    const y = ft.record(ft.noGrad(() => ft.scale(x, 3)), "triple", [x], (g) => [ft.scale(g, 3)]);
    ft.backward(ft.sum(y));
  });
  assertEquals(x.grad!.toArray(), [3, 3]);
  const opt: ft.Optimizer = new ft.SGD([x], { lr: 0.5 } satisfies ft.SGDOptions);
  assertOk(opt instanceof ft.Optimizer);
  opt.step();
  assertEquals(x.toArray(), [-0.5, 0.5]);
  opt.dispose();
  x.dispose();
});
