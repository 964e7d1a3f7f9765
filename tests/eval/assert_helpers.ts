/** Assertions for the eval tests, on top of node:assert/strict. */
import nodeAssert from "node:assert/strict";

/** Truthiness. */
export function assert(v: unknown, msg?: string): asserts v {
  nodeAssert.ok(v, msg ?? "expected a truthy value");
}

/** Deep strict equality. */
export function assertEquals<T>(actual: T, expected: T, msg?: string): void {
  nodeAssert.deepStrictEqual(actual, expected, msg ?? "values differ");
}

/** |actual - expected| <= tol. */
export function assertAlmostEquals(actual: number, expected: number, tol = 1e-9, msg?: string): void {
  if (!(Math.abs(actual - expected) <= tol)) {
    throw new Error(msg ?? `expected ${expected} ± ${tol}, got ${actual} (diff ${actual - expected})`);
  }
}

/** fn must throw an error whose message matches `re`. */
export function assertThrows(fn: () => unknown, re: RegExp): void {
  nodeAssert.throws(fn, re);
}

/** The async fn must reject with a message matching `re`. */
export async function assertRejects(fn: () => Promise<unknown>, re: RegExp): Promise<void> {
  await nodeAssert.rejects(fn, re);
}
