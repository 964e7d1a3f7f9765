/**
 * Memory scopes (tfjs-style `tidy`): every tensor created inside `tidy(fn)` is disposed when
 * fn returns, except the tensors in its result and those passed to `keep`. Parameters and
 * optimizer state are created outside scopes (or kept) and freed explicitly.
 * @module
 */

/** Anything with an owner-managed native buffer. */
export interface Disposable {
  dispose(): void;
  readonly disposed: boolean;
}

const stack: Set<Disposable>[] = [];
const kept = new WeakSet<Disposable>();

/** Records a new tensor in the innermost scope (no-op outside scopes). */
export function track<T extends Disposable>(t: T): T {
  if (stack.length > 0) stack[stack.length - 1].add(t);
  return t;
}

/** Removes `t` from every open scope so it outlives them; returns it. */
export function keep<T extends Disposable>(t: T): T {
  for (const s of stack) s.delete(t);
  kept.add(t);
  return t;
}

function collect(v: unknown, out: Set<unknown>, depth = 0): void {
  if (v === null || typeof v !== "object" || depth > 4) return;
  if ("dispose" in (v as object) && "disposed" in (v as object)) {
    out.add(v);
    return;
  }
  if (Array.isArray(v)) { for (const x of v) collect(x, out, depth + 1); }
  else if (v instanceof Map) { for (const x of v.values()) collect(x, out, depth + 1); }
  else if (Object.getPrototypeOf(v) === Object.prototype) {
    for (const x of Object.values(v as Record<string, unknown>)) collect(x, out, depth + 1);
  }
}

/**
 * Runs fn in a new scope; disposes what it created except its result (tensors found in the
 * returned value, arrays, maps and plain objects), which moves to the enclosing scope.
 */
export function tidy<R>(fn: () => R): R {
  return tidyWith(fn, null);
}

/**
 * `tidy` with a say over each tensor it would dispose: `drop(t)` returns true to hand `t` to the
 * enclosing scope instead (it must then not be disposed), false to let it be disposed (or
 * dispose it itself). Used by autograd/tape.ts `graphTidy`; on an exception every tensor made
 * inside is disposed as with `tidy`.
 */
export function tidyWith<R>(fn: () => R, drop: ((t: Disposable) => boolean) | null): R {
  const scope = new Set<Disposable>();
  stack.push(scope);
  let result: R;
  try {
    result = fn();
  } catch (e) {
    stack.pop();
    for (const t of scope) if (!t.disposed) t.dispose();
    throw e;
  }
  stack.pop();
  if (result instanceof Promise) {
    throw new Error("tidy: fn must be synchronous (await outside the scope)");
  }
  const survivors = new Set<unknown>();
  collect(result, survivors);
  for (const t of scope) {
    if (survivors.has(t) || (drop !== null && !t.disposed && drop(t))) {
      if (stack.length > 0) stack[stack.length - 1].add(t);
    } else if (!t.disposed) t.dispose();
  }
  return result;
}

/** Depth of open scopes (for tests and diagnostics). */
export function scopeDepth(): number {
  return stack.length;
}
