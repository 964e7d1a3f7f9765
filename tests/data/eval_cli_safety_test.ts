/**
 * `deno task eval` never overwrites an input and never hangs: --out naming the predictions,
 * a split file, a mask (also through a symlink or hard link) is refused with the input left
 * byte-identical; a FIFO or out-of-folder predicted mask is an issue, not a hang or a read;
 * --verify lists bad records; flag errors are one sentence.
 * Run: .tools/deno test --allow-all tests/data/eval_cli_safety_test.ts
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { encodePng, writePng } from "../../src/data/image_io.ts";
import { main } from "../../src/cli/eval.ts";
import { mkfifo } from "./bad_files.ts";

const W = 16;

async function fixture() {
  const dir = await Deno.makeTempDir();
  await Deno.mkdir(join(dir, "data/img"), { recursive: true });
  const img = { width: W, height: W, channels: 3 as const, data: new Uint8Array(W * W * 3).fill(128) };
  const mask = { width: W, height: W, channels: 1 as const, data: new Uint8Array(W * W).fill(255) };
  const recs = [];
  for (const id of ["a", "b"]) {
    await writePng(join(dir, `data/img/${id}.png`), img);
    await writePng(join(dir, `data/img/${id}_m.png`), mask);
    recs.push({
      image_id: id,
      instance_id: "0",
      img_path: `img/${id}.png`,
      mask_path: `img/${id}_m.png`,
      caption: "The left eye is blurred.",
    });
  }
  await Deno.writeTextFile(join(dir, "data/test-mutilabel.json"), JSON.stringify(recs));
  await Deno.mkdir(join(dir, "pred"));
  await writePng(join(dir, "pred/a.png"), mask);
  const preds = [
    { image_id: "a", instance_id: "0", caption: "The left eye is blurred.", mask_path: "a.png" },
    { image_id: "b", instance_id: "0", caption: "The eye.", mask_path: "b.png" },
  ];
  await writePng(join(dir, "pred/b.png"), mask);
  await Deno.writeTextFile(join(dir, "pred/pred.json"), JSON.stringify(preds));
  return { dir, data: join(dir, "data"), pred: join(dir, "pred/pred.json") };
}

async function run(args: string[]): Promise<{ code: number; err: string[] }> {
  const err: string[] = [];
  const origErr = console.error, origLog = console.log;
  console.error = (...a: unknown[]) => err.push(a.join(" "));
  console.log = () => {};
  try {
    return { code: await main(args), err };
  } finally {
    console.error = origErr;
    console.log = origLog;
  }
}

Deno.test("eval refuses an --out that is one of its inputs (also via symlink / hard link)", async () => {
  const { dir, data, pred } = await fixture();
  try {
    const split = join(data, "test-mutilabel.json");
    await Deno.symlink(pred, join(dir, "link.json"));
    await Deno.link(split, join(dir, "hard.json"));
    const targets: [string, string][] = [
      [pred, pred],
      [split, split],
      [join(data, "img/a_m.png"), join(data, "img/a_m.png")],
      [join(dir, "pred/b.png"), join(dir, "pred/b.png")],
      [join(dir, "link.json"), pred],
      [join(dir, "hard.json"), split],
    ];
    for (const [out, input] of targets) {
      const before = await Deno.readFile(input);
      const r = await run(["--pred", pred, "--data", data, "--out", out]);
      assert.equal(r.code, 1, out);
      assert.equal(r.err.length, 1, r.err.join("\n"));
      assert.match(
        r.err[0],
        /^eval: --out '.*' is an input of this run \('.*'\); choose another report path$/,
      );
      assert.deepEqual(await Deno.readFile(input), before, `${input} unchanged`);
    }
    // a fresh path works and writes the report
    const r = await run(["--pred", pred, "--data", data, "--out", join(dir, "report.json")]);
    assert.equal(r.code, 0, r.err.join("\n"));
    assert.equal(JSON.parse(await Deno.readTextFile(join(dir, "report.json"))).images, 2);
    assert.deepEqual((await run(["--pred", pred, "--data", data, "--out", dir])).err, [
      `eval: --out '${dir}' is a folder, expected a file path for the report`,
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("eval: a FIFO predicted mask is an issue at once; a mask outside the predictions folder is refused", async () => {
  const { dir, data, pred } = await fixture();
  try {
    await Deno.remove(join(dir, "pred/b.png"));
    await mkfifo(join(dir, "pred/b.png"));
    await writePng(join(dir, "outside.png"), {
      width: W,
      height: W,
      channels: 1,
      data: new Uint8Array(W * W).fill(255),
    });
    const preds = JSON.parse(await Deno.readTextFile(pred));
    await Deno.writeTextFile(pred, JSON.stringify(preds));
    const t0 = performance.now();
    const r = await run(["--pred", pred, "--data", data, "--out", join(dir, "r.json")]);
    assert.ok(performance.now() - t0 < 20_000, "no hang");
    assert.equal(r.code, 0);
    assert.ok(
      r.err.some((l) =>
        /^warning: mask of b\/0: image '.*\/pred\/b\.png': is a FIFO, expected a regular file \(scored as empty\)$/
          .test(l)
      ),
      r.err.join("\n"),
    );
    preds[0].mask_path = "../outside.png";
    await Deno.writeTextFile(pred, JSON.stringify(preds));
    const s = await run(["--pred", pred, "--data", data, "--out", join(dir, "r.json"), "--strict"]);
    assert.equal(s.code, 1);
    assert.match(
      s.err[0],
      /^eval: --strict: predictions '.*' record 0: field 'mask_path': '\.\.\/outside\.png' resolves outside the predictions folder '.*\/pred' \(--allow-outside-root permits it\)$/,
    );
    // a FIFO as the predictions file itself: refused at once
    await mkfifo(join(dir, "fifo.json"));
    const f = await run(["--pred", join(dir, "fifo.json"), "--data", data, "--out", join(dir, "r.json")]);
    assert.deepEqual(f, {
      code: 1,
      err: [`eval: predictions '${join(dir, "fifo.json")}': cannot read file (not a regular file)`],
    });
    // opting out reads it (b's FIFO is still an issue, so no --strict here)
    const o = await run([
      "--pred",
      pred,
      "--data",
      data,
      "--out",
      join(dir, "r.json"),
      "--allow-outside-root",
    ]);
    assert.equal(o.code, 0);
    assert.ok(!o.err.some((l) => l.includes("outside")), o.err.join("\n"));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("eval --verify decodes the split and names each bad record; flag errors are one sentence", async () => {
  const { dir, data, pred } = await fixture();
  try {
    const good = encodePng({ width: W, height: W, channels: 3, data: new Uint8Array(W * W * 3).fill(128) });
    await Deno.writeFile(join(data, "img/b.png"), good.slice(0, good.length - 16)); // header intact
    const plain = await run(["--pred", pred, "--data", data, "--out", join(dir, "r.json")]);
    assert.equal(plain.code, 0, "without --verify the image itself is not read");
    const v = await run(["--pred", pred, "--data", data, "--out", join(dir, "r2.json"), "--verify"]);
    assert.equal(v.code, 1);
    assert.match(
      v.err[0],
      /^eval: 1 bad record:\nMMTT '.*test-mutilabel\.json' record 1: field 'img_path': image '.*\/img\/b\.png': PNG is truncated/,
    );
    assert.equal(await Deno.stat(join(dir, "r2.json")).catch(() => null), null, "no report written");
    const flags: [string[], string][] = [
      [["--pred", pred], "eval: --data and --out are required (see --help)"],
      [
        ["--pred", pred, "--data", data, "--out", "r.json", "--split", "dev"],
        "eval: --split must be test, eval or train, got 'dev'",
      ],
      [
        ["--pred", pred, "--data", data, "--out", "r.json", "--strct"],
        "eval: unknown flag --strct (see --help)",
      ],
      [
        ["--pred", "--data", data, "--out", "r.json"],
        "eval: --pred needs a value, got what looks like another flag",
      ],
    ];
    for (const [args, want] of flags) {
      assert.deepEqual(await run(args), { code: 2, err: [want] }, args.join(" "));
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
