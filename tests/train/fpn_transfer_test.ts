/**
 * `--fpn-init vision` (src/train/fpn_transfer.ts): after the copy, an FPN whose conv branch
 * contributes nothing computes exactly the image encoder's ln_vision(ViT(x)) tokens — proof that
 * the fused-qkv -> q/k/v split, the biases (k has none) and the norm mapping are right — and
 * mismatched trunks are refused with the field named.
 */
import assert from "node:assert/strict";
import { ForgeryTalker } from "../../src/model/forgerytalker.ts";
import { initFpnFromVision } from "../../src/train/fpn_transfer.ts";
import { randn } from "../../src/tensor/create.ts";
import { Rng } from "../../src/tensor/rng.ts";
import { noGrad } from "../../src/autograd/tape.ts";
import { tidy } from "../../src/tensor/scope.ts";

Deno.test("fpn transfer: copied trunk reproduces the image encoder's tokens", () => {
  // every norm at eps 1e-5 (ln_vision's), so the two paths are the same arithmetic
  const m = new ForgeryTalker(
    { name: "tiny", vision: { depth: 4, eps: 1e-5 }, fpn: { eps: 1e-5 } } as never,
    3,
  );
  try {
    const sd = m.stateDict();
    // make the trunks differ before the copy, so the test sees the copy happen
    const before = sd.get("fpn.vit.blocks.0.attn.q_proj.weight")!.data().slice();
    assert.equal(initFpnFromVision(m), 6 + 4 * 16);
    assert.notDeepEqual(
      Array.from(sd.get("fpn.vit.blocks.0.attn.q_proj.weight")!.data()),
      Array.from(before),
    );
    for (
      const k of [
        "fpn.coord_conv.conv.weight",
        "fpn.coord_conv.conv.bias",
        "fpn.conv2.weight",
        "fpn.conv2.bias",
      ]
    ) {
      const t = sd.get(k)!;
      t.set(new Float32Array(t.size));
    }
    m.eval();
    tidy(() => {
      const x = randn([2, 3, 224, 224], new Rng(5));
      const a = noGrad(() => m.fpn.forward(x).features).data();
      const b = noGrad(() => m.encodeImage(x)).data();
      assert.equal(a.length, b.length);
      let worst = 0;
      for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
      assert.ok(worst < 1e-4, `FPN tokens differ from ln_vision(ViT(x)) by ${worst}`);
    });
  } finally {
    m.dispose();
  }
});

Deno.test("fpn transfer: mismatched trunks are refused, naming the field", () => {
  const wide = new ForgeryTalker({ name: "tiny", fpn: { mlpDim: 384 } } as never, 0);
  try {
    assert.throws(() => initFpnFromVision(wide), /FPN's mlpDim 384 differs from the image encoder's 768/);
  } finally {
    wide.dispose();
  }
  const deep = new ForgeryTalker({ name: "tiny", fpn: { depth: 8 } } as never, 0);
  try {
    assert.throws(() => initFpnFromVision(deep), /FPN has 8 blocks, the image encoder only 6/);
  } finally {
    deep.dispose();
  }
});
