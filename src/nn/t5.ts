/**
 * T5 encoder–decoder (v1.1 / Flan-T5 layout): RMSNorm pre-norm layers, no biases, attention
 * without the 1/sqrt(d) scale, one learned relative-position bias per stack (in its first
 * block, shared by the others, as T5 does) fed to the fused attention kernel as an additive
 * bias, gated-GELU feed-forward, and an untied `lm_head` (or a tied one scaled by d^-0.5).
 * Key names follow HF's T5ForConditionalGeneration (`encoder.block.0.layer.0.SelfAttention.q`),
 * so real Flan-T5 weights can be mapped in later.
 *
 * Shapes: encoder inputs embeds (B, Te, d) + mask (B, Te); decoder ids (B, Td) int32.
 * Incremental decoding keeps per-layer self-attention keys/values in a `T5DecodeCache`.
 * @module
 */
import type { Tensor } from "../tensor/tensor.ts";
import { defaultRng, type Rng } from "../tensor/rng.ts";
import { intTensor, randomInitSkipped } from "../tensor/create.ts";
import { fmtShape } from "../tensor/shape.ts";
import { add, mul, scale } from "../ops/elementwise.ts";
import { permute, reshape, unsqueeze } from "../ops/shape_ops.ts";
import { KVCache } from "./kv_cache.ts";
import { fusedDecodeAvailable, type T5DecodeLayer, T5DecodePlan } from "../ops/t5_decode_step.ts";
import { graphTidy, isGradEnabled } from "../autograd/tape.ts";
import { attention } from "../ops/attention.ts";
import { embedding } from "../ops/embedding.ts";
import { linear } from "../ops/linear.ts";
import { gelu } from "../ops/gelu.ts";
import { dropout } from "../ops/dropout.ts";
import { Module, ModuleList } from "./module.ts";
import { Linear } from "./linear.ts";
import { RMSNorm } from "./norm.ts";
import { Embedding } from "./embedding.ts";
import type { T5Config } from "../model/config.ts";

/**
 * T5's bucket of a relative position (key − query). Bidirectional: half the buckets for
 * each sign; within a half, exact buckets below max_exact = n/2, then log-spaced up to
 * `maxDistance`. The float steps mirror PyTorch's float32 arithmetic (Math.fround).
 */
export function relativeBucket(
  rel: number,
  bidirectional: boolean,
  numBuckets: number,
  maxDistance: number,
): number {
  let ret = 0;
  let n: number;
  let nb = numBuckets;
  if (bidirectional) {
    nb = Math.floor(nb / 2);
    if (rel > 0) ret += nb;
    n = Math.abs(rel);
  } else {
    n = Math.max(-rel, 0);
  }
  const maxExact = Math.floor(nb / 2);
  if (n < maxExact) return ret + n;
  const f = Math.fround;
  const ratio = f(f(Math.log(f(n / maxExact))) / f(Math.log(maxDistance / maxExact)));
  const large = Math.min(maxExact + Math.trunc(f(ratio * (nb - maxExact))), nb - 1);
  return ret + large;
}

/** Bucket ids (Tq, Tk) int32 for queries at positions offset..offset+Tq-1 and keys 0..Tk-1. */
export function bucketIds(
  Tq: number,
  Tk: number,
  offset: number,
  bidirectional: boolean,
  numBuckets: number,
  maxDistance: number,
): Int32Array {
  const ids = new Int32Array(Tq * Tk);
  for (let i = 0; i < Tq; i++) {
    for (let j = 0; j < Tk; j++) {
      ids[i * Tk + j] = relativeBucket(j - (i + offset), bidirectional, numBuckets, maxDistance);
    }
  }
  return ids;
}

/** One T5 attention: q, k, v, o without bias; optional relative-position bias table. */
export class T5Attention extends Module {
  /** d -> heads·dKv. */
  readonly q: Linear;
  /** d -> heads·dKv. */
  readonly k: Linear;
  /** d -> heads·dKv. */
  readonly v: Linear;
  /** heads·dKv -> d. */
  readonly o: Linear;
  /** (buckets, heads) or null (only a stack's first block has one). */
  readonly relBias: Embedding | null;

  /** `hasRelBias` on the first block of a stack; `bidirectional` for the encoder. */
  constructor(readonly cfg: T5Config, hasRelBias: boolean, readonly bidirectional: boolean, rng: Rng) {
    super();
    const inner = cfg.heads * cfg.dKv, d = cfg.dModel;
    // T5's init: N(0, (d·dKv)^-1/2) for q, d^-1/2 for k, v, inner^-1/2 for o
    const lin = (i: number, o: number, std: number) => {
      const l = new Linear(i, o, { bias: false, init: "zeros", rng });
      if (!randomInitSkipped()) l.weight.set(Float32Array.from({ length: i * o }, () => rng.normal() * std));
      return l;
    };
    this.q = this.child("q", lin(d, inner, (d * cfg.dKv) ** -0.5));
    this.k = this.child("k", lin(d, inner, d ** -0.5));
    this.v = this.child("v", lin(d, inner, d ** -0.5));
    this.o = this.child("o", lin(inner, d, inner ** -0.5));
    this.relBias = hasRelBias
      ? this.child(
        "relative_attention_bias",
        new Embedding(cfg.relBuckets, cfg.heads, { std: d ** -0.5, rng }),
      )
      : null;
  }

  /** The additive bias (1, H, Tq, Tk) for query offset `offset`. */
  positionBias(Tq: number, Tk: number, offset: number): Tensor {
    if (!this.relBias) throw new Error("T5Attention: this layer has no relative_attention_bias");
    const c = this.cfg;
    const ids = intTensor(
      bucketIds(Tq, Tk, offset, this.bidirectional, c.relBuckets, c.relMaxDistance),
      [Tq, Tk],
      this.relBias.weight.device,
    );
    const b = this.relBias.forward(ids); // (Tq, Tk, H)
    return unsqueeze(permute(b, [2, 0, 1]), 0); // (1, H, Tq, Tk)
  }

  /** (B, T, d) -> (B, H, T, dKv). */
  heads(l: Linear, x: Tensor): Tensor {
    const [B, T] = x.shape;
    return permute(reshape(l.forward(x), [B, T, this.cfg.heads, this.cfg.dKv]), [0, 2, 1, 3]);
  }

  /** Attention core + output projection: q (B,H,Tq,dKv), k/v (B,H,Tk,dKv) -> (B, Tq, d). */
  attend(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    o: { bias?: Tensor | null; mask?: Tensor | null; causal?: boolean; kvLength?: number },
  ): Tensor {
    const [B, H, Tq, D] = q.shape;
    // T5 has no 1/sqrt(d) scale; the relative-position bias goes into the fused kernel
    const y = attention(q, k, v, {
      scale: 1,
      bias: o.bias ?? null,
      keyPaddingMask: o.mask ?? null,
      causal: o.causal,
      causalAlign: "bottom-right",
      kvLength: o.kvLength,
    });
    return this.o.forward(reshape(permute(y, [0, 2, 1, 3]), [B, Tq, H * D]));
  }
}

/** Gated-GELU feed-forward: wo(act(wi_0 x) · wi_1 x). */
export class T5GatedFF extends Module {
  /** d -> ff (gate). */
  readonly wi0: Linear;
  /** d -> ff. */
  readonly wi1: Linear;
  /** ff -> d. */
  readonly wo: Linear;

  /** Sizes from `cfg`. */
  constructor(readonly cfg: T5Config, rng: Rng) {
    super();
    const d = cfg.dModel, f = cfg.dFf;
    const lin = (i: number, o: number, std: number) => {
      const l = new Linear(i, o, { bias: false, init: "zeros", rng });
      if (!randomInitSkipped()) l.weight.set(Float32Array.from({ length: i * o }, () => rng.normal() * std));
      return l;
    };
    this.wi0 = this.child("wi_0", lin(d, f, d ** -0.5));
    this.wi1 = this.child("wi_1", lin(d, f, d ** -0.5));
    this.wo = this.child("wo", lin(f, d, f ** -0.5));
  }

  /** (..., d) -> (..., d). */
  forward(x: Tensor): Tensor {
    const g = gelu(this.wi0.forward(x), this.cfg.act === "gelu_tanh" ? "tanh" : "none");
    return this.wo.forward(mul(g, this.wi1.forward(x)));
  }
}

/** Pre-norm residual sub-layer holder: `layer_norm` + the sublayer (HF's T5LayerSelfAttention etc.). */
class T5SubLayer<M extends Module> extends Module {
  readonly norm: RMSNorm;
  constructor(key: string, readonly inner: M, cfg: T5Config) {
    super();
    this.child(key, inner);
    this.norm = this.child("layer_norm", new RMSNorm(cfg.dModel, cfg.eps));
  }
}

/** One block: self-attention, [cross-attention], feed-forward, each x + f(norm(x)). */
export class T5Block extends Module {
  /** layer.0 (SelfAttention), layer.1 (EncDecAttention, decoder only), last: DenseReluDense. */
  readonly layer: ModuleList;
  readonly #self: T5SubLayer<T5Attention>;
  readonly #cross: T5SubLayer<T5Attention> | null;
  readonly #ff: T5SubLayer<T5GatedFF>;

  /** `isDecoder` adds cross-attention; `first` owns the stack's relative bias. */
  constructor(readonly cfg: T5Config, readonly isDecoder: boolean, first: boolean, rng: Rng) {
    super();
    this.#self = new T5SubLayer("SelfAttention", new T5Attention(cfg, first, !isDecoder, rng), cfg);
    this.#cross = isDecoder
      ? new T5SubLayer("EncDecAttention", new T5Attention(cfg, false, true, rng), cfg)
      : null;
    this.#ff = new T5SubLayer("DenseReluDense", new T5GatedFF(cfg, rng), cfg);
    const subs: Module[] = [this.#self];
    if (this.#cross) subs.push(this.#cross);
    subs.push(this.#ff);
    this.layer = this.child("layer", new ModuleList(subs));
  }

  /** The self-attention module (owner of the stack's bias table when first). */
  get selfAttention(): T5Attention {
    return this.#self.inner;
  }

  /** This decoder block's weights in the fused step's order, with its caches (src/ops/t5_decode_step.ts). */
  decodeLayer(self: KVCache, cross: { k: Tensor; v: Tensor }): T5DecodeLayer {
    if (!this.#cross) throw new Error("T5Block: encoder blocks have no cross-attention");
    const sa = this.#self.inner, ca = this.#cross.inner, ff = this.#ff.inner;
    return {
      lnSelf: this.#self.norm.weight,
      q: sa.q.weight,
      k: sa.k.weight,
      v: sa.v.weight,
      o: sa.o.weight,
      lnCross: this.#cross.norm.weight,
      cq: ca.q.weight,
      co: ca.o.weight,
      lnFF: this.#ff.norm.weight,
      wi0: ff.wi0.weight,
      wi1: ff.wi1.weight,
      wo: ff.wo.weight,
      selfK: self.k,
      selfV: self.v,
      crossK: cross.k,
      crossV: cross.v,
    };
  }

  /** The cross-attention module (decoder only). */
  get crossAttention(): T5Attention {
    if (!this.#cross) throw new Error("T5Block: encoder blocks have no cross-attention");
    return this.#cross.inner;
  }

  /**
   * x (B, T, d) -> (B, T, d). `selfKV` replaces the self-attention keys/values (decoding with a
   * cache: the caller appends this step's k/v first); `cross` holds the encoder's projected k/v.
   */
  forward(
    x: Tensor,
    o: {
      bias: Tensor | null;
      mask?: Tensor | null;
      selfKV?: (k: Tensor, v: Tensor) => { k: Tensor; v: Tensor; kvLength?: number };
      cross?: { k: Tensor; v: Tensor; mask: Tensor | null };
      p: number;
      rng?: Rng;
    },
  ): Tensor {
    // graphTidy: projections consumed only by the head split and branches consumed only by the
    // residual adds are freed at once in training (src/autograd/tape.ts)
    return graphTidy(() => {
      const drop = (t: Tensor) => dropout(t, o.p, { training: this.training && o.p > 0, rng: o.rng });
      const sa = this.#self.inner;
      let h = this.#self.norm.forward(x);
      let kv: { k: Tensor; v: Tensor; kvLength?: number } = { k: sa.heads(sa.k, h), v: sa.heads(sa.v, h) };
      if (o.selfKV) kv = o.selfKV(kv.k, kv.v);
      const q = sa.heads(sa.q, h);
      x = add(
        x,
        drop(
          sa.attend(q, kv.k, kv.v, {
            bias: o.bias,
            mask: o.mask,
            causal: this.isDecoder,
            kvLength: kv.kvLength,
          }),
        ),
      );
      if (this.#cross) {
        if (!o.cross) throw new Error("T5Block: decoder block needs the encoder keys/values");
        const ca = this.#cross.inner;
        h = this.#cross.norm.forward(x);
        x = add(x, drop(ca.attend(ca.heads(ca.q, h), o.cross.k, o.cross.v, { mask: o.cross.mask })));
      }
      return add(x, drop(this.#ff.inner.forward(this.#ff.norm.forward(x))));
    });
  }
}

/** A stack of blocks with a final RMSNorm (HF's T5Stack). */
export class T5Stack extends Module {
  /** The blocks. */
  readonly block: ModuleList<T5Block>;
  /** Final RMSNorm. */
  readonly finalNorm: RMSNorm;

  /** `layers` blocks; decoder stacks have cross-attention and causal self-attention. */
  constructor(readonly cfg: T5Config, readonly isDecoder: boolean, layers: number, rng: Rng) {
    super();
    const blocks: T5Block[] = [];
    for (let i = 0; i < layers; i++) blocks.push(new T5Block(cfg, isDecoder, i === 0, rng));
    this.block = this.child("block", new ModuleList(blocks));
    this.finalNorm = this.child("final_layer_norm", new RMSNorm(cfg.dModel, cfg.eps));
  }
}

/** Per-layer decoder caches for incremental decoding (self k/v grow in place; cross k/v fixed). */
export interface T5DecodeCache {
  /** Tokens already decoded (the position of the next one). */
  length: number;
  /** Per layer: self-attention keys/values, written in place (no copy per step). */
  self: KVCache[];
  /** Per layer: the encoder output projected by that layer's EncDecAttention k/v. */
  cross: { k: Tensor; v: Tensor }[];
  /** Encoder key mask (B, Te) or null. */
  mask: Tensor | null;
}

/** T5ForConditionalGeneration without the encoder's own token embedding being mandatory. */
export class T5 extends Module {
  /** (vocab, d) shared token embedding. */
  readonly shared: Embedding;
  /** Encoder stack. */
  readonly encoder: T5Stack;
  /** Decoder stack. */
  readonly decoder: T5Stack;
  /** Untied LM head (null when tied). */
  readonly lmHead: Linear | null;
  /** Dropout stream (saved in checkpoints via Module.rngState). */
  readonly rng: Rng;

  /** Builds the model; `rng` seeds every weight. */
  constructor(readonly cfg: T5Config, rng: Rng = defaultRng()) {
    super();
    this.shared = this.child("shared", new Embedding(cfg.vocabSize, cfg.dModel, { std: 1, rng }));
    this.encoder = this.child("encoder", new T5Stack(cfg, false, cfg.encoderLayers, rng));
    this.decoder = this.child("decoder", new T5Stack(cfg, true, cfg.decoderLayers, rng));
    this.lmHead = cfg.tied ? null : this.child(
      "lm_head",
      (() => {
        const l = new Linear(cfg.dModel, cfg.vocabSize, { bias: false, init: "zeros", rng });
        if (!randomInitSkipped()) {
          l.weight.set(
            Float32Array.from(
              { length: cfg.dModel * cfg.vocabSize },
              () => rng.normal() * cfg.dModel ** -0.5,
            ),
          );
        }
        return l;
      })(),
    );
    this.rng = rng.fork(0xd0);
  }

  /** Token embeddings: ids int32 (B, T) -> (B, T, d). */
  embed(ids: Tensor): Tensor {
    return embedding(this.shared.weight, ids);
  }

  /** Encoder: embeds (B, Te, d), mask (B, Te) (1 keep, 0 pad) or null -> (B, Te, d). */
  encode(embeds: Tensor, mask: Tensor | null, p = 0): Tensor {
    const [, Te] = embeds.shape;
    const drop = (t: Tensor) => dropout(t, p, { training: this.training && p > 0, rng: this.rng });
    let x = drop(embeds);
    const bias = this.encoder.block.at(0).selfAttention.positionBias(Te, Te, 0);
    for (const b of this.encoder.block) x = b.forward(x, { bias, mask, p, rng: this.rng });
    return drop(this.encoder.finalNorm.forward(x));
  }

  /** Projects the encoder output for every decoder layer's cross-attention. */
  crossKV(enc: Tensor): { k: Tensor; v: Tensor }[] {
    return this.decoder.block.items.map((b) => {
      const ca = b.crossAttention;
      return { k: ca.heads(ca.k, enc), v: ca.heads(ca.v, enc) };
    });
  }

  /** Decoder hidden states -> logits (B, T, vocab). */
  logits(h: Tensor): Tensor {
    if (this.lmHead) return this.lmHead.forward(h);
    return linear(scale(h, this.cfg.dModel ** -0.5), this.shared.weight);
  }

  /**
   * Teacher-forced decoder: ids (B, Td) int32 (already shifted right, starting with pad = 0),
   * encoder output (B, Te, d) and its mask -> logits (B, Td, vocab).
   */
  decode(ids: Tensor, enc: Tensor, encMask: Tensor | null, p = 0): Tensor {
    if (ids.ndim !== 2 || ids.dtype !== "int32") {
      throw new Error(`T5.decode: ids ${fmtShape(ids.shape)} ${ids.dtype}: expected int32 (B, T)`);
    }
    const Td = ids.shape[1];
    const drop = (t: Tensor) => dropout(t, p, { training: this.training && p > 0, rng: this.rng });
    let x = drop(this.embed(ids));
    const bias = this.decoder.block.at(0).selfAttention.positionBias(Td, Td, 0);
    const cross = this.crossKV(enc);
    this.decoder.block.items.forEach((b, i) => {
      x = b.forward(x, { bias, p, rng: this.rng, cross: { ...cross[i], mask: encMask } });
    });
    return this.logits(drop(this.decoder.finalNorm.forward(x)));
  }

  /** A fresh decode cache for the encoder output `enc` (B, Te, d), room for `capacity` tokens. */
  startDecode(enc: Tensor, encMask: Tensor | null, capacity = 128): T5DecodeCache {
    const self = this.decoder.block.items.map(() =>
      new KVCache({
        batch: enc.shape[0],
        heads: this.cfg.heads,
        capacity,
        headDim: this.cfg.dKv,
        device: enc.device,
      })
    );
    return { length: 0, self, cross: this.crossKV(enc), mask: encMask };
  }

  /**
   * One incremental step: ids (B, 1) int32 (the last chosen tokens) -> logits (B, vocab); the
   * cache grows by one position. Equal to `decode` on the whole prefix (tested).
   */
  decodeStep(ids: Tensor, cache: T5DecodeCache): Tensor {
    const B = ids.shape[0];
    const pos = cache.length;
    if (fusedDecodeAvailable(ids.device) && !isGradEnabled()) {
      return this.#fusedStep(ids, cache);
    }
    let x = this.embed(ids); // (B, 1, d)
    const bias = this.decoder.block.at(0).selfAttention.positionBias(1, pos + 1, pos);
    this.decoder.block.items.forEach((b, i) => {
      x = b.forward(x, {
        bias,
        p: 0,
        cross: { ...cache.cross[i], mask: cache.mask },
        selfKV: (k, v) => {
          const kv = cache.self[i];
          kv.append(k, v);
          return { k: kv.k, v: kv.v, kvLength: kv.length };
        },
      });
    });
    cache.length = pos + 1;
    const logits = this.logits(this.decoder.finalNorm.forward(x)); // (B, 1, V)
    return reshape(logits, [B, this.cfg.vocabSize]);
  }

  /** decodeStep in one native call (CPU, no gradients): the same kernels, bit-equal logits. */
  #fusedStep(ids: Tensor, cache: T5DecodeCache): Tensor {
    const pos = cache.length;
    let p = this.#plans.get(cache);
    // a beam reorder replaces the self k/v buffers: the pointer table must follow
    if (!p || p.keys.some((k, i) => k !== cache.self[i].k)) {
      const c = this.cfg, blocks = this.decoder.block.items;
      const cap = cache.self[0].capacity;
      const plan = new T5DecodePlan({
        embed: this.shared.weight,
        relBias: blocks[0].selfAttention.relBias!.weight,
        distBuckets: Int32Array.from(
          { length: cap },
          (_, n) => relativeBucket(-n, false, c.relBuckets, c.relMaxDistance),
        ),
        layers: blocks.map((b, i) => b.decodeLayer(cache.self[i], cache.cross[i])),
        finalNorm: this.decoder.finalNorm.weight,
        head: this.lmHead?.weight ?? this.shared.weight,
        tied: !this.lmHead,
        mask: cache.mask,
        eps: c.eps,
        act: c.act,
      });
      p = { plan, keys: cache.self.map((kv) => kv.k) };
      this.#plans.set(cache, p);
    }
    const logits = p.plan.step(ids, pos);
    for (const kv of cache.self) kv.length = pos + 1;
    cache.length = pos + 1;
    return logits;
  }
  readonly #plans = new WeakMap<T5DecodeCache, { plan: T5DecodePlan; keys: Tensor[] }>();

  /** Reorders the self-attention caches' batch rows (beam search): rows[i] is the source of row i. */
  static reorderCache(cache: T5DecodeCache, rows: number[]): void {
    const idx = intTensor(rows, [rows.length], cache.self[0]?.device ?? "cpu");
    try {
      for (const kv of cache.self) kv.reorder(idx);
    } finally {
      idx.dispose();
    }
  }
}
