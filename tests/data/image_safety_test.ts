/**
 * Corrupt and hostile image files, generated here: truncated PNG/JPEG, bad CRCs, palette
 * errors at 8 and 4 bits, palette + tRNS, decompression bombs, a FIFO. Each must give a clear
 * error naming the file (or the exact right result), never a hang or a silent "ok".
 * Run: .tools/deno test --allow-all tests/data/image_safety_test.ts
 */
import assert from "node:assert/strict";
import { deflateSync } from "node:zlib";
import {
  decodeImage,
  decodeJpeg,
  decodePng,
  DEFAULT_IMAGE_LIMITS,
  encodeJpeg,
  encodePng,
  type Image,
  imageLimits,
  readImage,
  readImageSync,
  setImageLimits,
} from "../../src/data/image_io.ts";
import { probeImage } from "../../src/data/image_probe.ts";
import { chunk, ihdr, mkfifo, palettePng, png } from "./bad_files.ts";

function gradient(w: number, h: number, ch: 1 | 3 | 4): Image {
  const data = new Uint8Array(w * h * ch);
  for (let i = 0; i < data.length; i++) data[i] = (i * 7 + (i >> 8) * 3) & 255;
  return { width: w, height: h, channels: ch, data };
}

/** Offset of chunk `type` in a PNG (its length field). */
function chunkAt(bytes: Uint8Array, type: string): number {
  const dv = new DataView(bytes.buffer, bytes.byteOffset);
  for (let p = 8; p < bytes.length;) {
    const t = String.fromCharCode(...bytes.subarray(p + 4, p + 8));
    if (t === type) return p;
    p += 12 + dv.getUint32(p);
  }
  throw new Error(`no ${type}`);
}

Deno.test("truncated PNG: cut inside IDAT and cut before IEND are errors naming the file", () => {
  const good = encodePng(gradient(40, 30, 3));
  const idat = chunkAt(good, "IDAT");
  assert.throws(
    () => decodePng(good.slice(0, idat + 20), "cut.png"),
    /^Error: image 'cut\.png': PNG is truncated \(chunk "IDAT" at byte 33 needs \d+ bytes\)$/,
  );
  assert.throws(
    () => decodePng(good.slice(0, chunkAt(good, "IEND")), "noend.png"),
    /^Error: image 'noend\.png': PNG is truncated \(no IEND chunk\)$/,
  );
  // a 4-bit (fast-png path) file cut before IEND is refused the same way
  const p4 = palettePng(8, 8, 4, 16, Array.from({ length: 64 }, (_, i) => i % 16));
  assert.throws(() => decodePng(p4.slice(0, chunkAt(p4, "IEND")), "p4.png"), /'p4\.png': PNG is truncated/);
});

Deno.test("bad CRC in IDAT, IHDR or a 4-bit file is an error naming the chunk", () => {
  const good = encodePng(gradient(16, 16, 1));
  const idat = chunkAt(good, "IDAT");
  const bad = good.slice();
  bad[idat + 8 + 3] ^= 0x10; // one bit of the compressed data
  assert.throws(
    () => decodePng(bad, "crc.png"),
    new RegExp(
      `^Error: image 'crc\\.png': PNG chunk IDAT at byte ${idat} fails its CRC check \\(corrupt file\\)$`,
    ),
  );
  const hdr = good.slice();
  hdr[16 + 3] ^= 1; // width's low byte
  assert.throws(() => decodePng(hdr, "h.png"), /'h\.png': PNG chunk IHDR at byte 8 fails its CRC check/);
  assert.throws(() => probeImage(hdr, "h.png"), /'h\.png': PNG chunk IHDR at byte 8 fails its CRC check/);
  const p4 = palettePng(8, 8, 4, 16, Array.from({ length: 64 }, (_, i) => i % 16));
  const i4 = chunkAt(p4, "IDAT");
  const b4 = p4.slice();
  b4[i4 + 9] ^= 4;
  assert.throws(() => decodePng(b4, "p4.png"), /'p4\.png': PNG chunk IDAT at byte \d+ fails its CRC check/);
});

Deno.test("palette index out of range: 8-bit and 4-bit name the file, pixel and palette size", () => {
  const idx8 = Array.from({ length: 12 }, (_, i) => i % 4);
  idx8[7] = 200; // pixel (3, 1) of a 4-wide image
  assert.throws(
    () => decodePng(palettePng(4, 3, 8, 4, idx8), "p8.png"),
    /^Error: image 'p8\.png': palette index 200 at pixel \(3, 1\) is outside the 4-entry palette$/,
  );
  const idx4 = Array.from({ length: 16 }, (_, i) => i % 3);
  idx4[9] = 9; // pixel (1, 2)
  assert.throws(
    () => decodePng(palettePng(4, 4, 4, 3, idx4), "p4.png"),
    /^Error: image 'p4\.png': palette index 9 at pixel \(1, 2\) is outside the 3-entry palette$/,
  );
  // in-range palettes decode to the exact colours, 8- and 4-bit alike
  const ok = decodePng(palettePng(4, 1, 4, 3, [0, 1, 2, 1]), "ok.png");
  assert.equal(ok.channels, 3);
  assert.deepEqual([...ok.data], [0, 0, 0, 1, 2, 3, 2, 4, 6, 1, 2, 3]);
  // a palette longer than the bit depth can index is refused
  assert.throws(
    () => decodePng(palettePng(2, 1, 1, 3, [0, 1]), "p1.png"),
    /'p1\.png': PNG palette has 3 entries, more than a 1-bit image can index/,
  );
});

Deno.test("sub-byte greyscale (fast-png path) unpacks and rescales exactly", () => {
  // 3 pixels at 4 bits: 0, 15, 5 -> 0, 255, 85; rows are padded to whole bytes
  const raw = new Uint8Array([0, 0x0f, 0x50, 0, 0xf0, 0x00]);
  const file = png(
    chunk("IHDR", ihdr(3, 2, 4, 0)),
    chunk("IDAT", new Uint8Array(deflateSync(raw))),
    chunk("IEND", new Uint8Array(0)),
  );
  const img = decodePng(file, "g4.png");
  assert.equal(img.channels, 1);
  assert.deepEqual([...img.data], [0, 255, 85, 255, 0, 0]);
});

Deno.test("palette + tRNS is reported and decoded as 4 channels (8-bit and 4-bit)", () => {
  for (const depth of [8, 4]) {
    const file = palettePng(3, 1, depth, 3, [0, 1, 2], [10, 20]);
    assert.equal(probeImage(file, "t.png").channels, 4, `probe, ${depth}-bit`);
    const img = decodePng(file, "t.png");
    assert.equal(img.channels, 4, `decode, ${depth}-bit`);
    // entry 2 has no tRNS alpha: opaque
    assert.deepEqual([...img.data], [0, 0, 0, 10, 1, 2, 3, 20, 2, 4, 6, 255], `${depth}-bit`);
    assert.equal(probeImage(palettePng(3, 1, depth, 3, [0, 1, 2]), "n.png").channels, 3);
  }
});

Deno.test("decompression bombs are refused from the header, before inflating", () => {
  // 12000x12000 grey: 144 MB of pixels, deflated to ~140 KB
  const raw = new Uint8Array((12000 + 1) * 12000);
  const idat = new Uint8Array(deflateSync(raw, { level: 9 }));
  const bomb = png(
    chunk("IHDR", ihdr(12000, 12000, 8, 0)),
    chunk("IDAT", idat),
    chunk("IEND", new Uint8Array(0)),
  );
  assert.ok(bomb.length < 200_000, `bomb is ${bomb.length} bytes`);
  assert.throws(
    () => decodePng(bomb, "bomb.png"),
    /^Error: image 'bomb\.png': declares 12000x12000, larger than the 10000-pixel side limit \(FT_IMAGE_MAX_SIDE\)$/,
  );
  // sides within the cap, decoded size over it: 6000x6000 RGBA = 137 MiB > 128 MiB
  const wide = png(
    chunk("IHDR", ihdr(6000, 6000, 8, 6)),
    chunk("IDAT", idat),
    chunk("IEND", new Uint8Array(0)),
  );
  assert.throws(
    () => decodePng(wide, "wide.png"),
    /^Error: image 'wide\.png': 6000x6000x4 would decode to 137 MiB, over the 128 MiB limit \(FT_IMAGE_MAX_MB\)$/,
  );
  // a zlib stream that inflates past what a small IHDR declares stops at the declared size
  const zbomb = png(
    chunk("IHDR", ihdr(16, 16, 8, 0)),
    chunk("IDAT", new Uint8Array(deflateSync(new Uint8Array(50_000_000)))),
    chunk("IEND", new Uint8Array(0)),
  );
  assert.throws(
    () => decodePng(zbomb, "z.png"),
    /^Error: image 'z\.png': PNG data inflates past the 16x16 IHDR declares$/,
  );
  // the same behind a 4-bit (fast-png path) IHDR
  const zbomb4 = png(
    chunk("IHDR", ihdr(16, 16, 4, 0)),
    chunk("IDAT", new Uint8Array(deflateSync(new Uint8Array(50_000_000)))),
    chunk("IEND", new Uint8Array(0)),
  );
  assert.throws(
    () => decodePng(zbomb4, "z4.png"),
    /^Error: image 'z4\.png': PNG data inflates past the 16x16 IHDR declares$/,
  );
  // JPEG: a frame header declaring 20000x20000 is refused before MozJPEG allocates
  const jpg = encodeJpeg(gradient(16, 16, 3), 90);
  const sof = jpg.findIndex((b, i) => b === 0xff && jpg[i + 1] === 0xc0);
  jpg.set([20000 >> 8, 20000 & 255, 20000 >> 8, 20000 & 255], sof + 5);
  assert.throws(
    () => decodeJpeg(jpg, "big.jpg"),
    /^Error: image 'big\.jpg': declares 20000x20000, larger than/,
  );
});

Deno.test("image limits are configurable and documented defaults hold", () => {
  assert.deepEqual(DEFAULT_IMAGE_LIMITS, {
    maxSide: 10000,
    maxDecodedBytes: 128 * 1024 * 1024,
    maxFileBytes: 256 * 1024 * 1024,
  });
  const file = encodePng(gradient(20, 10, 3));
  const saved = imageLimits();
  try {
    setImageLimits({ maxSide: 16 });
    assert.throws(
      () => decodePng(file, "s.png"),
      /'s\.png': declares 20x10, larger than the 16-pixel side limit/,
    );
    setImageLimits({ maxSide: 100, maxDecodedBytes: 599 });
    assert.throws(() => decodePng(file, "s.png"), /20x10x3 would decode to 0 MiB, over the 0 MiB limit/);
    // a per-call limit overrides the thread's
    assert.equal(decodePng(file, "s.png", { ...DEFAULT_IMAGE_LIMITS }).width, 20);
    assert.throws(
      () => setImageLimits({ maxSide: -1 }),
      /image limit maxSide must be a positive number, got -1/,
    );
  } finally {
    setImageLimits(saved);
  }
  assert.equal(decodePng(file).width, 20);
});

Deno.test("truncated JPEG is an error naming the file (not a warning on stderr); fatal errors are readable", () => {
  const w = 64, h = 64;
  const jpg = encodeJpeg(gradient(w, h, 3), 90);
  assert.throws(
    () => decodeJpeg(jpg.slice(0, jpg.length >> 1), "half.jpg"),
    /^Error: image 'half\.jpg': corrupt JPEG \(Premature end of JPEG file\)$/,
  );
  const bad = jpg.slice();
  bad.fill(0xff, 200, 260);
  assert.throws(() => decodeImage(bad, "bad.jpg"), (e: Error) => {
    assert.match(e.message, /^image 'bad\.jpg': corrupt JPEG \(.+\)$/);
    assert.doesNotMatch(e.message, /object Object/);
    return true;
  });
  // the codec stays usable after both failures
  assert.equal(decodeJpeg(jpg, "good.jpg").width, 64);
});

Deno.test("a FIFO (or folder) as an image path is refused at once, never opened", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const fifo = `${dir}/mask.png`;
    await mkfifo(fifo);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const hang = new Promise<never>((_, rej) => {
      timer = setTimeout(() => rej(new Error("readImage hung on a FIFO")), 5000);
    });
    try {
      await assert.rejects(
        Promise.race([readImage(fifo), hang]),
        new RegExp(`^Error: image '${fifo}': is a FIFO, expected a regular file$`),
      );
    } finally {
      clearTimeout(timer);
    }
    assert.throws(() => readImageSync(fifo), /is a FIFO, expected a regular file/);
    await assert.rejects(readImage(dir), /is a directory, expected a regular file/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("header probes read only the first 64 KiB: a large valid PNG's cut head still probes", () => {
  const w = 300, h = 300, data = new Uint8Array(w * h * 3);
  for (let o = 0; o < data.length; o += 65536) crypto.getRandomValues(data.subarray(o, o + 65536)); // noise
  const file = encodePng({ width: w, height: h, channels: 3, data });
  assert.ok(file.length > 65536, `${file.length} bytes`);
  assert.deepEqual(probeImage(file.slice(0, 65536), "big.png"), {
    format: "png",
    width: 300,
    height: 300,
    channels: 3,
  });
  assert.throws(() => decodePng(file.slice(0, 65536), "big.png"), /'big\.png': PNG is truncated/);
});
