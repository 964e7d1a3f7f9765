/**
 * ForgeryTalker against its independent PyTorch twin (bench/forgerytalker_torch.py) on the
 * `tiny` config: every loss term and the FPN / mask / LM logits within 1e-4 (relative to the
 * reference's scale), gradients of parameters from every component within 1e-3 (relative
 * L2), and greedy + beam decodes with identical token ids. Skipped with one line when
 * /usr/bin/python3 has no torch.
 */
import assert from "node:assert/strict";
import { ForgeryTalker } from "../../src/model/forgerytalker.ts";
import { exampleBatch } from "../../src/model/example_batch.ts";
import { generate } from "../../src/infer/generate.ts";
import { loadSafetensors, saveModule, saveSafetensors } from "../../src/train/checkpoint.ts";
import { backward, noGrad } from "../../src/autograd/tape.ts";
import { tidy } from "../../src/tensor/scope.ts";
import type { Tensor } from "../../src/tensor/tensor.ts";

function torchAvailable(): boolean {
  try {
    const r = new Deno.Command("/usr/bin/python3", { args: ["-c", "import torch"], stderr: "null" })
      .outputSync();
    return r.success;
  } catch {
    return false;
  }
}

const HAS_TORCH = torchAvailable();
if (!HAS_TORCH) {
  console.log("twin_test: skipped (/usr/bin/python3 has no torch; apt-get install python3-torch)");
}

/** max |a − b| / max |b|. */
function relMax(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let d = 0, s = 0;
  for (let i = 0; i < b.length; i++) {
    d = Math.max(d, Math.abs(a[i] - b[i]));
    s = Math.max(s, Math.abs(b[i]));
  }
  return d / Math.max(s, 1e-12);
}

/** ||a − b|| / ||b||. */
function relL2(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let d = 0, s = 0;
  for (let i = 0; i < b.length; i++) {
    d += (a[i] - b[i]) ** 2;
    s += b[i] ** 2;
  }
  return Math.sqrt(d / Math.max(s, 1e-30));
}

const GRAD_SAMPLE = [
  "visual_encoder.patch_embed.weight",
  "visual_encoder.blocks.0.attn.qkv.weight",
  "visual_encoder.blocks.5.attn.q_bias",
  "ln_vision.weight",
  "fpn.coord_conv.conv.weight",
  "fpn.conv2.weight",
  "fpn.bn1.weight",
  "fpn.vit.blocks.1.attn.k_proj.weight",
  "fpn.head.weight",
  "Qformer.query_tokens",
  "Qformer.word_embeddings.weight",
  "Qformer.layer.0.crossattention.attention.v_proj.weight",
  "Qformer.layer.3.ffn_query.mlp.fc1.weight",
  "Qformer.layer.2.ffn.mlp.fc2.weight",
  "Qformer.mlm_head.weight",
  "t5_proj.weight",
  "text_proj.weight",
  "t5_model.shared.weight",
  "t5_model.encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight",
  "t5_model.decoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight",
  "t5_model.decoder.block.2.layer.1.EncDecAttention.q.weight",
  "t5_model.decoder.block.1.layer.2.DenseReluDense.wi_0.weight",
  "t5_model.lm_head.weight",
  "mask_decoder.mask_token",
  "mask_decoder.region_prompts.region_embed",
  "mask_decoder.transformer.layers.1.cross_attn_image_to_token.q_proj.weight",
  "mask_decoder.output_upscaling_0.weight",
  "mask_decoder.output_upscaling_1.weight",
  "mask_decoder.output_hypernetwork_mlp.layers.2.weight",
];

const DECODE = {
  beams: 5,
  maxNewTokens: 16,
  minLength: 5,
  repetitionPenalty: 1.5,
  lengthPenalty: 1.0,
  eos: 1,
};

Deno.test({
  name: "twin: tiny ForgeryTalker matches PyTorch (losses, logits, gradients, decodes)",
  ignore: !HAS_TORCH,
  fn() {
    const dir = Deno.makeTempDirSync({ prefix: "ft_twin_" });
    const model = new ForgeryTalker({ name: "tiny", dropout: 0 }, 7);
    model.train();
    const batch = exampleBatch(model.cfg, 2, 3, { instruction: 20, caption: 24 });
    try {
      Deno.writeTextFileSync(`${dir}/config.json`, JSON.stringify(model.cfg));
      saveModule(`${dir}/model.safetensors`, model);
      saveSafetensors(`${dir}/batch.safetensors`, batch as unknown as Record<string, Tensor>);
      Deno.writeTextFileSync(`${dir}/grad_names.json`, JSON.stringify(GRAD_SAMPLE));
      Deno.writeTextFileSync(`${dir}/decode.json`, JSON.stringify(DECODE));
      const r = new Deno.Command("/usr/bin/python3", {
        args: ["bench/forgerytalker_torch.py", "check", dir],
        env: { OMP_NUM_THREADS: "2" },
      }).outputSync();
      if (!r.success) throw new Error(`twin failed:\n${new TextDecoder().decode(r.stderr)}`);
      const ref = loadSafetensors(`${dir}/torch_out.safetensors`).tensors;
      const refIds = JSON.parse(Deno.readTextFileSync(`${dir}/torch_out.json`));
      const worst: Record<string, number> = {};
      const cmp = (key: string, ours: ArrayLike<number>, tol: number, fn = relMax) => {
        const t = ref.get(key);
        assert.ok(t, `reference has no '${key}'`);
        const e = fn(ours, t!.data());
        worst[key] = e;
        assert.ok(e <= tol, `${key}: relative error ${e.toExponential(2)} > ${tol}`);
      };
      for (const stage of ["fpn", "finetune", "pretrain"] as const) {
        tidy(() => {
          model.zeroGrad();
          const { loss, terms } = model.losses(batch, { stage });
          backward(loss);
          cmp(`${stage}.loss`, [loss.item()], 1e-4);
          for (const [k, v] of Object.entries(terms)) cmp(`${stage}.${k}`, [v.item()], 1e-4);
          const params = new Map(model.namedParameters());
          for (const n of GRAD_SAMPLE) {
            const g = params.get(n)?.grad;
            if (ref.has(`${stage}.grad.${n}`)) {
              assert.ok(g, `${stage}: no gradient on ${n}`);
              cmp(`${stage}.grad.${n}`, g!.data(), 1e-3, relL2);
            }
          }
          noGrad(() => {
            if (stage === "fpn") cmp("fpn.fpn_logits", model.fpn.forward(batch.images).logits.data(), 1e-4);
            else {
              const out = model.forward(batch);
              cmp(`${stage}.mask_logits`, out.maskLogits.data(), 1e-4);
              cmp(`${stage}.lm_logits`, out.lmLogits!.data(), 1e-4);
            }
          });
        });
      }
      // every component got a compared gradient in the pretraining stage
      for (
        const part of [
          "visual_encoder",
          "ln_vision",
          "Qformer",
          "t5_proj",
          "text_proj",
          "t5_model",
          "mask_decoder",
        ]
      ) {
        assert.ok(
          Object.keys(worst).some((k) => k.startsWith(`pretrain.grad.${part}`)),
          `no gradient compared for ${part}`,
        );
      }
      assert.ok(Object.keys(worst).some((k) => k.startsWith("fpn.grad.fpn.")), "no FPN gradient compared");
      model.eval();
      const ids = noGrad(() =>
        tidy(() => {
          const image = model.encodeImage(batch.images);
          const q = model.queries(image, batch.instrIds, batch.instrMask);
          const { enc, mask } = model.encodeReport(q, batch.instrIds, batch.instrMask);
          return {
            greedy: generate(model.t5, enc, mask, { ...DECODE, beams: 1 }).map((d) => d.ids),
            beam: generate(model.t5, enc, mask, DECODE).map((d) => d.ids),
          };
        })
      );
      assert.deepEqual(ids.greedy, refIds.greedy, "greedy decode differs from the PyTorch reference");
      assert.deepEqual(ids.beam, refIds.beam, "beam decode differs from the PyTorch reference");
      assert.deepEqual(
        refIds.greedyCached,
        refIds.greedy,
        "the twin's cached greedy decode differs from its plain one",
      );
      assert.deepEqual(
        refIds.beamCached,
        refIds.beam,
        "the twin's cached beam decode differs from its plain one",
      );
      for (const t of ref.values()) t.dispose();
      console.log(
        "twin worst errors:",
        Object.entries(worst).sort((a, b) => b[1] - a[1]).slice(0, 5).map(([k, v]) =>
          `${k} ${v.toExponential(1)}`
        ).join(", "),
      );
    } finally {
      for (const t of Object.values(batch)) (t as Tensor).dispose();
      model.dispose();
      Deno.removeSync(dir, { recursive: true });
    }
  },
});
