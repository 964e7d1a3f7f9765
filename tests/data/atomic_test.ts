/**
 * Atomic writes: a failed write leaves no temp, a writer SIGKILLed mid-write leaves the old
 * file intact and its temp is removed by the next write, live temps are kept.
 * The killed writer is a real Deno process started (and killed) by /usr/bin/python3.
 * Run: .tools/deno test --allow-all tests/data/atomic_test.ts
 */
import assert from "node:assert/strict";
import {
  sweepStaleTemps,
  sweepTempsOf,
  writeFileAtomic,
  writeFileAtomicSync,
} from "../../src/data/atomic.ts";
import { loadSafetensors, writeAtomic } from "../../src/train/checkpoint.ts";
import { mkfifo, runAndKill } from "./bad_files.ts";

const names = (dir: string) => Promise.resolve([...Deno.readDirSync(dir)].map((e) => e.name).sort());

Deno.test("a failed atomic write removes its temp and keeps the target", async () => {
  const dir = await Deno.makeTempDir();
  try {
    // the target is a non-empty folder: the rename fails after the temp was fully written
    await Deno.mkdir(`${dir}/t`);
    await Deno.writeTextFile(`${dir}/t/keep`, "x");
    await assert.rejects(writeFileAtomic(`${dir}/t`, new Uint8Array(1000)));
    assert.throws(() => writeFileAtomicSync(`${dir}/t`, new Uint8Array(1000)));
    assert.throws(
      () => writeAtomic(`${dir}/t`, new Uint8Array(1000), () => {}),
      new RegExp(`^Error: checkpoint '${dir}/t': write failed \\(`),
    );
    assert.deepEqual(await names(dir), ["t"]);
    assert.equal(await Deno.readTextFile(`${dir}/t/keep`), "x");
    // success: exact bytes, no temp
    writeFileAtomicSync(`${dir}/f`, new Uint8Array([1, 2, 3]));
    await writeFileAtomic(`${dir}/g`, new Uint8Array([4]));
    assert.deepEqual(await Deno.readFile(`${dir}/f`), new Uint8Array([1, 2, 3]));
    assert.deepEqual(await names(dir), ["f", "g", "t"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("sweep: temps of dead writers are removed, live (locked) ones and other files kept", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const live = `ckpt.safetensors.ft-${Deno.pid}-0123abcd.tmp`;
    const stale = `ckpt.safetensors.ft-4242-89abcdef.tmp`;
    const staleDir = `set.ft-4242-00000000.tmp`; // has a lock file nobody holds
    const freshDir = `set.ft-4243-00000000.tmp`; // no lock file yet, just created: kept
    for (const f of [live, stale, "ckpt.safetensors", "other.tmp"]) {
      await Deno.writeTextFile(`${dir}/${f}`, "x");
    }
    await Deno.mkdir(`${dir}/${staleDir}/images`, { recursive: true });
    await Deno.writeTextFile(`${dir}/${staleDir}/.ft-lock`, "");
    await Deno.mkdir(`${dir}/${freshDir}`);
    const holder = await Deno.open(`${dir}/${live}`, { read: true, write: true });
    holder.lockSync(true); // a writer in progress (same process, other handle: still a conflict)
    try {
      const res = sweepStaleTemps(dir);
      assert.deepEqual(res.removed.sort(), [`${dir}/${stale}`, `${dir}/${staleDir}`].sort());
      assert.deepEqual(res.kept.sort(), [`${dir}/${freshDir}`, `${dir}/${live}`].sort());
      assert.deepEqual(await names(dir), ["ckpt.safetensors", live, "other.tmp", freshDir].sort());
      assert.deepEqual(sweepTempsOf(`${dir}/ckpt.safetensors`), { removed: [], kept: [`${dir}/${live}`] });
    } finally {
      holder.close();
    }
    assert.deepEqual(sweepTempsOf(`${dir}/ckpt.safetensors`), { removed: [`${dir}/${live}`], kept: [] });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a writer SIGKILLed mid-write: the old file is intact, the next write removes its temp", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const target = `${dir}/model.safetensors`;
    const old = new Uint8Array(4096).map((_, i) => i & 255);
    await Deno.writeFile(target, old);
    const script = `${dir}/writer.ts`;
    const atomicUrl = new URL("../../src/data/atomic.ts", import.meta.url).href;
    // 256 MiB: writing and fsyncing it takes far longer than the 10 ms the watcher polls at
    await Deno.writeTextFile(
      script,
      `import { writeFileAtomicSync } from "${atomicUrl}";\n` +
        `writeFileAtomicSync(${JSON.stringify(target)}, new Uint8Array(256 * 1024 * 1024).fill(7));\n`,
    );
    const run = await runAndKill(["run", "--allow-read", "--allow-write", script], `${target}.ft-*.tmp`, {
      glob: true,
    });
    assert.ok(run.killed, `the writer finished before it could be killed: ${run.stderr}`);
    // nothing lost: the target still holds the old bytes; the half-written temp is beside it
    assert.deepEqual(await Deno.readFile(target), old);
    const temps = (await names(dir)).filter((n) => n.startsWith("model.safetensors.ft-"));
    assert.deepEqual(temps, [`model.safetensors.ft-${run.pid}-${temps[0]?.slice(-12, -4)}.tmp`]);
    // the next checkpoint write removes it and says so
    const lines: string[] = [];
    writeAtomic(target, new Uint8Array([9, 9]), (l) => lines.push(l));
    assert.deepEqual(lines, [`checkpoint: removed '${dir}/${temps[0]}' left by a killed run`]);
    assert.deepEqual(await names(dir), ["model.safetensors", "writer.ts"]);
    assert.deepEqual(await Deno.readFile(target), new Uint8Array([9, 9]));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("loading a checkpoint from a FIFO is refused at once", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await mkfifo(`${dir}/ckpt.safetensors`);
    assert.throws(
      () => loadSafetensors(`${dir}/ckpt.safetensors`),
      new RegExp(`^Error: safetensors '${dir}/ckpt\\.safetensors': cannot read \\(not a regular file\\)$`),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
