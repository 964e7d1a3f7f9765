// The evaluator end to end on a small generated MMTT split, including malformed predictions.
import { join } from "node:path";
import { assert, assertAlmostEquals, assertEquals, assertRejects } from "./assert_helpers.ts";
import { writePng } from "../../src/data/image_io.ts";
import { evaluate } from "../../src/eval/evaluator.ts";
import { formatTable } from "../../src/eval/report.ts";
import { regionLabels } from "../../src/data/regions.ts";
import { main } from "../../src/cli/eval.ts";

const W = 16;

/** A square mask with a forged block [x0, x1) x [y0, y1). */
function block(x0: number, x1: number, y0: number, y1: number, v = 255): Uint8Array {
  const d = new Uint8Array(W * W);
  for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) d[y * W + x] = v;
  return d;
}

async function makeSplit(dir: string) {
  await Deno.mkdir(join(dir, "img"), { recursive: true });
  await Deno.mkdir(join(dir, "mask"), { recursive: true });
  const img = { width: W, height: W, channels: 3 as const, data: new Uint8Array(W * W * 3).fill(128) };
  const samples = [
    { id: "a", caption: "The left eye is blurred.", mask: block(0, 8, 0, 8), type: "face_swap" },
    {
      id: "b",
      caption: "The lips look painted and the nose is distorted.",
      mask: block(4, 12, 4, 12),
      type: "attribute_edit",
    },
    { id: "c", caption: "No visible artifacts on the skin.", mask: null, type: "attribute_edit" },
  ];
  const records = [];
  for (const s of samples) {
    await writePng(join(dir, "img", `${s.id}.png`), img);
    if (s.mask) {
      await writePng(join(dir, "mask", `${s.id}.png`), { width: W, height: W, channels: 1, data: s.mask });
    }
    records.push({
      image_id: s.id,
      instance_id: "0",
      img_path: `img/${s.id}.png`,
      mask_path: s.mask ? `mask/${s.id}.png` : "",
      caption: s.caption,
      multilabel: regionLabels(s.caption),
      forgery_type: s.type,
    });
  }
  await Deno.writeTextFile(join(dir, "test-mutilabel.json"), JSON.stringify(records));
}

Deno.test("evaluator: perfect predictions, per-type rows, the table", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await makeSplit(dir);
    const recs = JSON.parse(await Deno.readTextFile(join(dir, "test-mutilabel.json")));
    // Probability mask for a (values 0..255), binary 0/1 mask for b, none for c.
    await writePng(join(dir, "pa.png"), { width: W, height: W, channels: 1, data: block(0, 8, 0, 8, 200) });
    await writePng(join(dir, "pb.png"), { width: W, height: W, channels: 1, data: block(4, 12, 4, 12, 1) });
    const preds = recs.map((r: { image_id: string; caption: string }) => ({
      image_id: r.image_id,
      instance_id: "0",
      caption: r.caption,
      mask_path: r.image_id === "c" ? "" : `p${r.image_id}.png`,
    }));
    await Deno.writeTextFile(join(dir, "pred.json"), JSON.stringify(preds));
    const rep = await evaluate({ predFile: join(dir, "pred.json"), dataDir: dir, split: "test" });
    assertEquals(rep.images, 3);
    assertEquals(Object.values(rep.issues).reduce((a, b) => a + b, 0), 0);
    const all = rep.rows[0];
    assertEquals(all.name, "all");
    assertEquals([all.IoU, all.Precision, all.Recall, all.PLM, all.cIoU], [100, 100, 100, 100, 100]);
    assertAlmostEquals(all["BLEU-1"], 100, 1e-6);
    assertAlmostEquals(all.METEOR, 100, 1e-9);
    assertEquals(rep.rows.map((r) => r.name), ["all", "face_swap", "attribute_edit"]);
    assert(formatTable(rep.rows).includes("CIDEr"));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("evaluator: missing, duplicate, unknown, bad and unreadable predictions are counted", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await makeSplit(dir);
    await Deno.writeTextFile(join(dir, "broken.png"), "not a png");
    const preds = [
      { image_id: "a", instance_id: "0", caption: "the left eye is blurred", mask_path: "broken.png" },
      { image_id: "a", instance_id: "0", caption: "duplicate", mask_path: "" },
      { image_id: "zz", instance_id: "0", caption: "unknown id" },
      { image_id: "b", caption: "no instance id" },
      42,
    ];
    await Deno.writeTextFile(join(dir, "pred.json"), JSON.stringify(preds));
    const lines: string[] = [];
    const rep = await evaluate({
      predFile: join(dir, "pred.json"),
      dataDir: dir,
      split: "test",
      onIssue: (l) => lines.push(l),
    });
    assertEquals(rep.issues, { missing: 2, duplicate: 1, unknown: 1, bad_record: 2, unreadable_mask: 1 });
    assertEquals(lines.length, 7);
    assert(lines.some((l) => l.includes("duplicate id a/0")));
    // a: unreadable mask scored empty (IoU 0); b: missing (IoU 0); c: both empty (IoU 1).
    assertAlmostEquals(rep.rows[0].IoU, 100 / 3, 1e-9);
    // --strict: the first issue is fatal.
    await assertRejects(
      () => evaluate({ predFile: join(dir, "pred.json"), dataDir: dir, split: "test", strict: true }),
      /duplicate id a\/0/,
    );
    // A file that is not a JSON array is always fatal.
    await Deno.writeTextFile(join(dir, "bad.json"), "{ not json");
    await assertRejects(
      () => evaluate({ predFile: join(dir, "bad.json"), dataDir: dir, split: "test" }),
      /invalid JSON/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("eval CLI: writes the report and exits 0; --strict exits 1; usage errors exit 2", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await makeSplit(dir);
    await Deno.writeTextFile(
      join(dir, "pred.json"),
      JSON.stringify([{ image_id: "a", instance_id: "0", caption: "x" }]),
    );
    const args = ["--pred", join(dir, "pred.json"), "--data", dir, "--out", join(dir, "r.json")];
    assertEquals(await main(args), 0);
    const rep = JSON.parse(await Deno.readTextFile(join(dir, "r.json")));
    assertEquals(rep.issues.missing, 2);
    assertEquals(rep.rows[0].n, 3);
    assertEquals(await main([...args, "--strict"]), 1);
    assertEquals(await main(["--pred", "x.json"]), 2);
    assertEquals(await main([...args, "--split", "dev"]), 2);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
