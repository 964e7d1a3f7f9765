// Host-side bookkeeping of the device backend, tested without a device: the shared library
// handle (one dlopen for the union of registered tables, conflicting signatures rejected) and
// the device pool of storage.ts driven by a simulated raw allocator that enforces a memory limit
// (Storage on the block pool: best-fit reuse across sizes, empty-the-cache-and-retry on failure, the backend's
// workspace counted by memoryStats and released by emptyCache). These run on machines without
// a GPU; on a machine with one the pool test is skipped (the real CUDA allocator is installed).
// Run: .tools/deno test --allow-all tests/cuda/host_logic_test.ts
import assert from "node:assert/strict";
import { SharedLibrary } from "../../src/backend/dispatch.ts";
import { NO_CUDA } from "./cuda_helpers.ts";
import { emptyCache, memoryStats, registerAllocator, Storage } from "../../src/tensor/storage.ts";

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
  name:
    "device pool: Storage on the block pool, best fit across sizes, retry after emptying, workspace in the stats",
  ignore: !NO_CUDA, // needs the "cuda" pool free for the simulated allocator
  fn() {
    const MiB = 1024 * 1024;
    const dev = simulatedDevice(24 * MiB);
    registerAllocator("cuda", dev.raw);
    const allocs = () => dev.log.filter((l) => l.startsWith("alloc")).length;
    // 1. small tensors of different sizes share one 2 MiB segment; freed ones are reused by others
    const a = Storage.alloc(MiB, "cuda");
    assert.equal(a.capacity, MiB);
    assert.equal(memoryStats("cuda").cachedBytes, MiB, "the split-off rest of the segment");
    a.release();
    const b = Storage.alloc(600 * 1024, "cuda"), c = Storage.alloc(300 * 1024, "cuda");
    assert.equal(allocs(), 1, "one raw segment serves 1 MiB, then 600 + 300 KiB");
    assert.equal(
      Deno.UnsafePointer.value(b.ptr),
      Deno.UnsafePointer.value(a.ptr),
      "best fit at the segment start",
    );
    assert.equal(memoryStats("cuda").liveBytes, 900 * 1024);
    b.release();
    c.release();
    // 2. medium blocks fill the device; a bigger request empties the cache (and workspace) and retries
    const held = [Storage.alloc(3 * MiB, "cuda"), Storage.alloc(3 * MiB, "cuda")];
    assert.equal(allocs(), 2, "both from one 20 MiB segment");
    for (const s of held) s.release();
    const mid = Storage.alloc(12 * MiB, "cuda"); // a new size: carved from the cached segment
    assert.equal(allocs(), 2);
    mid.release();
    dev.setWorkspace(MiB);
    assert.equal(memoryStats("cuda").workspaceBytes, MiB);
    const before = dev.log.length;
    const huge = Storage.alloc(21 * MiB, "cuda");
    const tail = dev.log.slice(before);
    assert.equal(tail[0], `fail ${22 * MiB}`);
    assert.ok(tail.includes("release workspace"), tail.join(", "));
    assert.equal(tail[tail.length - 1], `alloc ${22 * MiB}`);
    assert.equal(memoryStats("cuda").workspaceBytes, 0);
    // 3. a request that cannot fit even after emptying fails with the allocator's message
    assert.throws(() => Storage.alloc(16 * MiB, "cuda"), /out of device memory allocating/);
    huge.release();
    emptyCache("cuda");
    assert.equal(dev.used, 0, "every segment went back");
    assert.equal(memoryStats("cuda").liveBytes, 0);
    assert.equal(memoryStats("cuda").segments, 0);
  },
});
