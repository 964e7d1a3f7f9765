/**
 * linear(x, w, b) = x @ wᵀ + b over the last axis of x: x (..., in), w (out, in), b (out).
 * CPU: one GEMM with the bias pre-broadcast into the output (beta = 1). CUDA: `ft_cuda_gemm_ex`
 * adds the bias in the GEMM epilogue, and under autocast a module weight (a named leaf) is packed
 * to 16-bit once per update (PackedWeightCache, invalidated by Storage.version) for the forward
 * (Wᵀ layout) and the input-gradient GEMM (W layout) instead of on every call.
 * Backward: two GEMMs (NN for dx, TN for dw) and a column sum for db.
 * Tests: tests/ops/linear_test.ts, tests/cuda/matmul_test.ts (GPU), tests/cuda/packed_weights_test.ts.
 * @module
 */
import { Tensor } from "../tensor/tensor.ts";
import { fmtShape, stridesOf } from "../tensor/shape.ts";
import { recordReads } from "../autograd/tape.ts";
import { type Autocast, autocastScope, nodeAutocast } from "../backend/cuda.ts";
import { kernels } from "../backend/dispatch.ts";
import { check } from "../backend/status.ts";
import { packedWeights } from "../backend/packed_weights.ts";
import { Storage } from "../tensor/storage.ts";
import { sameDevice } from "./elementwise.ts";
import { gemmInto } from "./matmul.ts";
import { stridedCopy } from "./shape_ops.ts";
import { sum } from "./reduce.ts";

/** CUDA-only entry points of the fused linear path (optional: an older library falls back). */
export const LINEAR_CUDA_SYMBOLS = {
  ft_cuda_gemm_ex: {
    parameters: [
      /* transA */ "i32",
      /* transB */ "i32",
      /* batch */ "i64",
      /* M */ "i64",
      /* N */ "i64",
      /* K */ "i64",
      /* alpha */ "f32",
      /* A batch x (M,K) or (K,M) */ "pointer",
      /* lda */ "i64",
      /* strideA */ "i64",
      /* B batch x (K,N) or (N,K) (unread when Bp is given) */ "pointer",
      /* ldb */ "i64",
      /* strideB */ "i64",
      /* Bp (N, round_up(K,64)) 16-bit packed op(B) or null */ "pointer",
      /* bias (N) or null */ "pointer",
      /* beta */ "f32",
      /* C batch x (M,N) */ "pointer",
      /* ldc */ "i64",
      /* strideC */ "i64",
    ],
    result: "i32",
    optional: true,
  },
  ft_cuda_pack_16: {
    parameters: [
      /* dtype 1 bf16 | 2 fp16 */ "i32",
      /* rows */ "i64",
      /* K */ "i64",
      /* src fp32, (r, k) at src[r*sr + k*sk] */ "pointer",
      /* sr */ "i64",
      /* sk */ "i64",
      /* dst (rows, round_up(K,64)) 16-bit */ "pointer",
    ],
    result: "i32",
    optional: true,
  },
} satisfies Deno.ForeignLibraryInterface;
const kc = kernels(LINEAR_CUDA_SYMBOLS);

// Bound of the packed-weight cache (MiB; FT_PACKED_WEIGHTS_MIB, 0 turns the cache off).
const PACKED_MIB = Number(Deno.env.get("FT_PACKED_WEIGHTS_MIB") ?? 2048);

/**
 * The cached 16-bit packing of op(B) for weight w (out, in) under autocast `mode`: "nt" is Wᵀ
 * (rows = out, K = in), "nn" is W (rows = in, K = out). Null when not cacheable (not a module
 * weight, cache off, or the library lacks the entry points).
 */
function packedWeight(w: Tensor, mode: Autocast | null, layout: "nt" | "nn"): Storage | null {
  if (mode === null || mode === "off" || w.node !== null || w.name === undefined || !(PACKED_MIB > 0)) {
    return null;
  }
  const pack = kc("cuda").ft_cuda_pack_16;
  if (!pack) return null;
  const [outF, inF] = w.shape;
  const rows = layout === "nt" ? outF : inF, K = layout === "nt" ? inF : outF;
  const bytes = rows * Math.ceil(K / 64) * 64 * 2;
  const cache = packedWeights((n) => Storage.alloc(n, "cuda"), PACKED_MIB * 2 ** 20);
  return cache.get(w.storage, `${mode} ${layout} ${outF}x${inF}`, bytes, (dst) => {
    const [sr, sk] = layout === "nt" ? [inF, 1] : [1, inF];
    check(
      pack(mode === "bf16" ? 1 : 2, BigInt(rows), BigInt(K), w.ptr, BigInt(sr), BigInt(sk), dst.ptr),
      () => `linear: packing weight ${fmtShape(w.shape)} (${mode})`,
    );
  });
}

/**
 * CUDA GEMM with the bias in the epilogue and a cached packed weight: C(rows, N) = op(A) @ op(W) + bias.
 * Returns false when the library lacks ft_cuda_gemm_ex (the caller uses the generic path).
 */
function cudaGemm(
  a: Tensor,
  w: Tensor,
  out: Tensor,
  transB: boolean,
  M: number,
  N: number,
  K: number,
  bias: Tensor | null,
  mode: Autocast | null,
): boolean {
  const ex = kc("cuda").ft_cuda_gemm_ex;
  if (!ex) return false;
  const bp = packedWeight(w, mode, transB ? "nt" : "nn");
  check(
    ex(
      0,
      transB ? 1 : 0,
      1n,
      BigInt(M),
      BigInt(N),
      BigInt(K),
      1,
      a.ptr,
      BigInt(K),
      0n,
      w.ptr,
      BigInt(transB ? K : N),
      0n,
      bp ? bp.ptr : null,
      bias ? bias.ptr : null,
      0,
      out.ptr,
      BigInt(N),
      0n,
    ),
    () => `linear ${fmtShape(a.shape)} x ${fmtShape(w.shape)}${transB ? "ᵀ" : ""}`,
  );
  return true;
}

/** Fully connected layer: (..., in) -> (..., out). */
export function linear(x: Tensor, w: Tensor, b?: Tensor | null): Tensor {
  sameDevice("linear", x, w, ...(b ? [b] : []));
  const inF = x.shape[x.ndim - 1];
  if (w.ndim !== 2 || w.shape[1] !== inF || (b && (b.ndim !== 1 || b.shape[0] !== w.shape[0]))) {
    throw new Error(
      `linear: x ${fmtShape(x.shape)}, weight ${fmtShape(w.shape)}${
        b ? `, bias ${fmtShape(b.shape)}` : ""
      }: ` +
        `expected weight (out, ${inF}) and bias (out)`,
    );
  }
  const outF = w.shape[0];
  const rows = x.shape.slice(0, -1).reduce((a, n) => a * n, 1); // not size / in: in may be 0
  const out = Tensor.empty([...x.shape.slice(0, -1), outF], "float32", x.device);
  const fwdAutocast = nodeAutocast(out.device);
  if (out.size > 0) {
    // CUDA: bias in the GEMM epilogue (K = 0 included: C = bias), packed weight cached
    if (out.device !== "cuda" || !cudaGemm(x, w, out, true, rows, outF, inF, b ?? null, fwdAutocast)) {
      if (b) stridedCopy([rows, outF], b, [0, 1], 0, out, [outF, 1], 0);
      if (inF === 0) { if (!b) out.zero_(); }
      else gemmInto(x, w, out, false, true, 1, rows, outF, inF, 0, 0, 1, b ? 1 : 0);
    }
  }
  const inputs = b ? [x, w, b] : [x, w];
  // the backward reads x and w (the bias only by shape), not the output
  return recordReads(out, "linear", inputs, [x, w], (g) => {
    using _autocast = autocastScope(fwdAutocast); // backward GEMMs in the forward's precision
    let gx: Tensor | null = null, gw: Tensor | null = null, gb: Tensor | null = null;
    if (x.requiresGrad) {
      gx = Tensor.empty(x.shape, "float32", x.device);
      if (
        gx.size > 0 &&
        (gx.device !== "cuda" || !cudaGemm(g, w, gx, false, rows, inF, outF, null, fwdAutocast))
      ) {
        gemmInto(g, w, gx, false, false, 1, rows, inF, outF, 0, 0);
      }
    }
    if (w.requiresGrad) {
      gw = Tensor.empty(w.shape, "float32", w.device);
      gemmInto(g, x, gw, true, false, 1, outF, inF, rows, 0, 0);
    }
    if (b && b.requiresGrad) gb = sum(g.viewAs([rows, outF]), 0);
    return b ? [gx, gw, gb] : [gx, gw];
  });
}
void stridesOf;
