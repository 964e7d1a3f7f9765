// `deno task infer` in-process: the three outputs per image and their consistency, folders
// with --glob, --json lines, failing items beside good ones, atomic outputs, usage errors.
import { join } from "node:path";
import { assert, assertAlmostEquals, assertEquals } from "../eval/assert_helpers.ts";
import { fixture } from "./fixture.ts";
import { collectInputs, globToRegExp, main } from "../../src/cli/infer.ts";
import { readImage } from "../../src/data/image_io.ts";
import { instruction } from "../../src/model/instruction.ts";

/** Runs main() capturing what it writes to stdout / stderr. */
async function run(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = "", err = "";
  const dec = new TextDecoder();
  const w = Deno.stdout.writeSync, log = console.log, error = console.error;
  Deno.stdout.writeSync = (b: Uint8Array) => (out += dec.decode(b), b.length);
  console.log = (...a: unknown[]) => (out += a.join(" ") + "\n");
  console.error = (...a: unknown[]) => (err += a.join(" ") + "\n");
  try {
    return { code: await main(args), out, err };
  } finally {
    Deno.stdout.writeSync = w, console.log = log, console.error = error;
  }
}

Deno.test("infer CLI: folder + file + bad items -> outputs for the good ones, one line per failure, exit 1", async () => {
  const f = await fixture();
  const inDir = join(f.dir, "cli_in"), out = join(f.dir, "cli_out");
  await Deno.mkdir(join(inDir, "sub"), { recursive: true });
  await Deno.copyFile(f.images[0], join(inDir, "a.png"));
  await Deno.copyFile(f.images[1], join(inDir, "sub", "b.PNG"));
  await Deno.writeTextFile(join(inDir, "notes.txt"), "ignored: not an image extension");
  await Deno.writeTextFile(join(inDir, "broken.png"), "not a png");
  await Deno.mkdir(join(f.dir, "empty"), { recursive: true });
  const r = await run([
    "--ckpt",
    f.ckpt,
    "--out",
    out,
    "--greedy",
    "--max-new-tokens",
    "6",
    "--batch",
    "2",
    inDir,
    join(f.dir, "missing.jpg"),
    join(f.dir, "empty"),
  ]);
  assertEquals(r.code, 1);
  const errLines = r.err.trim().split("\n").filter((l) =>
    l.startsWith("infer: ") && !l.includes("report(s)")
  );
  assertEquals(errLines.length, 3, r.err);
  assert(/broken\.png.*expected PNG or JPEG/.test(r.err), r.err);
  assert(/missing\.jpg.*cannot read file/.test(r.err), r.err);
  assert(/folder .*empty.*no images/.test(r.err), r.err);
  for (const base of ["a", "sub/b"]) {
    const json = JSON.parse(await Deno.readTextFile(join(out, `${base}.json`)));
    const mask = await readImage(join(out, `${base}.mask.png`));
    const overlay = await readImage(join(out, `${base}.overlay.png`));
    assertEquals([mask.width, mask.height, mask.channels], [json.image.width, json.image.height, 1]);
    let forged = 0;
    for (const v of mask.data) {
      assert(v === 0 || v === 255, "mask is 0/255");
      if (v) forged++;
    }
    assertEquals(forged, json.mask.forgedPixels);
    assertAlmostEquals(json.mask.areaFraction, forged / (mask.width * mask.height), 1e-12);
    assertEquals(json.instruction, instruction(json.regions.selected, "paper"));
    assert(overlay.width >= 512 && overlay.height > overlay.width, "overlay = enlarged image + text panel");
    assert(r.out.includes(json.explanation), "explanation printed");
  }
  const left = [...Deno.readDirSync(out)].map((e) => e.name).filter((n) => n.endsWith(".tmp"));
  assertEquals(left, [], "no temp files left");
});

Deno.test("infer CLI: --json prints one parseable line per image; usage and checkpoint errors", async () => {
  const f = await fixture();
  const out = join(f.dir, "cli_json");
  const r = await run([
    "--ckpt",
    f.ckpt,
    "--out",
    out,
    "--json",
    "--greedy",
    "--max-new-tokens",
    "5",
    f.images[0],
    f.images[1],
  ]);
  assertEquals(r.code, 0, r.err);
  const lines = r.out.trim().split("\n");
  assertEquals(lines.length, 2);
  for (const l of lines) {
    const j = JSON.parse(l);
    assert(typeof j.explanation === "string" && j.outputs.mask.endsWith(".mask.png"));
    assertEquals(j.decoding.mode, "greedy");
  }
  assertEquals((await run(["--ckpt", f.ckpt, "--beams", "x", f.images[0]])).code, 2);
  assertEquals((await run(["--ckpt", f.ckpt])).code, 2);
  const bad = await run(["--ckpt", join(f.dir, "none.safetensors"), f.images[0]]);
  assertEquals(bad.code, 1);
  assertEquals(bad.err.trim().split("\n").length, 1, bad.err);
  const prev = Deno.env.get("FT_DEFAULT_CKPT");
  Deno.env.set("FT_DEFAULT_CKPT", join(f.dir, "no_default.safetensors"));
  try {
    const nd = await run([f.images[0]]);
    assertEquals(nd.code, 1);
    assert(/no --ckpt given and no default model/.test(nd.err), nd.err);
  } finally {
    if (prev === undefined) Deno.env.delete("FT_DEFAULT_CKPT");
    else Deno.env.set("FT_DEFAULT_CKPT", prev);
  }
});

Deno.test("infer CLI: glob and input collection", () => {
  const re = globToRegExp("**/*.{png,jpg}");
  assert(re.test("a.png") && re.test("x/y/a.JPG") && !re.test("a.jpeg") && !re.test("a.png.txt"));
  assert(globToRegExp("sub/*.png").test("sub/b.png") && !globToRegExp("sub/*.png").test("sub/c/b.png"));
  const { items } = collectInputs(["/x/a.png", "/y/a.jpg"], "/o");
  assertEquals(items.map((i) => i.outBase), ["/o/a", "/o/a-2"]);
});
