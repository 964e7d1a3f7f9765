/** Turns native status codes (native/ft.h) into Errors that name the op and its shapes. */

const MESSAGES: Record<number, string> = {
  1: "invalid argument",
  2: "out of memory",
  3: "not supported by this build or CPU",
  4: "device error",
};

let detail: ((status: number) => string | undefined) | null = null;

/** Installed by a device backend (src/backend/cuda.ts) to append its last error message to status 4. */
export function registerStatusDetail(fn: (status: number) => string | undefined): void {
  detail = fn;
}

/** Throws when `status` is non-zero; `what` names the op and shapes, e.g. `matmul (2,3)x(4,5)`. */
export function check(status: number, what: string | (() => string)): void {
  if (status !== 0) {
    const name = typeof what === "function" ? what() : what;
    const extra = detail?.(status);
    throw new Error(
      `${name}: native kernel failed (${MESSAGES[status] ?? `status ${status}`}${extra ? `: ${extra}` : ""})`,
    );
  }
}
