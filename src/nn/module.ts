/**
 * `Module`: the base of every layer. A module owns named parameters (trainable leaves),
 * buffers (state that is saved but not trained, e.g. BatchNorm running stats) and child
 * modules; names join with dots (`blocks.0.attn.q.weight`) exactly like PyTorch's
 * `state_dict()`, so checkpoints from other implementations map key for key.
 *
 * Ownership: parameters and buffers are `keep`-ed at registration, so building a module
 * inside a `tidy` scope does not free its weights; they live until `dispose()`.
 * @module
 */
import type { Tensor } from "../tensor/tensor.ts";
import { keep } from "../tensor/scope.ts";
import { Rng, type RngState } from "../tensor/rng.ts";
import { fmtShape } from "../tensor/shape.ts";
import { axpby } from "../ops/elementwise.ts";

/** A flat name -> tensor map (what `stateDict()` returns and `loadStateDict` takes). */
export type StateDict = Map<string, Tensor>;

/** Options of `loadStateDict`. */
export interface LoadOptions {
  /** Throw on missing or unexpected keys (default true). Shape mismatches always throw. */
  strict?: boolean;
  /** Name used in error messages (e.g. the checkpoint path). */
  source?: string;
}

/** What `loadStateDict` did: keys the module wanted but the map lacked, and extra keys. */
export interface LoadResult {
  /** Keys the module has but the map lacked. */
  missing: string[];
  /** Keys in the map the module does not have. */
  unexpected: string[];
}

/** Base class of all layers; see the module docs for naming and ownership rules. */
export class Module {
  /** Training mode flag (dropout, batch-norm statistics). Set with `train()` / `eval()`. */
  training = true;
  #params = new Map<string, Tensor>();
  #buffers = new Map<string, Tensor>();
  #children = new Map<string, Module>();

  /** Registers a trainable parameter (kept, requiresGrad on, owned by this module). */
  protected param(name: string, t: Tensor): Tensor {
    this.#checkName(name);
    keep(t);
    t.requiresGrad = true;
    t.name = name;
    this.#params.set(name, t);
    return t;
  }

  /** Registers a buffer: saved in the state dict, never trained (kept, owned). */
  protected buffer(name: string, t: Tensor): Tensor {
    this.#checkName(name);
    keep(t);
    t.requiresGrad = false;
    t.name = name;
    this.#buffers.set(name, t);
    return t;
  }

  /** Registers a child module under `name`; returns it. */
  protected child<M extends Module>(name: string, m: M): M {
    this.#checkName(name);
    this.#children.set(name, m);
    return m;
  }

  #checkName(name: string): void {
    if (!name || name.includes(".")) throw new Error(`${this.constructor.name}: bad member name '${name}'`);
    if (this.#params.has(name) || this.#buffers.has(name) || this.#children.has(name)) {
      throw new Error(`${this.constructor.name}: '${name}' is registered twice`);
    }
  }

  /** Direct children with their names. */
  namedChildren(): [string, Module][] {
    return [...this.#children];
  }

  /** This module and all descendants with dotted names ('' for this one), depth first. */
  namedModules(prefix = ""): [string, Module][] {
    const out: [string, Module][] = [[prefix, this]];
    for (const [n, c] of this.#children) out.push(...c.namedModules(prefix ? `${prefix}.${n}` : n));
    return out;
  }

  /**
   * All parameters with dotted names, in registration order (depth first). A tensor registered
   * twice (tied weights, e.g. an LM head sharing the embedding) is listed under every name.
   * Called without a prefix it also sets each tensor's `name` to its first dotted name from
   * this module: the name optimizers key their state by.
   */
  namedParameters(prefix = ""): [string, Tensor][] {
    const out = this.#collect(prefix, (m) => m.#params);
    if (prefix === "") {
      const named = new Set<Tensor>();
      for (const [n, t] of out) {
        if (named.has(t)) continue;
        named.add(t);
        t.name = n;
      }
    }
    return out;
  }

  /**
   * Every parameter tensor once (tied weights deduplicated, first name kept), in registration
   * order: the optimizer's input. Names are set as in `namedParameters()`.
   */
  parameters(): Tensor[] {
    const seen = new Set<Tensor>();
    const out: Tensor[] = [];
    for (const [, t] of this.namedParameters()) {
      if (seen.has(t)) continue;
      seen.add(t);
      out.push(t);
    }
    return out;
  }

  /** Distinct parameters with their first dotted name (tied weights once). */
  uniqueNamedParameters(): [string, Tensor][] {
    const seen = new Set<Tensor>();
    return this.namedParameters().filter(([, t]) => !seen.has(t) && seen.add(t) !== undefined);
  }

  /** All buffers with dotted names. */
  namedBuffers(prefix = ""): [string, Tensor][] {
    return this.#collect(prefix, (m) => m.#buffers);
  }

  #collect(prefix: string, pick: (m: Module) => Map<string, Tensor>): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    for (const [p, m] of this.namedModules(prefix)) {
      for (const [n, t] of pick(m)) out.push([p ? `${p}.${n}` : n, t]);
    }
    return out;
  }

  /** Number of parameter elements (trainable only when `trainableOnly`). */
  numParameters(trainableOnly = false): number {
    let n = 0;
    for (const t of this.parameters()) if (!trainableOnly || t.requiresGrad) n += t.size;
    return n;
  }

  /**
   * Parameters and buffers by dotted name. The tensors are the module's own (no copy): read
   * or save them, do not dispose them.
   */
  stateDict(): StateDict {
    // PyTorch's order: each module's parameters, then its buffers, then its children
    const out: StateDict = new Map();
    for (const [p, m] of this.namedModules()) {
      for (const [n, t] of [...m.#params, ...m.#buffers]) out.set(p ? `${p}.${n}` : n, t);
    }
    return out;
  }

  /**
   * Copies values from `sd` into this module's parameters and buffers (the module keeps its
   * own tensors; `sd` is not consumed). Shapes and dtypes must match exactly. With `strict`
   * (default), missing or unexpected keys throw, listing them.
   */
  loadStateDict(sd: StateDict | Record<string, Tensor>, opts: LoadOptions = {}): LoadResult {
    const strict = opts.strict ?? true;
    const src = sd instanceof Map ? sd : new Map(Object.entries(sd));
    const own = this.stateDict();
    const where = opts.source ? ` from '${opts.source}'` : "";
    const missing = [...own.keys()].filter((k) => !src.has(k));
    const unexpected = [...src.keys()].filter((k) => !own.has(k));
    if (strict && (missing.length || unexpected.length)) {
      throw new Error(
        `loadStateDict${where} into ${this.constructor.name}: ` +
          (missing.length ? `missing keys [${missing.join(", ")}]` : "") +
          (missing.length && unexpected.length ? "; " : "") +
          (unexpected.length ? `unexpected keys [${unexpected.join(", ")}]` : ""),
      );
    }
    // check everything before writing anything, so a bad checkpoint leaves the module intact
    const pairs: [Tensor, Tensor][] = [];
    for (const [k, dst] of own) {
      const s = src.get(k);
      if (!s) continue;
      if (s.shape.length !== dst.shape.length || s.shape.some((d, i) => d !== dst.shape[i])) {
        throw new Error(
          `loadStateDict${where}: '${k}' has shape ${fmtShape(s.shape)}, module expects ${
            fmtShape(dst.shape)
          }`,
        );
      }
      if (s.dtype !== dst.dtype) {
        throw new Error(`loadStateDict${where}: '${k}' is ${s.dtype}, module expects ${dst.dtype}`);
      }
      pairs.push([dst, s]);
    }
    for (const [dst, s] of pairs) {
      copyInto(dst, s);
      dst.storage.markWritten(); // caches derived from the weights (packed autocast copies) are stale
    }
    return { missing, unexpected };
  }

  /**
   * The random streams of this tree (a module's `rng` field, e.g. each Dropout's), by the
   * module's dotted name ('' for this one).
   */
  namedRngs(): [string, Rng][] {
    const out: [string, Rng][] = [];
    for (const [n, m] of this.namedModules()) {
      const r = (m as unknown as { rng?: unknown }).rng;
      if (r instanceof Rng) out.push([n, r]);
    }
    return out;
  }

  /** Every stream's state by module name (plain JSON; save it for an exact resume). */
  rngState(): Record<string, RngState> {
    return Object.fromEntries(this.namedRngs().map(([n, r]) => [n, r.state()]));
  }

  /**
   * Restores `rngState()` output. A saved name this tree lacks, or a stream of this tree the
   * saved state lacks, is an error naming it (nothing is restored then).
   */
  loadRngState(states: Record<string, RngState>): void {
    const rngs = this.namedRngs();
    const have = new Set(rngs.map(([n]) => n));
    for (const n of Object.keys(states)) {
      if (!have.has(n)) throw new Error(`loadRngState: no random stream at module '${n}'`);
    }
    for (const [n] of rngs) {
      if (!(n in states)) throw new Error(`loadRngState: the saved state lacks module '${n}'`);
    }
    for (const [n, r] of rngs) r.setState(states[n]);
  }

  /** Sets training mode on this module and all descendants; returns this. */
  train(on = true): this {
    for (const [, m] of this.namedModules()) m.training = on;
    return this;
  }

  /** Inference mode (dropout off, batch-norm uses running stats); returns this. */
  eval(): this {
    return this.train(false);
  }

  /** Stops gradients to every parameter (requiresGrad off, stale grads dropped); returns this. */
  freeze(): this {
    for (const p of this.parameters()) {
      p.requiresGrad = false;
      p.grad?.dispose();
      p.grad = null;
    }
    return this;
  }

  /** Turns gradients back on for every parameter; returns this. */
  unfreeze(): this {
    for (const p of this.parameters()) p.requiresGrad = true;
    return this;
  }

  /** Drops every parameter's gradient (frees it; the next backward allocates a fresh one). */
  zeroGrad(): void {
    for (const p of this.parameters()) {
      p.grad?.dispose();
      p.grad = null;
    }
  }

  /** Frees every parameter, gradient and buffer of this module and its descendants. */
  dispose(): void {
    for (const [, m] of this.namedModules()) {
      for (const t of m.#params.values()) t.dispose();
      for (const t of m.#buffers.values()) t.dispose();
    }
  }

  /** `using` support. */
  [Symbol.dispose](): void {
    this.dispose();
  }
}

/** An indexed list of modules (children named '0', '1', ...), like torch.nn.ModuleList. */
export class ModuleList<M extends Module = Module> extends Module {
  /** The modules, in order. */
  readonly items: M[] = [];

  /** Wraps `modules` (registered as children '0', '1', ...). */
  constructor(modules: M[] = []) {
    super();
    for (const m of modules) this.push(m);
  }

  /** Appends a module. */
  push(m: M): M {
    this.child(String(this.items.length), m);
    this.items.push(m);
    return m;
  }

  /** Number of modules. */
  get length(): number {
    return this.items.length;
  }

  /** The i-th module. */
  at(i: number): M {
    const m = this.items.at(i);
    if (!m) throw new Error(`ModuleList: index ${i} out of range (length ${this.items.length})`);
    return m;
  }

  /** Iterates the modules in order. */
  [Symbol.iterator](): Iterator<M> {
    return this.items[Symbol.iterator]();
  }
}

/** dst <- src (same shape and dtype); native copy on the same device, host copy otherwise. */
function copyInto(dst: Tensor, src: Tensor): void {
  if (src.dtype === "float32" && src.device === dst.device) axpby(1, src, 0, dst);
  else dst.set(src.dtype === "int32" ? src.dataI32() : src.data());
}
