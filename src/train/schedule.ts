/**
 * Learning-rate schedules as pure functions step -> factor in [0, 1], applied to every group's
 * `baseLr` with `optimizer.setLrFactor(schedule(step))`, so groups with different base rates
 * follow one curve. `step` is the index of the step about to run (0-based).
 * @module
 */

/** step (0-based) -> multiplier of the base learning rate. */
export type Schedule = (step: number) => number;

/** Always 1. */
export function constant(): Schedule {
  return () => 1;
}

/** Options of `warmupCosine`. */
export interface WarmupCosineOptions {
  /** Steps of linear warmup (0 = none). */
  warmupSteps: number;
  /** Step at which the cosine reaches the floor (and stays). */
  totalSteps: number;
  /** Final factor, a fraction of the base lr (default 0). */
  floor?: number;
  /** Factor at step 0 of the warmup (default: 1 / warmupSteps, so no step runs at lr 0). */
  warmupStart?: number;
}

/**
 * Linear warmup from `warmupStart` to 1 over `warmupSteps` steps (step warmupSteps-1 reaches 1),
 * then cosine from 1 down to `floor` at `totalSteps`, then `floor`.
 */
export function warmupCosine(o: WarmupCosineOptions): Schedule {
  const w = Math.max(0, Math.floor(o.warmupSteps));
  const floor = o.floor ?? 0;
  if (!(o.totalSteps >= w)) throw new Error(`warmupCosine: totalSteps ${o.totalSteps} < warmupSteps ${w}`);
  if (!(floor >= 0 && floor <= 1)) throw new Error(`warmupCosine: floor ${floor} not in [0, 1]`);
  const start = o.warmupStart ?? (w > 0 ? 1 / w : 1);
  return (step) => {
    if (step < w) return w === 1 ? 1 : start + (1 - start) * (step / (w - 1));
    const span = o.totalSteps - w;
    const t = span <= 0 ? 1 : Math.min(1, (step - w) / span);
    return floor + (1 - floor) * 0.5 * (1 + Math.cos(Math.PI * t));
  };
}

/** Linear warmup to 1 over `warmupSteps`, then constant. */
export function warmupConstant(warmupSteps: number, warmupStart?: number): Schedule {
  const w = Math.max(0, Math.floor(warmupSteps));
  const start = warmupStart ?? (w > 0 ? 1 / w : 1);
  return (step) => (step >= w || w === 1 ? 1 : start + (1 - start) * (step / (w - 1)));
}
