/** Shape arithmetic: sizes, strides, broadcasting, axis normalisation. */

/** A tensor shape, outermost axis first. */
export type Shape = readonly number[];

/** Number of elements. */
export function numel(shape: Shape): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Row-major strides in elements. */
export function stridesOf(shape: Shape): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i];
  }
  return s;
}

/** `(2,3,4)` style string for messages. */
export function fmtShape(shape: Shape): string {
  return `(${shape.join(",")})`;
}

/** Numpy broadcasting of two shapes; throws naming `op` and both shapes when incompatible. */
export function broadcastShapes(a: Shape, b: Shape, op = "broadcast"): number[] {
  const n = Math.max(a.length, b.length);
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    const da = a[a.length - n + i] ?? 1;
    const db = b[b.length - n + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) {
      throw new Error(`${op}: shapes ${fmtShape(a)} and ${fmtShape(b)} do not broadcast`);
    }
    out[i] = da === 1 ? db : da;
  }
  return out;
}

/** Element strides of `shape` read as if broadcast to `target` (0 on broadcast axes). */
export function broadcastStrides(shape: Shape, target: Shape): number[] {
  const s = stridesOf(shape);
  const off = target.length - shape.length;
  return target.map((_, i) => {
    const j = i - off;
    if (j < 0 || shape[j] === 1) return 0;
    return s[j];
  });
}

/** Normalises a possibly negative axis; throws naming `op` when out of range. */
export function normAxis(axis: number, ndim: number, op = "axis"): number {
  const a = axis < 0 ? axis + ndim : axis;
  if (!Number.isInteger(a) || a < 0 || a >= ndim) {
    throw new Error(`${op}: axis ${axis} out of range for ${ndim} dims`);
  }
  return a;
}

/**
 * Largest tensor, in bytes: 2^47 (128 TiB, the x86-64 user address space). Far below 2^63, so
 * byte counts stay exact in a JS number and never wrap in the int64 / size_t math of the
 * native allocators and kernels.
 */
export const MAX_TENSOR_BYTES = 2 ** 47;

/**
 * Checks a shape is a list of non-negative integers whose element count is a safe integer and
 * whose size at `elemBytes` per element is at most MAX_TENSOR_BYTES; throws naming `op` and the
 * shape. Every allocation goes through this before a byte count reaches native code.
 */
export function checkShape(shape: Shape, op = "tensor", elemBytes = 4): void {
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) throw new Error(`${op}: bad shape ${fmtShape(shape)}`);
  }
  if (shape.includes(0)) return; // empty, whatever the other axes
  let n = 1;
  for (const d of shape) {
    n *= d; // exact while <= 2^53; checked at every step so rounding cannot hide an overflow
    if (n > Number.MAX_SAFE_INTEGER) {
      throw new Error(`${op}: shape ${fmtShape(shape)} has more than 2^53 elements`);
    }
  }
  if (n * elemBytes > MAX_TENSOR_BYTES) {
    throw new Error(
      `${op}: shape ${fmtShape(shape)} has ${n} elements (${n * elemBytes} bytes), ` +
        `more than the ${MAX_TENSOR_BYTES}-byte (2^47) tensor limit`,
    );
  }
}

/**
 * Merges adjacent axes that are contiguous in every stride set (fewer, longer loops for the
 * native kernels). Size-1 axes are dropped. Returns at least one axis.
 */
export function coalesce(shape: Shape, strides: number[][]): { shape: number[]; strides: number[][] } {
  const outShape: number[] = [];
  const outStrides: number[][] = strides.map(() => []);
  for (let i = 0; i < shape.length; i++) {
    if (shape[i] === 1) continue;
    const k = outShape.length - 1;
    if (
      k >= 0 && strides.every((s, j) => outStrides[j][k] === s[i] * shape[i])
    ) {
      outShape[k] *= shape[i];
      strides.forEach((s, j) => (outStrides[j][k] = s[i]));
    } else {
      outShape.push(shape[i]);
      strides.forEach((s, j) => outStrides[j].push(s[i]));
    }
  }
  if (outShape.length === 0) return { shape: [1], strides: strides.map(() => [1]) };
  return { shape: outShape, strides: outStrides };
}
