/** Freezing helpers: prefix selection, typo detection, trainable lists, no-decay groups. */
import { deepStrictEqual as assertEquals, throws as assertThrows } from "node:assert/strict";
import { Rng } from "../../src/tensor/rng.ts";
import { Module } from "../../src/nn/module.ts";
import { Linear } from "../../src/nn/linear.ts";
import { LayerNorm } from "../../src/nn/norm.ts";
import {
  decayGroups,
  freezePrefixes,
  hasPrefix,
  setTrainable,
  trainableParameters,
} from "../../src/train/freeze.ts";
import { AdamW } from "../../src/train/adamw.ts";
import { noLeak } from "../helpers.ts";

class Two extends Module {
  constructor() {
    super();
    const rng = new Rng(0);
    this.child("fpn", new Linear(2, 2, { rng }));
    this.child("fpn2", new Linear(2, 2, { rng }));
    this.child("ln", new LayerNorm(2));
  }
}

Deno.test("freeze helpers: prefixes, setTrainable, decay groups", () => {
  noLeak(() => {
    const m = new Two();
    assertEquals([
      hasPrefix("fpn.weight", ["fpn"]),
      hasPrefix("fpn2.weight", ["fpn"]),
      hasPrefix("fpn", ["fpn"]),
    ], [true, false, true]);
    freezePrefixes(m, ["fpn"]);
    assertEquals(m.namedParameters().filter(([, p]) => p.requiresGrad).map(([n]) => n), [
      "fpn2.weight",
      "fpn2.bias",
      "ln.weight",
      "ln.bias",
    ]);
    assertEquals(trainableParameters(m).length, 4);
    assertThrows(() => freezePrefixes(m, ["fnp"]), /no parameter under 'fnp'/);
    assertEquals(setTrainable(m, (n) => n.startsWith("fpn."), true), 2);
    const groups = decayGroups(m, 0.05);
    const names = new Map(m.namedParameters().map(([n, p]) => [p, n]));
    assertEquals(groups.map((g) => [g.weightDecay, g.params.map((p) => names.get(p))]), [
      [0.05, ["fpn.weight", "fpn2.weight"]],
      [0, ["fpn.bias", "fpn2.bias", "ln.weight", "ln.bias"]],
    ]);
    const opt = new AdamW(groups, { lr: 1e-3 });
    assertEquals(opt.groups.map((g) => g.weightDecay), [0.05, 0]);
    opt.dispose();
    m.dispose();
  });
});
