/**
 * Dynamic loss scaling for fp16 autocast (torch.cuda.amp.GradScaler semantics): multiply the
 * loss by `scale` before backward so small fp16 gradients do not flush to zero; before the
 * optimizer step, check every gradient for Inf/NaN (one native sum per tensor: any non-finite
 * element makes the sum non-finite) and either skip the step and shrink the scale, or undo the
 * scale (pass `unscale()` as AdamW's `gradScale`, no extra pass) and grow it after
 * `growthInterval` clean steps. bf16 has fp32's exponent range and needs no scaling.
 *
 *   const scaler = new LossScaler();
 *   backward(scaler.scaleLoss(loss));
 *   if (scaler.check(params)) opt.step(scaler.unscale());
 *   scaler.update();
 * @module
 */
import type { Tensor } from "../tensor/tensor.ts";
import { noGrad } from "../autograd/tape.ts";
import { tidy } from "../tensor/scope.ts";
import { scale as scaleOp } from "../ops/elementwise.ts";
import { sum } from "../ops/reduce.ts";

/** LossScaler options (PyTorch GradScaler defaults). */
export interface LossScalerOptions {
  /** Initial scale (default 2^16). */
  initScale?: number;
  /** Multiplier after `growthInterval` steps without overflow (default 2). */
  growthFactor?: number;
  /** Multiplier after an overflow (default 0.5). */
  backoffFactor?: number;
  /** Clean steps between growths (default 2000). */
  growthInterval?: number;
  /** Lower bound of the scale (default 1). */
  minScale?: number;
}

/** Everything a LossScaler needs to resume exactly (plain JSON). */
export interface LossScalerState {
  /** Current scale. */
  scale: number;
  /** Clean steps since the last growth or overflow. */
  clean: number;
  /** Steps skipped so far. */
  skipped: number;
}

/** Dynamic loss scaler for fp16 training. */
export class LossScaler {
  /** Current scale. */
  scale: number;
  readonly growthFactor: number;
  readonly backoffFactor: number;
  readonly growthInterval: number;
  readonly minScale: number;
  #clean = 0;
  #found: boolean | null = null;
  /** Steps skipped because a gradient overflowed. */
  skipped = 0;

  constructor(opts: LossScalerOptions = {}) {
    this.scale = opts.initScale ?? 2 ** 16;
    this.growthFactor = opts.growthFactor ?? 2;
    this.backoffFactor = opts.backoffFactor ?? 0.5;
    this.growthInterval = opts.growthInterval ?? 2000;
    this.minScale = opts.minScale ?? 1;
    if (!(this.scale > 0 && this.growthFactor > 1 && this.backoffFactor > 0 && this.backoffFactor < 1)) {
      throw new Error(
        `LossScaler: need initScale > 0, growthFactor > 1, 0 < backoffFactor < 1; got ${this.scale}, ${this.growthFactor}, ${this.backoffFactor}`,
      );
    }
  }

  /** The state to save for an exact resume (scale, growth counter, skipped steps). */
  state(): LossScalerState {
    return { scale: this.scale, clean: this.#clean, skipped: this.skipped };
  }

  /** Restores `state()` output (validated). */
  setState(st: LossScalerState): void {
    if (
      !(st?.scale > 0) || !Number.isInteger(st.clean) || st.clean < 0 || !Number.isInteger(st.skipped) ||
      st.skipped < 0
    ) {
      throw new Error(`LossScaler.setState: bad state ${JSON.stringify(st)}`);
    }
    this.scale = st.scale;
    this.#clean = st.clean;
    this.skipped = st.skipped;
    this.#found = null;
  }

  /** loss * scale (differentiable); call backward on the result. */
  scaleLoss(loss: Tensor): Tensor {
    return scaleOp(loss, this.scale);
  }

  /** True when every gradient of `params` is finite (the step may proceed). Remembers the result for update(). */
  check(params: Iterable<Tensor>): boolean {
    let finite = true;
    noGrad(() =>
      tidy(() => {
        for (const p of params) {
          if (!p.grad) continue;
          if (!Number.isFinite(sum(p.grad).item())) {
            finite = false;
            break;
          }
        }
      })
    );
    this.#found = !finite;
    return finite;
  }

  /** The factor that undoes the scale on the gradients (AdamW.step(gradScale)). */
  unscale(): number {
    return 1 / this.scale;
  }

  /** Adjusts the scale after a step: back off on overflow, grow after enough clean steps. */
  update(): void {
    if (this.#found === null) throw new Error("LossScaler.update: call check(params) first");
    if (this.#found) {
      this.scale = Math.max(this.minScale, this.scale * this.backoffFactor);
      this.#clean = 0;
      this.skipped++;
    } else if (++this.#clean >= this.growthInterval) {
      this.scale *= this.growthFactor;
      this.#clean = 0;
    }
    this.#found = null;
  }
}
