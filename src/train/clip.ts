/**
 * Global gradient-norm clipping (torch.nn.utils.clip_grad_norm_): the L2 norm over every
 * gradient together; when it exceeds `maxNorm`, every gradient is scaled in place by
 * maxNorm / (norm + 1e-6). Per-tensor sums of squares are native reductions, accumulated on the
 * device: one host sync per call (per device), not one per parameter.
 * @module
 */
import type { Tensor } from "../tensor/tensor.ts";
import { noGrad } from "../autograd/tape.ts";
import { tidy } from "../tensor/scope.ts";
import { add, axpby, mul } from "../ops/elementwise.ts";
import { sum } from "../ops/reduce.ts";

/**
 * L2 norm of all gradients of `params` (those without a gradient count as zero). The squared
 * norms are reduced and added on the gradients' device, so the host waits once per device
 * (one `.item()`), not once per parameter.
 */
export function gradNorm(params: Iterable<Tensor>): number {
  let total = 0;
  noGrad(() =>
    tidy(() => {
      const acc = new Map<Tensor["device"], Tensor>(); // device -> running Σ g² (a scalar there)
      for (const p of params) {
        if (!p.grad) continue;
        const s = sum(mul(p.grad, p.grad));
        const prev = acc.get(p.grad.device);
        acc.set(p.grad.device, prev ? add(prev, s) : s);
      }
      for (const t of acc.values()) total += t.item();
    })
  );
  return Math.sqrt(total);
}

/**
 * Scales gradients so their global L2 norm is at most `maxNorm`; returns the norm before
 * clipping (log it: spikes show instability). A non-finite norm leaves gradients untouched
 * and is returned as is, so the caller can skip the step.
 */
export function clipGradNorm(params: Iterable<Tensor>, maxNorm: number): number {
  const list = [...params];
  const norm = gradNorm(list);
  if (!Number.isFinite(norm)) return norm;
  const coef = maxNorm / (norm + 1e-6);
  if (coef < 1) { for (const p of list) if (p.grad) axpby(coef, p.grad, 0, p.grad); }
  return norm;
}
