/**
 * readMMTT against hostile data folders: paths outside the root, a FIFO as a mask, a bomb
 * header, `verify` listing every bad record by file and field, and stamped sets that were
 * mixed or left partial. Run: .tools/deno test --allow-all tests/data/mmtt_safety_test.ts
 */
import assert from "node:assert/strict";
import { deflateSync } from "node:zlib";
import { encodeJpeg, encodePng, type Image, writePng } from "../../src/data/image_io.ts";
import { readMMTT, splitPath } from "../../src/data/mmtt.ts";
import { generateDataset } from "../../src/data/synth/generate.ts";
import { chunk, ihdr, mkfifo, png } from "./bad_files.ts";

function img(w: number, h: number, ch: 1 | 3 | 4, v = 100): Image {
  return { width: w, height: h, channels: ch, data: new Uint8Array(w * h * ch).fill(v) };
}

const rec = (img_path: string, mask_path = "", id = "1") => ({
  image_id: id,
  instance_id: "0",
  img_path,
  mask_path,
  caption: "The left eye is blurry.",
  multilabel: Array(21).fill(0),
});

async function folder() {
  const root = await Deno.makeTempDir();
  await Deno.mkdir(`${root}/data/img`, { recursive: true });
  await writePng(`${root}/data/img/a.png`, img(16, 16, 3));
  await writePng(`${root}/data/img/a_mask.png`, img(16, 16, 1));
  await writePng(`${root}/outside.png`, img(16, 16, 3));
  return { root, data: `${root}/data` };
}

Deno.test("paths outside the data root are refused unless allowOutside", async () => {
  const { root, data } = await folder();
  try {
    for (
      const [r, field, raw] of [
        [rec("../outside.png"), "img_path", "../outside.png"],
        [rec(`${root}/outside.png`), "img_path", `${root}/outside.png`],
        [rec("img/a.png", "img/../../outside.png"), "mask_path", "img/../../outside.png"],
      ] as const
    ) {
      await Deno.writeTextFile(`${data}/s.json`, JSON.stringify([r]));
      await assert.rejects(
        readMMTT(`${data}/s.json`, data),
        new RegExp(
          `^Error: MMTT '${data}/s\\.json' record 0: field '${field}': '${
            raw.replaceAll(".", "\\.")
          }' resolves outside the data root '${data}' \\(allowOutside / --allow-outside-root permits it\\)$`,
        ),
      );
    }
    await Deno.writeTextFile(`${data}/s.json`, JSON.stringify([rec("../outside.png")]));
    const recs = await readMMTT(`${data}/s.json`, data, { allowOutside: true });
    assert.equal(recs[0].imageFile, `${root}/outside.png`);
    // "img/../img/a.png" stays inside: fine
    await Deno.writeTextFile(`${data}/s.json`, JSON.stringify([rec("img/../img/a.png")]));
    assert.equal((await readMMTT(`${data}/s.json`, data))[0].imageFile, `${data}/img/a.png`);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("a FIFO mask and a bomb header are bad records, found without opening/decoding them", async () => {
  const { root, data } = await folder();
  try {
    await mkfifo(`${data}/img/fifo.png`);
    const bomb = png(
      chunk("IHDR", ihdr(12000, 12000, 8, 2)),
      chunk("IDAT", new Uint8Array(deflateSync(new Uint8Array(100)))),
      chunk("IEND", new Uint8Array(0)),
    );
    await Deno.writeFile(`${data}/img/bomb.png`, bomb);
    await Deno.writeTextFile(
      `${data}/s.json`,
      JSON.stringify([rec("img/a.png", "img/fifo.png"), rec("img/bomb.png", "", "2")]),
    );
    const report = { skipped: 0, errors: [] as string[] };
    assert.deepEqual(await readMMTT(`${data}/s.json`, data, { skipBad: true, report }), []);
    assert.equal(report.skipped, 2);
    assert.match(
      report.errors[0],
      /record 0: field 'mask_path': mask '.*\/img\/fifo\.png': is a FIFO, expected a regular file$/,
    );
    assert.match(
      report.errors[1],
      /record 1: field 'img_path': image '.*\/img\/bomb\.png': declares 12000x12000, larger than the 10000-pixel/,
    );
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("verify decodes everything and lists each bad record by file and field", async () => {
  const { root, data } = await folder();
  try {
    const good = encodePng(img(16, 16, 3));
    // header intact, data cut: the header-only check passes, verify does not
    const idatCut = good.slice(0, good.length - 20);
    await Deno.writeFile(`${data}/img/cut.png`, idatCut);
    const crc = encodePng(img(16, 16, 1)).slice();
    crc[crc.length - 20] ^= 0x40; // inside IDAT
    await Deno.writeFile(`${data}/img/crc_mask.png`, crc);
    const jpg = encodeJpeg(img(16, 16, 3), 90);
    await Deno.writeFile(`${data}/img/half.jpg`, jpg.slice(0, jpg.length - 40));
    const rows = [
      rec("img/cut.png", "img/a_mask.png", "1"),
      rec("img/a.png", "img/a_mask.png", "2"),
      rec("img/a.png", "img/crc_mask.png", "3"),
      rec("img/half.jpg", "img/crc_mask.png", "4"),
    ];
    await Deno.writeTextFile(`${data}/s.json`, JSON.stringify(rows));
    // headers alone pass all four (the damage is past the headers): that is what verify is for
    assert.equal((await readMMTT(`${data}/s.json`, data)).length, 4);
    await assert.rejects(readMMTT(`${data}/s.json`, data, { verify: true }), (e: Error) => {
      const lines = e.message.split("\n");
      assert.equal(lines[0], "3 bad records:");
      assert.match(lines[1], /record 0: field 'img_path': image '.*\/img\/cut\.png': PNG is truncated/);
      assert.match(
        lines[2],
        /record 2: field 'mask_path': image '.*\/img\/crc_mask\.png': PNG chunk IDAT .* CRC/,
      );
      assert.match(
        lines[3],
        /record 3: field 'img_path': image '.*\/img\/half\.jpg': corrupt JPEG \(Premature end of JPEG file[^)]*\); field 'mask_path': .*crc_mask\.png.*CRC/,
      );
      assert.equal(lines.length, 4);
      return true;
    });
    const report = { skipped: 0, errors: [] as string[] };
    const ok = await readMMTT(`${data}/s.json`, data, { verify: true, skipBad: true, report });
    assert.deepEqual(ok.map((r) => r.image_id), ["2"]);
    assert.equal(report.skipped, 3);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("a stamped set: mixed or partial sets are refused, a complete one verifies", async () => {
  const base = await Deno.makeTempDir();
  try {
    const a = `${base}/a`, b = `${base}/b`;
    await generateDataset({ out: a, n: 10, seed: 1, size: 32, workers: 0, quiet: true });
    await generateDataset({ out: b, n: 10, seed: 2, size: 32, workers: 0, quiet: true });
    const manifest = JSON.parse(await Deno.readTextFile(`${a}/manifest.json`));
    assert.equal(manifest.complete, true);
    assert.equal(manifest.seed, 1);
    assert.equal(manifest.count, 10);
    assert.equal(typeof manifest.generator, "string");
    assert.equal(Object.keys(manifest.files).filter((f: string) => f.startsWith("images/")).length, 10);
    assert.match(manifest.files["images/000000.png"].sha256, /^[0-9a-f]{64}$/);
    assert.equal((await readMMTT(splitPath(a, "train"), a, { verify: true })).length, 8);
    // images of seed 2 under seed-1 JSONs (what a killed in-place re-run used to leave): every
    // replaced image is a bad record, named by file and field
    const replaced = ["000001.png", "000002.png", "000005.png"];
    for (const f of replaced) await Deno.copyFile(`${b}/images/${f}`, `${a}/images/${f}`);
    const train = JSON.parse(await Deno.readTextFile(splitPath(a, "train"))) as { img_path: string }[];
    const hit = train.filter((r) => replaced.includes(r.img_path.slice(7))).length;
    assert.ok(hit >= 1, "some replaced images are in train (seeded split, 8 of 10)");
    const report = { skipped: 0, errors: [] as string[] };
    await readMMTT(splitPath(a, "train"), a, { verify: true, skipBad: true, report });
    assert.equal(report.skipped, hit);
    for (const line of report.errors) {
      assert.match(
        line,
        /field 'img_path': image '.*images\/00000[125]\.png' (is \d+ bytes, the set's manifest\.json says \d+|does not match its checksum in the set's manifest\.json)/,
      );
    }
    // a split JSON of another generation
    await Deno.copyFile(splitPath(b, "test"), splitPath(a, "test"));
    await assert.rejects(
      readMMTT(splitPath(a, "test"), a),
      new RegExp(
        `^Error: MMTT '${a}/test-mutilabel\\.json': does not match the set's manifest\\.json \\(seed 1, 10 samples\\): a mixed or partial set; regenerate it$`,
      ),
    );
    // a manifest marked incomplete
    await Deno.writeTextFile(`${b}/manifest.json`, JSON.stringify({ ...manifest, complete: false }));
    await assert.rejects(readMMTT(splitPath(b, "train"), b), /the set is marked incomplete/);
  } finally {
    await Deno.remove(base, { recursive: true });
  }
});
