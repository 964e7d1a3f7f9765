/**
 * Shared helpers of the CUDA tests: one module-level detection, `cudaTest` (ignored with one
 * clear line for the whole run when no device is present), CPU-vs-CUDA comparison of an op's
 * forward and gradients on the same seeded inputs, tolerances per dtype, and guard regions
 * around raw kernel outputs that catch out-of-bounds writes.
 * @module
 */
import { cudaRaw, type CudaStatus, cudaStatus, setCudaMath } from "../../src/backend/cuda.ts";
import { type Tensor, toDevice } from "../../src/tensor/tensor.ts";
import { tensor } from "../../src/tensor/create.ts";
import { tidy } from "../../src/tensor/scope.ts";
import { backward } from "../../src/autograd/tape.ts";
import { mul } from "../../src/ops/elementwise.ts";
import { sum } from "../../src/ops/reduce.ts";
import { assertClose, randArray } from "../helpers.ts";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** Result of probing for CUDA once per test module. */
export const CUDA: CudaStatus = cudaStatus();
/** True when CUDA tests must be skipped. */
export const NO_CUDA = !CUDA.available;

const HERE = dirname(fileURLToPath(import.meta.url));

function countCudaTests(): number {
  let n = 0;
  try {
    for (const e of Deno.readDirSync(HERE)) {
      if (!e.name.endsWith("_test.ts")) continue;
      n += (Deno.readTextFileSync(join(HERE, e.name)).match(/\bcudaTest\(/g) ?? []).length;
    }
  } catch {
    return -1;
  }
  return n;
}

// One line for the whole `deno test` run: test modules run in separate isolates of one
// process, so the first to create the per-process marker file prints.
function announce(): void {
  if (!NO_CUDA) return;
  let first = true;
  try {
    Deno.writeTextFileSync(`/tmp/ft_cuda_skip_${Deno.pid}`, "", { createNew: true });
  } catch (e) {
    if (e instanceof Deno.errors.AlreadyExists) first = false;
  }
  if (!first) return;
  const n = countCudaTests();
  console.log(`cuda: no device (${CUDA.reason}), ${n >= 0 ? n : "all"} CUDA tests skipped`);
}
announce();

/** Registers a CUDA test (ignored without a device). Math mode is reset to fp32/own before it. */
export function cudaTest(name: string, fn: () => void | Promise<void>): void {
  Deno.test({
    name: `cuda: ${name}`,
    ignore: NO_CUDA,
    fn() {
      setCudaMath({ autocast: "off", gemm: "own" });
      return fn();
    },
  });
}

/**
 * Tolerances per operand precision. Elementwise: |cuda - cpu| <= atol * scale + rtol * |cpu|,
 * where scale = 1 for pointwise ops and, for `scaled` sets, max(1, RMS of the reference): the error
 * of a sum or product grows with the size of its terms, not of its (possibly cancelling)
 * result (seen on an H200: a 70000-term fp32 column sum of ~4.04 off by 9e-4 at RMS ~150).
 * Plus a bound on ‖cuda - cpu‖ / ‖cpu‖.
 */
export const TOL = {
  /** fp32 pointwise: same formula, libm vs CUDA math (<= 2 ulp). */
  pointwise: { rtol: 1e-5, atol: 1e-6, norm: 1e-6, scaled: false },
  /** fp32 with reductions (other summation order). */
  fp32: { rtol: 2e-4, atol: 2e-5, norm: 3e-5, scaled: true },
  /** bf16 operands (8-bit mantissa), fp32 accumulation. */
  bf16: { rtol: 5e-2, atol: 3e-2, norm: 1e-2, scaled: true },
  /** fp16 operands (11-bit mantissa), fp32 accumulation. */
  fp16: { rtol: 1e-2, atol: 5e-3, norm: 2e-3, scaled: true },
} as const;
/** One tolerance set (`scaled` defaults to true: atol is relative to the reference's RMS). */
export type Tol = { rtol: number; atol: number; norm: number; scaled?: boolean };

/** Values of any tensor as a fresh host array. */
export function host(t: Tensor): Float32Array {
  return Float32Array.from(t.dtype === "int32" ? t.dataI32() : t.data());
}

/** ‖a - b‖ / ‖b‖ over finite entries of b. */
export function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let num = 0, den = 0;
  for (let i = 0; i < b.length; i++) {
    if (!Number.isFinite(b[i])) continue;
    num += (a[i] - b[i]) ** 2;
    den += b[i] ** 2;
  }
  return den === 0 ? Math.sqrt(num) : Math.sqrt(num / den);
}

/** Asserts closeness (elementwise rtol/atol, NaN/Inf in the same places, and the norm bound). */
export function expectClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  tol: Tol,
  what: string,
): void {
  let sq = 0, n = 0;
  for (let i = 0; i < expected.length; i++) {
    const e = expected[i], a = actual[i];
    if (Number.isNaN(e) !== Number.isNaN(a) || (!Number.isFinite(e) && !Number.isNaN(e) && a !== e)) {
      throw new Error(`${what}: NaN/Inf parity at [${i}]: cuda ${a}, cpu ${e}`);
    }
    if (Number.isFinite(e)) {
      sq += e * e;
      n++;
    }
  }
  // never below 1, so a scaled check is never tighter than the plain one
  const scale = tol.scaled === false ? 1 : Math.max(1, Math.sqrt(sq / Math.max(1, n)));
  assertClose(actual, expected, { rtol: tol.rtol, atol: tol.atol * scale, what });
  const r = relErr(actual, expected);
  if (!(r <= tol.norm)) throw new Error(`${what}: relative error ${r.toExponential(2)} > ${tol.norm}`);
}

/** An input of an op comparison: values (seeded) and whether it needs a gradient. */
export interface Input {
  shape: number[];
  values?: ArrayLike<number>;
  seed?: number;
  lo?: number;
  hi?: number;
  grad?: boolean;
  int?: boolean;
}

/**
 * Runs `f` on CPU and CUDA tensors holding the same values and compares the output and, for
 * inputs with `grad`, the gradients of sum(f(...) * R) for a fixed random R.
 */
export function compareOp(
  what: string,
  f: (...xs: Tensor[]) => Tensor,
  inputs: Input[],
  tol: Tol,
  gradTol: Tol = tol,
): void {
  tidy(() => {
    const vals = inputs.map((s, i) =>
      s.values ?? randArray(s.shape.reduce((a, b) => a * b, 1), s.seed ?? 11 + i, s.lo ?? -1, s.hi ?? 1)
    );
    const mk = (device: "cpu" | "cuda") =>
      inputs.map((s, i) => {
        const t = tensor(vals[i], s.shape, { dtype: s.int ? "int32" : "float32", device });
        if (s.grad) t.requireGrad();
        return t;
      });
    const xc = mk("cpu"), xg = mk("cuda");
    const yc = f(...xc), yg = f(...xg);
    if (yg.device !== "cuda") throw new Error(`${what}: output is on ${yg.device}`);
    expectClose(host(yg), host(yc), tol, `${what} forward`);
    if (!inputs.some((s) => s.grad)) return;
    const R = randArray(yc.size, 97, -1, 1);
    backward(sum(mul(yc, tensor(R, yc.shape))));
    backward(sum(mul(yg, tensor(R, yg.shape, { device: "cuda" }))));
    inputs.forEach((s, i) => {
      if (!s.grad) return;
      const gc = xc[i].grad, gg = xg[i].grad;
      if (!gc || !gg) throw new Error(`${what}: input ${i} got no gradient (cpu ${!!gc}, cuda ${!!gg})`);
      expectClose(host(gg), host(gc), gradTol, `${what} grad[${i}]`);
    });
    for (const t of [...xc, ...xg]) t.dispose();
  });
}

/** Copies a CPU tensor to CUDA. */
export function cuda(t: Tensor): Tensor {
  return toDevice(t, "cuda");
}

const GUARD = 1024; // floats of guard on each side of an output
const SENTINEL = 0x7fbadbad; // a NaN payload no kernel produces

/**
 * Allocates a raw device block of `n` floats with guard regions on both sides, fills the
 * whole block with a sentinel, runs `call(ptr)` with the inner pointer, and returns the inner
 * values after checking that no guard word changed (an out-of-bounds write).
 */
export function guarded(n: number, call: (p: Deno.PointerObject) => number, what: string): Float32Array {
  const total = n + 2 * GUARD;
  const base = cudaRaw.malloc(total * 4);
  try {
    const fill = new Uint32Array(total).fill(SENTINEL);
    cudaRaw.upload(base, fill);
    const st = call(Deno.UnsafePointer.offset(base, GUARD * 4)!);
    if (st !== 0) throw new Error(`${what}: status ${st}`);
    const back = new Uint32Array(total);
    cudaRaw.download(back, base);
    for (let i = 0; i < GUARD; i++) {
      if (back[i] !== SENTINEL) throw new Error(`${what}: write ${GUARD - i} floats before the output`);
      if (back[GUARD + n + i] !== SENTINEL) {
        throw new Error(`${what}: write ${i} floats past the end of the output`);
      }
    }
    for (let i = 0; i < n; i++) {
      if (back[GUARD + i] === SENTINEL) {
        throw new Error(`${what}: output element ${i} of ${n} was never written`);
      }
    }
    return new Float32Array(back.buffer, GUARD * 4, n).slice();
  } finally {
    cudaRaw.free(base);
  }
}

/** Uploads host values into a fresh raw device block (freed by the caller with cudaRaw.free). */
export function upload(values: Float32Array | Int32Array): Deno.PointerObject {
  const p = cudaRaw.malloc(Math.max(4, values.byteLength));
  cudaRaw.upload(p, values);
  return p;
}

/**
 * Per-row check against a float64 reference: every row of `cols` values must satisfy
 * |a - r| <= atol * rowScale + rtol * |r| with rowScale = max(1, RMS of that row of r), and
 * ‖a - r‖ / ‖r‖ <= norm within the row. A global norm lets a 10 % error confined to one tail
 * row (or one tile) pass; this does not. `rowIds` names the rows when `actual` holds a sample.
 */
export function expectRows(
  actual: ArrayLike<number>,
  ref: ArrayLike<number>,
  cols: number,
  tol: Tol,
  what: string,
  rowIds?: ArrayLike<number>,
): void {
  const rows = ref.length / cols;
  for (let r = 0; r < rows; r++) {
    let sq = 0, num = 0;
    for (let c = 0; c < cols; c++) sq += ref[r * cols + c] ** 2;
    const scale = tol.scaled === false ? 1 : Math.max(1, Math.sqrt(sq / Math.max(1, cols)));
    const id = rowIds ? rowIds[r] : r;
    for (let c = 0; c < cols; c++) {
      const a = actual[r * cols + c], e = ref[r * cols + c];
      if (!(Math.abs(a - e) <= tol.atol * scale + tol.rtol * Math.abs(e))) {
        throw new Error(`${what}: row ${id} col ${c}: got ${a}, float64 reference ${e}`);
      }
      num += (a - e) ** 2;
    }
    const rel = sq === 0 ? Math.sqrt(num) : Math.sqrt(num / sq);
    if (!(rel <= tol.norm)) {
      throw new Error(`${what}: row ${id}: relative error ${rel.toExponential(2)} > ${tol.norm}`);
    }
  }
}

/**
 * Float64 reference of C = A(M,K) @ B(K,N) (row-major float32 inputs) for the listed rows only,
 * so big shapes (the model's 3152x2304x768) stay checkable in a few hundred ms.
 */
export function gemmRowsRef(
  A: Float32Array,
  B: Float32Array,
  K: number,
  N: number,
  rows: number[],
): Float64Array {
  const out = new Float64Array(rows.length * N);
  rows.forEach((m, i) => {
    const o = i * N;
    for (let k = 0; k < K; k++) {
      const a = A[m * K + k];
      if (a === 0) continue;
      const bo = k * N;
      for (let n = 0; n < N; n++) out[o + n] += a * B[bo + n];
    }
  });
  return out;
}

/** Rows to sample from a tall matrix: the first, the last (tail tiles), and `n` spread between. */
export function sampleRows(M: number, n = 16): number[] {
  const s = new Set<number>([0, 1, M - 2, M - 1]);
  for (let i = 0; i < n; i++) s.add(Math.floor(((i + 0.5) * M) / n));
  return [...s].filter((r) => r >= 0 && r < M).sort((a, b) => a - b);
}
