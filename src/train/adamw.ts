/**
 * AdamW (Loshchilov & Hutter; PyTorch's `torch.optim.AdamW` semantics): decoupled weight decay
 * p <- p(1 - lr·wd), bias-corrected moments, update lr/bc1 · m / (sqrt(v)/sqrt(bc2) + eps), with
 * bc1 = 1 - b1^t, bc2 = 1 - b2^t from each parameter's own step t (see optimizer.ts).
 * The whole step is one native call over every parameter of every group
 * (native/adamw.cpp `ft_adamw_step`, multi-tensor); a device without that kernel falls back
 * to the same update composed from elementwise ops.
 * @module
 */
import type { Tensor } from "../tensor/tensor.ts";
import { kernels } from "../backend/dispatch.ts";
import { check } from "../backend/status.ts";
import { noGrad } from "../autograd/tape.ts";
import { tidy } from "../tensor/scope.ts";
import { addScalar, axpby, div, mul, scale } from "../ops/elementwise.ts";
import { sqrt } from "../ops/unary.ts";
import { Optimizer, type ParamGroupSpec, type ParamList } from "./optimizer.ts";

/** FFI signatures of this op's kernels (same names in the CPU and CUDA libraries). */
export const ADAMW_SYMBOLS = {
  ft_adamw_step: {
    parameters: [
      /* ntensors */ "i32",
      /* sizes */ "buffer",
      /* p */ "buffer",
      /* g */ "buffer",
      /* m */ "buffer",
      /* v */ "buffer",
      /* lr */ "buffer",
      /* wd */ "buffer",
      /* b1 */ "f32",
      /* b2 */ "f32",
      /* eps */ "f32",
      /* bc1 */ "buffer",
      /* bc2 */ "buffer",
      /* gs */ "f32",
    ],
    result: "i32",
    optional: true,
  },
} satisfies Deno.ForeignLibraryInterface;
const k = kernels(ADAMW_SYMBOLS);

/** AdamW hyper-parameters (PyTorch defaults except weightDecay, which is 0.01 there too). */
export interface AdamWOptions {
  /** Default learning rate of groups that set none (default 1e-3). */
  lr?: number;
  /** Moment decay rates (default [0.9, 0.999]). */
  betas?: [number, number];
  /** Denominator epsilon (default 1e-8). */
  eps?: number;
  /** Default decoupled weight decay (default 0.01, as PyTorch). */
  weightDecay?: number;
  /** Use the fused kernel (default true); false composes elementwise ops (for checking). */
  fused?: boolean;
}

/** AdamW with per-group lr / weight decay; state m, v per parameter (owned, kept). */
export class AdamW extends Optimizer {
  /** First-moment decay. */
  readonly beta1: number;
  /** Second-moment decay. */
  readonly beta2: number;
  /** Denominator epsilon. */
  readonly eps: number;
  /** Use the fused native kernel when the device has it (default true). */
  readonly fused: boolean;

  /** `params`: a parameter list (tensors or named pairs) or group specs (`{params, lr?, weightDecay?}`). */
  constructor(params: ParamList | ParamGroupSpec[], opts: AdamWOptions = {}) {
    super(params, { lr: opts.lr ?? 1e-3, weightDecay: opts.weightDecay ?? 0.01 });
    [this.beta1, this.beta2] = opts.betas ?? [0.9, 0.999];
    this.eps = opts.eps ?? 1e-8;
    this.fused = opts.fused ?? true;
    if (!(this.beta1 >= 0 && this.beta1 < 1 && this.beta2 >= 0 && this.beta2 < 1)) {
      throw new Error(`AdamW: betas must be in [0, 1), got [${this.beta1}, ${this.beta2}]`);
    }
  }

  /**
   * One update of every parameter that has a gradient. `gradScale` multiplies the gradients
   * on the fly (e.g. a clipping coefficient) without touching `.grad`.
   */
  step(gradScale = 1): void {
    const items = this.active();
    this.stepCount++;
    if (items.length === 0) return;
    // each parameter's own step (PyTorch): one unfrozen late starts its bias correction at 1.
    // Bias corrections in float64: 1 - 0.999^t loses digits in float32 for small t.
    const steps = items.map(({ p }) => this.advance(p));
    const bc1 = steps.map((t) => 1 - this.beta1 ** t), bc2 = steps.map((t) => 1 - this.beta2 ** t);
    const ms = items.map(({ p }) => this.state(p, "exp_avg"));
    const vs = items.map(({ p }) => this.state(p, "exp_avg_sq"));
    // the update writes every parameter in place: derived caches (packed autocast weights) go stale
    for (const { p } of items) p.storage.markWritten();
    noGrad(() => {
      const byDevice = new Map<string, number[]>();
      items.forEach(({ p }, i) => {
        const l = byDevice.get(p.device) ?? [];
        l.push(i);
        byDevice.set(p.device, l);
      });
      for (const [device, idx] of byDevice) {
        const fn = this.fused ? k(device as Tensor["device"]).ft_adamw_step : null;
        if (fn) {
          const ptrs = (ts: Tensor[]) =>
            BigUint64Array.from(idx, (i) => BigInt(Deno.UnsafePointer.value(ts[i].ptr)));
          const st = fn(
            idx.length,
            BigInt64Array.from(idx, (i) => BigInt(items[i].p.size)),
            ptrs(items.map((x) => x.p)),
            ptrs(items.map((x) => x.g)),
            ptrs(ms),
            ptrs(vs),
            Float32Array.from(idx, (i) => items[i].group.lr),
            Float32Array.from(idx, (i) => items[i].group.weightDecay),
            this.beta1,
            this.beta2,
            this.eps,
            Float32Array.from(idx, (i) => bc1[i]),
            Float32Array.from(idx, (i) => bc2[i]),
            gradScale,
          );
          check(st, () => `adamw step (${idx.length} tensors on ${device})`);
        } else {
          for (const i of idx) {
            this.#composed(items[i].p, items[i].g, ms[i], vs[i], items[i].group, bc1[i], bc2[i], gradScale);
          }
        }
      }
    });
  }

  /** The same update from elementwise ops (devices without the fused kernel). */
  #composed(
    p: Tensor,
    g: Tensor,
    m: Tensor,
    v: Tensor,
    group: { lr: number; weightDecay: number },
    bc1: number,
    bc2: number,
    gs: number,
  ): void {
    tidy(() => {
      const gg = gs === 1 ? g : scale(g, gs);
      axpby(1 - this.beta1, gg, this.beta1, m);
      axpby(1 - this.beta2, mul(gg, gg), this.beta2, v);
      if (group.weightDecay !== 0) axpby(0, p, 1 - group.lr * group.weightDecay, p);
      const denom = addScalar(scale(sqrt(v), 1 / Math.sqrt(bc2)), this.eps);
      axpby(-group.lr / bc1, div(m, denom), 1, p);
    });
  }
}
