/**
 * `deno task synth` never loses or mixes a set: a non-empty --out is refused without
 * --force, a run killed mid-way leaves the old set complete and untouched (its staging
 * folder is removed by the next run), and flag errors are one plain sentence.
 * The killed run is a real `deno run src/cli/synth.ts` started and SIGKILLed by python3.
 * Run: .tools/deno test --allow-all tests/data/synth_safety_test.ts
 */
import assert from "node:assert/strict";
import { main } from "../../src/cli/synth.ts";
import { readMMTT, SPLIT_FILES, splitPath } from "../../src/data/mmtt.ts";
import { runAndKill } from "./bad_files.ts";

const names = (dir: string) => Promise.resolve([...Deno.readDirSync(dir)].map((e) => e.name).sort());

async function synth(args: string[]): Promise<{ code: number; lines: string[] }> {
  const lines: string[] = [];
  const code = await main(args, (l) => lines.push(l));
  return { code, lines };
}

Deno.test("synth flag errors are one plain sentence (exit 2)", async () => {
  const cases: [string[], string][] = [
    [["--out", "x", "--n", "-5"], "synth: --n must be a positive integer, got -5"],
    [["--out", "x", "--n", "0"], "synth: --n must be a positive integer, got 0"],
    [["--out", "x", "--n", "2.5"], "synth: --n must be a positive integer, got 2.5"],
    [["--out", "x", "--n", "ten"], "synth: --n must be a positive integer, got ten"],
    [["--out", "x", "--n", "4", "--seed", "-1"], "synth: --seed must be a non-negative integer, got -1"],
    [["--out", "x", "--n", "4", "--size", "8"], "synth: --size must be an integer ≥ 32, got 8"],
    [["--out", "x", "--n"], "synth: --n needs a value"],
    [["--out", "x", "--n", "4", "--bogus"], "synth: unknown flag --bogus (see --help)"],
    [["--out", "x", "--n", "4", "--quiet=yes"], "synth: --quiet takes no value"],
    [
      ["--out", "x", "--n", "4", "extra"],
      "synth: unexpected argument 'extra' (every value follows its flag)",
    ],
    [["--n", "4"], "synth: --out is required (the folder to write)"],
    [["--out", "x"], "synth: --n is required"],
  ];
  for (const [args, want] of cases) {
    assert.deepEqual(await synth(args), { code: 2, lines: [want] }, args.join(" "));
  }
});

Deno.test("synth refuses a non-empty --out without --force and changes nothing", async () => {
  const base = await Deno.makeTempDir();
  try {
    const out = `${base}/set`;
    await Deno.mkdir(out);
    await Deno.writeTextFile(`${out}/train-mutilabel.json`, "precious");
    const r = await synth(["--out", out, "--n", "3", "--size", "32", "--workers", "0", "--quiet"]);
    assert.deepEqual(r, {
      code: 1,
      lines: [
        `synth: --out '${out}' is not empty; pass --force to replace it (the old set stays until the new one is complete)`,
      ],
    });
    assert.deepEqual(await names(base), ["set"]);
    assert.deepEqual(await names(out), ["train-mutilabel.json"]);
    assert.equal(await Deno.readTextFile(`${out}/train-mutilabel.json`), "precious");
    // a file as --out
    await Deno.writeTextFile(`${base}/f`, "x");
    assert.deepEqual((await synth(["--out", `${base}/f`, "--n", "3", "--quiet"])).lines, [
      `synth: --out '${base}/f' exists and is not a folder`,
    ]);
  } finally {
    await Deno.remove(base, { recursive: true });
  }
});

Deno.test("synth killed mid-run: the old set stays complete; the next run cleans up and replaces it", async () => {
  const base = await Deno.makeTempDir();
  try {
    const out = `${base}/set`;
    const args = (seed: number, n: number) => [
      "--out",
      out,
      "--n",
      String(n),
      "--seed",
      String(seed),
      "--size",
      "64",
      "--workers",
      "1",
      "--quiet",
      "--force",
    ];
    assert.equal((await synth(args(1, 10))).code, 0);
    const before = new Map<string, Uint8Array>();
    for (const f of await names(out)) {
      if (f.endsWith(".json")) before.set(f, await Deno.readFile(`${out}/${f}`));
    }
    for (const f of await names(`${out}/images`)) {
      before.set(`images/${f}`, await Deno.readFile(`${out}/images/${f}`));
    }

    // a real `deno task synth --force` of another seed, SIGKILLed after it wrote 8 files
    const cli = new URL("../../src/cli/synth.ts", import.meta.url).pathname;
    const run = await runAndKill(
      ["run", "--allow-read", "--allow-write", "--allow-env", cli, ...args(2, 60)],
      `${out}.ft-*.tmp`,
      { glob: true, minEntries: 10 },
    );
    assert.ok(run.killed, `the run finished before it could be killed: ${run.stderr}`);
    const staging = (await names(base)).filter((n) => n !== "set");
    assert.equal(staging.length, 1, `one staging folder left: ${staging}`);
    assert.match(staging[0], new RegExp(`^set\\.ft-${run.pid}-[0-9a-f]{8}\\.tmp$`));

    // nothing lost, nothing mixed: the seed-1 set is byte-identical and verifies in full
    for (const [f, bytes] of before) assert.deepEqual(await Deno.readFile(`${out}/${f}`), bytes, f);
    let total = 0;
    for (const split of Object.keys(SPLIT_FILES) as (keyof typeof SPLIT_FILES)[]) {
      total += (await readMMTT(splitPath(out, split), out, { verify: true })).length;
    }
    assert.equal(total, 10);
    assert.equal(JSON.parse(await Deno.readTextFile(`${out}/manifest.json`)).seed, 1);

    // the next run removes the killed run's staging folder and replaces the set when done
    const r = await synth(args(2, 6));
    assert.equal(r.code, 0);
    assert.deepEqual(r.lines, [`synth: removed '${base}/${staging[0]}' left by a killed run`]);
    assert.deepEqual(await names(base), ["set"]);
    const m = JSON.parse(await Deno.readTextFile(`${out}/manifest.json`));
    assert.deepEqual([m.seed, m.count, m.complete], [2, 6, true]);
    assert.equal((await names(`${out}/images`)).length, 6);
    assert.equal((await readMMTT(splitPath(out, "train"), out, { verify: true })).length, 5);
  } finally {
    await Deno.remove(base, { recursive: true });
  }
});
