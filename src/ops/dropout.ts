/**
 * Dropout (inverted): in training, each element is zeroed with probability p and the rest
 * scaled by 1/(1-p); in eval it is the identity (returns x itself). The mask is drawn natively
 * from a counter-based generator (native/dropout.cpp, kernels/dropout.cu: splitmix64 of
 * seed + element index), seeded with 64 bits from the `Rng`, so the same seed gives the same
 * mask on every backend, nothing is drawn in JavaScript or uploaded, and the mask is never
 * stored: the backward re-applies it to the gradient from the seed.
 * @module
 */
import { Tensor } from "../tensor/tensor.ts";
import { fmtShape } from "../tensor/shape.ts";
import { defaultRng, type Rng } from "../tensor/rng.ts";
import { kernels } from "../backend/dispatch.ts";
import { check } from "../backend/status.ts";
import { recordReads } from "../autograd/tape.ts";

const k = kernels(
  {
    // (n, p, seed, x (n), y (n)) -> status; y = x * mask(seed, p)
    ft_dropout_apply: { parameters: ["i64", "f32", "u64", "pointer", "pointer"], result: "i32" },
  } satisfies Deno.ForeignLibraryInterface,
);

/** Options of `dropout`. */
export interface DropoutOptions {
  /** Apply dropout (default true); false returns x unchanged. */
  training?: boolean;
  /** Generator for the mask seed (default: the global seeded generator). */
  rng?: Rng;
}

/** y = x * mask(seed, p) on x's device (no autograd). */
export function dropoutApply(x: Tensor, p: number, seed: bigint): Tensor {
  const out = Tensor.empty(x.shape, "float32", x.device);
  check(
    k(x.device).ft_dropout_apply(BigInt(x.size), p, seed, x.ptr, out.ptr),
    () => `dropout ${fmtShape(x.shape)}`,
  );
  return out;
}

/** The 64-bit mask seed a dropout call takes from `rng` (two 32-bit draws). */
export function dropoutSeed(rng: Rng): bigint {
  const hi = rng.nextU32(), lo = rng.nextU32();
  return (BigInt(hi) << 32n) | BigInt(lo);
}

/** Inverted dropout with drop probability `p` in [0, 1]. */
export function dropout(x: Tensor, p: number, opts: DropoutOptions = {}): Tensor {
  if (!(p >= 0 && p <= 1)) throw new Error(`dropout: p must be in [0, 1], got ${p} (x ${fmtShape(x.shape)})`);
  if (x.dtype !== "float32") {
    throw new Error(`dropout: x ${fmtShape(x.shape)} must be float32, got ${x.dtype}`);
  }
  if (opts.training === false || p === 0) return x;
  const seed = dropoutSeed(opts.rng ?? defaultRng());
  const out = dropoutApply(x, p, seed);
  return recordReads(out, "dropout", [x], [], (g) => [dropoutApply(g, p, seed)]);
}
