/**
 * The optimizer base: parameter groups (each with its own lr and weight decay, PyTorch-style),
 * per-parameter state tensors that the optimizer owns (kept, freed by `dispose()`), a step
 * count per parameter (PyTorch's `state[p]["step"]`: a parameter first trained late starts its
 * bias correction at 1), and the bookkeeping shared by AdamW and SGD. Schedules set `group.lr`
 * from `group.baseLr` (src/train/schedule.ts), so one schedule drives groups with different
 * base rates.
 *
 * State is keyed by parameter NAME (`state.<name>.<key>`), so a checkpoint loads into the
 * right parameters however the groups are arranged; names come from `module.namedParameters()`
 * pairs, else `tensor.name` (set by `module.parameters()`), else `param<k>` by position.
 * @module
 */
import { Tensor } from "../tensor/tensor.ts";
import { keep } from "../tensor/scope.ts";
import { zeros } from "../tensor/create.ts";
import { fmtShape } from "../tensor/shape.ts";

/** A parameter list: tensors, or [name, tensor] pairs as `module.namedParameters()` returns. */
export type ParamList = Tensor[] | [string, Tensor][];

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
  /** The group's parameters (tensors or [name, tensor] pairs). */
  params: ParamList;
  /** Base learning rate (default: the optimizer's). */
  lr?: number;
  /** Weight decay (default: the optimizer's). */
  weightDecay?: number;
}

/** Hyper-parameter defaults every optimizer passes to the base. */
export interface OptimizerDefaults {
  /** Learning rate of groups that set none. */
  lr: number;
  /** Weight decay of groups that set none. */
  weightDecay: number;
}

function isSpecs(params: ParamList | ParamGroupSpec[]): params is ParamGroupSpec[] {
  const first = params[0];
  return first !== undefined && !(first instanceof Tensor) && !Array.isArray(first);
}

/** Base of the optimizers: groups, owned per-parameter state, per-parameter steps. */
export abstract class Optimizer {
  /** Parameter groups, in the order given. */
  readonly groups: ParamGroup[];
  /** Steps taken so far (calls of `step()`; schedules use it). Each parameter counts its own. */
  stepCount = 0;
  #state = new Map<Tensor, Map<string, Tensor>>();
  #steps = new Map<Tensor, number>();
  #names = new Map<Tensor, string>();
  #byName = new Map<string, Tensor>();
  #stepTensors = new Map<Tensor, Tensor>();

  /**
   * `params`: a flat list (one group; tensors or named pairs) or group specs; defaults fill
   * missing fields. A tensor may appear once (tied weights: pass `module.parameters()`, which
   * lists each tensor once) and names must be unique.
   */
  constructor(params: ParamList | ParamGroupSpec[], defaults: OptimizerDefaults) {
    const specs: ParamGroupSpec[] = isSpecs(params) ? params : [{ params }];
    let k = 0;
    const groupOf = new Map<Tensor, number>();
    this.groups = specs.map((s, gi) => {
      const tensors: Tensor[] = [];
      for (const entry of s.params) {
        const [given, p] = Array.isArray(entry) ? entry : [undefined, entry];
        const name = given ?? p.name ?? `param${k}`;
        k++;
        const prev = this.#names.get(p);
        if (prev !== undefined) {
          const where = groupOf.get(p) === gi
            ? `twice in group ${gi}`
            : `in two groups (${groupOf.get(p)}, ${gi})`;
          throw new Error(
            `optimizer: parameter '${prev}' is listed ${where}; list each tensor once (tied weights: module.parameters())`,
          );
        }
        if (this.#byName.has(name)) {
          throw new Error(
            `optimizer: two parameters are named '${name}'; pass module.namedParameters() or unique names`,
          );
        }
        if (p.dtype !== "float32") {
          throw new Error(`optimizer: group ${gi} parameter '${name}' is ${p.dtype}, not float32`);
        }
        this.#names.set(p, name);
        this.#byName.set(name, p);
        groupOf.set(p, gi);
        tensors.push(p);
      }
      const lr = s.lr ?? defaults.lr;
      if (!(lr >= 0)) throw new Error(`optimizer: group ${gi} has bad lr ${lr}`);
      return { params: tensors, lr, baseLr: lr, weightDecay: s.weightDecay ?? defaults.weightDecay };
    });
  }

  /** Applies one update to every parameter that has a gradient. */
  abstract step(): void;

  /** The name the state of `p` is saved under. */
  nameOf(p: Tensor): string {
    const n = this.#names.get(p);
    if (n === undefined) throw new Error(`optimizer: tensor #${p.id} is not one of its parameters`);
    return n;
  }

  /** Updates applied to `p` so far (0 before its first step). */
  stepOf(p: Tensor): number {
    return this.#steps.get(p) ?? 0;
  }

  /** Counts one more update of `p`; returns its new step (1 on its first update). */
  protected advance(p: Tensor): number {
    const t = this.stepOf(p) + 1;
    this.#steps.set(p, t);
    return t;
  }

  /** Parameters with a gradient, with their group (what a step updates). */
  protected active(): { p: Tensor; g: Tensor; group: ParamGroup }[] {
    const out: { p: Tensor; g: Tensor; group: ParamGroup }[] = [];
    for (const group of this.groups) {
      for (const p of group.params) {
        if (!p.grad || !p.requiresGrad) continue;
        if (p.grad.size !== p.size) {
          throw new Error(
            `optimizer: gradient ${fmtShape(p.grad.shape)} for parameter '${this.nameOf(p)}' ${
              fmtShape(p.shape)
            }`,
          );
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
   * The state as a flat map `state.<name>.<key>` (e.g. `state.fc.weight.exp_avg`) plus
   * `state.<name>.step`, a one-element int32 CPU tensor with that parameter's step. Save
   * `stepCount` beside it (e.g. checkpoint metadata). All tensors are the optimizer's own
   * (do not dispose them; the step tensors hold the values as of this call).
   */
  stateDict(): Map<string, Tensor> {
    const out = new Map<string, Tensor>();
    for (const g of this.groups) {
      for (const p of g.params) {
        const name = this.nameOf(p);
        for (const [k, t] of this.#state.get(p) ?? []) out.set(`state.${name}.${k}`, t);
        const t = this.#steps.get(p);
        if (t === undefined) continue;
        let st = this.#stepTensors.get(p);
        if (!st) this.#stepTensors.set(p, st = keep(Tensor.empty([1], "int32", "cpu")));
        out.set(`state.${name}.step`, st.set([t]));
      }
    }
    return out;
  }

  /**
   * Restores state saved by `stateDict()`, matching parameters by name (groups may differ);
   * copies values in. A key for a name this optimizer lacks, or a shape that differs from the
   * parameter's, is an error naming the parameter (nothing is written then). Parameters
   * absent from `sd` start fresh (step 0). A parameter with moments but no `step` entry takes
   * `stepCount`. Returns the parameters that received state.
   */
  loadStateDict(sd: Map<string, Tensor>, stepCount = this.stepCount): Tensor[] {
    const plan: { p: Tensor; key: string; src: Tensor }[] = [];
    for (const [key, src] of sd) {
      const m = /^state\.(.+)\.(\w+)$/.exec(key);
      if (!m) throw new Error(`optimizer loadStateDict: unexpected key '${key}' (want state.<name>.<key>)`);
      const p = this.#byName.get(m[1]);
      if (!p) {
        throw new Error(
          `optimizer loadStateDict: state for parameter '${
            m[1]
          }' (${key}), which this optimizer does not have`,
        );
      }
      if (m[2] === "step") {
        if (src.size !== 1) throw new Error(`optimizer loadStateDict: '${key}' must hold one value`);
      } else if (src.ndim !== p.ndim || src.shape.some((d, i) => d !== p.shape[i])) {
        throw new Error(
          `optimizer loadStateDict: parameter '${m[1]}' is ${fmtShape(p.shape)}, its saved '${m[2]}' is ${
            fmtShape(src.shape)
          }`,
        );
      }
      plan.push({ p, key: m[2], src });
    }
    const loaded = new Set<Tensor>();
    for (const { p, key, src } of plan) {
      if (key === "step") this.#steps.set(p, src.item());
      else this.state(p, key).set(src.dtype === "int32" ? src.dataI32() : src.data());
      loaded.add(p);
    }
    for (const p of loaded) if (!this.#steps.has(p)) this.#steps.set(p, stepCount);
    this.stepCount = stepCount;
    return [...loaded];
  }

  /** Frees all optimizer state (not the parameters). */
  dispose(): void {
    for (const s of this.#state.values()) for (const t of s.values()) t.dispose();
    this.#state.clear();
    for (const t of this.#stepTensors.values()) t.dispose();
    this.#stepTensors.clear();
    this.#steps.clear();
  }
}
