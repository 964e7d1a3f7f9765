// Host-side bookkeeping of the device backend, tested without a device: the shared library
// handle (one dlopen for the union of registered tables, conflicting signatures rejected) and
// the device pool of storage.ts driven by a simulated raw allocator that enforces a memory limit
// (best-fit reuse of a larger cached block, empty-the-cache-and-retry on failure, the backend's
// workspace counted by memoryStats and released by emptyCache). These run on machines without
// a GPU; on a machine with one the pool test is skipped (the real CUDA allocator is installed).
// Run: .tools/deno test --allow-all tests/cuda/host_logic_test.ts
import assert from "node:assert/strict";
import { SharedLibrary } from "../../src/backend/dispatch.ts";
import { NO_CUDA } from "./cuda_helpers.ts";
import { bucketSize, emptyCache, memoryStats, registerAllocator, Storage } from "../../src/tensor/storage.ts";

Deno.test("shared library: one open for the union, late tables open only their new names", () => {
  const opened: string[][] = [];
  const lib = new SharedLibrary("libfake", (defs) => {
    opened.push(Object.keys(defs).sort());
    for (const d of Object.values(defs)) assert.equal((d as { optional?: boolean }).optional, true);
    // the fake library has every symbol but ft_missing
    return Object.fromEntries(Object.keys(defs).filter((n) => n !== "ft_missing").map((n) => [n, () => n]));
  });
  const a = lib.bind({ ft_a: { parameters: [/* n */ "i64"], result: "i32" } });
  const b = lib.bind({
    ft_b: { parameters: [/* p */ "pointer"], result: "i32" },
    ft_missing: { parameters: [], result: "i32" },
  });
  assert.equal(opened.length, 0, "binding does not open");
  assert.equal((a.ft_a as unknown as () => string)(), "ft_a");
  assert.deepEqual(opened, [["ft_a", "ft_b", "ft_missing"]]);
  assert.equal((b.ft_b as unknown as () => string)(), "ft_b");
  assert.equal(opened.length, 1, "one open for every table registered before first use");
  assert.throws(() => b.ft_missing, /symbol ft_missing not found in libfake/);
  const c = lib.bind({ ft_c: { parameters: [/* x */ "f32"], result: "i32" } });
  assert.equal((c.ft_c as unknown as () => string)(), "ft_c");
  assert.deepEqual(opened[1], ["ft_c"]);
  assert.equal(lib.opens, 2);
  // same name, same signature: fine; another signature: an error naming both
  lib.register({ ft_a: { parameters: ["i64"], result: "i32" } });
  assert.throws(
    () => lib.register({ ft_a: { parameters: ["i32"], result: "i32" } }),
    /ft_a declared twice with different signatures: \(i64\) -> i32 vs \(i32\) -> i32/,
  );
});

/** A device with `limit` bytes: allocations past it fail like cudaMalloc returning null. */
function simulatedDevice(limit: number) {
  const live = new Map<number, number>();
  let next = 0x1000, used = 0, workspace = 0;
  const log: string[] = [];
  return {
    log,
    get used() {
      return used;
    },
    setWorkspace(n: number) {
      workspace = n;
      used += n;
    },
    raw: {
      alloc(bytes: number): Deno.PointerObject {
        if (used + bytes > limit) {
          log.push(`fail ${bytes}`);
          throw new Error(`out of device memory allocating ${bytes} bytes (simulated)`);
        }
        const addr = next;
        next += bytes + 256;
        live.set(addr, bytes);
        used += bytes;
        log.push(`alloc ${bytes}`);
        return Deno.UnsafePointer.create(BigInt(addr))!;
      },
      free(p: Deno.PointerObject) {
        const addr = Number(Deno.UnsafePointer.value(p));
        const n = live.get(addr);
        if (n === undefined) throw new Error(`double free of ${addr}`);
        live.delete(addr);
        used -= n;
        log.push(`free ${n}`);
      },
      extraBytes: () => workspace,
      releaseExtra() {
        used -= workspace;
        workspace = 0;
        log.push("release workspace");
      },
    },
  };
}

Deno.test({
  name: "device pool: best-fit reuse up to 2x, retry after emptying the cache, workspace in the stats",
  ignore: !NO_CUDA, // needs the "cuda" pool free for the simulated allocator
  fn() {
    const dev = simulatedDevice(10 * 1024 * 1024);
    registerAllocator("cuda", dev.raw);
    // 1. a freed 1 MiB block serves a 600 KiB request (bucket 640 KiB, within 2x) ...
    const big = Storage.alloc(1 << 20, "cuda");
    big.release();
    assert.equal(memoryStats("cuda").cachedBytes, 1 << 20);
    const mid = Storage.alloc(600 * 1024, "cuda");
    assert.equal(mid.capacity, 1 << 20, "took the cached 1 MiB block");
    assert.equal(memoryStats("cuda").cachedBytes, 0);
    assert.equal(dev.log.filter((l) => l.startsWith("alloc")).length, 1);
    mid.release();
    // ... but not a request under half its size
    const small = Storage.alloc(100 * 1024, "cuda");
    assert.equal(small.capacity, bucketSize(100 * 1024));
    small.release();
    // 2. cached blocks of other sizes fill the device; a new size empties the cache and retries
    const held: Storage[] = [];
    for (let i = 0; i < 6; i++) held.push(Storage.alloc(1.25 * 1024 * 1024, "cuda"));
    for (const s of held) s.release();
    dev.setWorkspace(1024 * 1024);
    assert.equal(memoryStats("cuda").workspaceBytes, 1024 * 1024);
    const before = dev.log.length;
    const huge = Storage.alloc(5 * 1024 * 1024, "cuda");
    const tail = dev.log.slice(before);
    assert.equal(tail[0], `fail ${5 * 1024 * 1024}`);
    assert.ok(tail.includes("release workspace"), tail.join(", "));
    assert.equal(tail[tail.length - 1], `alloc ${5 * 1024 * 1024}`);
    assert.equal(memoryStats("cuda").workspaceBytes, 0);
    // 3. a request that cannot fit even after emptying fails with the allocator's message
    assert.throws(() => Storage.alloc(8 * 1024 * 1024, "cuda"), /out of device memory allocating/);
    huge.release();
    emptyCache("cuda");
    assert.equal(dev.used, 0, "every block went back");
    assert.equal(memoryStats("cuda").liveBytes, 0);
  },
});
