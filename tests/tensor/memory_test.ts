// Memory ownership: tidy scopes, keep, dispose/using, caching allocator reuse, errors.
import { assertEquals, assertOk, assertThrows } from "../assert.ts";
import { tensor, zeros } from "../../src/tensor/create.ts";
import { keep, tidy } from "../../src/tensor/scope.ts";
import { bucketSize, memoryStats } from "../../src/tensor/storage.ts";
import { add } from "../../src/ops/elementwise.ts";
import { Rng } from "../../src/tensor/rng.ts";

Deno.test("tidy frees temporaries and returns its result", () => {
  const start = memoryStats().liveBytes;
  const r = tidy(() => {
    const a = zeros([100]);
    const b = add(a, 1);
    return { b, list: [add(b, 1)] };
  });
  assertEquals(r.b.toArray()[0], 1);
  assertEquals(r.list[0].toArray()[0], 2);
  assertEquals(memoryStats().liveBytes - start, 2 * bucketSize(400));
  r.b.dispose();
  r.list[0].dispose();
  assertEquals(memoryStats().liveBytes, start);
});

Deno.test("keep moves a tensor out of scopes; errors inside tidy still free", () => {
  const start = memoryStats().liveBytes;
  let kept = null as ReturnType<typeof zeros> | null;
  tidy(() => {
    kept = keep(zeros([10]));
    zeros([10]);
  });
  assertOk(kept && !kept.disposed);
  kept!.dispose();
  assertThrows(
    () =>
      tidy(() => {
        zeros([1000]);
        throw new Error("boom");
      }),
    Error,
    "boom",
  );
  assertEquals(memoryStats().liveBytes, start);
});

Deno.test("using and dispose; use after dispose is an error", () => {
  const start = memoryStats().liveBytes;
  {
    using t = tensor([1, 2, 3]);
    assertEquals(t.toArray(), [1, 2, 3]);
  }
  assertEquals(memoryStats().liveBytes, start);
  const t = tensor([1]);
  t.dispose();
  t.dispose(); // idempotent
  assertThrows(() => t.data(), Error, "used after dispose()");
});

Deno.test("the caching allocator reuses blocks across steps", () => {
  const step = () => tidy(() => add(zeros([64, 1024]), 1).toArray().length);
  step();
  const cached = memoryStats().cachedBytes;
  for (let i = 0; i < 20; i++) step();
  assertEquals(memoryStats().cachedBytes, cached, "no new blocks after warm-up");
  assertEquals(bucketSize(1), 64);
  assertEquals(bucketSize(5000), 5120);
  assertOk(bucketSize(3 << 20) >= 3 << 20 && bucketSize(3 << 20) <= (3 << 20) * 1.25);
});

Deno.test("seeded RNG is deterministic and well spread", () => {
  const a = new Rng(42), b = new Rng(42);
  for (let i = 0; i < 100; i++) assertEquals(a.nextU32(), b.nextU32());
  const r = new Rng(1);
  let s = 0, s2 = 0;
  const n = 20000;
  for (let i = 0; i < n; i++) {
    const v = r.normal();
    s += v;
    s2 += v * v;
  }
  assertOk(Math.abs(s / n) < 0.03, `mean ${s / n}`);
  assertOk(Math.abs(s2 / n - 1) < 0.05, `var ${s2 / n}`);
  for (let i = 0; i < 1000; i++) assertOk(Math.abs(r.truncNormal(0.02)) <= 0.04);
});
