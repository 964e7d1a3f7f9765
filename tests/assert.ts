/** Minimal assertions on top of node:assert (JSR's @std/assert is unreachable here). */
import assert from "node:assert/strict";

/** Deep equality with an optional message. */
export function assertEquals<T>(actual: T, expected: T, msg?: string): void {
  assert.deepStrictEqual(
    Array.isArray(actual) || ArrayBuffer.isView(actual) ? Array.from(actual as ArrayLike<unknown>) : actual,
    Array.isArray(expected) || ArrayBuffer.isView(expected)
      ? Array.from(expected as ArrayLike<unknown>)
      : expected,
    msg ?? "values differ",
  );
}

/** fn must throw an instance of `cls` whose message includes `includes`. */
export function assertThrows(
  fn: () => unknown,
  cls: new (...a: never[]) => Error = Error,
  includes?: string,
): Error {
  try {
    fn();
  } catch (e) {
    if (!(e instanceof cls)) throw new Error(`expected ${cls.name}, got ${e}`);
    if (includes && !(e as Error).message.includes(includes)) {
      throw new Error(
        `error message ${JSON.stringify((e as Error).message)} lacks ${JSON.stringify(includes)}`,
      );
    }
    return e as Error;
  }
  throw new Error(`expected ${cls.name} to be thrown`);
}

/** Truthiness assertion. */
export function assertOk(v: unknown, msg?: string): asserts v {
  assert.ok(v, msg ?? "expected a truthy value");
}
