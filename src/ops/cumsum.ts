/**
 * `cumsum(x, axis)`: running sum along an axis (torch.cumsum), accumulated in double; its
 * gradient is the reverse running sum of the incoming gradient.
 * Kernels: native/cumsum.cpp, kernels/cumsum.cu (`ft_cumsum`).
 * @module
 */
import { Tensor } from "../tensor/tensor.ts";
import { fmtShape, normAxis, numel } from "../tensor/shape.ts";
import { kernels } from "../backend/dispatch.ts";
import { check } from "../backend/status.ts";
import { record } from "../autograd/tape.ts";

/** FFI signature of the scan kernel (same name in the CPU and CUDA libraries). */
export const CUMSUM_SYMBOLS = {
  // outer, n, inner, reverse (0 prefix / 1 suffix), x (outer,n,inner), y (outer,n,inner)
  ft_cumsum: {
    parameters: [
      /* outer */ "i64",
      /* n */ "i64",
      /* inner */ "i64",
      /* reverse 0: prefix sums, 1: suffix sums */ "i32",
      /* x (outer, n, inner) */ "pointer",
      /* y */ "pointer",
    ],
    result: "i32",
  },
} satisfies Deno.ForeignLibraryInterface;
const k = kernels(CUMSUM_SYMBOLS);

/** Prefix sums of x along `axis`. */
export function cumsum(x: Tensor, axis: number): Tensor {
  if (x.dtype !== "float32") {
    throw new Error(`cumsum: x ${fmtShape(x.shape)} must be float32, got ${x.dtype}`);
  }
  if (x.ndim === 0) throw new Error("cumsum: x must have at least one dim, got a scalar");
  const ax = normAxis(axis, x.ndim, "cumsum");
  const dims = [
    BigInt(numel(x.shape.slice(0, ax))),
    BigInt(x.shape[ax]),
    BigInt(numel(x.shape.slice(ax + 1))),
  ] as const;
  const scan = (src: Tensor, reverse: number) => {
    const out = Tensor.empty(x.shape, "float32", x.device);
    check(
      k(x.device).ft_cumsum(...dims, reverse, src.ptr, out.ptr),
      () => `cumsum x ${fmtShape(x.shape)} axis ${ax}`,
    );
    return out;
  };
  return record(scan(x, 0), "cumsum", [x], (g) => [scan(g, 1)]);
}
