/**
 * Matrix products: `matmul(a, b, {transA, transB})` for (..., M, K) @ (..., K, N) with
 * broadcast batch axes, and `linear(x, w, b)` = x @ wᵀ + b (PyTorch weight layout (out, in)).
 * Transposes are flags of the GEMM kernel, never copies; a 2-D right operand folds the
 * left operand's batch into M so the whole product is one large GEMM.
 * Kernels: native/gemm.cpp (`ft_gemm_f32`, `ft_gemm_batched_f32`), kernels/gemm.cu.
 * @module
 */
import { Tensor } from "../tensor/tensor.ts";
import { broadcastShapes, fmtShape, numel } from "../tensor/shape.ts";
import { kernels } from "../backend/dispatch.ts";
import { autocastScope, nodeAutocast } from "../backend/cuda.ts";
import { check } from "../backend/status.ts";
import { recordReads } from "../autograd/tape.ts";
import { sameDevice } from "./elementwise.ts";
import { sumToShape } from "./reduce.ts";
import { expand } from "./shape_ops.ts";

/** FFI signatures of this op's kernels (same names in the CPU and CUDA libraries). */
export const MATMUL_SYMBOLS = {
  ft_gemm_batched_f32: {
    parameters: [
      /* transA */ "i32",
      /* transB */ "i32",
      /* batch */ "i64",
      /* M */ "i64",
      /* N */ "i64",
      /* K */ "i64",
      /* alpha */ "f32",
      /* A batch x (M,K) or (K,M), i-th at A + i*strideA */ "pointer",
      /* lda */ "i64",
      /* strideA */ "i64",
      /* B batch x (K,N) or (N,K), i-th at B + i*strideB */ "pointer",
      /* ldb */ "i64",
      /* strideB */ "i64",
      /* beta */ "f32",
      /* C batch x (M,N), i-th at C + i*strideC */ "pointer",
      /* ldc */ "i64",
      /* strideC */ "i64",
    ],
    result: "i32",
  },
} satisfies Deno.ForeignLibraryInterface;
const k = kernels(MATMUL_SYMBOLS);

/** Options of `matmul`: read a or b transposed (their last two axes swapped). */
export interface MatmulOptions {
  transA?: boolean;
  transB?: boolean;
}

/**
 * Raw batched GEMM into `out` (no autograd): out = alpha * op(a) @ op(b) + beta * out.
 * a: (batchA, rowsA, colsA), b: (batchB, ...), batch strides 0 broadcast.
 */
export function gemmInto(
  a: Tensor,
  b: Tensor,
  out: Tensor,
  transA: boolean,
  transB: boolean,
  batch: number,
  M: number,
  N: number,
  K: number,
  strideA: number,
  strideB: number,
  alpha = 1,
  beta = 0,
): void {
  const lda = transA ? M : K, ldb = transB ? K : N;
  check(
    k(out.device).ft_gemm_batched_f32(
      transA ? 1 : 0,
      transB ? 1 : 0,
      BigInt(batch),
      BigInt(M),
      BigInt(N),
      BigInt(K),
      alpha,
      a.ptr,
      BigInt(lda),
      BigInt(strideA),
      b.ptr,
      BigInt(ldb),
      BigInt(strideB),
      beta,
      out.ptr,
      BigInt(N),
      BigInt(M * N),
    ),
    () => `matmul ${fmtShape(a.shape)}${transA ? "ᵀ" : ""} x ${fmtShape(b.shape)}${transB ? "ᵀ" : ""}`,
  );
}

/** Batched matrix product with broadcasting over leading axes. */
export function matmul(a: Tensor, b: Tensor, opts: MatmulOptions = {}): Tensor {
  const transA = !!opts.transA, transB = !!opts.transB;
  sameDevice("matmul", a, b);
  if (a.ndim < 2 || b.ndim < 2) {
    throw new Error(`matmul: operands need 2+ dims, got ${fmtShape(a.shape)} and ${fmtShape(b.shape)}`);
  }
  const [ar, ac] = a.shape.slice(-2), [br, bc] = b.shape.slice(-2);
  const M = transA ? ac : ar, Ka = transA ? ar : ac;
  const Kb = transB ? bc : br, N = transB ? br : bc;
  if (Ka !== Kb) {
    throw new Error(
      `matmul: inner sizes differ: ${fmtShape(a.shape)}${transA ? "ᵀ" : ""} x ${fmtShape(b.shape)}${
        transB ? "ᵀ" : ""
      }`,
    );
  }
  const K = Ka;
  const batchShape = broadcastShapes(a.shape.slice(0, -2), b.shape.slice(0, -2), "matmul");
  const batch = numel(batchShape);
  const out = Tensor.empty([...batchShape, M, N], "float32", a.device);
  if (out.size > 0) {
    const nA = numel(a.shape.slice(0, -2)), nB = numel(b.shape.slice(0, -2));
    if (K === 0) out.zero_();
    else if (nB === 1 && !transA && batch > 1 && nA === batch) {
      // (batch*M, K) @ (K, N): one big GEMM
      gemmInto(a, b, out, false, transB, 1, batch * M, N, K, 0, 0);
    } else {
      const ea = nA === batch || nA === 1 ? a : expand(a, [...batchShape, ar, ac]);
      const eb = nB === batch || nB === 1 ? b : expand(b, [...batchShape, br, bc]);
      gemmInto(ea, eb, out, transA, transB, batch, M, N, K, nA === 1 ? 0 : M * K, nB === 1 ? 0 : K * N);
    }
  }
  const fwdAutocast = nodeAutocast(out.device);
  return recordReads(out, "matmul", [a, b], [a, b], (g) => {
    using _autocast = autocastScope(fwdAutocast); // backward GEMMs in the forward's precision
    let ga: Tensor | null = null, gb: Tensor | null = null;
    if (a.requiresGrad) {
      ga = transA ? matmul(b, g, { transA: transB, transB: true }) : matmul(g, b, { transB: !transB });
      ga = sumToShape(ga, a.shape);
    }
    if (b.requiresGrad) {
      gb = transB ? matmul(g, a, { transA: true, transB: transA }) : matmul(a, g, { transA: !transA });
      gb = sumToShape(gb, b.shape);
    }
    return [ga, gb];
  });
}
