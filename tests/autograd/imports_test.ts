/**
 * The tape depends on no differentiable op (issue 10 tidy-up: the tape <-> ops import cycle):
 * src/autograd/tape.ts may reach only the raw layer src/ops/raw.ts among the op files, and
 * raw.ts must not reach the tape.
 * Run: .tools/deno test -A tests/autograd/imports_test.ts
 */
import { assertEquals } from "../assert.ts";

/** Repository files reachable from `file` through static imports / re-exports (type-only ones too). */
function reachable(file: string): string[] {
  const root = new URL("../../", import.meta.url);
  const seen = new Set<string>();
  const walk = (rel: string) => {
    if (seen.has(rel)) return;
    seen.add(rel);
    const text = Deno.readTextFileSync(new URL(rel, root));
    for (const m of text.matchAll(/(?:^|\n)\s*(?:import|export)[^"';]*?from\s+"(\.[^"]+)"/g)) {
      walk(new URL(m[1], new URL(rel, root)).href.slice(root.href.length));
    }
  };
  walk(file);
  return [...seen].sort();
}

Deno.test("the tape imports only the raw op layer; the raw layer does not import the tape", () => {
  const fromTape = reachable("src/autograd/tape.ts");
  assertEquals(fromTape.includes("src/tensor/tensor.ts"), true, "the walker follows imports");
  assertEquals(fromTape.filter((f) => f.startsWith("src/ops/")), ["src/ops/raw.ts"]);
  // and the walker sees the ops' own dependency on the tape
  assertEquals(reachable("src/ops/elementwise.ts").includes("src/autograd/tape.ts"), true);
  assertEquals(reachable("src/ops/raw.ts").filter((f) => f.startsWith("src/autograd/")), []);
});
