import assert from "node:assert/strict";
import { readMMTT, splitPath } from "../../src/data/mmtt.ts";
import { regionLabels, REGIONS } from "../../src/data/regions.ts";
import { generateDataset } from "../../src/data/synth/generate.ts";
import { decodePng } from "../../src/data/image_io.ts";
import { Rng } from "../../src/data/rng.ts";
import { sampleFace } from "../../src/data/synth/face_params.ts";
import { partBounds, releaseCanvas, renderFace } from "../../src/data/synth/face_render.ts";
import { regionPresent } from "../../src/data/synth/manipulate.ts";
import { generateSample } from "../../src/data/synth/sample.ts";
import type { SynthStats } from "../../src/data/synth/stats.ts";

Deno.test("generator invariants on 24 small samples and one 512x512", () => {
  const samples = Array.from({ length: 24 }, (_, i) => generateSample(11, i, 128));
  samples.push(generateSample(11, 99, 512));
  for (const s of samples) {
    const n = s.mask.width * s.mask.height;
    // mask = union of the per-step edit masks
    const union = new Uint8Array(n);
    for (const m of s.stepMasks) for (let i = 0; i < n; i++) union[i] |= m[i];
    let changed = 0, inMask = 0;
    for (let i = 0; i < n; i++) {
      assert.equal(s.mask.data[i] > 0, union[i] === 1);
      const diff = s.image.data[i * 3] !== s.source[i * 3] ||
        s.image.data[i * 3 + 1] !== s.source[i * 3 + 1] ||
        s.image.data[i * 3 + 2] !== s.source[i * 3 + 2];
      if (diff) {
        changed++;
        assert.ok(s.mask.data[i], `sample ${s.index}: pixel ${i} changed outside the mask`);
      }
      if (s.mask.data[i]) inMask++;
    }
    assert.ok(
      inMask > 0 && changed > 0.2 * inMask,
      `sample ${s.index}: ${changed} of ${inMask} mask pixels changed`,
    );
    // every region named in the caption is in the mask, and multilabel = regionLabels
    assert.deepEqual(s.multilabel, regionLabels(s.caption));
    REGIONS.forEach((r, i) => {
      if (s.multilabel[i]) {
        assert.ok(regionPresent(r, union, s.partBefore, s.partAfter), `${r} not in mask: ${s.caption}`);
      }
    });
    const words = s.caption.split(/\s+/).length;
    assert.ok(words >= 5 && words <= 120, `caption has ${words} words`);
  }
  // determinism per (seed, index)
  const again = generateSample(11, 3, 128);
  assert.equal(again.caption, samples[3].caption);
  assert.deepEqual(again.image.data, samples[3].image.data);
});

Deno.test("generateDataset writes the official layout, readable by readMMTT, stats in range", async () => {
  const out = await Deno.makeTempDir();
  await generateDataset({ out, n: 20, seed: 5, size: 64, workers: 2, quiet: true });
  const train = await readMMTT(splitPath(out, "train"), out, { expectSize: 64 });
  const ev = await readMMTT(splitPath(out, "eval"), out);
  const test = await readMMTT(splitPath(out, "test"), out);
  assert.deepEqual([train.length, ev.length, test.length], [16, 2, 2]);
  assert.ok(train.every((r) => r.forgery_type && r.maskFile && r.img_path.startsWith("images/")));
  const stats: SynthStats = JSON.parse(await Deno.readTextFile(`${out}/stats.json`));
  assert.equal(stats.n, 20);
  assert.ok(stats.captionWords.max <= 120);
  assert.ok(
    stats.captionWords.mean >= 12 && stats.captionWords.mean <= 45,
    `mean words ${stats.captionWords.mean}`,
  );
  const types = Object.values(stats.typeProportions).reduce((a, b) => a + b, 0);
  assert.ok(Math.abs(types - 1) < 1e-3);
  assert.ok(stats.maskFraction.mean > 0.005 && stats.maskFraction.mean < 0.3);
  // same seed, one worker: identical files (determinism independent of worker count)
  const out2 = await Deno.makeTempDir();
  await generateDataset({ out: out2, n: 6, seed: 5, size: 64, workers: 0, quiet: true });
  assert.deepEqual(
    await Deno.readFile(`${out2}/images/000004.png`),
    await Deno.readFile(`${out}/images/000004.png`),
  );
  // the fast PNG settings (Up filter + Z_RLE, unfiltered masks) round-trip exactly
  const s4 = generateSample(5, 4, 64);
  assert.deepEqual(decodePng(await Deno.readFile(`${out}/images/000004.png`)).data, s4.image.data);
  assert.deepEqual(decodePng(await Deno.readFile(`${out}/masks/000004.png`)).data, s4.mask.data);
  await Deno.remove(out, { recursive: true });
  await Deno.remove(out2, { recursive: true });
});

Deno.test("windowed renders equal full renders inside the window; dry-run part bounds hold every part pixel", () => {
  for (let i = 0; i < 12; i++) {
    const size = i < 9 ? 128 : 512;
    const f = sampleFace(Rng.derive(21, i));
    const full = renderFace(f, size);
    const rgb = full.rgb.slice(), part = full.part.slice();
    releaseCanvas(full); // the pooled canvas is reused below: its old contents must not leak
    const k = size / 512;
    const win = {
      x0: Math.round(150 * k),
      y0: Math.round(170 * k),
      x1: Math.round(360 * k),
      y1: Math.round(400 * k),
    };
    const part2 = renderFace(f, size, win);
    for (let y = win.y0; y < win.y1; y++) {
      for (let x = win.x0; x < win.x1; x++) {
        const j = y * size + x;
        assert.equal(part2.part[j], part[j], `face ${i}: part at ${x},${y}`);
        for (let ch = 0; ch < 3; ch++) {
          assert.equal(part2.rgb[j * 3 + ch], rgb[j * 3 + ch], `face ${i}: rgb at ${x},${y}`);
        }
      }
    }
    releaseCanvas(part2);
    const bounds = partBounds(f, size);
    for (let j = 0; j < part.length; j++) {
      const p = part[j];
      if (p === 0) continue;
      const b = bounds[p], x = j % size, y = Math.floor(j / size);
      assert.ok(
        b && x >= b.x0 && x < b.x1 && y >= b.y0 && y < b.y1,
        `face ${i}: part ${p} at ${x},${y} outside its bound`,
      );
    }
  }
});
