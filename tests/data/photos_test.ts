/**
 * Photo mode of the generator (src/data/photos/, `deno task synth --photos DIR`): landmarks on
 * the bundled public-domain photos, a plausible part map, exact masks and measured changes per
 * forgery type, determinism, an MMTT folder that the reader and the loader accept, and the
 * errors for folders without a usable face.
 *   .tools/deno test --allow-all tests/data/photos_test.ts
 */
import assert from "node:assert/strict";
import { dirname, join } from "node:path";
import { main } from "../../src/cli/synth.ts";
import { encodePng, type Image, readImage } from "../../src/data/image_io.ts";
import { type Batch, MMTTLoader } from "../../src/data/loader.ts";
import { FORGERY_TYPES, readMMTT, splitPath } from "../../src/data/mmtt.ts";
import { BUNDLED_PHOTOS, flipFace, forgeFace, forgePhoto } from "../../src/data/photos/forge.ts";
import { detectFace } from "../../src/data/photos/landmarks.ts";
import { type PhotoFace, preparePhoto } from "../../src/data/photos/part_map.ts";
import { regionLabels, REGIONS } from "../../src/data/regions.ts";
import { visibleChange } from "../../src/data/synth/fill.ts";
import { MIN_DELTA } from "../../src/data/synth/manipulate.ts";
import { dilate } from "../../src/data/synth/masks.ts";
import { addProbe, aucFromHistograms, probeHistograms } from "../../src/data/synth/probe.ts";
import { P, partsOfRegion } from "../../src/data/synth/parts.ts";

const S = 256;
const PHOTO_DIR = dirname(BUNDLED_PHOTOS.graceHopper);
let cache: { grace: Image; astro: Image; g: PhotoFace; a: PhotoFace } | null = null;
async function photos() {
  if (cache) return cache;
  const grace = await readImage(BUNDLED_PHOTOS.graceHopper),
    astro = await readImage(BUNDLED_PHOTOS.astronaut);
  const fg = await detectFace(grace), fa = await detectFace(astro);
  assert.ok(fg && fa, "a face is found in both bundled photos");
  cache = {
    grace,
    astro,
    g: preparePhoto(grace, fg.points, S, "grace"),
    a: preparePhoto(astro, fa.points, S, "astronaut"),
  };
  return cache;
}

function centroid(part: Uint8Array, ids: number[]): [number, number, number] {
  let n = 0, x = 0, y = 0;
  for (let i = 0; i < part.length; i++) {
    if (ids.includes(part[i])) (n++, x += i % S, y += Math.floor(i / S));
  }
  return [x / n, y / n, n];
}

Deno.test("photos: 68 landmarks on the bundled photo, eyes above nose above mouth above chin", async () => {
  const { grace } = await photos();
  const f = (await detectFace(grace))!;
  assert.equal(f.points.length, 136);
  assert.ok(f.score > 0.5, `score ${f.score}`);
  const ys = (ids: number[]) => ids.reduce((a, i) => a + f.points[2 * i + 1], 0) / ids.length;
  const xs = (ids: number[]) => ids.reduce((a, i) => a + f.points[2 * i], 0) / ids.length;
  const eyes = ys([36, 39, 42, 45]), nose = ys([31, 33, 35]), mouth = ys([48, 54, 51, 57]), chin = ys([8]);
  assert.ok(eyes < nose && nose < mouth && mouth < chin, `${eyes} ${nose} ${mouth} ${chin}`);
  // landmarks 36–41 (image left) and 42–47 (image right), some 40–140 px apart in a 256 crop
  const d = xs([42, 45]) - xs([36, 39]);
  assert.ok(d > 40 && d < 140, `eye distance ${d}`);
  for (let i = 0; i < 136; i++) assert.ok(f.points[i] > -5 && f.points[i] < 261);
});

Deno.test("photos: the part map has plausible, smooth regions in the right places", async () => {
  const { g, a } = await photos();
  for (const face of [g, a]) {
    const part = face.part, n = S * S;
    const area = (ids: number[]) => centroid(part, ids)[2] / n;
    const skin = area([P.skin, P.forehead, P.cheekL, P.cheekR, P.chin, P.jaw]);
    assert.ok(skin > 0.08 && skin < 0.45, `${face.name}: skin area ${skin}`);
    for (
      const [name, ids, lo, hi] of [
        ["eyeL", [P.eyeL, P.pupilL], 0.0008, 0.01],
        ["eyeR", [P.eyeR, P.pupilR], 0.0008, 0.01],
        ["browL", [P.browL], 0.001, 0.012],
        ["nose", [P.nose], 0.004, 0.04],
        ["lips", [P.lip, P.mouth, P.tooth], 0.003, 0.04],
        ["forehead", [P.forehead], 0.005, 0.12],
        ["cheekL", [P.cheekL], 0.004, 0.06],
        ["chin", [P.chin], 0.003, 0.05],
        ["jaw", [P.jaw], 0.003, 0.06],
      ] as [string, number[], number, number][]
    ) {
      const v = area(ids);
      assert.ok(v >= lo && v <= hi, `${face.name}: ${name} area ${v} not in [${lo}, ${hi}]`);
    }
    const [eLx, eLy] = centroid(part, [P.eyeL]), [eRx, eRy] = centroid(part, [P.eyeR]);
    const [, bY] = centroid(part, [P.browL, P.browR]), [, nY] = centroid(part, [P.nose]);
    const [, lY] = centroid(part, [P.lip]),
      [, cY] = centroid(part, [P.chin]),
      [, fY] = centroid(part, [P.forehead]);
    assert.ok(eLx > eRx, "the subject's left eye is on the image's right");
    assert.ok(
      fY < bY && bY < (eLy + eRy) / 2 && (eLy + eRy) / 2 < nY && nY < lY && lY < cY,
      `${face.name}: order`,
    );
    // irises lie inside their eyes
    for (let i = 0; i < n; i++) {
      if (part[i] === P.pupilL || part[i] === P.pupilR) {
        const x = i % S;
        assert.ok(part[i] === P.pupilL ? x > S / 2 - 10 : x < S / 2 + 10);
      }
    }
    // smooth, parsing-like edges: the forehead's lower edge and the cheek's outline are curves
    // (their per-column extreme rows vary by several pixels), not rows or columns
    for (const id of [P.forehead, P.cheekL]) {
      const low: number[] = [];
      for (let x = 0; x < S; x++) {
        let m = -1;
        for (let y = 0; y < S; y++) if (part[y * S + x] === id) m = y;
        if (m >= 0) low.push(m);
      }
      const inner = low.slice(Math.floor(low.length * 0.2), Math.ceil(low.length * 0.8));
      assert.ok(Math.max(...inner) - Math.min(...inner) >= 4, `${face.name}: part ${id} edge is straight`);
    }
  }
});

Deno.test("photos: exact masks, measured changes, truthful captions for every forgery type", async () => {
  const { g, a } = await photos();
  for (const kind of FORGERY_TYPES) {
    for (
      const [t, d, seed] of [[g, a, 1], [a, g, 2], [g, flipFace(g), 3]] as [PhotoFace, PhotoFace, number][]
    ) {
      const s = forgeFace(t, d, seed, 7, { kind, noCamera: true, debug: true });
      assert.equal(s.forgeryType, kind);
      const m = s.rawMask!, before = s.before!, after = s.after!;
      let inside = 0;
      for (let i = 0; i < m.length; i++) {
        if (m[i]) {
          inside++;
          continue;
        }
        // outside the mask not one value moved (before the camera model)
        for (let c = 0; c < 3; c++) {
          assert.equal(after[i * 3 + c], before[i * 3 + c], `${kind}: pixel ${i} moved`);
        }
      }
      assert.ok(inside > 0);
      // the written mask is the raw mask (no camera here)
      for (let i = 0; i < m.length; i++) assert.equal(s.mask.data[i], m[i] ? 255 : 0);
      assert.ok(s.facts.length > 0);
      for (const f of s.facts) assert.ok(f.delta >= MIN_DELTA, `${kind}: ${f.region} delta ${f.delta}`);
      // independently: every named region changed visibly inside the mask (5×5 low-pass ≥ 3)
      const said = new Set(s.facts.map((f) => f.region));
      for (const r of said) {
        const ok = new Set(partsOfRegion(r));
        const sel = new Uint8Array(m.length);
        let n = 0;
        for (let i = 0; i < m.length; i++) {
          if (m[i] && (ok.has(s.partBefore![i]) || ok.has(s.partAfter![i]))) (sel[i] = 1, n++);
        }
        if (n < 10) continue;
        const v = visibleChange(before, after, S, S, sel, { x0: 0, y0: 0, x1: S, y1: S });
        assert.ok(v >= 3, `${kind}: named ${r} changed by only ${v.toFixed(2)}`);
      }
      const labels = regionLabels(s.caption);
      assert.deepEqual(labels, s.multilabel);
      assert.deepEqual(REGIONS.filter((_, i) => labels[i]).sort(), [...said].sort(), s.caption);
    }
  }
});

Deno.test("photos: camera after compositing; forged and source differ only near the mask; determinism", async () => {
  const { g, a } = await photos();
  let checked = 0;
  for (let idx = 0; idx < 12 && checked < 3; idx++) {
    const s = forgeFace(g, a, 11, idx, { debug: true });
    const again = forgeFace(g, a, 11, idx, { debug: true });
    assert.deepEqual(again.image.data, s.image.data);
    assert.equal(again.caption, s.caption);
    if (s.camera!.jpeg) continue;
    checked++;
    // the same camera (noise seed, warp) ran on both: far from the warped mask they are equal
    const near = dilate(Uint8Array.from(s.mask.data, (v) => (v ? 1 : 0)), S, S, 4);
    let same = 0, far = 0;
    for (let i = 0; i < near.length; i++) {
      if (near[i]) continue;
      far++;
      if (
        s.image.data[i * 3] === s.source![i * 3] && s.image.data[i * 3 + 1] === s.source![i * 3 + 1] &&
        s.image.data[i * 3 + 2] === s.source![i * 3 + 2]
      ) same++;
    }
    assert.equal(same, far, `sample ${idx}: ${far - same} far pixels differ`);
    // and the camera did run: the output is not the plain 8-bit crop
    const plain = forgeFace(g, a, 11, idx, { noCamera: true });
    assert.notDeepEqual(plain.image.data, s.image.data);
  }
  assert.ok(checked >= 1);
  const other = forgeFace(g, a, 11, 100);
  assert.notDeepEqual(other.image.data, forgeFace(g, a, 11, 0).image.data);
});

Deno.test("photos: forgePhoto (the demo's entry) forges the bundled Grace Hopper photo", async () => {
  const { grace } = await photos();
  const r = await forgePhoto(grace, { seed: 4, kind: "face_swap", size: 128 });
  assert.equal(r.forgeryType, "face_swap");
  assert.equal(r.image.width, 128);
  assert.equal(r.mask.channels, 1);
  const area = r.mask.data.reduce((n, v) => n + (v ? 1 : 0), 0) / (128 * 128);
  assert.ok(area > 0.03 && area < 0.5, `face-swap mask area ${area}`);
  assert.ok(r.caption.length > 10 && r.multilabel.some((v) => v === 1));
  const again = await forgePhoto(grace, { seed: 4, kind: "face_swap", size: 128 });
  assert.deepEqual(again.image.data, r.image.data);
});

Deno.test("photos: synth --photos writes an MMTT set the reader and the loader accept", async () => {
  const out = await Deno.makeTempDir();
  const set = join(out, "set");
  const lines: string[] = [];
  const code = await main(
    [
      "--photos",
      PHOTO_DIR,
      "--out",
      set,
      "--n",
      "10",
      "--seed",
      "5",
      "--size",
      "96",
      "--real-share",
      "0.2",
      "--quiet",
    ],
    (l) => lines.push(l),
  );
  assert.equal(code, 0, lines.join("\n"));
  const manifest = JSON.parse(await Deno.readTextFile(join(set, "manifest.json")));
  assert.equal(manifest.generator, "photos-1");
  const recs = [];
  for (const split of ["train", "eval", "test"] as const) {
    recs.push(...await readMMTT(splitPath(set, split), set, { verify: true, expectSize: 96 }));
  }
  assert.equal(recs.length, 10);
  for (const r of recs) assert.deepEqual(regionLabels(r.caption), r.multilabel);
  const stats = JSON.parse(await Deno.readTextFile(join(set, "stats.json")));
  assert.equal(stats.n, 10);
  const train = await readMMTT(splitPath(set, "train"), set);
  const loader = new MMTTLoader(train, { batchSize: 4, size: 64, seed: 1, augment: true, workers: 0 });
  const b: Batch = (await loader.epochBatches().next()).value!;
  assert.equal(b.images.length, 4 * 3 * 64 * 64);
  assert.ok(b.masks.every((v) => v === 0 || v === 1));
  loader.close();
  // same seed, same files
  const set2 = join(out, "set2");
  assert.equal(
    await main([
      "--photos",
      PHOTO_DIR,
      "--out",
      set2,
      "--n",
      "10",
      "--seed",
      "5",
      "--size",
      "96",
      "--real-share",
      "0.2",
      "--quiet",
    ], () => {}),
    0,
  );
  for (const f of ["images/000003.png", "masks/000003.png", "train-mutilabel.json"]) {
    assert.deepEqual(await Deno.readFile(join(set2, f)), await Deno.readFile(join(set, f)), f);
  }
  await Deno.remove(out, { recursive: true });
});

Deno.test("photos: folders without a usable face give clear errors", async () => {
  const out = await Deno.makeTempDir();
  const empty = join(out, "empty"), noface = join(out, "noface");
  await Deno.mkdir(empty);
  await Deno.mkdir(noface);
  // a smooth gradient and a broken file: neither has a face
  const W = 64, data = new Uint8Array(W * W * 3);
  for (let i = 0; i < W * W; i++) {
    (data[i * 3] = i % W * 4), (data[i * 3 + 1] = 120), (data[i * 3 + 2] = (i / W) * 4);
  }
  await Deno.writeFile(join(noface, "gradient.png"), encodePng({ width: W, height: W, channels: 3, data }));
  await Deno.writeFile(join(noface, "broken.jpg"), new Uint8Array([0xff, 0xd8, 0xff, 0x00, 1, 2, 3]));
  await Deno.writeTextFile(join(noface, "notes.txt"), "not an image");
  for (
    const [dir, expect] of [
      [empty, /holds no \.jpg, \.jpeg or \.png files/],
      [noface, /none of its 2 image file\(s\) has a face/],
      [join(out, "missing"), /does not exist/],
    ] as [string, RegExp][]
  ) {
    const lines: string[] = [];
    const code = await main(
      ["--photos", dir, "--out", join(out, "set"), "--n", "2", "--quiet"],
      (l) => lines.push(l),
    );
    assert.equal(code, 1, lines.join("\n"));
    assert.match(lines.join("\n"), expect);
    if (dir === noface) {
      assert.ok(lines.some((l) => /skipped 'gradient\.png': no face found/.test(l)), lines.join("\n"));
      assert.ok(lines.some((l) => /skipped 'broken\.jpg'/.test(l)), lines.join("\n"));
    }
  }
  await Deno.remove(out, { recursive: true });
});

Deno.test("photos: no residual shortcut: the noise-residual probe's AUC stays in 0.4–0.6", async () => {
  const { g, a } = await photos();
  const all = probeHistograms(), src = probeHistograms();
  for (let i = 0; i < 24; i++) {
    const [t, d] = i % 2 ? [g, a] : [a, g];
    const s = forgeFace(t, d, 11, i, { debug: true });
    addProbe(s.image, s.mask, all.pos, all.neg);
    addProbe({ width: S, height: S, channels: 3, data: s.source! }, s.mask, src.pos, src.neg);
  }
  const auc = aucFromHistograms(all.pos, all.neg), base = aucFromHistograms(src.pos, src.neg);
  assert.ok(auc > 0.4 && auc < 0.6, `pooled pixel AUC ${auc}`);
  // the forged pixels score no higher than the same mask on the untouched crop (same camera)
  assert.ok(auc - base <= 0.03, `forged ${auc} vs untouched ${base}`);
});
