/**
 * Regression test for stale host views (issue 10, fault 12): a `data()` view that escapes a
 * tidy scope or outlives dispose / emptyCache is detached, so it can never read or write the
 * memory another tensor owns next (or memory returned to the system).
 * Run: .tools/deno test -A tests/tensor/host_view_test.ts
 */
import { assertEquals, assertOk, assertThrows } from "../assert.ts";
import { tensor } from "../../src/tensor/create.ts";
import { tidy } from "../../src/tensor/scope.ts";
import { emptyCache } from "../../src/tensor/storage.ts";
import { reshape } from "../../src/ops/shape_ops.ts";

Deno.test("a data() view escaping tidy is detached and never aliases the next tensor", () => {
  const v = tidy(() => tensor([1, 2, 3, 4]).data());
  assertEquals(v.length, 0, "escaped view is detached");
  // the freed block is handed to the next tensor of the same size: the old view must not see it
  const t = tensor([9, 9, 9, 9]);
  v[0] = -1; // dropped
  assertEquals(t.toArray(), [9, 9, 9, 9]);
  assertEquals(v[0], undefined);
  t.dispose();
});

Deno.test("a view kept after dispose and emptyCache does not touch freed memory", () => {
  const t = tensor([1, 2, 3]);
  const v = t.data();
  v[1] = 7;
  assertEquals(t.toArray(), [1, 7, 3], "live views write through (no copy on the CPU)");
  t.dispose();
  emptyCache();
  assertEquals(v.length, 0);
  assertThrows(() => Array.from(v), TypeError, "detached");
  const i = tensor([5, 6], [2], { dtype: "int32" });
  const vi = i.dataI32();
  i.dispose();
  assertEquals(vi.length, 0);
});

Deno.test("a view stays valid while another tensor still shares the storage (reshape)", () => {
  const t = tensor([1, 2, 3, 4]);
  const r = reshape(t, [2, 2]);
  const v = t.data();
  t.dispose();
  assertOk(v.length === 4, "memory still owned by the reshape view");
  assertEquals(Array.from(v), [1, 2, 3, 4]);
  r.dispose();
  assertEquals(v.length, 0);
});
