/**
 * Freezing helpers for staged training (stage 2b freezes the FPN; the paper freezes the ViT):
 * select parameters by dotted-name prefix or predicate, turn their gradients off or on, and
 * build optimizer groups that exclude frozen weights and put norms / biases in a no-decay group.
 * @module
 */
import type { Tensor } from "../tensor/tensor.ts";
import type { Module } from "../nn/module.ts";
import type { ParamGroupSpec } from "./optimizer.ts";

/** Matches a dotted name against prefixes: 'fpn' matches 'fpn' and 'fpn.x', not 'fpn2.x'. */
export function hasPrefix(name: string, prefixes: string[]): boolean {
  return prefixes.some((p) => name === p || name.startsWith(p + "."));
}

/**
 * Sets requiresGrad on every parameter of `root` whose name satisfies `select` (others are
 * untouched); returns how many parameters changed. Turning off drops stale gradients.
 */
export function setTrainable(root: Module, select: (name: string) => boolean, on: boolean): number {
  let n = 0;
  for (const [name, p] of root.namedParameters()) {
    if (!select(name)) continue;
    if (p.requiresGrad !== on) n++;
    p.requiresGrad = on;
    if (!on && p.grad) {
      p.grad.dispose();
      p.grad = null;
    }
  }
  return n;
}

/** Freezes parameters under the given dotted prefixes; throws when a prefix matches nothing. */
export function freezePrefixes(root: Module, prefixes: string[]): void {
  const names = root.namedParameters().map(([n]) => n);
  for (const p of prefixes) {
    if (!names.some((n) => hasPrefix(n, [p]))) {
      throw new Error(`freeze: no parameter under '${p}' in ${root.constructor.name}`);
    }
  }
  setTrainable(root, (n) => hasPrefix(n, prefixes), false);
}

/** Parameters with requiresGrad on. */
export function trainableParameters(root: Module): Tensor[] {
  return root.parameters().filter((p) => p.requiresGrad);
}

/**
 * Two optimizer groups over the trainable parameters: weights with decay, and biases, norm
 * scales and 1-D tensors without (the BERT / ViT / LAVIS convention).
 */
export function decayGroups(root: Module, weightDecay: number): (ParamGroupSpec & { params: Tensor[] })[] {
  const decay: Tensor[] = [], noDecay: Tensor[] = [];
  // tied weights once, under their first name
  for (const [name, p] of root.uniqueNamedParameters()) {
    if (!p.requiresGrad) continue;
    if (p.ndim < 2 || name.endsWith(".bias") || name === "bias") noDecay.push(p);
    else decay.push(p);
  }
  return [{ params: decay, weightDecay }, { params: noDecay, weightDecay: 0 }];
}
