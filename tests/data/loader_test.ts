import assert from "node:assert/strict";
import { MMTTLoader } from "../../src/data/loader.ts";
import { readMMTT, splitPath } from "../../src/data/mmtt.ts";
import { generateDataset } from "../../src/data/synth/generate.ts";

Deno.test("loader: shapes, values, epoch/step accounting, seeded order, workers = inline", async () => {
  const out = await Deno.makeTempDir();
  await generateDataset({ out, n: 12, seed: 9, size: 64, workers: 0, quiet: true });
  const recs = await readMMTT(splitPath(out, "train"), out);
  assert.equal(recs.length, 10);
  const loader = new MMTTLoader(recs, { batchSize: 4, size: 32, seed: 1, augment: true, workers: 2 });
  assert.equal(loader.stepsPerEpoch, 3);
  const seen: string[][] = [];
  for (let e = 0; e < 2; e++) {
    for await (const b of loader.epochBatches()) {
      const B = b.ids.length;
      assert.equal(b.images.length, B * 3 * 32 * 32);
      assert.equal(b.masks.length, B * 32 * 32);
      assert.equal(b.labels.length, B * 21);
      assert.ok(b.masks.every((v) => v === 0 || v === 1));
      assert.ok(b.images.every((v) => v > -2 && v < 2.2));
      seen.push(b.ids);
    }
  }
  assert.equal(loader.epoch, 2);
  assert.equal(loader.step, 6);
  assert.deepEqual(seen.slice(0, 3).flat().sort(), recs.map((r) => r.instance_id).sort());
  assert.notDeepEqual(seen.slice(0, 3).flat(), seen.slice(3).flat()); // reshuffled per epoch
  loader.close();
  // same seed without workers gives the same first batch
  const a = new MMTTLoader(recs, { batchSize: 4, size: 32, seed: 1, augment: true, workers: 0 });
  const first = (await a.epochBatches().next()).value!;
  assert.deepEqual(first.ids, seen[0]);
  await Deno.remove(out, { recursive: true });
});
