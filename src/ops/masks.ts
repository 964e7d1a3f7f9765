/**
 * Triangular 0/1 masks (float32), like torch.tril / torch.triu applied to ones:
 * `tril(rows, cols, k)` is 1 where col ≤ row + k, `triu(rows, cols, k)` where col ≥ row + k.
 * `tril(T, T)` is the causal mask; with k = Tk − Tq it is the bottom-right aligned one.
 * Kernels: native/masks.cpp, kernels/masks.cu (`ft_tri_mask`).
 * @module
 */
import { getDefaultDevice, Tensor } from "../tensor/tensor.ts";
import type { Device } from "../tensor/storage.ts";
import { kernels } from "../backend/dispatch.ts";
import { check } from "../backend/status.ts";

/** FFI signature of the mask kernel (same name in the CPU and CUDA libraries). */
export const MASKS_SYMBOLS = {
  // rows, cols, k (diagonal offset), upper (0 tril / 1 triu), out (rows, cols)
  ft_tri_mask: {
    parameters: [
      /* rows */ "i64",
      /* cols */ "i64",
      /* k diagonal offset */ "i64",
      /* upper 0: tril, 1: triu */ "i32",
      /* out */ "pointer",
    ],
    result: "i32",
  },
} satisfies Deno.ForeignLibraryInterface;
const kk = kernels(MASKS_SYMBOLS);

function tri(op: string, rows: number, cols: number, k: number, upper: number, device: Device): Tensor {
  for (const [name, v] of [["rows", rows], ["cols", cols]] as const) {
    if (!Number.isInteger(v) || v < 0) {
      throw new Error(`${op}: ${name} must be a non-negative integer, got ${v}`);
    }
  }
  if (!Number.isInteger(k)) throw new Error(`${op}: k must be an integer, got ${k}`);
  const out = Tensor.empty([rows, cols], "float32", device);
  check(
    kk(device).ft_tri_mask(BigInt(rows), BigInt(cols), BigInt(k), upper, out.ptr),
    () => `${op} (${rows},${cols})`,
  );
  return out;
}

/** (rows, cols) float32: 1 where col ≤ row + k, else 0. */
export function tril(rows: number, cols: number, k = 0, device: Device = getDefaultDevice()): Tensor {
  return tri("tril", rows, cols, k, 0, device);
}

/** (rows, cols) float32: 1 where col ≥ row + k, else 0. */
export function triu(rows: number, cols: number, k = 0, device: Device = getDefaultDevice()): Tensor {
  return tri("triu", rows, cols, k, 1, device);
}
