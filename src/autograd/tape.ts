/**
 * Reverse-mode autodiff. Ops call `record(out, op, inputs, backward, saved?)` (or `recordReads`,
 * which also says which tensors the backward reads); `backward(loss)`
 * walks the recorded graph in reverse topological order, sums gradients on fan-out, and
 * accumulates into the `.grad` of leaves that require it.
 *
 * Memory and ownership rules (tests: tests/autograd/tape_test.ts):
 * - Every leaf `.grad` is its own storage: it never shares memory with another tensor's
 *   gradient (a gradient handed to two inputs is copied for the second one).
 * - Intermediate gradients are freed as soon as the node that consumed them has run, and each
 *   node's temporaries are freed when its backward returns, so the backward's peak is the
 *   forward activations plus the gradient frontier, not twice the activations. A backward
 *   outside any `tidy` scope leaks nothing.
 * - Without `retainGraph` the graph is released: its nodes' `saved` tensors are freed and a
 *   second backward through it throws. With `{retainGraph: true}` it may run again (and adds
 *   into `.grad` again, like PyTorch).
 * - `onGradReady` reports each leaf when its gradient is final (gradient bucketing, src/dist/ddp.ts).
 * - A tensor on the path that was disposed, a root gradient of the wrong shape, and a
 *   backward through a released graph are errors naming the tensor and the op.
 *
 * Imports only the raw (no-autograd) layer src/ops/raw.ts, never an op file.
 * @module
 */
import { type GradNode, Tensor } from "../tensor/tensor.ts";
import { keep, tidy, tidyWith } from "../tensor/scope.ts";
import { fmtShape } from "../tensor/shape.ts";
import { addInto, copy, full } from "../ops/raw.ts";

let gradEnabled = true;

/** Whether ops currently record the tape. */
export function isGradEnabled(): boolean {
  return gradEnabled;
}

/** Runs fn without recording gradients (inference, optimizer updates, backward itself). */
export function noGrad<R>(fn: () => R): R {
  const prev = gradEnabled;
  gradEnabled = false;
  try {
    return fn();
  } finally {
    gradEnabled = prev;
  }
}

/** Whether an op with these inputs should be recorded. */
export function needsGrad(...inputs: (Tensor | null | undefined)[]): boolean {
  if (!gradEnabled) return false;
  for (const t of inputs) if (t && t.requiresGrad) return true;
  return false;
}

/**
 * Attaches a backward function to `out` when any input requires grad. `backward(g)` returns
 * one gradient per input (null where none flows), each shaped like its input; it may return
 * `g` itself or a view of it (the tape copies where needed). `saved`: tensors only the
 * backward needs (masks, statistics); they are freed once the graph is released by a
 * backward without `retainGraph` (they stay owned by their scope too, so an unused graph
 * frees them at scope end). The backward is taken to read every input and `out`; ops that
 * read less say so with `recordReads`, which lets `graphTidy` free activations early.
 * Returns `out`.
 */
export function record(
  out: Tensor,
  op: string,
  inputs: Tensor[],
  backward: GradNode["backward"],
  saved?: Tensor[],
): Tensor {
  return attach(out, op, inputs, null, backward, saved);
}

/**
 * `record` with the tensors whose data the backward reads: `reads` lists them (inputs, `out`,
 * or any other tensor the closure captures; `saved` counts by itself). Everything else the
 * node touches is used by shape, dtype and device only, so `graphTidy` may free it as soon as
 * the forward scope ends. Under-declaring makes the backward fail on the freed tensor with an
 * error naming graphTidy, never read stale memory.
 */
export function recordReads(
  out: Tensor,
  op: string,
  inputs: Tensor[],
  reads: Tensor[],
  backward: GradNode["backward"],
  saved?: Tensor[],
): Tensor {
  return attach(out, op, inputs, reads, backward, saved);
}

function attach(
  out: Tensor,
  op: string,
  inputs: Tensor[],
  reads: Tensor[] | null,
  backward: GradNode["backward"],
  saved?: Tensor[],
): Tensor {
  if (!needsGrad(...inputs)) return out;
  out.requiresGrad = true;
  const pinned = [...(reads ?? [...inputs, out]), ...(saved ?? [])];
  for (const t of pinned) t.readers++;
  out.node = { op, inputs, backward, saved, pinned, declared: reads !== null };
  return out;
}

/**
 * `tidy` for forward code that records a graph (a module's forward, a block): a tensor made
 * inside and not returned is
 * - freed at once when no recorded backward reads its data (e.g. a projection consumed only by
 *   a copying permute, or a branch consumed only by a residual add); it stays a node of the
 *   graph, so gradients flow through it (`Tensor.hollow`);
 * - handed to the enclosing scope when a backward reads it, and then freed by `backward` as
 *   soon as the last node reading it has run (rather than when the outer scope ends);
 * - handed to the enclosing scope as well when it is no graph output (an op's internal
 *   statistics a closure may capture) or made by an op that does not declare its reads.
 * The caller must not keep references to such tensors outside (the `tidy` contract). With
 * gradients off it is a plain `tidy`. This is what keeps a training step's peak memory near
 * the activations the backward really needs, as in PyTorch.
 */
export function graphTidy<R>(fn: () => R): R {
  if (!gradEnabled) return tidy(fn);
  return tidyWith(fn, (d) => {
    if (!(d instanceof Tensor)) return false;
    if (d.readers > 0) {
      // a leaf made inside gets its .grad later: never free it behind the caller's back
      if (d.node || !d.requiresGrad) d.graphOwned = true;
      return true;
    }
    if (d.node?.declared) {
      d.hollowOut();
      return false;
    }
    return true;
  });
}

/** A tensor sharing `t`'s data with no gradient history. */
export function detach(t: Tensor): Tensor {
  return t.viewAs(t.shape);
}

/** Options of `backward`. */
export interface BackwardOptions {
  /** Gradient of the root (default: 1 for a one-element root); same shape as the root. */
  grad?: Tensor;
  /**
   * Keep the graph (nodes and saved tensors) so another backward may run through it
   * (default false: the graph is released and a second backward throws). Gradients of a
   * second backward add into `.grad` again.
   */
  retainGraph?: boolean;
  /**
   * Called once per leaf as soon as its `.grad` is final for this backward (every path into it
   * has run), in completion order; data-parallel training starts a bucket's all-reduce from here
   * while the rest of the backward runs. Leaves the root does not reach are not reported.
   */
  onGradReady?: (leaf: Tensor) => void;
}

function describe(t: Tensor): string {
  const name = t.name ? `'${t.name}' ` : "";
  const op = t.node ? ` (output of '${t.node.op}')` : " (leaf)";
  return `tensor ${name}#${t.id} ${fmtShape(t.shape)}${op}`;
}

function released(op: string): GradNode["backward"] {
  return () => {
    throw new Error(`backward: the graph through '${op}' was already released`);
  };
}

/**
 * Backpropagates from `root`: a one-element tensor, or any tensor with `grad` given (as the
 * second argument or `{grad}`). Leaves with requiresGrad get their gradient added to `.grad`.
 * See the module docs for what is freed when, and for `retainGraph`.
 */
export function backward(root: Tensor, gradOrOpts?: Tensor | BackwardOptions): void {
  const opts: BackwardOptions = gradOrOpts instanceof Tensor ? { grad: gradOrOpts } : gradOrOpts ?? {};
  const grad = opts.grad;
  if (root.disposed) throw new Error(`backward: root ${describe(root)} was disposed`);
  if (!root.requiresGrad) throw new Error("backward: tensor does not require grad");
  if (!grad && root.size !== 1) {
    throw new Error(`backward: root ${fmtShape(root.shape)} is not a scalar; pass its gradient`);
  }
  if (grad) {
    if (grad.disposed) throw new Error(`backward: the root gradient #${grad.id} was disposed`);
    if (
      grad.ndim !== root.ndim || grad.shape.some((d, i) => d !== root.shape[i]) ||
      grad.dtype !== "float32" || grad.device !== root.device
    ) {
      throw new Error(
        `backward: root gradient ${grad} does not match root ${root} (needs the same shape, float32, same device)`,
      );
    }
  }
  const order = topoOrder(root);
  // Tensors made from here on belong to this backward: only those may be handed to a leaf,
  // updated in place or freed (ids grow monotonically). Others (the caller's root gradient,
  // forward tensors a backward returns as-is) are never touched.
  const firstId = Tensor.nextId();
  const own = (g: Tensor) => g.id >= firstId;
  // map entries: input id -> its gradient so far; holders counts entries per tensor object
  const grads = new Map<number, Tensor>();
  const holders = new Map<Tensor, number>();
  const put = (id: number, g: Tensor) => {
    grads.set(id, g);
    holders.set(g, (holders.get(g) ?? 0) + 1);
  };
  const drop = (id: number) => {
    const g = grads.get(id)!;
    grads.delete(id);
    holders.set(g, holders.get(g)! - 1);
  };
  // frees a gradient nothing refers to any more
  const free = (g: Tensor) => {
    if (own(g) && !holders.get(g) && !g.disposed) g.dispose();
  };
  // a gradient that may be modified in place: ours, in one entry, sharing storage with nothing
  const exclusive = (g: Tensor) => own(g) && holders.get(g) === 1 && g.storage.refs === 1;
  try {
    noGrad(() => {
      put(root.id, grad ?? full(root.shape, 1, root.device));
      for (let k = order.length - 1; k >= 0; k--) {
        const t = order[k];
        const g = grads.get(t.id);
        if (!g) continue;
        drop(t.id);
        const node = t.node;
        if (!node) {
          const mine = own(g) && !holders.get(g) && g.storage.refs === 1;
          if (!accumulateLeaf(t, g, mine)) free(g);
          // a leaf is visited once, after all its consumers: its gradient is complete now
          opts.onGradReady?.(t);
          continue;
        }
        // the node's temporaries die with this scope; its returned gradients survive
        const gi = tidy(() => node.backward(g));
        if (gi.length !== node.inputs.length) {
          throw new Error(
            `backward of '${node.op}': ${gi.length} gradients for ${node.inputs.length} inputs`,
          );
        }
        // frees are deferred until every input is served: one tensor may go to several inputs
        const done: Tensor[] = [g];
        node.inputs.forEach((inp, j) => {
          const gj = gi[j];
          if (!gj) return;
          done.push(gj);
          if (!inp.requiresGrad) return;
          if (gj.disposed || gj.size !== inp.size) {
            throw new Error(
              `backward of '${node.op}': gradient ${gj} for input ${describe(inp)}`,
            );
          }
          const prev = grads.get(inp.id);
          if (!prev) put(inp.id, gj);
          else if (exclusive(prev) && prev !== gj) addInto(prev, gj);
          else {
            const s = copy(prev);
            addInto(s, gj);
            drop(inp.id);
            put(inp.id, s);
            done.push(prev);
          }
        });
        for (const x of done) free(x);
        if (!opts.retainGraph) release(t, (x) => (holders.get(x) ?? 0) > 0);
      }
    });
  } catch (e) {
    // leave nothing behind: intermediate gradients are ours to free
    for (const g of grads.values()) if (own(g) && !g.disposed) g.dispose();
    throw e;
  }
  if (!opts.retainGraph) { for (const t of order) if (t.node) release(t); }
}

/**
 * Topological order of the tensors that need a gradient (iterative DFS post-order; backward walks
 * it from the end). A node's leaf inputs are visited after its other inputs, so they land late in
 * the post-order and a parameter is reached right after the last node that uses it: its
 * `onGradReady` fires as early as possible instead of after the whole subgraph below its node.
 */
function topoOrder(root: Tensor): Tensor[] {
  const order: Tensor[] = [];
  const seen = new Set<number>();
  const stack: [Tensor, number, Tensor[]][] = [[root, 0, []]];
  while (stack.length) {
    const top = stack[stack.length - 1];
    const [t, i] = top;
    if (i === 0) {
      if (seen.has(t.id)) {
        stack.pop();
        continue;
      }
      seen.add(t.id);
      if (t.disposed && !t.hollow) {
        throw new Error(
          `backward: ${describe(t)} was disposed before backward; its gradient cannot flow ` +
            `(keep graph tensors alive until backward, e.g. inside one tidy)`,
        );
      }
      if (t.node?.released) {
        throw new Error(
          `backward: the graph through '${t.node.op}' (tensor #${t.id} ${fmtShape(t.shape)}) ` +
            `was released by a previous backward; pass {retainGraph: true} to the first backward to run it twice`,
        );
      }
      const inputs = t.node?.inputs ?? [];
      top[2] = inputs.filter((c) => c.node).concat(inputs.filter((c) => !c.node));
    }
    const inputs = top[2];
    if (i < inputs.length) {
      top[1]++;
      const c = inputs[i];
      if (c.requiresGrad && !seen.has(c.id)) stack.push([c, 0, []]);
    } else {
      stack.pop();
      order.push(t);
    }
  }
  return order;
}

/**
 * Frees a node's saved tensors, drops its reads (a graph-owned activation nothing reads any
 * more is freed, unless `inUse` says the backward still holds it as a gradient) and marks it
 * released (a later backward through it throws).
 */
function release(t: Tensor, inUse?: (x: Tensor) => boolean): void {
  const n = t.node;
  if (!n || n.released) return;
  for (const s of n.saved ?? []) s.dispose();
  for (const p of n.pinned ?? []) {
    if (--p.readers === 0 && p.graphOwned && !p.disposed && !inUse?.(p)) p.hollowOut();
  }
  t.node = { op: n.op, inputs: [], backward: released(n.op), released: true };
}

/**
 * Adds g into t.grad. `mine`: g belongs to this backward and nothing else refers to it, so the
 * leaf may take it as its gradient; otherwise the leaf gets a copy (no shared storage).
 * Returns whether the leaf took g's storage (the caller must not free it then).
 */
function accumulateLeaf(t: Tensor, g: Tensor, mine: boolean): boolean {
  if (t.grad && !t.grad.disposed) {
    if (t.grad.size !== t.size) {
      throw new Error(`backward: ${describe(t)} holds a gradient ${fmtShape(t.grad.shape)} of another size`);
    }
    addInto(t.grad, g);
    return false;
  }
  let own = mine ? g : copy(g);
  if (own.ndim !== t.ndim || own.shape.some((d, i) => d !== t.shape[i])) {
    const v = own.viewAs(t.shape);
    own.dispose();
    own = v;
  }
  t.grad = keep(own);
  return mine;
}
