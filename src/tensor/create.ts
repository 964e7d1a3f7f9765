/**
 * Tensor factories: from host values, zeros / ones / filled, seeded random (uniform, normal,
 * truncated normal) and ranges (float32 or int32 for indexing). Random values are drawn on the
 * host from `Rng`, so every backend sees the same numbers for the same seed. Constant float32
 * tensors are filled on the device (src/ops/raw.ts `full`, the one constant creator; the ops
 * `full` is the same function).
 * @module
 */
import { type DType, getDefaultDevice, Tensor } from "./tensor.ts";
import { checkShape, fmtShape, numel, type Shape } from "./shape.ts";
import { defaultRng, type Rng } from "./rng.ts";
import type { Device } from "./storage.ts";
import { full } from "../ops/raw.ts";

/** Creation options. */
export interface CreateOptions {
  dtype?: DType;
  device?: Device;
  requiresGrad?: boolean;
}

function make(shape: Shape, values: ArrayLike<number> | null, opts: CreateOptions): Tensor {
  checkShape(shape);
  const t = Tensor.empty(shape, opts.dtype ?? "float32", opts.device ?? getDefaultDevice());
  if (values) t.set(values);
  if (opts.requiresGrad) t.requiresGrad = true;
  return t;
}

/** A tensor holding `values` (flat, row-major) with `shape` (default: 1-D). */
export function tensor(values: ArrayLike<number>, shape?: Shape, opts: CreateOptions = {}): Tensor {
  const s = shape ?? [values.length];
  if (numel(s) !== values.length) {
    throw new Error(`tensor: ${values.length} values do not fill shape ${fmtShape(s)}`);
  }
  return make(s, values, opts);
}

/** A tensor of zeros. */
export function zeros(shape: Shape, opts: CreateOptions = {}): Tensor {
  return make(shape, null, opts).zero_();
}

/** A tensor filled with `v` (float32: filled on the device, no host copy; int32: from the host). */
export function filled(shape: Shape, v: number, opts: CreateOptions = {}): Tensor {
  checkShape(shape, "filled"); // before any host array is sized from it
  if ((opts.dtype ?? "float32") === "int32") return make(shape, new Int32Array(numel(shape)).fill(v), opts);
  const t = full(shape, v, opts.device ?? getDefaultDevice());
  if (opts.requiresGrad) t.requiresGrad = true;
  return t;
}

/** A tensor of ones. */
export function ones(shape: Shape, opts: CreateOptions = {}): Tensor {
  return filled(shape, 1, opts);
}

let skipInit = 0;

/**
 * Runs `fn` with the random initialisers (rand, randn, truncNormal, and the layers that draw
 * their own numbers) making zeros without drawing: for a model whose every parameter is then
 * overwritten from a checkpoint (a strict `loadStateDict`), where drawing ~16 M normals in JS
 * would cost seconds. The generators' states are left where they were.
 */
export function withoutRandomInit<T>(fn: () => T): T {
  skipInit++;
  try {
    return fn();
  } finally {
    skipInit--;
  }
}

/** True inside `withoutRandomInit` (layers that draw on the host check it). */
export function randomInitSkipped(): boolean {
  return skipInit > 0;
}

/** Uniform values in [lo, hi). */
export function rand(
  shape: Shape,
  rng: Rng = defaultRng(),
  lo = 0,
  hi = 1,
  opts: CreateOptions = {},
): Tensor {
  if (skipInit > 0) return zeros(shape, opts);
  const v = new Float32Array(numel(shape));
  for (let i = 0; i < v.length; i++) v[i] = lo + (hi - lo) * rng.uniform();
  return make(shape, v, opts);
}

/** Normal(mean, std) values. */
export function randn(
  shape: Shape,
  rng: Rng = defaultRng(),
  std = 1,
  mean = 0,
  opts: CreateOptions = {},
): Tensor {
  if (skipInit > 0) return zeros(shape, opts);
  const v = new Float32Array(numel(shape));
  for (let i = 0; i < v.length; i++) v[i] = mean + std * rng.normal();
  return make(shape, v, opts);
}

/** Bounds and centre of `truncNormal` (PyTorch's `trunc_normal_` arguments). */
export interface TruncNormalOptions extends CreateOptions {
  /** Mean of the normal (default 0). */
  mean?: number;
  /** Lower cut, absolute (default -2). */
  a?: number;
  /** Upper cut, absolute (default 2). */
  b?: number;
}

/**
 * N(mean, std²) restricted to [a, b] by resampling. Defaults are PyTorch's
 * `torch.nn.init.trunc_normal_`: mean 0, std 1, a = -2, b = 2, and like PyTorch the bounds are
 * absolute, not in units of std (`init.truncNormal` passes ±2 std for the ViT init).
 */
export function truncNormal(
  shape: Shape,
  rng: Rng = defaultRng(),
  std = 1,
  opts: TruncNormalOptions = {},
): Tensor {
  const mean = opts.mean ?? 0, a = opts.a ?? -2, b = opts.b ?? 2;
  if (!(std > 0) || !(a < b) || !Number.isFinite(mean)) {
    throw new Error(`truncNormal: need std > 0 and a < b, got mean ${mean}, std ${std}, [${a}, ${b}]`);
  }
  if (skipInit > 0) return zeros(shape, opts);
  const v = new Float32Array(numel(shape));
  for (let i = 0; i < v.length; i++) {
    let x = NaN;
    for (let tries = 0; !(x >= a && x <= b); tries++) {
      if (tries === 10000) {
        throw new Error(`truncNormal: [${a}, ${b}] holds almost no mass of N(${mean}, ${std}²)`);
      }
      x = mean + std * rng.normal();
    }
    v[i] = x;
  }
  return make(shape, v, opts);
}

/**
 * [start, start+step, ...) below `end` (`arange(n)` is 0..n-1). With `{dtype: "int32"}` the
 * values are exact integers (ids / positions for embedding and gather); the arguments must
 * then be integers.
 */
export function arange(start: number, end?: number, step = 1, opts: CreateOptions = {}): Tensor {
  if (end === undefined) [start, end] = [0, start];
  if (!(step !== 0 && Number.isFinite(step) && Number.isFinite(start) && Number.isFinite(end))) {
    throw new Error(`arange: bad range start ${start}, end ${end}, step ${step}`);
  }
  const n = Math.max(0, Math.ceil((end - start) / step));
  if (opts.dtype === "int32") {
    const last = start + (n - 1) * step;
    if (
      ![start, end, step].every(Number.isInteger) || Math.abs(start) > 2 ** 31 - 1 ||
      Math.abs(last) > 2 ** 31 - 1
    ) {
      throw new Error(
        `arange: int32 needs integer start/end/step within int32, got ${start}, ${end}, ${step}`,
      );
    }
    const v = new Int32Array(n);
    for (let i = 0; i < n; i++) v[i] = start + i * step;
    return make([n], v, opts);
  }
  const v = new Float32Array(n);
  for (let i = 0; i < n; i++) v[i] = start + i * step;
  return make([n], v, opts);
}

/** int32 tensor from integer values (token ids, labels). */
export function intTensor(values: ArrayLike<number>, shape?: Shape, device?: Device): Tensor {
  return tensor(values, shape, { dtype: "int32", device });
}
