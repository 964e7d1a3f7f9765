import assert from "node:assert/strict";
import { encodePng, type Image, writePng } from "../../src/data/image_io.ts";
import { readMMTT } from "../../src/data/mmtt.ts";

function img(w: number, h: number, ch: 1 | 3 | 4): Image {
  return { width: w, height: h, channels: ch, data: new Uint8Array(w * h * ch).fill(100) };
}

async function fixture() {
  const dir = await Deno.makeTempDir();
  await Deno.mkdir(`${dir}/img`);
  await writePng(`${dir}/img/a.png`, img(16, 16, 3));
  await writePng(`${dir}/img/a_mask.png`, img(16, 16, 1));
  await writePng(`${dir}/img/small_mask.png`, img(8, 8, 1));
  await writePng(`${dir}/img/rgba.png`, img(16, 16, 4));
  await Deno.writeFile(`${dir}/img/bad.png`, encodePng(img(16, 16, 3)).slice(0, 10));
  const good = {
    image_id: "1",
    instance_id: "1",
    img_path: "img/a.png",
    mask_path: "img/a_mask.png",
    caption: "The left eye is blurry.",
    multilabel: Array(21).fill(0),
  };
  return { dir, good };
}

Deno.test("readMMTT reads valid records with absolute paths", async () => {
  const { dir, good } = await fixture();
  await Deno.writeTextFile(
    `${dir}/s.json`,
    JSON.stringify([good, { ...good, instance_id: 2, mask_path: "", multilabel: undefined }]),
  );
  const recs = await readMMTT(`${dir}/s.json`, dir);
  assert.equal(recs.length, 2);
  assert.equal(recs[0].imageFile, `${dir}/img/a.png`);
  assert.equal(recs[1].maskFile, null);
  assert.equal(recs[1].instance_id, "2");
  assert.equal(recs[1].multilabel[0], 1); // computed from the caption: "eye"
  await Deno.remove(dir, { recursive: true });
});

Deno.test("readMMTT errors name file, record index and field; skipBad counts", async () => {
  const { dir, good } = await fixture();
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ ...good, caption: undefined }, /record 0: field 'caption': missing/],
    [{ ...good, img_path: "img/missing.png" }, /record 0: field 'img_path': cannot read/],
    [{ ...good, img_path: "img/bad.png" }, /record 0: field 'img_path'/],
    [
      { ...good, mask_path: "img/small_mask.png" },
      /record 0: field 'mask_path': mask .* is 8x8, expected 16x16/,
    ],
    [
      { ...good, img_path: "img/rgba.png" },
      /record 0: field 'img_path': image .* expected RGB, got 4 channels/,
    ],
    [{ ...good, multilabel: [1, 0] }, /record 0: field 'multilabel': expected 21/],
    [{ ...good, forgery_type: "magic" }, /record 0: field 'forgery_type'/],
  ];
  for (const [rec, re] of cases) {
    await Deno.writeTextFile(`${dir}/s.json`, JSON.stringify([rec]));
    await assert.rejects(readMMTT(`${dir}/s.json`, dir), (e: Error) => {
      assert.match(e.message, new RegExp(`MMTT '${dir}/s\\.json'`));
      assert.match(e.message, re);
      return true;
    });
  }
  await Deno.writeTextFile(`${dir}/s.json`, JSON.stringify([good, ...cases.map((c) => c[0]), good]));
  const report = { skipped: 0, errors: [] as string[] };
  const recs = await readMMTT(`${dir}/s.json`, dir, { skipBad: true, report });
  assert.equal(recs.length, 2);
  assert.equal(report.skipped, cases.length);
  assert.match(report.errors[0], /record 1:/);
  await Deno.writeTextFile(`${dir}/s.json`, "{not json");
  await assert.rejects(readMMTT(`${dir}/s.json`, dir), /invalid JSON/);
  await Deno.remove(dir, { recursive: true });
});
