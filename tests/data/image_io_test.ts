import assert from "node:assert/strict";
import {
  decodeImage,
  decodeJpeg,
  decodePng,
  encodeJpeg,
  encodePng,
  type Image,
  readImage,
  writePng,
} from "../../src/data/image_io.ts";
import { probeImage } from "../../src/data/image_probe.ts";

function gradient(w: number, h: number, ch: 1 | 3 | 4): Image {
  const data = new Uint8Array(w * h * ch);
  for (let i = 0; i < data.length; i++) data[i] = (i * 7 + (i >> 8) * 3) & 255;
  return { width: w, height: h, channels: ch, data };
}

Deno.test("PNG round trip is exact for grey, RGB and RGBA", () => {
  for (const ch of [1, 3, 4] as const) {
    const img = gradient(37, 23, ch);
    const back = decodePng(encodePng(img));
    assert.equal(back.channels, ch);
    assert.equal(back.width, 37);
    assert.equal(back.height, 23);
    assert.deepEqual(back.data, img.data);
  }
});

Deno.test("JPEG round trip is close and sniffed by decodeImage", () => {
  const w = 64, h = 48, data = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) data.set([x * 4, y * 5, 128], (y * w + x) * 3);
  const jpg = encodeJpeg({ width: w, height: h, channels: 3, data }, 95);
  const back = decodeImage(jpg);
  assert.equal(back.channels, 3);
  let err = 0;
  for (let i = 0; i < data.length; i++) err += Math.abs(back.data[i] - data[i]);
  assert.ok(err / data.length < 3, `mean abs error ${err / data.length}`);
  assert.deepEqual(probeImage(jpg), { format: "jpeg", width: 64, height: 48, channels: 3 });
  assert.equal(decodeJpeg(jpg).width, 64);
});

Deno.test("errors name the file and what was expected", async () => {
  assert.throws(
    () => decodeImage(new Uint8Array([1, 2, 3, 4]), "x.bin"),
    /image 'x\.bin': expected PNG or JPEG/,
  );
  const png = encodePng(gradient(8, 8, 3));
  assert.throws(() => decodePng(png.slice(0, 40), "cut.png"), /image 'cut\.png'/);
  await assert.rejects(readImage("/nonexistent/y.png"), /image '\/nonexistent\/y\.png': cannot read/);
});

Deno.test("writePng/readImage on disk", async () => {
  const dir = await Deno.makeTempDir();
  const img = gradient(16, 16, 1);
  await writePng(`${dir}/m.png`, img);
  const back = await readImage(`${dir}/m.png`);
  assert.deepEqual(back.data, img.data);
  assert.deepEqual(probeImage(await Deno.readFile(`${dir}/m.png`)), {
    format: "png",
    width: 16,
    height: 16,
    channels: 1,
  });
  await Deno.remove(dir, { recursive: true });
});
