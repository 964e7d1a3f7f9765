/**
 * Starting the FPN's ViT trunk from the model's own trained image encoder (`--fpn-init vision`).
 *
 * The paper's FPN is a ViT-H/14 that starts from pretrained weights; we have none to ship, and a
 * ViT trained from scratch on a few thousand synthetic faces barely moves in a CPU-sized stage
 * (docs/train.md: 400 steps learned only the label marginals). The image encoder, once the
 * pretraining stage has trained it with the contrastive and captioning losses, already encodes
 * which kind of forgery a face carries, so copying it into the FPN gives the region classifier
 * a trunk that has seen the task. Layout differences handled here:
 *
 *   visual_encoder.blocks.i.attn.qkv.weight (3·dim, dim)  -> fpn.vit.blocks.i.attn.{q,k,v}_proj.weight (dim, dim)
 *   visual_encoder.blocks.i.attn.q_bias / v_bias (dim)   -> q_proj.bias / v_proj.bias (k_proj.bias = 0)
 *   visual_encoder.blocks.i.attn.proj                     -> fpn.vit.blocks.i.attn.out_proj
 *   ln_vision                                             -> fpn.vit.norm (the trunk's final norm)
 *   patch_embed, pos_embed, cls_token, norm1/2, mlp.fc1/2 -> same names under fpn.vit
 *
 * ln_vision's epsilon (1e-5, BLIP-2's) differs from the FPN norm's (the config's, 1e-6): a tiny
 * shift the FPN stage trains through; tests/train/fpn_transfer_test.ts proves the copy exact with
 * equal epsilons. The FPN takes the encoder's first `fpn.depth` blocks; the conv branch and the head keep their
 * own weights. Widths, heads, MLP widths and patch sizes must match (they do in every named
 * config but `paper`, whose FPN is ViT-H and encoder EVA ViT-g).
 * @module
 */
import type { ForgeryTalker } from "../model/forgerytalker.ts";
import type { Tensor } from "../tensor/tensor.ts";

/**
 * Copies the image encoder's weights into the FPN trunk in place (see the module docs).
 * Returns the number of FPN tensors written. Throws naming the mismatch when the two trunks'
 * layouts differ.
 */
export function initFpnFromVision(model: ForgeryTalker): number {
  const v = model.cfg.vision, f = model.cfg.fpn;
  for (const k of ["dim", "heads", "mlpDim", "patchSize"] as const) {
    if (v[k] !== f[k]) {
      throw new Error(`--fpn-init vision: the FPN's ${k} ${f[k]} differs from the image encoder's ${v[k]}`);
    }
  }
  if (f.depth > v.depth) {
    throw new Error(`--fpn-init vision: the FPN has ${f.depth} blocks, the image encoder only ${v.depth}`);
  }
  const sd = model.stateDict();
  const get = (name: string): Tensor => {
    const t = sd.get(name);
    if (!t) throw new Error(`--fpn-init vision: the model has no tensor '${name}'`);
    return t;
  };
  let n = 0;
  const put = (dst: string, values: Float32Array) => {
    const t = get(dst);
    if (t.size !== values.length) {
      throw new Error(`--fpn-init vision: '${dst}' holds ${t.size} values, the source ${values.length}`);
    }
    t.set(values);
    n++;
  };
  const copy = (dst: string, src: string) => put(dst, get(src).data().slice());
  const dim = v.dim;
  copy("fpn.vit.patch_embed.weight", "visual_encoder.patch_embed.weight");
  copy("fpn.vit.patch_embed.bias", "visual_encoder.patch_embed.bias");
  copy("fpn.vit.pos_embed", "visual_encoder.pos_embed");
  copy("fpn.vit.cls_token", "visual_encoder.cls_token");
  copy("fpn.vit.norm.weight", "ln_vision.weight");
  copy("fpn.vit.norm.bias", "ln_vision.bias");
  for (let i = 0; i < f.depth; i++) {
    const s = `visual_encoder.blocks.${i}.`, d = `fpn.vit.blocks.${i}.`;
    const qkv = get(s + "attn.qkv.weight").data(); // (3·dim, dim): rows q, then k, then v
    put(d + "attn.q_proj.weight", qkv.slice(0, dim * dim));
    put(d + "attn.k_proj.weight", qkv.slice(dim * dim, 2 * dim * dim));
    put(d + "attn.v_proj.weight", qkv.slice(2 * dim * dim, 3 * dim * dim));
    copy(d + "attn.q_proj.bias", s + "attn.q_bias");
    put(d + "attn.k_proj.bias", new Float32Array(dim));
    copy(d + "attn.v_proj.bias", s + "attn.v_bias");
    copy(d + "attn.out_proj.weight", s + "attn.proj.weight");
    copy(d + "attn.out_proj.bias", s + "attn.proj.bias");
    for (const p of ["norm1", "norm2", "mlp.fc1", "mlp.fc2"]) {
      copy(`${d}${p}.weight`, `${s}${p}.weight`);
      copy(`${d}${p}.bias`, `${s}${p}.bias`);
    }
  }
  return n;
}
