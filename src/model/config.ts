/**
 * ForgeryTalker configurations (`tiny | small | base | paper`) and their validation. A config
 * is plain JSON (saved beside every checkpoint); `resolveConfig` fills defaults and checks
 * every field, naming the key that is wrong. DESIGN.md §1 maps each block to the paper.
 *
 * `paper` mirrors the published architecture: EVA ViT-g/14 (1408-d × 39, MLP 6144, 16 heads,
 * q/v-only qkv bias) + ln_vision, a BERT-base Q-Former (768-d × 12, 32 queries,
 * cross-attention every 2nd layer, vocab 30523 incl. [DEC]), Flan-T5-XL (d 2048, 32 heads of
 * 64, FF 5120 gated-GELU, 24 + 24 layers, vocab 32128, untied head) and a ViT-H/14 FPN
 * (1280-d × 32, MLP 5120, 16 heads). Its parameter counts are checked in tests/model.
 * @module
 */

/** Which mask decoder: the paper's SAM decoder or the official code's 22-token MLP decoder. */
export type DecoderKind = "sam" | "token-mlp";
/** Instruction wording: the paper's template or the official code's. */
export type TemplateKind = "paper" | "official";

/** A ViT trunk (image encoder or FPN). */
export interface ViTConfig {
  /** Token width. */
  dim: number;
  /** Number of blocks. */
  depth: number;
  /** Attention heads. */
  heads: number;
  /** MLP hidden width. */
  mlpDim: number;
  /** Patch size (square). */
  patchSize: number;
  /** LayerNorm epsilon. */
  eps: number;
}

/** The Forgery Prompter Network: a ViT with a conv branch feeding its first `convBlocks` blocks. */
export interface FPNConfig extends ViTConfig {
  /** m: the conv branch is summed into the patch tokens of the first m blocks (official: 2). */
  convBlocks: number;
}

/** The Q-Former (BERT-style). */
export interface QFormerConfig {
  /** Hidden width. */
  dim: number;
  /** Layers. */
  depth: number;
  /** Heads. */
  heads: number;
  /** FFN width. */
  mlpDim: number;
  /** Learned query tokens. */
  numQueries: number;
  /** Cross-attention to the image on every `crossAttentionFreq`-th layer (0, f, 2f, ...). */
  crossAttentionFreq: number;
  /** Text vocabulary (the Q-Former's own tokenizer). */
  vocabSize: number;
  /** Learned text positions (max instruction/caption tokens). */
  maxTextLen: number;
  /** LayerNorm epsilon (BERT: 1e-12). */
  eps: number;
}

/** The mask decoder. */
export interface MaskDecoderConfig {
  /** `sam` (paper) or `token-mlp` (official code). */
  kind: DecoderKind;
  /** Transformer width. */
  dim: number;
  /** Two-way transformer depth (SAM: 2). */
  depth: number;
  /** Heads. */
  heads: number;
  /** MLP width inside the two-way blocks. */
  mlpDim: number;
  /** Attention downsample rate of the cross-attentions (SAM: 2). */
  downsample: number;
  /** token-mlp only: side of the square mask its MLP emits (official: 224). */
  maskSize: number;
}

/** The T5 report decoder. */
export interface T5Config {
  /** Model width. */
  dModel: number;
  /** Per-head width. */
  dKv: number;
  /** Heads. */
  heads: number;
  /** Gated FFN width. */
  dFf: number;
  /** Encoder layers. */
  encoderLayers: number;
  /** Decoder layers. */
  decoderLayers: number;
  /** Vocabulary. */
  vocabSize: number;
  /** Relative-position buckets. */
  relBuckets: number;
  /** Largest distance with its own bucket range. */
  relMaxDistance: number;
  /** RMSNorm epsilon. */
  eps: number;
  /** LM head tied to the shared embedding (T5 v1.0) or separate (Flan-T5, default). */
  tied: boolean;
  /** FFN activation of the gate (Flan-T5: gelu_tanh, "gelu_new"; official code: gelu). */
  act: "gelu" | "gelu_tanh";
}

/** The whole model. */
export interface ForgeryTalkerConfig {
  /** Config id (e.g. "tiny"). */
  name: string;
  /** Square input side in pixels. */
  imageSize: number;
  /** Image encoder. */
  vision: ViTConfig;
  /** Forgery Prompter Network. */
  fpn: FPNConfig;
  /** Q-Former. */
  qformer: QFormerConfig;
  /** Mask decoder. */
  maskDecoder: MaskDecoderConfig;
  /** Report decoder. */
  t5: T5Config;
  /** Instruction template. */
  template: TemplateKind;
  /** Number of region classes (21). */
  numRegions: number;
  /** Dropout in the Q-Former and T5 during training (0 disables). */
  dropout: number;
  /** InfoNCE temperature; learnable when `learnTemperature`. */
  temperature: number;
  /** Learn the InfoNCE temperature (BLIP-2) instead of keeping it fixed. */
  learnTemperature: boolean;
  /** Max instruction tokens fed to the Q-Former and the T5 encoder. */
  maxInstructionLen: number;
  /** Max caption tokens (training targets). */
  maxCaptionLen: number;
}

const vit = (dim: number, depth: number, heads: number, mlpDim: number, patchSize: number): ViTConfig => ({
  dim,
  depth,
  heads,
  mlpDim,
  patchSize,
  eps: 1e-6,
});

/** The named configurations. Vocabulary sizes of tiny/small/base follow the bundled BPE tokenizer. */
export const CONFIGS: Record<string, ForgeryTalkerConfig> = {
  tiny: {
    name: "tiny",
    imageSize: 224,
    vision: vit(192, 6, 3, 768, 16),
    fpn: { ...vit(192, 4, 3, 768, 16), convBlocks: 2 },
    qformer: {
      dim: 192,
      depth: 4,
      heads: 3,
      mlpDim: 768,
      numQueries: 32,
      crossAttentionFreq: 2,
      vocabSize: 2048,
      maxTextLen: 64,
      eps: 1e-12,
    },
    maskDecoder: { kind: "sam", dim: 128, depth: 2, heads: 4, mlpDim: 512, downsample: 2, maskSize: 56 },
    t5: {
      dModel: 256,
      dKv: 64,
      heads: 4,
      dFf: 512,
      encoderLayers: 3,
      decoderLayers: 3,
      vocabSize: 2048,
      relBuckets: 32,
      relMaxDistance: 128,
      eps: 1e-6,
      tied: false,
      act: "gelu_tanh",
    },
    template: "paper",
    numRegions: 21,
    dropout: 0.1,
    temperature: 0.07,
    learnTemperature: false,
    maxInstructionLen: 48,
    maxCaptionLen: 64,
  },
  small: {
    name: "small",
    imageSize: 224,
    vision: vit(384, 8, 6, 1536, 16),
    fpn: { ...vit(384, 6, 6, 1536, 16), convBlocks: 2 },
    qformer: {
      dim: 384,
      depth: 6,
      heads: 6,
      mlpDim: 1536,
      numQueries: 32,
      crossAttentionFreq: 2,
      vocabSize: 4096,
      maxTextLen: 128,
      eps: 1e-12,
    },
    maskDecoder: { kind: "sam", dim: 256, depth: 2, heads: 8, mlpDim: 1024, downsample: 2, maskSize: 56 },
    t5: {
      dModel: 384,
      dKv: 64,
      heads: 6,
      dFf: 1024,
      encoderLayers: 4,
      decoderLayers: 4,
      vocabSize: 4096,
      relBuckets: 32,
      relMaxDistance: 128,
      eps: 1e-6,
      tied: false,
      act: "gelu_tanh",
    },
    template: "paper",
    numRegions: 21,
    dropout: 0.1,
    temperature: 0.07,
    learnTemperature: false,
    maxInstructionLen: 64,
    maxCaptionLen: 128,
  },
  base: {
    name: "base",
    imageSize: 224,
    vision: vit(768, 12, 12, 3072, 16),
    fpn: { ...vit(768, 12, 12, 3072, 16), convBlocks: 2 },
    qformer: {
      dim: 768,
      depth: 12,
      heads: 12,
      mlpDim: 3072,
      numQueries: 32,
      crossAttentionFreq: 2,
      vocabSize: 8192,
      maxTextLen: 256,
      eps: 1e-12,
    },
    maskDecoder: { kind: "sam", dim: 256, depth: 2, heads: 8, mlpDim: 2048, downsample: 2, maskSize: 56 },
    t5: {
      dModel: 768,
      dKv: 64,
      heads: 12,
      dFf: 2048,
      encoderLayers: 12,
      decoderLayers: 12,
      vocabSize: 8192,
      relBuckets: 32,
      relMaxDistance: 128,
      eps: 1e-6,
      tied: false,
      act: "gelu_tanh",
    },
    template: "paper",
    numRegions: 21,
    dropout: 0.1,
    temperature: 0.07,
    learnTemperature: false,
    maxInstructionLen: 128,
    maxCaptionLen: 256,
  },
  paper: {
    name: "paper",
    imageSize: 224,
    vision: { ...vit(1408, 39, 16, 6144, 14) },
    fpn: { ...vit(1280, 32, 16, 5120, 14), convBlocks: 2 },
    qformer: {
      dim: 768,
      depth: 12,
      heads: 12,
      mlpDim: 3072,
      numQueries: 32,
      crossAttentionFreq: 2,
      vocabSize: 30523,
      maxTextLen: 512,
      eps: 1e-12,
    },
    maskDecoder: { kind: "sam", dim: 1408, depth: 2, heads: 8, mlpDim: 2048, downsample: 2, maskSize: 224 },
    t5: {
      dModel: 2048,
      dKv: 64,
      heads: 32,
      dFf: 5120,
      encoderLayers: 24,
      decoderLayers: 24,
      vocabSize: 32128,
      relBuckets: 32,
      relMaxDistance: 128,
      eps: 1e-6,
      tied: false,
      act: "gelu_tanh",
    },
    template: "paper",
    numRegions: 21,
    dropout: 0.1,
    temperature: 0.07,
    learnTemperature: false,
    maxInstructionLen: 128,
    maxCaptionLen: 256,
  },
};

type Json = Record<string, unknown>;

function isObj(x: unknown): x is Json {
  return typeof x === "object" && x !== null && !Array.isArray(x);
}

/** Merges `over` into a deep copy of `base`, rejecting keys `base` does not have (typos). */
function mergeStrict(base: Json, over: Json, path: string): Json {
  const out: Json = structuredClone(base);
  for (const [k, v] of Object.entries(over)) {
    const where = path ? `${path}.${k}` : k;
    if (!(k in base)) {
      throw new Error(`config: unknown key '${where}' (known: ${Object.keys(base).join(", ")})`);
    }
    if (isObj(base[k])) {
      if (!isObj(v)) throw new Error(`config: '${where}' must be an object`);
      out[k] = mergeStrict(base[k] as Json, v, where);
    } else {
      if (typeof v !== typeof base[k]) {
        throw new Error(`config: '${where}' must be a ${typeof base[k]}, got ${JSON.stringify(v)}`);
      }
      out[k] = v;
    }
  }
  return out;
}

function posInt(v: number, where: string): void {
  if (!Number.isInteger(v) || v < 1) {
    throw new Error(`config: '${where}' must be a positive integer, got ${v}`);
  }
}

function checkVit(c: ViTConfig, where: string, imageSize: number): void {
  for (const k of ["dim", "depth", "heads", "mlpDim", "patchSize"] as const) posInt(c[k], `${where}.${k}`);
  if (c.dim % c.heads) throw new Error(`config: '${where}.heads' (${c.heads}) must divide dim ${c.dim}`);
  if (imageSize % c.patchSize) {
    throw new Error(
      `config: imageSize ${imageSize} must be a multiple of '${where}.patchSize' ${c.patchSize}`,
    );
  }
}

/**
 * A full config from a name (`tiny`...) or an object (a base `name` plus overrides, e.g. from a
 * checkpoint or `--set`); unknown keys and bad values are errors naming the key.
 */
export function resolveConfig(
  spec: string | Partial<ForgeryTalkerConfig> & { name?: string },
): ForgeryTalkerConfig {
  const name = typeof spec === "string" ? spec : spec.name ?? "tiny";
  const base = CONFIGS[name];
  if (!base) throw new Error(`config: unknown config '${name}' (known: ${Object.keys(CONFIGS).join(", ")})`);
  const c = (typeof spec === "string" ? structuredClone(base) : mergeStrict(
    base as unknown as Json,
    spec as Json,
    "",
  )) as unknown as ForgeryTalkerConfig;
  posInt(c.imageSize, "imageSize");
  checkVit(c.vision, "vision", c.imageSize);
  checkVit(c.fpn, "fpn", c.imageSize);
  if (!Number.isInteger(c.fpn.convBlocks) || c.fpn.convBlocks < 0 || c.fpn.convBlocks > c.fpn.depth) {
    throw new Error(`config: 'fpn.convBlocks' must be in [0, ${c.fpn.depth}], got ${c.fpn.convBlocks}`);
  }
  const q = c.qformer;
  for (
    const k of [
      "dim",
      "depth",
      "heads",
      "mlpDim",
      "numQueries",
      "crossAttentionFreq",
      "vocabSize",
      "maxTextLen",
    ] as const
  ) {
    posInt(q[k], `qformer.${k}`);
  }
  if (q.dim % q.heads) throw new Error(`config: 'qformer.heads' (${q.heads}) must divide dim ${q.dim}`);
  const m = c.maskDecoder;
  if (m.kind !== "sam" && m.kind !== "token-mlp") {
    throw new Error(`config: 'maskDecoder.kind' must be "sam" or "token-mlp", got ${JSON.stringify(m.kind)}`);
  }
  for (const k of ["dim", "depth", "heads", "mlpDim", "downsample", "maskSize"] as const) {
    posInt(m[k], `maskDecoder.${k}`);
  }
  if ((m.dim / m.downsample) % m.heads || m.dim % m.downsample) {
    throw new Error(
      `config: maskDecoder heads ${m.heads} must divide dim/downsample ${m.dim / m.downsample}`,
    );
  }
  if (m.dim % 8) throw new Error(`config: 'maskDecoder.dim' must be a multiple of 8, got ${m.dim}`);
  const t = c.t5;
  for (
    const k of [
      "dModel",
      "dKv",
      "heads",
      "dFf",
      "encoderLayers",
      "decoderLayers",
      "vocabSize",
      "relBuckets",
      "relMaxDistance",
    ] as const
  ) {
    posInt(t[k], `t5.${k}`);
  }
  if (t.act !== "gelu" && t.act !== "gelu_tanh") {
    throw new Error(`config: 't5.act' must be gelu or gelu_tanh`);
  }
  if (c.template !== "paper" && c.template !== "official") {
    throw new Error(`config: 'template' must be "paper" or "official", got ${JSON.stringify(c.template)}`);
  }
  if (c.numRegions !== 21) {
    throw new Error(`config: 'numRegions' must be 21 (the MMTT classes), got ${c.numRegions}`);
  }
  if (!(c.dropout >= 0 && c.dropout < 1)) {
    throw new Error(`config: 'dropout' must be in [0, 1), got ${c.dropout}`);
  }
  if (!(c.temperature > 0)) throw new Error(`config: 'temperature' must be > 0, got ${c.temperature}`);
  posInt(c.maxInstructionLen, "maxInstructionLen");
  posInt(c.maxCaptionLen, "maxCaptionLen");
  if (c.maxInstructionLen > q.maxTextLen) {
    throw new Error(
      `config: 'maxInstructionLen' ${c.maxInstructionLen} exceeds the Q-Former's 'qformer.maxTextLen' ${q.maxTextLen}`,
    );
  }
  if (c.maxCaptionLen > q.maxTextLen) {
    throw new Error(
      `config: 'maxCaptionLen' ${c.maxCaptionLen} exceeds 'qformer.maxTextLen' ${q.maxTextLen}`,
    );
  }
  return c;
}

/** Patch grid side of a ViT config at the model's input size. */
export function gridSide(c: ForgeryTalkerConfig, v: ViTConfig = c.vision): number {
  return c.imageSize / v.patchSize;
}
