/**
 * Parameter counts: the config-only formulas (src/model/param_count.ts) equal the instantiated
 * modules for tiny (both decoders, learnable τ), and the `paper` config matches the published
 * architectures: Flan-T5-XL exactly (2,849,757,184, HF), EVA ViT-g/14 (39 blocks = EVA's
 * 1,011M 40-block count minus one block), ViT-H/14 trunk (632M with a 1000-class head) and the
 * Q-Former of LAVIS' layer shapes, each within 0.5 %.
 */
import assert from "node:assert/strict";
import { ForgeryTalker } from "../../src/model/forgerytalker.ts";
import { resolveConfig } from "../../src/model/config.ts";
import { countParameters, fpnParams, qformerParams, vitParams } from "../../src/model/param_count.ts";

for (
  const variant of [{ name: "tiny" }, {
    name: "tiny",
    maskDecoder: { kind: "token-mlp" },
    learnTemperature: true,
  }]
) {
  Deno.test(`param count: formulas equal the instantiated model (${JSON.stringify(variant)})`, () => {
    const m = new ForgeryTalker(variant as never, 0);
    try {
      const counts = countParameters(m.cfg);
      for (const [name, child] of m.namedChildren()) assert.equal(child.numParameters(), counts[name], name);
      assert.equal(m.numParameters(), counts.total);
    } finally {
      m.dispose();
    }
  });
}

const within = (ours: number, ref: number, tol = 0.005) => Math.abs(ours - ref) / ref <= tol;

Deno.test("param count: paper config matches the published architectures", () => {
  const c = resolveConfig("paper");
  const n = countParameters(c);
  // Flan-T5-XL: Hugging Face google/flan-t5-xl reports exactly this many parameters
  assert.equal(n.t5_model, 2_849_757_184);
  // EVA ViT-g/14: 40 blocks = 1,011M in the EVA paper; BLIP-2 drops the last block (39)
  const eva40 = vitParams({ ...c.vision, depth: 40 }, c.imageSize, "eva", false);
  assert.ok(within(eva40, 1_011_000_000), `EVA ViT-g/14 (40 blocks) ${eva40}`);
  assert.ok(n.visual_encoder < eva40 && within(n.visual_encoder, 985_894_528, 0), `${n.visual_encoder}`);
  // ViT-H/14: 632M with the 1000-class head of the ViT paper
  const fpn = fpnParams(c.fpn, c.imageSize, 21);
  const vitH = fpn.trunk + 1280 * 1000 + 1000;
  assert.ok(within(vitH, 632_000_000), `ViT-H/14 ${vitH}`);
  // Q-Former without its MLM head = LAVIS' Qformer (cls = None) + query tokens
  const qf = qformerParams(c.qformer, c.vision.dim);
  assert.equal(qf.body, 185_684_736);
  assert.ok(
    within(qf.body + 30523 + 768 * 768 + 768 + 2 * 768 + 2 * (768 * 256 + 256) + 768 * 2 + 2, 188e6, 0.01),
  );
  assert.ok(n.total > 4.5e9 && n.total < 5e9, `paper total ${n.total}`);
});
