/**
 * The tape depends on no differentiable op (issue 10 tidy-up: the tape <-> ops import cycle):
 * src/autograd/tape.ts may reach only the raw layer src/ops/raw.ts among the op files, and
 * raw.ts must not reach the tape.
 * Run: .tools/deno test -A tests/autograd/imports_test.ts
 */
import { assertEquals } from "../assert.ts";

function reachable(file: string): string[] {
  const url = new URL(`../../${file}`, import.meta.url);
  const out = new Deno.Command(Deno.execPath(), { args: ["info", "--json", url.pathname] }).outputSync();
  if (!out.success) throw new Error(`deno info ${file}: ${new TextDecoder().decode(out.stderr)}`);
  const info = JSON.parse(new TextDecoder().decode(out.stdout)) as { modules: { specifier: string }[] };
  const root = new URL("../../", import.meta.url).href;
  return info.modules.map((m) => m.specifier).filter((s) => s.startsWith(root)).map((s) =>
    s.slice(root.length)
  );
}

Deno.test("the tape imports only the raw op layer; the raw layer does not import the tape", () => {
  assertEquals(reachable("src/autograd/tape.ts").filter((f) => f.startsWith("src/ops/")), ["src/ops/raw.ts"]);
  assertEquals(reachable("src/ops/raw.ts").filter((f) => f.startsWith("src/autograd/")), []);
});
