import assert from "node:assert/strict";
import { readMMTT, splitPath } from "../../src/data/mmtt.ts";
import { regionLabels, REGIONS } from "../../src/data/regions.ts";
import { generateDataset } from "../../src/data/synth/generate.ts";
import { decodePng } from "../../src/data/image_io.ts";
import { Rng } from "../../src/data/rng.ts";
import { sampleFace } from "../../src/data/synth/face_params.ts";
import { partBounds, releaseCanvas, renderFace } from "../../src/data/synth/face_render.ts";
import { visibleChange } from "../../src/data/synth/fill.ts";
import { MIN_DELTA, regionPresent } from "../../src/data/synth/manipulate.ts";
import { P, PART_REGION, partsOfRegion } from "../../src/data/synth/parts.ts";
import { addProbe, aucFromHistograms, probeHistograms } from "../../src/data/synth/probe.ts";
import { generateSample, type SynthSample } from "../../src/data/synth/sample.ts";
import { computeStats, type SynthRecord, type SynthStats } from "../../src/data/synth/stats.ts";
import { dilate } from "../../src/data/synth/masks.ts";

const toF = (b: Uint8Array) => Float32Array.from(b, (v) => v / 255);

// Pixels the camera may let a change reach: the mask grown by the resampling footprint and,
// after a JPEG round trip, every 16×16 MCU that touches it.
function reach(s: SynthSample): Uint8Array {
  const w = s.mask.width, h = s.mask.height;
  const m = dilate(Uint8Array.from(s.mask.data, (v) => (v ? 1 : 0)), w, h, 4);
  if (!s.camera!.jpeg) return m;
  // (4:2:0 chroma is upsampled from neighbouring samples: MCUs leak 2 px into their neighbours)
  const out = new Uint8Array(w * h);
  for (let by = 0; by < h; by += 16) {
    for (let bx = 0; bx < w; bx += 16) {
      let hit = false;
      for (let y = by; y < Math.min(h, by + 16) && !hit; y++) {
        for (let x = bx; x < Math.min(w, bx + 16); x++) if (m[y * w + x]) hit = true;
      }
      if (!hit) continue;
      for (let y = by; y < Math.min(h, by + 16); y++) {
        for (let x = bx; x < Math.min(w, bx + 16); x++) out[y * w + x] = 1;
      }
    }
  }
  return dilate(out, w, h, 2);
}

Deno.test("truthful labels: every named region changed visibly, nothing changed outside the mask", () => {
  const samples = Array.from(
    { length: 30 },
    (_, i) => generateSample(11, i, 128, { debug: true, realShare: 0.1 }),
  );
  samples.push(generateSample(11, 99, 512, { debug: true }));
  let forged = 0;
  for (const s of samples) {
    const w = s.mask.width, n = w * s.mask.height;
    const union = new Uint8Array(n);
    for (const m of s.stepMasks!) for (let i = 0; i < n; i++) union[i] |= m[i];
    const r = reach(s);
    let changed = 0, inMask = 0, farJpeg = 0;
    for (let i = 0; i < n; i++) {
      assert.equal(s.mask.data[i] > 0, union[i] === 1, `sample ${s.index}: mask ≠ union of steps`);
      const diff = s.image.data[i * 3] !== s.source![i * 3] ||
        s.image.data[i * 3 + 1] !== s.source![i * 3 + 1] ||
        s.image.data[i * 3 + 2] !== s.source![i * 3 + 2];
      if (diff) {
        if (!r[i]) {
          // MozJPEG's trellis quantisation depends on whole-image statistics, so after a JPEG
          // round trip far pixels may move by a quantisation step, never by more
          const d = Math.max(
            ...[0, 1, 2].map((ch) => Math.abs(s.image.data[i * 3 + ch] - s.source![i * 3 + ch])),
          );
          assert.ok(
            s.camera!.jpeg > 0 && d <= 16,
            `sample ${s.index}: pixel ${i} changed by ${d} outside the mask`,
          );
          farJpeg += d;
        }
        if (s.mask.data[i]) changed++;
      }
      if (s.mask.data[i]) inMask++;
    }
    let far = 0;
    for (let i = 0; i < n; i++) far += r[i] ? 0 : 1;
    assert.ok(
      farJpeg < 1.0 * far,
      `sample ${s.index}: far pixels moved by ${(farJpeg / far).toFixed(2)} on average`,
    );
    assert.deepEqual(s.multilabel, regionLabels(s.caption));
    const words = s.caption.split(/\s+/).length;
    assert.ok(words >= 4 && words <= 120, `caption has ${words} words`);
    if (s.forgery_type === null) {
      // untouched: empty mask, no region named, identical to the source
      assert.equal(inMask, 0);
      assert.ok(s.multilabel.every((v) => v === 0), s.caption);
      continue;
    }
    forged++;
    assert.ok(
      inMask > 0 && changed > 0.2 * inMask,
      `sample ${s.index}: ${changed} of ${inMask} mask pixels changed`,
    );
    const before = toF(s.source!), after = toF(s.image.data);
    const box = { x0: 0, y0: 0, x1: w, y1: s.mask.height };
    for (const f of s.facts) {
      assert.ok(f.delta >= MIN_DELTA, `sample ${s.index}: ${f.region} measured ${f.delta}`);
      // independent check on the final images (same camera on both): the region moved visibly
      const ok = new Uint8Array(256);
      for (const p of partsOfRegion(f.region)) ok[p] = 1;
      const sel = new Uint8Array(n);
      let cnt = 0;
      for (let i = 0; i < n; i++) {
        sel[i] = union[i] && (ok[s.partBefore![i]] || ok[s.partAfter![i]]) ? 1 : 0;
        cnt += sel[i];
      }
      // (parts of a few pixels, e.g. a pupil at 128², are judged by the generator's own measure)
      if (cnt < 40) continue;
      const d = visibleChange(before, after, w, s.mask.height, sel, box);
      assert.ok(
        d >= 3,
        `sample ${s.index}: named ${f.region} changed only ${d.toFixed(1)} grey levels: ${s.caption}`,
      );
    }
    REGIONS.forEach((reg, i) => {
      if (s.multilabel[i]) {
        assert.ok(regionPresent(reg, union, s.partBefore!, s.partAfter!), `${reg} not in mask: ${s.caption}`);
      }
    });
    // every feature class that visibly changed in place is named (skin areas are judged by
    // the larger spill threshold; see MIN_SPILL_SKIN)
    const named = new Set(s.facts.map((f) => f.region));
    const covered = new Set(named);
    if (named.has("eye")) covered.add("pupil");
    if (named.has("lip") || named.has("mouth")) {
      ["lip", "mouth", "tooth", "tongue"].forEach((x) => covered.add(x as never));
    }
    // (pixels within 2 px of a named part hold its antialiased outline: they belong to it)
    const own = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      const a = PART_REGION[s.partBefore![i]], b = PART_REGION[s.partAfter![i]];
      if ((a && named.has(a)) || (b && named.has(b))) own[i] = 1;
    }
    const near = dilate(own, w, s.mask.height, 2);
    for (const reg of ["eye", "eyebrow", "nose", "lip", "pupil"] as const) {
      if (covered.has(reg)) continue;
      const sel = new Uint8Array(n);
      let cnt = 0;
      for (let i = 0; i < n; i++) {
        const same = PART_REGION[s.partBefore![i]] === reg && PART_REGION[s.partAfter![i]] === reg;
        if (union[i] && !near[i] && same) (sel[i] = 1), cnt++;
      }
      if (cnt < 30 * (w / 512) ** 2 + 6) continue;
      const d = visibleChange(before, after, w, s.mask.height, sel, box);
      assert.ok(
        d < 3 * MIN_DELTA,
        `sample ${s.index}: ${reg} changed ${d.toFixed(1)} but is not named: ${s.caption}`,
      );
    }
    for (const f of s.facts) if (f.change === "mirrored") assert.ok(f.side === "left" || f.side === "right");
  }
  assert.ok(forged >= 20);
  // determinism per (seed, index)
  const again = generateSample(11, 3, 128, { realShare: 0.1 });
  assert.equal(again.caption, samples[3].caption);
  assert.deepEqual(again.image.data, samples[3].image.data);
});

Deno.test("face swaps cover the whole face outline; skin areas are smooth segments, not rectangles", () => {
  let swaps = 0;
  for (let i = 0; swaps < 4 && i < 80; i++) {
    const s = generateSample(12, i, 128, { debug: true });
    if (s.forgery_type !== "face_swap") continue;
    swaps++;
    const face = new Set<number>([
      P.skin,
      P.forehead,
      P.cheekL,
      P.cheekR,
      P.chin,
      P.jaw,
      P.nose,
      P.eyeL,
      P.eyeR,
    ]);
    let inFace = 0, covered = 0;
    for (let j = 0; j < s.partBefore!.length; j++) {
      if (!face.has(s.partBefore![j])) continue;
      inFace++;
      if (s.mask.data[j]) covered++;
    }
    assert.ok(covered > 0.85 * inFace, `swap ${i}: mask covers ${covered} of ${inFace} face pixels`);
    // forehead and jaw included
    for (const p of [P.forehead, P.jaw]) {
      let any = false;
      for (let j = 0; j < s.partBefore!.length && !any; j++) {
        any = s.partBefore![j] === p && s.mask.data[j] > 0;
      }
      assert.ok(any, `swap ${i}: part ${p} not in the mask`);
    }
  }
  assert.equal(swaps, 4);
  // the forehead's lower edge and a cheek's inner edge are curves (vary by several pixels)
  for (let i = 0; i < 6; i++) {
    const f = sampleFace(Rng.derive(31, i));
    const c = renderFace(f, 512);
    const lowest = new Map<number, number>(), inner = new Map<number, number>();
    for (let y = 0; y < 512; y++) {
      for (let x = 0; x < 512; x++) {
        const p = c.part[y * 512 + x];
        if (p === P.forehead) lowest.set(x, Math.max(lowest.get(x) ?? 0, y));
        if (p === P.cheekL) inner.set(y, Math.min(inner.get(y) ?? 512, x));
      }
    }
    const spread = (m: Map<number, number>) => Math.max(...m.values()) - Math.min(...m.values());
    assert.ok(spread(lowest) >= 8, `face ${i}: forehead edge spread ${spread(lowest)}`);
    assert.ok(spread(inner) >= 8, `face ${i}: cheek edge spread ${spread(inner)}`);
    releaseCanvas(c);
  }
});

Deno.test("no shortcut: the noise-residual probe's pixel AUC stays in 0.4–0.6", () => {
  const all = probeHistograms();
  const by: Record<string, ReturnType<typeof probeHistograms>[]> = {};
  for (let i = 0; i < 48; i++) {
    const s = generateSample(13, i, 256, { debug: true });
    addProbe(s.image, s.mask, all.pos, all.neg);
    const t = s.forgery_type ?? "untouched";
    const [a, b] = by[t] ??= [probeHistograms(), probeHistograms()];
    addProbe(s.image, s.mask, a.pos, a.neg);
    addProbe({ ...s.image, data: s.source! }, s.mask, b.pos, b.neg);
  }
  const auc = aucFromHistograms(all.pos, all.neg);
  assert.ok(auc >= 0.4 && auc <= 0.6, `probe pixel AUC ${auc.toFixed(3)} outside 0.4–0.6`);
  // per family, the forgery adds no residual signature beyond where the mask lies: the probe
  // scores the forged image no better than the untouched image under the same mask
  for (const [t, [a, b]] of Object.entries(by)) {
    const fa = aucFromHistograms(a.pos, a.neg), sa = aucFromHistograms(b.pos, b.neg);
    assert.ok(
      fa - sa <= 0.03,
      `${t}: probe AUC ${fa.toFixed(3)} on forged vs ${sa.toFixed(3)} on the source`,
    );
  }
});

Deno.test("MMTT's shape: type mix, region ranking, regions per image, caption length, wording", () => {
  const recs: SynthRecord[] = [];
  for (let i = 0; i < 600; i++) {
    const s = generateSample(14, i, 128, { realShare: 0.1 });
    recs.push({
      index: i,
      image_id: "",
      instance_id: "",
      img_path: "",
      mask_path: "",
      caption: s.caption,
      multilabel: s.multilabel,
      forgery_type: s.forgery_type ?? undefined,
      strong: s.strong,
      maskFraction: 0,
    });
  }
  const st = computeStats(recs, recs.map(() => "train"), 1, { seed: 14, size: 128, realShare: 0.1 });
  const t = st.typeProportions;
  const top2 = Object.entries(t).filter(([k]) => k !== "untouched").sort((a, b) => b[1] - a[1]).slice(0, 2);
  assert.deepEqual(top2.map(([k]) => k).sort(), ["face_swap", "inpaint_diffusion"], JSON.stringify(t));
  for (const fam of ["attribute_edit", "inpaint_patch", "inpaint_diffusion"]) {
    const top3 = st.regionRankingByType[fam].slice(0, 3).map(([r]) => r).sort();
    assert.deepEqual(
      top3,
      ["eye", "eyebrow", "lip"],
      `${fam}: ${JSON.stringify(st.regionRankingByType[fam])}`,
    );
  }
  assert.ok(st.twoToFiveRegions >= 0.5, `2–5 regions in ${st.twoToFiveRegions}`);
  assert.ok(st.captionWords.mean >= 20 && st.captionWords.mean <= 34, `mean words ${st.captionWords.mean}`);
  assert.ok(st.captionWords.max <= 120);
  assert.ok(st.fourGramDiversity >= 0.3, `4-gram diversity ${st.fourGramDiversity}`);
  assert.ok(st.realShare.realised > 0.04 && st.realShare.realised < 0.18, JSON.stringify(st.realShare));
  const text = recs.map((r) => r.caption).join(" ");
  for (const ph of ["skin tone", "facial skin", "nose bridge"]) assert.ok(text.includes(ph), ph);
});

Deno.test("generateDataset writes the official layout, readable by readMMTT, stats in range", async () => {
  const out = await Deno.makeTempDir();
  await generateDataset({ out, n: 20, seed: 5, size: 64, workers: 2, quiet: true, realShare: 0.2 });
  const train = await readMMTT(splitPath(out, "train"), out, { expectSize: 64 });
  const ev = await readMMTT(splitPath(out, "eval"), out);
  const test = await readMMTT(splitPath(out, "test"), out);
  assert.deepEqual([train.length, ev.length, test.length], [16, 2, 2]);
  const all = [...train, ...ev, ...test];
  assert.ok(all.every((r) => r.maskFile && r.img_path.startsWith("images/")));
  // untouched records: no forgery_type, no region, an empty mask
  const real = all.filter((r) => !r.forgery_type);
  assert.ok(real.length > 0);
  for (const r of real) {
    assert.ok(r.multilabel.every((v) => v === 0));
    assert.ok(decodePng(await Deno.readFile(r.maskFile!)).data.every((v) => v === 0));
  }
  const stats: SynthStats = JSON.parse(await Deno.readTextFile(`${out}/stats.json`));
  assert.equal(stats.n, 20);
  assert.ok(stats.captionWords.max <= 120);
  const types = Object.values(stats.typeProportions).reduce((a, b) => a + b, 0);
  assert.ok(Math.abs(types - 1) < 1e-3);
  assert.ok(stats.maskFraction.mean > 0.005 && stats.maskFraction.mean < 0.3);
  assert.equal(stats.mmtt.captionWords.mean, 27);
  // same seed, one worker: identical files (determinism independent of worker count)
  const out2 = await Deno.makeTempDir();
  await generateDataset({ out: out2, n: 6, seed: 5, size: 64, workers: 0, quiet: true, realShare: 0.2 });
  assert.deepEqual(
    await Deno.readFile(`${out2}/images/000004.png`),
    await Deno.readFile(`${out}/images/000004.png`),
  );
  // the fast PNG settings (Up filter + Z_RLE, unfiltered masks) round-trip exactly
  const s4 = generateSample(5, 4, 64, { realShare: 0.2 });
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
