/**
 * The optimizer base: parameter groups (each with its own lr and weight decay, PyTorch-style),
 * per-parameter state tensors that the optimizer owns (kept, freed by `dispose()`), and the
 * bookkeeping shared by AdamW and SGD. Schedules set `group.lr` from `group.baseLr`
 * (src/train/schedule.ts), so one schedule drives groups with different base rates.
 * @module
 */
import type { Tensor } from "../tensor/tensor.ts";
import { keep } from "../tensor/scope.ts";
import { zeros } from "../tensor/create.ts";
import { fmtShape } from "../tensor/shape.ts";

/** A group of parameters sharing hyper-parameters. */
export interface ParamGroup {
  /** The parameters (leaves; those without a gradient at step time are skipped). */
  params: Tensor[];
  /** Current learning rate (what the next step uses). */
  lr: number;
  /** The group's peak learning rate, the value schedules scale. */
  baseLr: number;
  /** Weight decay (AdamW: decoupled; SGD: L2 added to the gradient). */
  weightDecay: number;
}

/** A group as the caller specifies it: missing fields take the optimizer's defaults. */
export interface ParamGroupSpec {
  /** The group's parameters. */
  params: Tensor[];
  /** Base learning rate (default: the optimizer's). */
  lr?: number;
  /** Weight decay (default: the optimizer's). */
  weightDecay?: number;
}

/** Base of the optimizers: groups, owned per-parameter state, step counter. */
export abstract class Optimizer {
  /** Parameter groups, in the order given. */
  readonly groups: ParamGroup[];
  /** Steps taken so far. */
  stepCount = 0;
  #state = new Map<Tensor, Map<string, Tensor>>();

  /** `params`: a flat list (one group) or group specs; defaults fill missing fields. */
  constructor(params: Tensor[] | ParamGroupSpec[], defaults: { lr: number; weightDecay: number }) {
    const specs: ParamGroupSpec[] = params.length > 0 && !("params" in params[0])
      ? [{ params: params as Tensor[] }]
      : params as ParamGroupSpec[];
    const seen = new Set<Tensor>();
    this.groups = specs.map((s, gi) => {
      for (const p of s.params) {
        if (seen.has(p)) {
          throw new Error(`optimizer: parameter ${p.name ?? `#${p.id}`} appears in two groups`);
        }
        if (p.dtype !== "float32") {
          throw new Error(
            `optimizer: group ${gi} parameter ${p.name ?? `#${p.id}`} is ${p.dtype}, not float32`,
          );
        }
        seen.add(p);
      }
      const lr = s.lr ?? defaults.lr;
      if (!(lr >= 0)) throw new Error(`optimizer: group ${gi} has bad lr ${lr}`);
      return { params: [...s.params], lr, baseLr: lr, weightDecay: s.weightDecay ?? defaults.weightDecay };
    });
  }

  /** Applies one update to every parameter that has a gradient. */
  abstract step(): void;

  /** Parameters with a gradient, with their group (what a step updates). */
  protected active(): { p: Tensor; g: Tensor; group: ParamGroup }[] {
    const out: { p: Tensor; g: Tensor; group: ParamGroup }[] = [];
    for (const group of this.groups) {
      for (const p of group.params) {
        if (!p.grad || !p.requiresGrad) continue;
        if (p.grad.size !== p.size) {
          throw new Error(`optimizer: gradient ${fmtShape(p.grad.shape)} for parameter ${fmtShape(p.shape)}`);
        }
        out.push({ p, g: p.grad, group });
      }
    }
    return out;
  }

  /** The state tensor `key` of parameter `p`, created as zeros (and owned) on first use. */
  protected state(p: Tensor, key: string): Tensor {
    let s = this.#state.get(p);
    if (!s) this.#state.set(p, s = new Map());
    let t = s.get(key);
    if (!t) {
      t = keep(zeros(p.shape, { device: p.device }));
      s.set(key, t);
    }
    return t;
  }

  /** Frees the gradients of every parameter in every group. */
  zeroGrad(): void {
    for (const g of this.groups) {
      for (const p of g.params) {
        p.grad?.dispose();
        p.grad = null;
      }
    }
  }

  /** Sets every group's lr to `baseLr * factor` (what schedules call). */
  setLrFactor(factor: number): void {
    for (const g of this.groups) g.lr = g.baseLr * factor;
  }

  /**
   * The state as a flat map `state.<group>.<index>.<key>` (index within its group); save
   * `stepCount` beside it (e.g. checkpoint metadata). The tensors are the optimizer's own:
   * do not dispose them.
   */
  stateDict(): Map<string, Tensor> {
    const out = new Map<string, Tensor>();
    this.groups.forEach((g, gi) =>
      g.params.forEach((p, pi) => {
        for (const [k, t] of this.#state.get(p) ?? []) out.set(`state.${gi}.${pi}.${k}`, t);
      })
    );
    return out;
  }

  /**
   * Restores state saved by `stateDict()` (same groups and shapes); copies values in.
   * Returns the parameters that received state.
   */
  loadStateDict(sd: Map<string, Tensor>, stepCount: number): Tensor[] {
    const loaded: Tensor[] = [];
    for (const [name, src] of sd) {
      const m = /^state\.(\d+)\.(\d+)\.(\w+)$/.exec(name);
      const p = m ? this.groups[+m[1]]?.params[+m[2]] : undefined;
      if (!m || !p) throw new Error(`optimizer loadStateDict: unexpected key '${name}'`);
      if (src.size !== p.size) {
        throw new Error(
          `optimizer loadStateDict: '${name}' is ${fmtShape(src.shape)}, parameter is ${fmtShape(p.shape)}`,
        );
      }
      this.state(p, m[3]).set(src.data());
      loaded.push(p);
    }
    this.stepCount = stepCount;
    return loaded;
  }

  /** Frees all optimizer state (not the parameters). */
  dispose(): void {
    for (const s of this.#state.values()) for (const t of s.values()) t.dispose();
    this.#state.clear();
  }
}
