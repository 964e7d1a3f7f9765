/**
 * Embedding lookup: `embedding(weight (V, D), ids int32 (...))` -> (..., D). Forward gathers
 * rows; backward scatter-adds into a dense (V, D) gradient (thread-safe, deterministic on the
 * CPU). With `paddingIdx`, positions holding that id send no gradient (PyTorch's padding_idx).
 * An out-of-range id throws an error naming the id, its position and V.
 * Kernels: native/embedding.cpp (`ft_embedding_fwd`, `ft_embedding_bwd`).
 * @module
 */
import { Tensor } from "../tensor/tensor.ts";
import { fmtShape } from "../tensor/shape.ts";
import { kernels } from "../backend/dispatch.ts";
import { check } from "../backend/status.ts";
import { recordReads } from "../autograd/tape.ts";

/** FFI signatures of this op's kernels (same names in the CPU and CUDA libraries). */
export const EMBEDDING_SYMBOLS = {
  ft_embedding_fwd: {
    parameters: [
      /* N */ "i64",
      /* V */ "i64",
      /* D */ "i64",
      /* weight (V, D) */ "pointer",
      /* ids (N) */ "pointer",
      /* out (N, D) */ "pointer",
      /* bad */ "buffer",
    ],
    result: "i32",
  },
  ft_embedding_bwd: {
    parameters: [
      /* N */ "i64",
      /* V */ "i64",
      /* D */ "i64",
      /* ids (N) */ "pointer",
      /* g (N, D) */ "pointer",
      /* gw (V, D) */ "pointer",
      /* accumulate */ "i32",
      /* pad */ "i64",
      /* bad */ "buffer",
    ],
    result: "i32",
  },
} satisfies Deno.ForeignLibraryInterface;
const k = kernels(EMBEDDING_SYMBOLS);

/** Options of `embedding`. */
export interface EmbeddingOpOptions {
  /** Id whose positions get no gradient (PyTorch's padding_idx); default none. */
  paddingIdx?: number;
}

/** Rows of `weight` (V, D) at `ids` (any shape, int32) -> (...ids.shape, D). */
export function embedding(weight: Tensor, ids: Tensor, opts: EmbeddingOpOptions = {}): Tensor {
  const desc = `weight ${fmtShape(weight.shape)}, ids ${fmtShape(ids.shape)}`;
  if (weight.ndim !== 2 || weight.dtype !== "float32") {
    throw new Error(`embedding: ${desc}: expected a float32 weight (V, D)`);
  }
  if (ids.dtype !== "int32") throw new Error(`embedding: ${desc}: ids must be int32, got ${ids.dtype}`);
  if (ids.device !== weight.device) throw new Error(`embedding: ${desc}: tensors on different devices`);
  const [V, D] = weight.shape, N = ids.size;
  const pad = opts.paddingIdx ?? -1;
  if (opts.paddingIdx !== undefined && (!Number.isInteger(pad) || pad < 0 || pad >= V)) {
    throw new Error(`embedding: ${desc}: paddingIdx ${opts.paddingIdx} out of range [0, ${V})`);
  }
  const out = Tensor.empty([...ids.shape, D], "float32", weight.device);
  const bad = new Int32Array(2);
  const st = k(weight.device).ft_embedding_fwd(
    BigInt(N),
    BigInt(V),
    BigInt(D),
    weight.ptr,
    ids.ptr,
    out.ptr,
    bad,
  );
  if (st !== 0) {
    out.dispose();
    if (st === 1 && N > 0 && (bad[1] < 0 || bad[1] >= V)) {
      throw new Error(
        `embedding: ${desc}: id ${bad[1]} at position ${bad[0]} is out of range for V=${V} rows`,
      );
    }
    check(st, () => `embedding ${desc}`);
  }
  return recordReads(out, "embedding", [weight], [ids], (g) => {
    const gw = Tensor.empty(weight.shape, "float32", weight.device);
    check(
      k(weight.device).ft_embedding_bwd(
        BigInt(N),
        BigInt(V),
        BigInt(D),
        ids.ptr,
        g.ptr,
        gw.ptr,
        0,
        BigInt(pad),
        bad,
      ),
      () => `embedding backward ${desc}`,
    );
    return [gw];
  });
}
