/**
 * Tensor factories: from host values, zeros / ones / full, seeded random (uniform, normal,
 * truncated normal) and ranges. Random values are drawn on the host from `Rng`, so every
 * backend sees the same numbers for the same seed.
 * @module
 */
import { type DType, getDefaultDevice, Tensor } from "./tensor.ts";
import { checkShape, fmtShape, numel, type Shape } from "./shape.ts";
import { defaultRng, type Rng } from "./rng.ts";
import type { Device } from "./storage.ts";

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

/** A tensor filled with `v` (host fill; see ops `full` for a device-side fill). */
export function filled(shape: Shape, v: number, opts: CreateOptions = {}): Tensor {
  checkShape(shape, "filled"); // before the host array is sized from it
  return make(shape, new Float32Array(numel(shape)).fill(v), opts);
}

/** A tensor of ones. */
export function ones(shape: Shape, opts: CreateOptions = {}): Tensor {
  return filled(shape, 1, opts);
}

/** Uniform values in [lo, hi). */
export function rand(
  shape: Shape,
  rng: Rng = defaultRng(),
  lo = 0,
  hi = 1,
  opts: CreateOptions = {},
): Tensor {
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
  const v = new Float32Array(numel(shape));
  for (let i = 0; i < v.length; i++) v[i] = mean + std * rng.normal();
  return make(shape, v, opts);
}

/** Normal(0, std) truncated at ±2 std. */
export function truncNormal(
  shape: Shape,
  rng: Rng = defaultRng(),
  std = 1,
  opts: CreateOptions = {},
): Tensor {
  const v = new Float32Array(numel(shape));
  for (let i = 0; i < v.length; i++) v[i] = rng.truncNormal(std);
  return make(shape, v, opts);
}

/** [start, start+step, ...) below `end`. */
export function arange(start: number, end?: number, step = 1, opts: CreateOptions = {}): Tensor {
  if (end === undefined) [start, end] = [0, start];
  const n = Math.max(0, Math.ceil((end - start) / step));
  const v = new Float32Array(n);
  for (let i = 0; i < n; i++) v[i] = start + i * step;
  return make([n], v, opts);
}

/** int32 tensor from integer values (token ids, labels). */
export function intTensor(values: ArrayLike<number>, shape?: Shape, device?: Device): Tensor {
  return tensor(values, shape, { dtype: "int32", device });
}
