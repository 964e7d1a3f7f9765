/**
 * SGD with momentum, dampening, Nesterov and L2 weight decay (PyTorch's `torch.optim.SGD`):
 *   d = g + wd·p;  buf = d (first step) | μ·buf + (1-τ)·d;  d = nesterov ? d + μ·buf : buf;
 *   p -= lr·d.
 * Every line is one native `axpby` pass; temporaries live in a `tidy` scope.
 * @module
 */
import type { Tensor } from "../tensor/tensor.ts";
import { noGrad } from "../autograd/tape.ts";
import { tidy } from "../tensor/scope.ts";
import { axpby, copy } from "../ops/elementwise.ts";
import { Optimizer, type ParamGroupSpec, type ParamList } from "./optimizer.ts";

/** SGD hyper-parameters (PyTorch defaults). */
export interface SGDOptions {
  /** Default learning rate (default 1e-2). */
  lr?: number;
  /** Momentum factor μ (default 0: plain SGD). */
  momentum?: number;
  /** Dampening τ of the momentum update (default 0). */
  dampening?: number;
  /** Nesterov momentum (needs momentum > 0, dampening 0). */
  nesterov?: boolean;
  /** L2 penalty added to the gradient (default 0). */
  weightDecay?: number;
}

/** Stochastic gradient descent; the momentum buffer is per-parameter owned state. */
export class SGD extends Optimizer {
  /** Momentum factor μ. */
  readonly momentum: number;
  /** Dampening τ. */
  readonly dampening: number;
  /** Nesterov momentum. */
  readonly nesterov: boolean;
  #started = new Set<Tensor>();

  /** `params`: a parameter list (tensors or named pairs) or group specs (`{params, lr?, weightDecay?}`). */
  constructor(params: ParamList | ParamGroupSpec[], opts: SGDOptions = {}) {
    super(params, { lr: opts.lr ?? 1e-2, weightDecay: opts.weightDecay ?? 0 });
    this.momentum = opts.momentum ?? 0;
    this.dampening = opts.dampening ?? 0;
    this.nesterov = opts.nesterov ?? false;
    if (this.nesterov && (this.momentum <= 0 || this.dampening !== 0)) {
      throw new Error("SGD: nesterov needs momentum > 0 and dampening 0");
    }
  }

  /** One update of every parameter that has a gradient. */
  step(): void {
    const items = this.active();
    this.stepCount++;
    noGrad(() =>
      tidy(() => {
        for (const { p, g, group } of items) {
          this.advance(p);
          p.storage.markWritten(); // updated in place below: packed autocast copies go stale
          let d = g;
          if (group.weightDecay !== 0) {
            d = copy(g);
            axpby(group.weightDecay, p, 1, d);
          }
          if (this.momentum !== 0) {
            const buf = this.state(p, "momentum_buffer");
            if (!this.#started.has(p)) {
              axpby(1, d, 0, buf);
              this.#started.add(p);
            } else axpby(1 - this.dampening, d, this.momentum, buf);
            if (this.nesterov) {
              if (d === g) d = copy(g);
              axpby(this.momentum, buf, 1, d);
            } else d = buf;
          }
          axpby(-group.lr, d, 1, p);
        }
      })
    );
  }

  /** Restores momentum buffers (see `Optimizer.loadStateDict`); they count as started. */
  override loadStateDict(sd: Map<string, Tensor>, stepCount?: number): Tensor[] {
    const loaded = super.loadStateDict(sd, stepCount);
    for (const p of loaded) this.#started.add(p);
    return loaded;
  }
}
