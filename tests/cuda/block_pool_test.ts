// The device caching allocator's bookkeeping (src/tensor/block_pool.ts) on a simulated device:
// best-fit reuse of cached blocks of other sizes, splitting and merging inside segments, stream
// tags with a join before cross-stream reuse, release of idle segments, the retry after a failed
// raw allocation. Pure host logic: runs on every machine (no GPU, no FFI calls).
// Run: .tools/deno test --allow-all tests/cuda/block_pool_test.ts
import assert from "node:assert/strict";
import {
  type Block,
  BlockPool,
  blockSize,
  MEDIUM_SEGMENT,
  segmentSize,
  SMALL_SEGMENT,
} from "../../src/tensor/block_pool.ts";

const MiB = 1 << 20;

/** A device of `limit` bytes handing out fake addresses; records every call. */
function fakeDevice(limit: number) {
  const live = new Map<bigint, number>();
  let next = 0x10000000n, used = 0, stream = 0n, extra = 0;
  const log: string[] = [];
  return {
    log,
    live,
    get used() {
      return used;
    },
    setStream(s: bigint) {
      stream = s;
    },
    setExtra(n: number) {
      extra = n;
      used += n;
    },
    src: {
      alloc(bytes: number): Deno.PointerObject {
        if (used + bytes > limit) {
          log.push(`fail ${bytes}`);
          throw new Error(`out of device memory allocating ${bytes} bytes (simulated)`);
        }
        const a = next;
        next += BigInt(bytes) + 0x100000n;
        live.set(a, bytes);
        used += bytes;
        log.push(`alloc ${bytes}`);
        return Deno.UnsafePointer.create(a)!;
      },
      free(p: Deno.PointerObject) {
        const a = Deno.UnsafePointer.value(p) as bigint;
        const n = live.get(a);
        if (n === undefined) throw new Error(`free of unknown segment ${a}`);
        live.delete(a);
        used -= n;
        log.push(`free ${n}`);
      },
      stream: () => stream,
      join(w: bigint, s: bigint) {
        log.push(`join ${w}<-${s}`);
      },
      releaseExtra() {
        used -= extra;
        if (extra) log.push("release extra");
        extra = 0;
      },
    },
  };
}

const addr = (b: Block) => Number(Deno.UnsafePointer.value(b.ptr));

/** Every live block lies inside one segment of the device and no two overlap. */
function assertDisjoint(dev: ReturnType<typeof fakeDevice>, blocks: Block[]) {
  const segs = [...dev.live].map(([a, n]) => [Number(a), Number(a) + n]);
  const spans = blocks.map((b) => [addr(b), addr(b) + b.size]).sort((x, y) => x[0] - y[0]);
  for (let i = 0; i < spans.length; i++) {
    assert.ok(
      segs.some(([lo, hi]) => spans[i][0] >= lo && spans[i][1] <= hi),
      `block ${i} outside every segment`,
    );
    if (i) assert.ok(spans[i][0] >= spans[i - 1][1], `blocks ${i - 1} and ${i} overlap`);
    assert.equal(spans[i][0] % 512, 0, "512-byte aligned");
  }
}

Deno.test("block pool: sizes and segment policy", () => {
  assert.equal(blockSize(0), 512);
  assert.equal(blockSize(513), 1024);
  assert.equal(segmentSize(512), SMALL_SEGMENT);
  assert.equal(segmentSize(MiB), SMALL_SEGMENT);
  assert.equal(segmentSize(MiB + 512), MEDIUM_SEGMENT);
  assert.equal(segmentSize(11 * MiB), 12 * MiB);
});

Deno.test("block pool: small blocks split one segment, merge back, segment released when idle", () => {
  const dev = fakeDevice(64 * MiB);
  const pool = new BlockPool(dev.src);
  const a = pool.alloc(1000), b = pool.alloc(3000), c = pool.alloc(100 * 1024);
  assert.deepEqual([a.size, b.size, c.size], [1024, 3072, 100 * 1024]);
  assert.equal(dev.log.filter((l) => l.startsWith("alloc")).length, 1, "one 2 MiB segment for all three");
  assert.equal(addr(b), addr(a) + 1024);
  assert.equal(addr(c), addr(b) + 3072);
  assertDisjoint(dev, [a, b, c]);
  let s = pool.stats();
  assert.equal(s.reservedBytes, SMALL_SEGMENT);
  assert.equal(s.allocatedBytes, 1024 + 3072 + 100 * 1024);
  assert.equal(s.freeBlocks, 1, "the tail of the segment");
  // free the middle: a hole of 3072 that a 2 KiB request reuses (best fit, not the big tail)
  pool.free(b);
  const d = pool.alloc(2048);
  assert.equal(addr(d), addr(b));
  assert.equal(pool.stats().freeBlocks, 2, "the 1 KiB rest of the hole + the tail");
  // everything back: neighbours merge into one free block spanning the segment
  for (const x of [a, c, d]) pool.free(x);
  s = pool.stats();
  assert.equal(s.freeBlocks, 1);
  assert.equal(s.allocatedBytes, 0);
  assert.equal(pool.release(), SMALL_SEGMENT);
  assert.equal(dev.used, 0);
  assert.equal(pool.stats().segments, 0);
  assert.throws(() => pool.free(a), /not live in this pool/);
});

Deno.test("block pool: variable sizes reuse cached large blocks instead of growing", () => {
  const dev = fakeDevice(256 * MiB);
  const pool = new BlockPool(dev.src);
  // a model with variable sequence lengths: activations of 3..9 MiB, each step frees them all
  const sizes = [3, 7, 5, 9, 4, 8, 6, 3.5, 9, 2].map((m) => m * MiB);
  let reservedAfterFirst = 0;
  for (let step = 0; step < 5; step++) {
    const held: Block[] = [];
    for (let i = 0; i < 4; i++) held.push(pool.alloc(sizes[(step * 3 + i) % sizes.length]));
    assertDisjoint(dev, held);
    for (const b of held) pool.free(b);
    if (step === 0) reservedAfterFirst = pool.stats().reservedBytes;
  }
  // with fixed buckets every new size would have taken a new block; here the first step's
  // segments (plus at most one more) serve all later steps
  assert.ok(
    pool.stats().reservedBytes <= reservedAfterFirst + MEDIUM_SEGMENT,
    `reserved ${pool.stats().reservedBytes} vs ${reservedAfterFirst} after the first step`,
  );
  // a large block bigger than the request by more than 1 MiB is split, the rest stays usable
  const one = pool.alloc(3 * MiB), two = pool.alloc(3 * MiB);
  assert.equal(one.size, 3 * MiB);
  assertDisjoint(dev, [one, two]);
  pool.free(one);
  pool.free(two);
  pool.release();
  assert.equal(dev.used, 0);
});

Deno.test("block pool: stream tags: cross-stream reuse joins first, same-stream blocks preferred", () => {
  const dev = fakeDevice(64 * MiB);
  const pool = new BlockPool(dev.src);
  dev.setStream(7n);
  const a = pool.alloc(4096);
  const b = pool.alloc(4096);
  pool.free(a); // freed on stream 7; b keeps a and the tail apart
  dev.setStream(0n);
  const before = dev.log.length;
  const c = pool.alloc(4096);
  assert.equal(addr(c), addr(a), "best fit is the block freed on stream 7");
  assert.deepEqual(dev.log.slice(before), ["join 0<-7"], "stream 0 waits for stream 7 before reusing it");
  pool.free(c); // now tagged stream 0: no join for another stream-0 request
  const n = dev.log.length;
  const d = pool.alloc(4096);
  assert.equal(addr(d), addr(a));
  assert.equal(dev.log.length, n, "same stream: no join, no allocation");
  // blocks of different streams do not merge (the merged block would hide one stream's work)
  pool.free(d); // stream 0, left neighbour of b
  dev.setStream(7n);
  pool.free(b); // stream 7, between d (stream 0) and the tail (stream 7): merges right only
  assert.equal(pool.stats().freeBlocks, 2);
  pool.release();
  assert.equal(pool.stats().segments, 1, "a segment split between streams stays until it is merged");
  dev.setStream(0n);
  const e = pool.alloc(512 * 1024); // best fit is the stream-7 piece: joins, splits
  assert.equal(dev.log.at(-1), "join 0<-7");
  assert.equal(addr(e), addr(d) + 4096);
  pool.free(e); // stream 0 now: merges with d's block and its own rest into the whole segment
  assert.equal(pool.stats().freeBlocks, 1);
  assert.equal(pool.release(), SMALL_SEGMENT);
});

Deno.test("block pool: a failed raw allocation releases idle segments and extras, then retries", () => {
  const dev = fakeDevice(48 * MiB);
  const pool = new BlockPool(dev.src);
  // two medium segments cached (idle), then an extra cache (workspace) of 4 MiB
  const x = pool.alloc(12 * MiB), y = pool.alloc(12 * MiB);
  pool.free(x);
  pool.free(y);
  assert.equal(pool.stats().reservedBytes, 24 * MiB);
  dev.setExtra(4 * MiB);
  const before = dev.log.length;
  const big = pool.alloc(30 * MiB); // 30 MiB > the 20 free: fails, frees 24 + 4, retries
  assert.deepEqual(dev.log.slice(before), [
    `fail ${30 * MiB}`,
    "release extra",
    `free ${12 * MiB}`,
    `free ${12 * MiB}`,
    `alloc ${30 * MiB}`,
  ]);
  // a medium request that cannot get its 20 MiB segment falls back to the smallest that fits
  const mid = pool.alloc(5 * MiB);
  assert.equal(mid.size, 6 * MiB);
  assert.ok(dev.log.includes(`fail ${MEDIUM_SEGMENT}`));
  assert.equal(dev.log.at(-1), `alloc ${6 * MiB}`);
  // and one that fits nowhere reports the device's message
  assert.throws(() => pool.alloc(20 * MiB), /out of device memory allocating/);
  pool.free(big);
  pool.free(mid);
  pool.release();
  assert.equal(dev.used, 0);
});

Deno.test("block pool: retag moves a destroyed stream's blocks to another and merges them", () => {
  const dev = fakeDevice(64 * MiB);
  const pool = new BlockPool(dev.src);
  dev.setStream(5n);
  const a = pool.alloc(4096), b = pool.alloc(4096), c = pool.alloc(4096);
  dev.setStream(0n);
  const d = pool.alloc(8192); // takes the stream-5 tail after c (joins, now stream 0)
  pool.free(d); // merges with its own stream-0 rest
  pool.free(a); // stream 5, between nothing and live b
  const live = b;
  pool.retag(5n, 0n);
  assert.equal(pool.stats().freeBlocks, 2, "a (now stream 0) and the tail; b, c live in between");
  pool.free(c); // now stream 0: merges with the run on its right
  assert.equal(pool.stats().freeBlocks, 2);
  const n = dev.log.length;
  pool.free(live); // retagged while live: merges everything, no join needed on reuse
  assert.equal(pool.stats().freeBlocks, 1);
  const e = pool.alloc(4096);
  assert.equal(dev.log.length, n, "no join with the destroyed stream, no new segment");
  pool.free(e);
  assert.equal(pool.release(), SMALL_SEGMENT);
});
