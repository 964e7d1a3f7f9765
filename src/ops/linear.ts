/**
 * linear(x, w, b) = x @ wᵀ + b over the last axis of x: x (..., in), w (out, in), b (out).
 * One GEMM with the bias pre-broadcast into the output (beta = 1), so the bias add is free;
 * backward is two GEMMs (NN for dx, TN for dw) and a column sum for db.
 * @module
 */
import { Tensor } from "../tensor/tensor.ts";
import { fmtShape, stridesOf } from "../tensor/shape.ts";
import { record } from "../autograd/tape.ts";
import { autocastScope, nodeAutocast } from "../backend/cuda.ts";
import { sameDevice } from "./elementwise.ts";
import { gemmInto } from "./matmul.ts";
import { stridedCopy } from "./shape_ops.ts";
import { sum } from "./reduce.ts";

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
  const rows = x.size / (inF || 1);
  const out = Tensor.empty([...x.shape.slice(0, -1), outF], "float32", x.device);
  if (out.size > 0) {
    if (b) stridedCopy([rows, outF], b, [0, 1], 0, out, [outF, 1], 0);
    if (inF === 0) { if (!b) out.zero_(); }
    else gemmInto(x, w, out, false, true, 1, rows, outF, inF, 0, 0, 1, b ? 1 : 0);
  }
  const inputs = b ? [x, w, b] : [x, w];
  const fwdAutocast = nodeAutocast(out.device);
  return record(out, "linear", inputs, (g) => {
    using _autocast = autocastScope(fwdAutocast); // backward GEMMs in the forward's precision
    let gx: Tensor | null = null, gw: Tensor | null = null, gb: Tensor | null = null;
    if (x.requiresGrad) {
      gx = Tensor.empty(x.shape, "float32", x.device);
      gemmInto(g, w, gx, false, false, 1, rows, inF, outF, 0, 0);
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
