/**
 * Multi-head scaled-dot-product attention core, fused forward and backward:
 * `attention(q, k, v, {keyPaddingMask, causal, scale})` = softmax(scale · q kᵀ + masks) v with
 * q (B,H,Tq,D), k/v (B,H,Tk,D) (cross-attention: Tq ≠ Tk), keyPaddingMask (B,Tk) float32 or
 * int32 (1 = keep, 0 = pad) and a causal mask (key j visible to query i iff j ≤ i, top-left
 * aligned like PyTorch's `is_causal`). Rows whose keys are all masked give zeros, not NaN.
 * Forward saves the per-row logsumexp (B,H,Tq) so backward recomputes the probabilities.
 * Kernels: native/attention.cpp (`ft_attention_fwd`, `ft_attention_bwd`).
 * @module
 */
import { Tensor } from "../tensor/tensor.ts";
import { fmtShape } from "../tensor/shape.ts";
import { kernels } from "../backend/dispatch.ts";
import { check } from "../backend/status.ts";
import { autocastScope, nodeAutocast } from "../backend/cuda.ts";
import { needsGrad, record } from "../autograd/tape.ts";

const k = kernels({
  ft_attention_fwd: {
    parameters: [
      "i64",
      "i64",
      "i64",
      "i64",
      "i64",
      "f32",
      "i32",
      "pointer",
      "pointer",
      "pointer",
      "pointer",
      "i32",
      "pointer",
      "pointer",
    ],
    result: "i32",
  },
  ft_attention_bwd: {
    parameters: [
      "i64",
      "i64",
      "i64",
      "i64",
      "i64",
      "f32",
      "i32",
      "pointer",
      "pointer",
      "pointer",
      "pointer",
      "i32",
      "pointer",
      "pointer",
      "pointer",
      "pointer",
      "pointer",
      "pointer",
    ],
    result: "i32",
  },
});

/** Options of `attention`. */
export interface AttentionOptions {
  /** (B, Tk), float32 or int32: 1 (nonzero) = attend to this key, 0 = padding. */
  keyPaddingMask?: Tensor | null;
  /** Hide keys j > i from query i (top-left aligned when Tq ≠ Tk). */
  causal?: boolean;
  /** Logit scale; default 1/sqrt(D). */
  scale?: number;
}

function validate(q: Tensor, kk: Tensor, v: Tensor, mask: Tensor | null, scale: number): void {
  const desc = () =>
    `q ${fmtShape(q.shape)}, k ${fmtShape(kk.shape)}, v ${fmtShape(v.shape)}` +
    (mask ? `, keyPaddingMask ${fmtShape(mask.shape)}` : "");
  for (const t of [q, kk, v]) {
    if (t.dtype !== "float32") {
      throw new Error(`attention: ${desc()}: q, k, v must be float32, got ${t.dtype}`);
    }
    if (t.device !== q.device) throw new Error(`attention: ${desc()}: tensors on different devices`);
  }
  if (q.ndim !== 4 || kk.ndim !== 4 || v.ndim !== 4) {
    throw new Error(`attention: ${desc()}: expected q (B,H,Tq,D) and k, v (B,H,Tk,D)`);
  }
  const [B, H, , D] = q.shape;
  const ok = kk.shape[0] === B && kk.shape[1] === H && kk.shape[3] === D &&
    v.shape.every((d, i) => d === kk.shape[i]);
  if (!ok) throw new Error(`attention: ${desc()}: expected q (B,H,Tq,D) and k, v (B,H,Tk,D)`);
  if (mask) {
    if (mask.ndim !== 2 || mask.shape[0] !== B || mask.shape[1] !== kk.shape[2]) {
      throw new Error(`attention: ${desc()}: expected keyPaddingMask (${B},${kk.shape[2]})`);
    }
    if (mask.device !== q.device) throw new Error(`attention: ${desc()}: mask on another device`);
  }
  if (!Number.isFinite(scale)) throw new Error(`attention: scale must be finite, got ${scale}`);
}

/** softmax(scale · q kᵀ + masks) v over the keys; returns (B,H,Tq,D). */
export function attention(q: Tensor, kk: Tensor, v: Tensor, opts: AttentionOptions = {}): Tensor {
  const mask = opts.keyPaddingMask ?? null;
  const D = q.shape[3];
  const scale = opts.scale ?? 1 / Math.sqrt(D || 1);
  validate(q, kk, v, mask, scale);
  const [B, H, Tq] = q.shape, Tk = kk.shape[2];
  const causal = opts.causal ? 1 : 0;
  const maskI32 = mask?.dtype === "int32" ? 1 : 0;
  const dims = [BigInt(B), BigInt(H), BigInt(Tq), BigInt(Tk), BigInt(D)] as const;
  const out = Tensor.empty(q.shape, "float32", q.device);
  const grad = needsGrad(q, kk, v);
  const lse = grad ? Tensor.empty([B, H, Tq], "float32", q.device) : null;
  const what = () =>
    `attention q ${fmtShape(q.shape)} k ${fmtShape(kk.shape)} v ${fmtShape(v.shape)}` +
    (mask ? ` mask ${fmtShape(mask.shape)}` : "");
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
      out.ptr,
      lse?.ptr ?? null,
    ),
    what,
  );
  if (!grad) return out;
  const fwdAutocast = nodeAutocast(q.device);
  return record(out, "attention", [q, kk, v], (g) => {
    using _autocast = autocastScope(fwdAutocast); // backward kernel in the forward's precision
    const gq = Tensor.empty(q.shape, "float32", q.device);
    const gk = Tensor.empty(kk.shape, "float32", q.device);
    const gv = Tensor.empty(v.shape, "float32", q.device);
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
        out.ptr,
        lse!.ptr,
        g.ptr,
        gq.ptr,
        gk.ptr,
        gv.ptr,
      ),
      () => `${what()} (backward)`,
    );
    return [gq, gk, gv];
  });
}
