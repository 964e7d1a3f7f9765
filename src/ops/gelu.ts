/**
 * GELU, fused forward and backward with vectorised native math (accurate to ~1e-6 relative):
 * `approximate: "none"` is the erf form x·Φ(x) (BERT, ViT, PyTorch's default); `"tanh"` is
 * 0.5x(1 + tanh(√(2/π)(x + 0.044715x³))) (T5's gated-gelu, "gelu_new").
 * Kernels: native/gelu.cpp (`ft_gelu_fwd`, `ft_gelu_bwd`).
 * @module
 */
import { Tensor } from "../tensor/tensor.ts";
import { fmtShape } from "../tensor/shape.ts";
import { kernels } from "../backend/dispatch.ts";
import { check } from "../backend/status.ts";
import { recordReads } from "../autograd/tape.ts";

/** FFI signatures of this op's kernels (same names in the CPU and CUDA libraries). */
export const GELU_SYMBOLS = {
  ft_gelu_fwd: {
    parameters: [
      /* n */ "i64",
      /* x (n) */ "pointer",
      /* y (n) */ "pointer",
      /* approx */ "i32",
    ],
    result: "i32",
  },
  ft_gelu_bwd: {
    parameters: [
      /* n */ "i64",
      /* x (n) */ "pointer",
      /* gy (n) */ "pointer",
      /* gx (n) */ "pointer",
      /* approx */ "i32",
    ],
    result: "i32",
  },
} satisfies Deno.ForeignLibraryInterface;
const k = kernels(GELU_SYMBOLS);

/** GELU of every element; `approximate` picks the erf ("none") or tanh form. */
export function gelu(x: Tensor, approximate: "none" | "tanh" = "none"): Tensor {
  if (x.dtype !== "float32") throw new Error(`gelu: x ${fmtShape(x.shape)} must be float32, got ${x.dtype}`);
  if (approximate !== "none" && approximate !== "tanh") {
    throw new Error(`gelu: approximate must be "none" or "tanh", got "${approximate}"`);
  }
  const approx = approximate === "tanh" ? 1 : 0;
  const out = Tensor.empty(x.shape, "float32", x.device);
  check(k(x.device).ft_gelu_fwd(BigInt(x.size), x.ptr, out.ptr, approx), () => `gelu x ${fmtShape(x.shape)}`);
  return recordReads(out, "gelu", [x], [x], (g) => {
    const gx = Tensor.empty(x.shape, "float32", x.device);
    check(
      k(x.device).ft_gelu_bwd(BigInt(x.size), x.ptr, g.ptr, gx.ptr, approx),
      () => `gelu backward x ${fmtShape(x.shape)}`,
    );
    return [gx];
  });
}
