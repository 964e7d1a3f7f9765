/**
 * One incremental step of a T5 decoder stack in a single native call (CPU, inference only):
 * `t5DecodeStep(args)` -> logits (B, V), writing each layer's new key/value at position `pos`
 * of its self-attention cache. It runs the same kernels as the op-by-op step of src/nn/t5.ts
 * (`T5.decodeStep` picks it on the CPU without gradients), so the logits are equal bit for bit;
 * what it removes is the per-op overhead (~90 FFI calls and tensors per token), which dominates
 * at decoding sizes. There is no CUDA kernel: the op path serves other devices.
 * Kernel: native/t5_decode.cpp (`ft_t5_decode_step`). Test: tests/nn/t5_fused_decode_test.ts.
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
      /* bucket (pos + 1) int32 */ "buffer",
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

/** Everything one step needs. */
export interface T5DecodeStepArgs {
  /** (B, 1) or (B) int32: the last token of every row. */
  ids: Tensor;
  /** (V, d) shared embedding. */
  embed: Tensor;
  /** (nbuckets, H) relative-position bias table of the decoder. */
  relBias: Tensor;
  /** (pos + 1) bucket of each key relative to the new query. */
  buckets: Int32Array;
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
  /** Position of the new token (= tokens already cached). */
  pos: number;
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

/** Runs the step: returns logits (B, V); the self caches gain position `pos`. */
export function t5DecodeStep(a: T5DecodeStepArgs): Tensor {
  const [V, d] = a.embed.shape;
  const B = a.ids.shape[0], L = a.layers.length;
  const [nb, H] = a.relBias.shape;
  const first = a.layers[0];
  const [, , cap, D] = first ? first.selfK.shape : [0, 0, a.pos + 1, 1];
  const Te = first ? first.crossK.shape[2] : (a.mask?.shape[1] ?? 1);
  const F = first ? first.wi0.shape[0] : 1;
  const what = () =>
    `t5DecodeStep ids ${fmtShape(a.ids.shape)} at ${a.pos}, ${L} layers` +
    (first ? ` cache ${fmtShape(first.selfK.shape)} cross ${fmtShape(first.crossK.shape)}` : "");
  if (a.ids.dtype !== "int32" || a.ids.size !== B) throw new Error(`${what()}: ids must be int32 (B, 1)`);
  const idv = a.ids.dataI32();
  const bad = idv.findIndex((i) => !(i >= 0 && i < V));
  if (bad >= 0) throw new Error(`${what()}: ids[${bad}] = ${idv[bad]} is outside the vocabulary [0, ${V})`);
  if (first && a.pos >= cap) {
    throw new Error(`${what()}: position ${a.pos} exceeds the cache capacity ${cap}`);
  }
  if (a.buckets.length !== a.pos + 1) {
    throw new Error(`${what()}: ${a.buckets.length} buckets, expected ${a.pos + 1}`);
  }
  if (a.head.shape[0] !== V || a.head.shape[1] !== d) {
    throw new Error(`${what()}: head ${fmtShape(a.head.shape)} must be (${V}, ${d})`);
  }
  const all = [a.ids, a.embed, a.relBias, a.finalNorm, a.head, ...(a.mask ? [a.mask] : [])];
  const table = new BigUint64Array(L * SLOTS.length);
  a.layers.forEach((layer, l) => {
    SLOTS.forEach((s, i) => {
      const t = layer[s];
      all.push(t);
      table[l * SLOTS.length + i] = BigInt(Deno.UnsafePointer.value(t.ptr));
    });
    const expect: [keyof T5DecodeLayer, number[]][] = [
      ["selfK", [B, H, cap, D]],
      ["selfV", [B, H, cap, D]],
      ["crossK", [B, H, Te, D]],
      ["crossV", [B, H, Te, D]],
      ["q", [H * D, d]],
      ["wi0", [F, d]],
      ["wo", [d, F]],
    ];
    for (const [s, shape] of expect) {
      if (layer[s].shape.join() !== shape.join()) {
        throw new Error(
          `${what()}: layer ${l} ${s} ${fmtShape(layer[s].shape)}, expected ${fmtShape(shape)}`,
        );
      }
    }
  });
  for (const t of all) {
    if (t.device !== "cpu") throw new Error(`${what()}: every tensor must be on the cpu (fused step)`);
    if (t !== a.ids && t !== a.mask && t.dtype !== "float32") {
      throw new Error(`${what()}: weights must be float32`);
    }
  }
  if (a.mask && (a.mask.shape[0] !== B || a.mask.shape[1] !== Te)) {
    throw new Error(`${what()}: mask ${fmtShape(a.mask.shape)} must be (${B}, ${Te})`);
  }
  const logits = Tensor.empty([B, V], "float32", "cpu");
  const big = (n: number) => BigInt(n);
  check(
    k("cpu").ft_t5_decode_step(
      big(B),
      big(L),
      big(d),
      big(H),
      big(D),
      big(F),
      big(V),
      big(a.pos),
      big(cap),
      big(Te),
      big(nb),
      a.eps,
      a.act === "gelu_tanh" ? 1 : 0,
      a.tied ? 1 : 0,
      a.tied ? d ** -0.5 : 1,
      a.ids.ptr,
      a.embed.ptr,
      a.relBias.ptr,
      a.buckets,
      table,
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
