/**
 * Weight initialisers, all drawn on the host from a seeded `Rng` (same seed, same weights on
 * every backend). Fans follow PyTorch's `_calculate_fan_in_and_fan_out`: for a weight of
 * shape (out, in, ...kernel), fanIn = in * prod(kernel) and fanOut = out * prod(kernel).
 * @module
 */
import type { Tensor } from "../tensor/tensor.ts";
import { rand, randn, truncNormal as truncNormalT, zeros } from "../tensor/create.ts";
import { defaultRng, type Rng } from "../tensor/rng.ts";
import { fmtShape, numel, type Shape } from "../tensor/shape.ts";

/** fanIn / fanOut of a weight shape (needs 2+ dims; a 1-D shape counts as (n) -> fanIn = n). */
export function fans(shape: Shape): { fanIn: number; fanOut: number } {
  if (shape.length === 0) throw new Error("init: fans of a scalar shape are undefined");
  if (shape.length === 1) return { fanIn: shape[0], fanOut: shape[0] };
  const rf = numel(shape.slice(2));
  return { fanIn: shape[1] * rf, fanOut: shape[0] * rf };
}

/** Nonlinearities with a recommended gain (torch.nn.init.calculate_gain). */
export type Nonlinearity = "linear" | "sigmoid" | "tanh" | "relu" | "leaky_relu" | "selu";

/** torch.nn.init.calculate_gain; `param` is leaky_relu's negative slope (default 0.01). */
export function gain(nl: Nonlinearity, param?: number): number {
  switch (nl) {
    case "linear":
    case "sigmoid":
      return 1;
    case "tanh":
      return 5 / 3;
    case "relu":
      return Math.SQRT2;
    case "leaky_relu": {
      const a = param ?? 0.01;
      return Math.sqrt(2 / (1 + a * a));
    }
    case "selu":
      return 3 / 4;
  }
}

/** Xavier/Glorot uniform: U(-b, b), b = gain * sqrt(6 / (fanIn + fanOut)). */
export function xavierUniform(shape: Shape, rng: Rng = defaultRng(), g = 1): Tensor {
  const { fanIn, fanOut } = fans(shape);
  const b = g * Math.sqrt(6 / (fanIn + fanOut));
  return rand(shape, rng, -b, b);
}

/** Xavier/Glorot normal: N(0, std²), std = gain * sqrt(2 / (fanIn + fanOut)). */
export function xavierNormal(shape: Shape, rng: Rng = defaultRng(), g = 1): Tensor {
  const { fanIn, fanOut } = fans(shape);
  return randn(shape, rng, g * Math.sqrt(2 / (fanIn + fanOut)));
}

/** Options of the Kaiming (He) initialisers; defaults match torch.nn.init. */
export interface KaimingOptions {
  /** Negative slope of leaky_relu (default 0). */
  a?: number;
  /** Which fan to preserve (default fan_in). */
  mode?: "fan_in" | "fan_out";
  /** Nonlinearity for the gain (default leaky_relu, i.e. sqrt(2/(1+a²))). */
  nonlinearity?: Nonlinearity;
}

function kaimingStd(shape: Shape, o: KaimingOptions): number {
  const f = fans(shape);
  const fan = (o.mode ?? "fan_in") === "fan_in" ? f.fanIn : f.fanOut;
  return gain(o.nonlinearity ?? "leaky_relu", o.a ?? 0) / Math.sqrt(fan);
}

/** Kaiming/He uniform: U(-b, b), b = gain * sqrt(3 / fan). */
export function kaimingUniform(shape: Shape, rng: Rng = defaultRng(), o: KaimingOptions = {}): Tensor {
  const b = Math.sqrt(3) * kaimingStd(shape, o);
  return rand(shape, rng, -b, b);
}

/** Kaiming/He normal: N(0, (gain / sqrt(fan))²). */
export function kaimingNormal(shape: Shape, rng: Rng = defaultRng(), o: KaimingOptions = {}): Tensor {
  return randn(shape, rng, kaimingStd(shape, o));
}

/**
 * Truncated normal N(0, std²) cut at ±2 std (default std 0.02: ViT / BERT / SAM embeddings):
 * `create.truncNormal` (PyTorch's trunc_normal_, absolute bounds) with a = -2 std, b = 2 std.
 * Note timm's `trunc_normal_(std=.02)` cuts at ±2 absolute, i.e. hardly at all; the two agree
 * in distribution to within the 4.6% of mass beyond 2 std.
 */
export function truncNormal(shape: Shape, rng: Rng = defaultRng(), std = 0.02): Tensor {
  return truncNormalT(shape, rng, std, { a: -2 * std, b: 2 * std });
}

/** PyTorch's default Linear / Conv init: weight and bias ~ U(-1/sqrt(fanIn), 1/sqrt(fanIn)). */
export function torchDefault(shape: Shape, fanIn: number, rng: Rng = defaultRng()): Tensor {
  if (fanIn <= 0) throw new Error(`init: torch default for ${fmtShape(shape)} needs fanIn > 0`);
  const b = 1 / Math.sqrt(fanIn);
  return rand(shape, rng, -b, b);
}

// the one zeros / ones (src/tensor/create.ts), re-exported so `init.zeros` keeps working
export { ones, zeros } from "../tensor/create.ts";

/** Named weight schemes that layers accept as an option. */
export type WeightInit =
  | "torch"
  | "xavier_uniform"
  | "xavier_normal"
  | "kaiming_uniform"
  | "kaiming_normal"
  | "trunc_normal"
  | "zeros";

/** Builds a weight of `shape` with the named scheme (kaiming uses relu gain; trunc_normal std 0.02). */
export function initWeight(scheme: WeightInit, shape: Shape, rng: Rng = defaultRng()): Tensor {
  switch (scheme) {
    case "torch":
      return torchDefault(shape, fans(shape).fanIn, rng);
    case "xavier_uniform":
      return xavierUniform(shape, rng);
    case "xavier_normal":
      return xavierNormal(shape, rng);
    case "kaiming_uniform":
      return kaimingUniform(shape, rng, { nonlinearity: "relu" });
    case "kaiming_normal":
      return kaimingNormal(shape, rng, { nonlinearity: "relu" });
    case "trunc_normal":
      return truncNormal(shape, rng);
    case "zeros":
      return zeros(shape);
  }
}
