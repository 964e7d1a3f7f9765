/**
 * Multi-head scaled-dot-product attention core, fused forward and backward:
 * `attention(q, k, v, {keyPaddingMask, causal, causalAlign, bias, kvLength, scale})` =
 * softmax(scale · q kᵀ + bias + masks) v with q (B,H,Tq,D), k/v (B,H,Tk,D) (cross-attention:
 * Tq ≠ Tk). Options:
 * - `bias` (B|1, H|1, Tq, Tk) float32, added to the scaled logits inside the fused kernel (T5's
 *   relative-position bias); it gets a gradient (summed over broadcast dims) when it requires one.
 * - `keyPaddingMask` (B,Tk) float32 or int32 (1 = keep, 0 = pad).
 * - `causal` with `causalAlign`: "top-left" (default; key j visible to query i iff j ≤ i, like
 *   PyTorch's `is_causal`) or "bottom-right" (j ≤ i + Tk − Tq: the last query sees every key,
 *   decoding with a cache).
 * - `kvLength`: k, v may be capacity buffers (B,H,Tcap,D) (a `KVCache`); only the first kvLength
 *   keys take part, without a copy. Then Tk = kvLength for the bias, and the mask may be
 *   (B, Tcap) or (B, kvLength) (its first kvLength columns are read).
 * Rows whose keys are all masked give zeros, not NaN. Forward saves the per-row logsumexp
 * (B,H,Tq) so backward recomputes the probabilities.
 * Kernels: native/attention.cpp, kernels/attention.cu (`ft_attention_fwd`, `ft_attention_bwd`).
 * @module
 */
import { Tensor } from "../tensor/tensor.ts";
import { fmtShape } from "../tensor/shape.ts";
import { kernels } from "../backend/dispatch.ts";
import { check } from "../backend/status.ts";
import { autocastScope, nodeAutocast } from "../backend/cuda.ts";
import { needsGrad, recordReads } from "../autograd/tape.ts";
import { sumToShape } from "./reduce.ts";

/** FFI signatures of the attention kernels (same names in the CPU and CUDA libraries). */
export const ATTENTION_SYMBOLS = {
  ft_attention_fwd: {
    parameters: [
      /* B */ "i64",
      /* H */ "i64",
      /* Tq */ "i64",
      /* Tk: keys taking part */ "i64",
      /* D */ "i64",
      /* ldk: key rows per (b,h) in k and v (>= Tk) */ "i64",
      /* scale */ "f32",
      /* causal: 0 none, 1 top-left, 2 bottom-right */ "i32",
      /* q (B,H,Tq,D) */ "pointer",
      /* k (B,H,ldk,D) */ "pointer",
      /* v (B,H,ldk,D) */ "pointer",
      /* kmask (B,ldm) or null */ "pointer",
      /* kmask_i32: 1 when kmask is int32 */ "i32",
      /* ldm: mask row stride */ "i64",
      /* bias (B|1,H|1,Tq,Tk) or null */ "pointer",
      /* bias_sb: batch stride (0 = broadcast) */ "i64",
      /* bias_sh: head stride (0 = broadcast) */ "i64",
      /* o (B,H,Tq,D) */ "pointer",
      /* lse (B,H,Tq) or null */ "pointer",
    ],
    result: "i32",
  },
  ft_attention_bwd: {
    parameters: [
      /* B */ "i64",
      /* H */ "i64",
      /* Tq */ "i64",
      /* Tk */ "i64",
      /* D */ "i64",
      /* ldk */ "i64",
      /* scale */ "f32",
      /* causal */ "i32",
      /* q */ "pointer",
      /* k */ "pointer",
      /* v */ "pointer",
      /* kmask or null */ "pointer",
      /* kmask_i32 */ "i32",
      /* ldm */ "i64",
      /* bias or null */ "pointer",
      /* bias_sb */ "i64",
      /* bias_sh */ "i64",
      /* o: forward output */ "pointer",
      /* lse: forward logsumexp */ "pointer",
      /* go: dL/do */ "pointer",
      /* gq (B,H,Tq,D) */ "pointer",
      /* gk (B,H,ldk,D) */ "pointer",
      /* gv (B,H,ldk,D) */ "pointer",
      /* gbias (B,H,Tq,Tk) or null */ "pointer",
    ],
    result: "i32",
  },
} satisfies Deno.ForeignLibraryInterface;
const k = kernels(ATTENTION_SYMBOLS);

/** Options of `attention`. */
export interface AttentionOptions {
  /** (B, Tk) or, with `kvLength`, (B, Tcap) / (B, kvLength); float32 or int32: nonzero = keep, 0 = padding. */
  keyPaddingMask?: Tensor | null;
  /** Hide future keys from each query (see `causalAlign`). */
  causal?: boolean;
  /** Diagonal of the causal mask when Tq ≠ Tk: "top-left" (j ≤ i, default) or "bottom-right" (j ≤ i + Tk − Tq). */
  causalAlign?: "top-left" | "bottom-right";
  /** (B|1, H|1, Tq, Tk) float32 additive logit bias (after scaling), e.g. T5's relative-position bias. */
  bias?: Tensor | null;
  /** Use only the first kvLength key rows of k, v (B,H,Tcap,D); default all. */
  kvLength?: number;
  /** Logit scale; default 1/sqrt(D). */
  scale?: number;
}

interface Geometry {
  B: number;
  H: number;
  Tq: number;
  Tk: number;
  D: number;
  ldk: number;
}

function validate(q: Tensor, kk: Tensor, v: Tensor, opts: AttentionOptions, scale: number): Geometry {
  const mask = opts.keyPaddingMask ?? null, bias = opts.bias ?? null;
  const desc = () =>
    `q ${fmtShape(q.shape)}, k ${fmtShape(kk.shape)}, v ${fmtShape(v.shape)}` +
    (mask ? `, keyPaddingMask ${fmtShape(mask.shape)}` : "") + (bias ? `, bias ${fmtShape(bias.shape)}` : "");
  for (const t of [q, kk, v]) {
    if (t.dtype !== "float32") {
      throw new Error(`attention: ${desc()}: q, k, v must be float32, got ${t.dtype}`);
    }
    if (t.device !== q.device) throw new Error(`attention: ${desc()}: tensors on different devices`);
  }
  if (q.ndim !== 4 || kk.ndim !== 4 || v.ndim !== 4) {
    throw new Error(`attention: ${desc()}: expected q (B,H,Tq,D) and k, v (B,H,Tk,D)`);
  }
  const [B, H, Tq, D] = q.shape;
  const ok = kk.shape[0] === B && kk.shape[1] === H && kk.shape[3] === D &&
    v.shape.every((d, i) => d === kk.shape[i]);
  if (!ok) throw new Error(`attention: ${desc()}: expected q (B,H,Tq,D) and k, v (B,H,Tk,D)`);
  const ldk = kk.shape[2];
  const Tk = opts.kvLength ?? ldk;
  if (!Number.isInteger(Tk) || Tk < 0 || Tk > ldk) {
    throw new Error(`attention: ${desc()}: kvLength must be an integer in [0, ${ldk}], got ${opts.kvLength}`);
  }
  if (mask) {
    if (mask.ndim !== 2 || mask.shape[0] !== B || (mask.shape[1] !== ldk && mask.shape[1] !== Tk)) {
      const want = Tk === ldk ? `(${B},${Tk})` : `(${B},${ldk}) or (${B},${Tk})`;
      throw new Error(`attention: ${desc()}: expected keyPaddingMask ${want}`);
    }
    if (mask.dtype !== "float32" && mask.dtype !== "int32") {
      throw new Error(`attention: ${desc()}: keyPaddingMask must be float32 or int32, got ${mask.dtype}`);
    }
    if (mask.device !== q.device) throw new Error(`attention: ${desc()}: mask on another device`);
  }
  if (bias) {
    const s = bias.shape;
    if (
      bias.ndim !== 4 || (s[0] !== 1 && s[0] !== B) || (s[1] !== 1 && s[1] !== H) || s[2] !== Tq ||
      s[3] !== Tk
    ) {
      throw new Error(`attention: ${desc()}: expected bias (${B}|1,${H}|1,${Tq},${Tk})`);
    }
    if (bias.dtype !== "float32") {
      throw new Error(`attention: ${desc()}: bias must be float32, got ${bias.dtype}`);
    }
    if (bias.device !== q.device) throw new Error(`attention: ${desc()}: bias on another device`);
  }
  if (
    opts.causalAlign !== undefined && opts.causalAlign !== "top-left" && opts.causalAlign !== "bottom-right"
  ) {
    throw new Error(`attention: causalAlign must be "top-left" or "bottom-right", got "${opts.causalAlign}"`);
  }
  if (!Number.isFinite(scale)) throw new Error(`attention: scale must be finite, got ${scale}`);
  return { B, H, Tq, Tk, D, ldk };
}

/** softmax(scale · q kᵀ + bias + masks) v over the keys; returns (B,H,Tq,D). */
export function attention(q: Tensor, kk: Tensor, v: Tensor, opts: AttentionOptions = {}): Tensor {
  const mask = opts.keyPaddingMask ?? null, bias = opts.bias ?? null;
  const scale = opts.scale ?? 1 / Math.sqrt(q.shape[3] || 1);
  const { B, H, Tq, Tk, D, ldk } = validate(q, kk, v, opts, scale);
  const causal = opts.causal ? (opts.causalAlign === "bottom-right" ? 2 : 1) : 0;
  const maskI32 = mask?.dtype === "int32" ? 1 : 0;
  const ldm = BigInt(mask ? mask.shape[1] : Tk);
  const sb = BigInt(bias && bias.shape[0] !== 1 ? bias.shape[1] * Tq * Tk : 0);
  const sh = BigInt(bias && bias.shape[1] !== 1 ? Tq * Tk : 0);
  const dims = [BigInt(B), BigInt(H), BigInt(Tq), BigInt(Tk), BigInt(D), BigInt(ldk)] as const;
  const out = Tensor.empty(q.shape, "float32", q.device);
  const inputs = bias ? [q, kk, v, bias] : [q, kk, v];
  const grad = needsGrad(...inputs);
  const lse = grad ? Tensor.empty([B, H, Tq], "float32", q.device) : null;
  const what = () =>
    `attention q ${fmtShape(q.shape)} k ${fmtShape(kk.shape)} v ${fmtShape(v.shape)}` +
    (mask ? ` mask ${fmtShape(mask.shape)}` : "") + (bias ? ` bias ${fmtShape(bias.shape)}` : "") +
    (Tk !== ldk ? ` kvLength ${Tk}` : "");
  check(
    k(q.device).ft_attention_fwd(
      ...dims,
      scale,
      causal,
      q.ptr,
      kk.ptr,
      v.ptr,
      mask?.ptr ?? null,
      maskI32,
      ldm,
      bias?.ptr ?? null,
      sb,
      sh,
      out.ptr,
      lse?.ptr ?? null,
    ),
    what,
  );
  if (!grad) return out;
  const fwdAutocast = nodeAutocast(q.device);
  // reads q, k, v, the output, bias and mask; lse is saved (freed with the node)
  const reads = [q, kk, v, out, ...(bias ? [bias] : []), ...(mask ? [mask] : [])];
  return recordReads(out, "attention", inputs, reads, (g) => {
    using _autocast = autocastScope(fwdAutocast); // backward kernel in the forward's precision
    const gq = Tensor.empty(q.shape, "float32", q.device);
    const gk = Tensor.empty(kk.shape, "float32", q.device);
    const gv = Tensor.empty(v.shape, "float32", q.device);
    const gFull = bias?.requiresGrad ? Tensor.empty([B, H, Tq, Tk], "float32", q.device).zero_() : null;
    check(
      k(q.device).ft_attention_bwd(
        ...dims,
        scale,
        causal,
        q.ptr,
        kk.ptr,
        v.ptr,
        mask?.ptr ?? null,
        maskI32,
        ldm,
        bias?.ptr ?? null,
        sb,
        sh,
        out.ptr,
        lse!.ptr,
        g.ptr,
        gq.ptr,
        gk.ptr,
        gv.ptr,
        gFull?.ptr ?? null,
      ),
      () => `${what()} (backward)`,
    );
    if (!bias) return [gq, gk, gv];
    if (!gFull) return [gq, gk, gv, null];
    if (bias.shape[0] === B && bias.shape[1] === H) return [gq, gk, gv, gFull];
    const gb = sumToShape(gFull, bias.shape);
    gFull.dispose();
    return [gq, gk, gv, gb];
  }, [lse!]);
}
