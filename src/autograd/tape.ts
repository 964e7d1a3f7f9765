/**
 * Reverse-mode autodiff. Ops call `record(out, op, inputs, backward)`; `backward(loss)` walks
 * the recorded graph in reverse topological order, sums gradients on fan-out, and accumulates
 * into the `.grad` of leaves that require it (owned by the leaf, outside every scope).
 * Intermediate gradients belong to the enclosing `tidy` scope.
 * @module
 */
import { type GradNode, Tensor } from "../tensor/tensor.ts";
import { keep } from "../tensor/scope.ts";
import { fmtShape } from "../tensor/shape.ts";
import { addInto, copy } from "../ops/elementwise.ts";

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
 * one gradient per input (null where none flows), each shaped like its input.
 */
export function record(
  out: Tensor,
  op: string,
  inputs: Tensor[],
  backward: GradNode["backward"],
): Tensor {
  if (!needsGrad(...inputs)) return out;
  out.requiresGrad = true;
  out.node = { op, inputs, backward };
  return out;
}

/** A tensor sharing `t`'s data with no gradient history. */
export function detach(t: Tensor): Tensor {
  return t.viewAs(t.shape);
}

/**
 * Backpropagates from `root` (a scalar unless `grad` is given). Leaves with requiresGrad get
 * their gradient added to `.grad`.
 */
export function backward(root: Tensor, grad?: Tensor): void {
  if (!root.requiresGrad) throw new Error("backward: tensor does not require grad");
  if (!grad && root.size !== 1) {
    throw new Error(`backward: root ${fmtShape(root.shape)} is not a scalar; pass its gradient`);
  }
  // reverse topological order by iterative DFS
  const order: Tensor[] = [];
  const seen = new Set<number>();
  const stack: [Tensor, number][] = [[root, 0]];
  while (stack.length) {
    const top = stack[stack.length - 1];
    const [t, i] = top;
    if (i === 0) {
      if (seen.has(t.id)) {
        stack.pop();
        continue;
      }
      seen.add(t.id);
    }
    const inputs = t.node?.inputs ?? [];
    if (i < inputs.length) {
      top[1]++;
      const c = inputs[i];
      if (c.requiresGrad && !seen.has(c.id)) stack.push([c, 0]);
    } else {
      stack.pop();
      order.push(t);
    }
  }
  // Gradients are handed over, not copied: an entry may be updated in place only when no
  // other entry or view shares its storage (storage refs 1, one map entry); otherwise a sum
  // is allocated. Leaves take a view of their final gradient.
  const grads = new Map<number, Tensor>();
  const holders = new Map<Tensor, number>();
  const put = (id: number, g: Tensor) => {
    grads.set(id, g);
    holders.set(g, (holders.get(g) ?? 0) + 1);
  };
  const drop = (id: number) => {
    const g = grads.get(id);
    if (!g) return;
    grads.delete(id);
    holders.set(g, holders.get(g)! - 1);
  };
  noGrad(() => {
    put(root.id, grad ?? fillLike(root, 1));
    for (let k = order.length - 1; k >= 0; k--) {
      const t = order[k];
      const g = grads.get(t.id);
      if (!g) continue;
      drop(t.id);
      if (!t.node) {
        accumulateLeaf(t, g);
        continue;
      }
      const gi = t.node.backward(g);
      t.node.inputs.forEach((inp, j) => {
        const gj = gi[j];
        if (!gj || !inp.requiresGrad) return;
        if (gj.size !== inp.size) {
          throw new Error(
            `backward of ${t.node!.op}: gradient ${fmtShape(gj.shape)} for input ${fmtShape(inp.shape)}`,
          );
        }
        const prev = grads.get(inp.id);
        if (!prev) put(inp.id, gj);
        else if (prev.storage.refs === 1 && holders.get(prev) === 1 && prev !== gj) addInto(prev, gj);
        else {
          const s = copy(prev);
          addInto(s, gj);
          drop(inp.id);
          put(inp.id, s);
        }
      });
    }
  });
}

function accumulateLeaf(t: Tensor, g: Tensor): void {
  // a view shares g's storage, so no other gradient entry is ever updated in place over it
  if (!t.grad) t.grad = keep(g.viewAs(t.shape));
  else addInto(t.grad, g);
}

function fillLike(t: Tensor, v: number): Tensor {
  const out = Tensor.empty(t.shape, "float32", t.device);
  out.set(new Float32Array(t.size).fill(v));
  return out;
}
