/**
 * One incremental step of a T5 decoder stack in a single native call (CPU, inference only):
 * `new T5DecodePlan(args).step(ids, pos)` -> logits (B, V), writing each layer's new key/value at
 * position `pos` of its self-attention cache. It runs the same kernels as the op-by-op step of src/nn/t5.ts
 * (`T5.decodeStep` picks it on the CPU without gradients), so the logits are equal bit for bit;
 * what it removes is the per-op overhead (~90 FFI calls and tensors per token), which dominates
 * at decoding sizes. There is no CUDA kernel: the op path serves other devices.
 * Kernel: native/t5_decode_step.cpp (`ft_t5_decode_step`). Test: tests/ops/t5_decode_step_test.ts.
 * @module
 */
import { Tensor } from "../tensor/tensor.ts";
import { fmtShape } from "../tensor/shape.ts";
import { kernels } from "../backend/dispatch.ts";
import { check } from "../backend/status.ts";

/** FFI signature (CPU library only). */
export const T5_DECODE_SYMBOLS = {
  ft_t5_decode_step: {
    parameters: [
      /* B rows */ "i64",
      /* L layers */ "i64",
      /* d model width */ "i64",
      /* H heads */ "i64",
      /* D head size */ "i64",
      /* F feed-forward width */ "i64",
      /* V vocabulary */ "i64",
      /* pos of the new token */ "i64",
      /* cap: cache capacity */ "i64",
      /* Te encoder positions */ "i64",
      /* nbuckets */ "i64",
      /* eps */ "f32",
      /* gelu_approx: 1 tanh, 0 erf */ "i32",
      /* tied head */ "i32",
      /* head_scale (tied) */ "f32",
      /* ids (B) int32 */ "pointer",
      /* embed (V, d) */ "pointer",
      /* rel_bias (nbuckets, H) */ "pointer",
      /* dist_bucket (cap) int32: bucket of a key n positions back */ "buffer",
      /* table (L, 16) u64 pointers */ "buffer",
      /* final_ln (d) */ "pointer",
      /* head (V, d) */ "pointer",
      /* mask (B, Te) or null */ "pointer",
      /* mask_i32 */ "i32",
      /* logits (B, V) */ "pointer",
    ],
    result: "i32",
  },
} satisfies Deno.ForeignLibraryInterface;
const k = kernels(T5_DECODE_SYMBOLS);

/** One decoder layer's weights and caches, in the kernel's slot order. */
export interface T5DecodeLayer {
  /** (d) self-attention RMSNorm weight. */
  lnSelf: Tensor;
  /** (HD, d). */
  q: Tensor;
  /** (HD, d). */
  k: Tensor;
  /** (HD, d). */
  v: Tensor;
  /** (d, HD). */
  o: Tensor;
  /** (d) cross-attention RMSNorm weight. */
  lnCross: Tensor;
  /** (HD, d) cross-attention query. */
  cq: Tensor;
  /** (d, HD) cross-attention output. */
  co: Tensor;
  /** (d) feed-forward RMSNorm weight. */
  lnFF: Tensor;
  /** (F, d) gate. */
  wi0: Tensor;
  /** (F, d). */
  wi1: Tensor;
  /** (d, F). */
  wo: Tensor;
  /** (B, H, cap, D) self-attention key cache. */
  selfK: Tensor;
  /** (B, H, cap, D). */
  selfV: Tensor;
  /** (B, H, Te, D) encoder keys of this layer. */
  crossK: Tensor;
  /** (B, H, Te, D). */
  crossV: Tensor;
}

/** What a decoding run fixes once (weights, caches, mask); `T5DecodePlan.step` adds the token. */
export interface T5DecodePlanArgs {
  /** (V, d) shared embedding. */
  embed: Tensor;
  /** (nbuckets, H) relative-position bias table of the decoder. */
  relBias: Tensor;
  /** (cap) bucket of a key `n` positions before the query (T5's unidirectional buckets). */
  distBuckets: Int32Array;
  /** Per-layer weights and caches. */
  layers: T5DecodeLayer[];
  /** (d) final RMSNorm weight. */
  finalNorm: Tensor;
  /** (V, d) untied lm_head, or the shared embedding when `tied`. */
  head: Tensor;
  /** Tied head: the hidden state is scaled by d^-0.5 first. */
  tied: boolean;
  /** (B, Te) encoder key mask (1 keep) float32 or int32, or null. */
  mask: Tensor | null;
  /** RMSNorm epsilon. */
  eps: number;
  /** Feed-forward activation. */
  act: "gelu" | "gelu_tanh";
}

/** Whether the fused step can serve tensors on `device` (CPU; FT_T5_FUSED=0 turns it off). */
export function fusedDecodeAvailable(device: string): boolean {
  return device === "cpu" && Deno.env.get("FT_T5_FUSED") !== "0";
}

const SLOTS: (keyof T5DecodeLayer)[] = [
  "lnSelf",
  "q",
  "k",
  "v",
  "o",
  "lnCross",
  "cq",
  "co",
  "lnFF",
  "wi0",
  "wi1",
  "wo",
  "selfK",
  "selfV",
  "crossK",
  "crossV",
];

/**
 * A validated decoding run: shapes checked and the pointer table built once, so each step is
 * one FFI call. The tensors must outlive the plan (a cache reorder that replaces the self
 * k/v buffers needs a new plan).
 */
export class T5DecodePlan {
  readonly B: number;
  readonly #a: T5DecodePlanArgs;
  readonly #dims: bigint[];
  readonly #table: BigUint64Array;
  readonly #cap: number;
  readonly #V: number;

  /** Checks every shape and device; throws naming the first bad tensor. */
  constructor(a: T5DecodePlanArgs) {
    const [V, d] = a.embed.shape;
    const L = a.layers.length;
    const [nb, H] = a.relBias.shape;
    const first = a.layers[0];
    if (!first) throw new Error("T5DecodePlan: a decoder needs at least one layer");
    const [B, , cap, D] = first.selfK.shape;
    const Te = first.crossK.shape[2], F = first.wi0.shape[0];
    const what = `T5DecodePlan cache ${fmtShape(first.selfK.shape)} cross ${fmtShape(first.crossK.shape)}`;
    if (a.head.shape.join() !== [V, d].join()) {
      throw new Error(`${what}: head ${fmtShape(a.head.shape)} must be (${V}, ${d})`);
    }
    if (a.distBuckets.length < cap || a.distBuckets.some((b) => !(b >= 0 && b < nb))) {
      throw new Error(`${what}: distBuckets needs ${cap} buckets in [0, ${nb})`);
    }
    const all = [a.embed, a.relBias, a.finalNorm, a.head, ...(a.mask ? [a.mask] : [])];
    this.#table = new BigUint64Array(L * SLOTS.length);
    a.layers.forEach((layer, l) => {
      const expect: Record<keyof T5DecodeLayer, number[]> = {
        lnSelf: [d],
        q: [H * D, d],
        k: [H * D, d],
        v: [H * D, d],
        o: [d, H * D],
        lnCross: [d],
        cq: [H * D, d],
        co: [d, H * D],
        lnFF: [d],
        wi0: [F, d],
        wi1: [F, d],
        wo: [d, F],
        selfK: [B, H, cap, D],
        selfV: [B, H, cap, D],
        crossK: [B, H, Te, D],
        crossV: [B, H, Te, D],
      };
      SLOTS.forEach((s, i) => {
        const t = layer[s];
        if (t.shape.join() !== expect[s].join()) {
          throw new Error(`${what}: layer ${l} ${s} ${fmtShape(t.shape)}, expected ${fmtShape(expect[s])}`);
        }
        all.push(t);
        this.#table[l * SLOTS.length + i] = BigInt(Deno.UnsafePointer.value(t.ptr));
      });
    });
    for (const t of all) {
      if (t.device !== "cpu") throw new Error(`${what}: every tensor must be on the cpu (fused step)`);
      if (t !== a.mask && t.dtype !== "float32") throw new Error(`${what}: weights must be float32`);
    }
    if (a.mask && (a.mask.shape[0] !== B || a.mask.shape[1] !== Te)) {
      throw new Error(`${what}: mask ${fmtShape(a.mask.shape)} must be (${B}, ${Te})`);
    }
    this.B = B;
    this.#a = a;
    this.#cap = cap;
    this.#V = V;
    this.#dims = [B, L, d, H, D, F, V].map(BigInt);
    this.#dims.push(0n, BigInt(cap), BigInt(Te), BigInt(nb));
  }

  /** ids (B, 1) int32, the tokens at position `pos` -> logits (B, V); the caches gain `pos`. */
  step(ids: Tensor, pos: number): Tensor {
    const a = this.#a, B = this.B, V = this.#V;
    const what = () => `t5DecodeStep ids ${fmtShape(ids.shape)} at position ${pos}`;
    if (ids.dtype !== "int32" || ids.size !== B || ids.device !== "cpu") {
      throw new Error(`${what()}: ids must be int32 (${B}, 1) on the cpu`);
    }
    const idv = ids.dataI32();
    const bad = idv.findIndex((i) => !(i >= 0 && i < V));
    if (bad >= 0) throw new Error(`${what()}: ids[${bad}] = ${idv[bad]} is outside the vocabulary [0, ${V})`);
    if (!Number.isInteger(pos) || pos < 0 || pos >= this.#cap) {
      throw new Error(`${what()}: position ${pos} exceeds the cache capacity ${this.#cap}`);
    }
    const dims = this.#dims;
    dims[7] = BigInt(pos);
    const logits = Tensor.empty([B, V], "float32", "cpu");
    check(
      k("cpu").ft_t5_decode_step(
        dims[0],
        dims[1],
        dims[2],
        dims[3],
        dims[4],
        dims[5],
        dims[6],
        dims[7],
        dims[8],
        dims[9],
        dims[10],
        a.eps,
        a.act === "gelu_tanh" ? 1 : 0,
        a.tied ? 1 : 0,
        a.tied ? a.embed.shape[1] ** -0.5 : 1,
        ids.ptr,
        a.embed.ptr,
        a.relBias.ptr,
        a.distBuckets,
        this.#table,
        a.finalNorm.ptr,
        a.head.ptr,
        a.mask?.ptr ?? null,
        a.mask?.dtype === "int32" ? 1 : 0,
        logits.ptr,
      ),
      what,
    );
    return logits;
  }
}
