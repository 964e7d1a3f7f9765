import assert from "node:assert/strict";
import type { Image } from "../../src/data/image_io.ts";
import { Rng } from "../../src/data/rng.ts";
import {
  augment,
  CLIP_MEAN,
  CLIP_STD,
  degrade,
  flipImage,
  flipMask,
  normalizeClip,
  resizeBicubic,
  resizeMaskNearest,
  swapLeftRight,
} from "../../src/data/transforms.ts";

Deno.test("bicubic keeps a constant image constant and has the requested size", () => {
  const img: Image = { width: 50, height: 40, channels: 3, data: new Uint8Array(50 * 40 * 3).fill(77) };
  for (const [w, h] of [[20, 16], [120, 90]]) {
    const r = resizeBicubic(img, w, h);
    assert.equal(r.data.length, w * h * 3);
    assert.ok(r.data.every((v) => v === 77));
  }
});

Deno.test("nearest mask resize binarises (> 0) and keeps geometry", () => {
  const W = 8, m = new Uint8Array(W * W);
  for (let y = 0; y < 4; y++) for (let x = 0; x < 4; x++) m[y * W + x] = 200; // top-left quarter
  const r = resizeMaskNearest(m, W, W, 4, 4);
  assert.deepEqual([...r], [1, 1, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
});

Deno.test("CLIP normalisation", () => {
  const img: Image = { width: 1, height: 1, channels: 3, data: new Uint8Array([255, 0, 128]) };
  const v = normalizeClip(img);
  assert.ok(Math.abs(v[0] - (1 - CLIP_MEAN[0]) / CLIP_STD[0]) < 1e-5);
  assert.ok(Math.abs(v[1] + CLIP_MEAN[1] / CLIP_STD[1]) < 1e-5);
});

Deno.test("caption sides swap as whole words, keeping case", () => {
  assert.equal(
    swapLeftRight("The left eye and Right eyebrow; leftover RIGHT."),
    "The right eye and Left eyebrow; leftover LEFT.",
  );
});

Deno.test("flip: flipped mask still covers the flipped part, caption swapped", () => {
  const W = 32, H = 32;
  const data = new Uint8Array(W * H * 3), mask = new Uint8Array(W * H);
  // a red square on the image's right side (= the subject's left)
  for (let y = 10; y < 20; y++) {
    for (let x = 22; x < 30; x++) (mask[y * W + x] = 255), data.set([255, 0, 0], (y * W + x) * 3);
  }
  const img: Image = { width: W, height: H, channels: 3, data };
  const fi = flipImage(img), fm = flipMask(mask, W, H);
  for (let i = 0; i < W * H; i++) assert.equal(fm[i] > 0, fi.data[i * 3] === 255);
  assert.equal(fm[15 * W + 5], 255); // now on the image's left
  // augmentation with forced flip and full crop
  let found = false;
  for (let s = 0; s < 20 && !found; s++) {
    const a = augment(img, mask, "The left cheek is red.", new Rng(s), {
      size: 16,
      scale: [1, 1],
      ratio: [1, 1],
      flipProb: 1,
    });
    assert.equal(a.caption, "The right cheek is red.");
    assert.ok(a.flipped);
    let cover = 0, red = 0;
    for (let i = 0; i < 256; i++) {
      const isRed = a.image.data[i * 3] > 200 && a.image.data[i * 3 + 1] < 60;
      if (isRed) red++;
      if (isRed && a.mask[i]) cover++;
    }
    assert.ok(red > 10 && cover / red > 0.9, `mask covers ${cover}/${red} red pixels`);
    found = true;
  }
});

Deno.test("robustness variants change size / sharpness as stated", () => {
  const W = 64, data = new Uint8Array(W * W * 3);
  for (let i = 0; i < data.length; i++) data[i] = (i / 3) % 2 ? 255 : 0; // stripes
  const img: Image = { width: W, height: W, channels: 3, data };
  assert.equal(degrade(img, { name: "d", scale: 0.75 }).width, 48);
  assert.equal(degrade(img, { name: "d", scale: 0.5 }).height, 32);
  const b = degrade(img, { name: "b", blur: 11 });
  assert.equal(b.width, 64);
  const mid = b.data[(32 * W + 32) * 3];
  assert.ok(mid > 100 && mid < 155, `blurred stripes average out, got ${mid}`);
});
