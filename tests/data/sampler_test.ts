// DistributedSampler (src/data/sampler.ts): PyTorch's split and padding (reference values from
// torch.utils.data.DistributedSampler(range(n), num_replicas=W, rank=r, shuffle=False, drop_last=...)
// with python3-torch 1.13), one permutation per (seed, epoch) shared by all ranks, and resuming at a
// global position with another world size. Run: .tools/deno test --allow-all tests/data/sampler_test.ts
import { deepStrictEqual as assertEquals, notDeepStrictEqual, throws } from "node:assert/strict";
import { DistributedSampler, epochPermutation, rankSlice } from "../../src/data/sampler.ts";

Deno.test("sampler: same split and wrap padding as torch DistributedSampler (shuffle off)", () => {
  const torch: [number, number, boolean, number[][]][] = [
    [10, 3, false, [[0, 3, 6, 9], [1, 4, 7, 0], [2, 5, 8, 1]]],
    [10, 3, true, [[0, 3, 6], [1, 4, 7], [2, 5, 8]]],
    [7, 4, false, [[0, 4], [1, 5], [2, 6], [3, 0]]],
    [2, 3, false, [[0], [1], [0]]],
  ];
  for (const [n, w, dropLast, want] of torch) {
    const got = want.map((_, r) => new DistributedSampler(n, r, w, { shuffle: false, dropLast }).indices(0));
    assertEquals(got, want, `n=${n} W=${w} dropLast=${dropLast}`);
  }
});

Deno.test("sampler: each sample once per epoch across ranks, one permutation per (seed, epoch)", () => {
  const n = 50, w = 4;
  const parts = (epoch: number, seed = 9) =>
    [0, 1, 2, 3].map((r) => new DistributedSampler(n, r, w, { seed }).indices(epoch));
  const e0 = parts(0);
  assertEquals(e0.map((p) => p.length), [13, 13, 13, 13]); // ceil(50 / 4), 2 padded by wrapping
  assertEquals(new Set(e0.flat()).size, n);
  assertEquals(parts(0), e0); // deterministic
  notDeepStrictEqual(parts(1), e0); // a new order each epoch
  notDeepStrictEqual(parts(0, 10), e0); // and per seed
  // rank r takes positions r, r + W, ... of the shared permutation
  const perm = epochPermutation(n, 9, 0);
  assertEquals(e0[2].slice(0, 3), [perm[2], perm[6], perm[10]]);
});

Deno.test("sampler: resuming at a global position, with the same or another world size", () => {
  const n = 48, perm = epochPermutation(n, 3, 1);
  // 2 ranks x 8 per step: step s covers positions [16 s, 16 s + 16) of the permutation
  const two = (start: number) => [0, 1].map((r) => rankSlice(perm, r, 2, start));
  const one = (start: number) => rankSlice(perm, 0, 1, start);
  for (const s of [0, 1, 2]) {
    const batch2 = two(s * 16).flatMap((p) => p.slice(0, 8)).sort((a, b) => a - b);
    const batch1 = one(s * 16).slice(0, 16).sort((a, b) => a - b);
    assertEquals(batch2, batch1, `step ${s}`);
  }
  // same world size: skipping k of a rank's samples == starting k·W positions later
  const full = new DistributedSampler(n, 1, 3, { seed: 3 }).indices(1);
  assertEquals(new DistributedSampler(n, 1, 3, { seed: 3 }).indices(1, 5), full.slice(5));
  assertEquals(new DistributedSampler(n, 1, 3, { seed: 3 }).indices(1, 0, 15), full.slice(5));
  throws(() => new DistributedSampler(n, 3, 3), /rank \(3\) < worldSize \(3\)/);
  throws(() => rankSlice(perm, 0, 2, -1), /start -1/);
});
