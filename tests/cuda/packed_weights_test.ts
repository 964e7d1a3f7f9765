// The packed-weight cache of CUDA autocast (src/backend/packed_weights.ts) on the CPU: a weight is
// packed once and reused until its storage is written (optimizer step, zero_, set, axpby,
// loadStateDict), entries of freed weights are dropped, the size bound evicts the least recently
// used copy, clear() frees everything. The "packer" here writes the source's version into the
// copy, so a stale copy is visible in the data, not only in the counters. Runs on every machine.
// Run: .tools/deno test --allow-all tests/cuda/packed_weights_test.ts
import assert from "node:assert/strict";
import { PackedWeightCache } from "../../src/backend/packed_weights.ts";
import { memoryStats, Storage } from "../../src/tensor/storage.ts";
import type { Tensor } from "../../src/tensor/tensor.ts";
import { tensor } from "../../src/tensor/create.ts";
import { axpby } from "../../src/ops/raw.ts";
import { AdamW } from "../../src/train/adamw.ts";

function counting(limit = 1 << 20) {
  let packs = 0;
  const cache = new PackedWeightCache((n) => Storage.alloc(n, "cpu"), limit);
  const get = (w: Tensor, variant = "bf16 (out,in)") =>
    cache.get(w.storage, variant, w.size * 2, (dst) => {
      packs++;
      // stand-in for the 16-bit pack: the first value of the source and its version
      const out = new Float32Array(dst.hostBuffer(), 0, 2);
      out[0] = w.data()[0];
      out[1] = w.storage.version;
    });
  const read = (s: Storage) => Array.from(new Float32Array(s.hostBuffer(), 0, 2));
  return { cache, get, read, packs: () => packs };
}

Deno.test("packed weights: packed once, repacked after every kind of in-place write", () => {
  const live0 = memoryStats("cpu").liveBytes;
  const { cache, get, read, packs } = counting();
  const w = tensor([1, 2, 3, 4], [2, 2]);
  const p1 = get(w);
  assert.equal(get(w), p1, "second call: same copy");
  assert.equal(packs(), 1);
  assert.deepEqual(read(p1), [1, w.storage.version]);
  // each writer bumps the version: the next get repacks and sees the new values
  const writers: [string, () => void][] = [
    ["set", () => w.set([5, 6, 7, 8])],
    ["axpby", () => {
      const one = tensor([1, 1, 1, 1], [2, 2]);
      axpby(1, one, 1, w);
      one.dispose();
    }],
    ["zero_", () => w.zero_()],
  ];
  let expectPacks = 1;
  for (const [name, write] of writers) {
    write();
    const p = get(w);
    expectPacks++;
    assert.equal(packs(), expectPacks, `${name} invalidates`);
    assert.deepEqual(read(p), [w.data()[0], w.storage.version], name);
    get(w);
    assert.equal(packs(), expectPacks, `${name}: then cached again`);
  }
  // a second layout of the same weight is its own entry
  get(w, "bf16 (in,out)");
  assert.equal(cache.stats().entries, 2);
  cache.clear();
  assert.equal(cache.stats().bytes, 0);
  w.dispose();
  assert.equal(memoryStats("cpu").liveBytes, live0, "copies and weight freed");
});

Deno.test("packed weights: an AdamW step invalidates the packed copy of every updated parameter", () => {
  const { cache, get, read, packs } = counting();
  const w = tensor([1, -2, 3, -4], [2, 2], { requiresGrad: true });
  const frozen = tensor([1, 1], [2]);
  const opt = new AdamW([w], { lr: 0.1 });
  get(w);
  get(frozen, "f");
  w.grad = tensor([1, 1, 1, 1], [2, 2]);
  opt.step();
  const p = get(w);
  assert.equal(packs(), 3, "the stepped weight repacks");
  assert.ok(
    Math.abs(read(p)[0] - w.data()[0]) < 1e-7 && read(p)[0] < 1,
    `packed ${read(p)[0]} is the updated value`,
  );
  get(frozen, "f");
  assert.equal(packs(), 3, "a parameter the step did not touch stays cached");
  cache.clear();
  w.dispose();
  frozen.dispose();
});

Deno.test("packed weights: freed weights are dropped, the bound evicts least recently used", () => {
  const { cache, get, packs } = counting(64 * 3); // room for three 64-byte copies
  const ws = [0, 1, 2, 3].map((i) => tensor(new Array(32).fill(i), [32])); // 64-byte copies
  get(ws[0]);
  get(ws[1]);
  get(ws[2]);
  get(ws[0]); // ws[1] is now the least recently used
  get(ws[3]); // over the bound: evicts ws[1]
  assert.equal(cache.stats().entries, 3);
  const n = packs();
  get(ws[0]);
  get(ws[2]);
  get(ws[3]);
  assert.equal(packs(), n, "survivors still cached");
  get(ws[1]);
  assert.equal(packs(), n + 1, "the evicted one repacks");
  ws[2].dispose();
  ws[3].dispose();
  get(ws[0]);
  assert.equal(cache.stats().entries, 2, "hit: no sweep yet");
  get(ws[0], "other layout"); // a miss sweeps the freed sources
  assert.equal(cache.stats().entries, 3);
  assert.throws(() => get(ws[2]), /used after dispose|source storage was freed/);
  assert.ok(cache.stats().hits > 0 && cache.stats().misses >= 6);
  cache.clear();
  ws[0].dispose();
  ws[1].dispose();
});
