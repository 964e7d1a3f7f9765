/**
 * The real trainer across 2 Gloo processes (tests/dist/train_worker.ts is one rank, FPN stage of a
 * micro config on a 60-sample synthetic set): 2 ranks x batch 8 end where 1 process x batch 16 does
 * after 5 steps (DistributedSampler split + overlapped bucketed all-reduce; the FPN's BatchNorm
 * frozen, since batch statistics of 8 samples differ from those of 16); a checkpoint written
 * by 2 ranks mid-epoch resumes on 1 and vice versa to the same weights; a SIGKILLed and a hung
 * rank make rank 0 stop within the collective timeout, naming rank 1, with the checkpoint intact.
 * Ranks are started through /usr/bin/python3 (as in ddp_test.ts). Skips without build/libft_dist.so.
 * Run: .tools/deno test --allow-all tests/dist/train_dist_test.ts
 */
import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { findLibrary } from "../../src/backend/loader.ts";
import { generateDataset } from "../../src/data/synth/generate.ts";
import { disposeCheckpoint, readCheckpoint } from "../../src/train/run_checkpoint.ts";

const WORKER = new URL("./train_worker.ts", import.meta.url).pathname;
const hasGloo = findLibrary("ft_dist") !== null;
let port = 35000 + (Deno.pid % 2000) * 2;

// python: start the ranks; once rank 0 has exited, give the others `grace` s, then SIGKILL them.
// Prints {"codes": [...], "stderr": [...], "rank0_s": seconds until rank 0 exited}.
const LAUNCH = `
import json, os, subprocess, sys, time
deno, worker, ranks, limit, grace = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5])
t0 = time.time()
procs = []
for r in range(ranks):
    env = dict(os.environ, RANK=str(r), WORLD_SIZE=str(ranks), LOCAL_RANK=str(r))
    procs.append(subprocess.Popen([deno, "run", "--allow-all", worker], env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE))
try:
    procs[0].wait(timeout=limit)
except subprocess.TimeoutExpired:
    procs[0].kill()
rank0 = time.time() - t0
codes, errs = [], []
for p in procs:
    try:
        _, e = p.communicate(timeout=grace)
    except subprocess.TimeoutExpired:
        p.kill(); _, e = p.communicate()
    codes.append(p.returncode); errs.append(e.decode(errors="replace")[-20000:])
print(json.dumps({"codes": codes, "stderr": errs, "rank0_s": rank0}))
`;

interface Run {
  codes: number[];
  stderr: string[];
  rank0_s: number;
}

const root = Deno.makeTempDirSync({ prefix: "ft_train_dist_" });
const dataDir = `${root}/data`;
let dataReady: Promise<unknown> | null = null;

async function launch(ranks: number, env: Record<string, string>, limitS = 120, graceS = 30): Promise<Run> {
  dataReady ??= generateDataset({ out: dataDir, n: 60, seed: 5, size: 64, workers: 0, quiet: true });
  await dataReady;
  port += 2;
  const store = Deno.makeTempDirSync({ prefix: "ft_dist_store_" });
  const out = await new Deno.Command("/usr/bin/python3", {
    args: ["-c", LAUNCH, Deno.execPath(), WORKER, String(ranks), String(limitS), String(graceS)],
    env: {
      ...env,
      FT_TEST_DATA: dataDir,
      MASTER_PORT: String(port),
      FT_DIST_STORE: store,
      FT_NUM_THREADS: "1",
    },
    stdout: "piped",
    stderr: "piped",
  }).output();
  Deno.removeSync(store, { recursive: true });
  if (!out.success) throw new Error(`launcher failed: ${new TextDecoder().decode(out.stderr)}`);
  return JSON.parse(new TextDecoder().decode(out.stdout).trim());
}

/** Largest |a - b| over the model tensors of two checkpoints, and the step each holds. */
function compare(pathA: string, pathB: string): { diff: number; steps: [number, number] } {
  const a = readCheckpoint(pathA), b = readCheckpoint(pathB);
  let diff = 0;
  for (const [k, ta] of a.model) {
    if (ta.dtype !== "float32") continue;
    const x = ta.data(), y = b.model.get(k)!.data();
    for (let i = 0; i < x.length; i++) diff = Math.max(diff, Math.abs(x[i] - y[i]));
  }
  const steps: [number, number] = [a.meta.step, b.meta.step];
  disposeCheckpoint(a);
  disposeCheckpoint(b);
  return { diff, steps };
}

const last = (run: string) => `${root}/${run}/fpn-last.safetensors`;
const ok = (r: Run, n: number) => assertEquals(r.codes, Array(n).fill(0), r.stderr.join("\n"));

Deno.test({
  name:
    "gloo trainer: 2 ranks x batch 8 == 1 x batch 16 after 5 steps; resume 2 -> 1 and 1 -> 2 ranks mid-epoch",
  ignore: !hasGloo,
  sanitizeResources: false,
  fn: async () => {
    const bn = { FT_TEST_BN: "frozen" };
    ok(await launch(1, { ...bn, FT_TEST_OUT: `${root}/one`, FT_TEST_BATCH: "16" }), 1);
    // small buckets (0.05 MB): several all-reduces per step, the first started mid-backward
    ok(
      await launch(2, { ...bn, FT_TEST_OUT: `${root}/two`, FT_TEST_BATCH: "8", FT_TEST_BUCKET_MB: "0.05" }),
      2,
    );
    const d2 = compare(last("one"), last("two"));
    assertEquals(d2.steps, [5, 5]);
    assert(d2.diff < 1e-5, `2 ranks vs 1 process: parameters differ by ${d2.diff}`);
    // with gradient accumulation (2 micro-batches of 4 per rank; the hook runs on the second)
    ok(
      await launch(2, { ...bn, FT_TEST_OUT: `${root}/acc`, FT_TEST_BATCH: "8", FT_TEST_ACCUMULATE: "2" }),
      2,
    );
    const dacc = compare(last("one"), last("acc"));
    assert(dacc.diff < 1e-5, `2 ranks x 2 micro-batches vs 1 process: parameters differ by ${dacc.diff}`);
    // 2 ranks stop after 2 steps (32 of 48 samples of epoch 0), 1 rank finishes
    ok(await launch(2, { ...bn, FT_TEST_OUT: `${root}/a`, FT_TEST_BATCH: "8", FT_TEST_STOP_AFTER: "2" }), 2);
    const mid = readCheckpoint(last("a"));
    assertEquals([mid.meta.step, mid.meta.epoch, mid.meta.samplesInEpoch, mid.meta.worldSize], [2, 0, 32, 2]);
    disposeCheckpoint(mid);
    ok(
      await launch(1, { ...bn, FT_TEST_OUT: `${root}/a`, FT_TEST_BATCH: "16", FT_TEST_RESUME: last("a") }),
      1,
    );
    const da = compare(last("one"), last("a"));
    assert(da.diff < 1e-5 && da.steps[1] === 5, `2 -> 1 rank resume: differ by ${da.diff} (${da.steps})`);
    // and the other way round
    ok(await launch(1, { ...bn, FT_TEST_OUT: `${root}/b`, FT_TEST_BATCH: "16", FT_TEST_STOP_AFTER: "2" }), 1);
    ok(
      await launch(2, { ...bn, FT_TEST_OUT: `${root}/b`, FT_TEST_BATCH: "8", FT_TEST_RESUME: last("b") }),
      2,
    );
    const db = compare(last("one"), last("b"));
    assert(db.diff < 1e-5 && db.steps[1] === 5, `1 -> 2 ranks resume: differ by ${db.diff} (${db.steps})`);
    console.log(
      `max |Δparam| vs 1 x 16: 2 x 8 ${d2.diff}, accumulated ${dacc.diff}, 2->1 resume ${da.diff}, ` +
        `1->2 resume ${db.diff}`,
    );
  },
});

Deno.test({
  name: "gloo trainer: a SIGKILLed rank stops rank 0 at once with a message naming it; checkpoint intact",
  ignore: !hasGloo,
  sanitizeResources: false,
  fn: async () => {
    const r = await launch(2, {
      FT_TEST_OUT: `${root}/kill`,
      FT_TEST_BATCH: "8",
      FT_TEST_STEPS: "6",
      FT_TEST_KILL_AT: "1:3",
      FT_TEST_TIMEOUT_MS: "20000",
    });
    assertEquals(r.codes[1], -9, r.stderr[1]); // python reports death by SIGKILL as -9
    assert(r.codes[0] !== 0, `rank 0 exit code ${r.codes[0]}`);
    assert(/data-parallel run stopped on rank 0\/2/.test(r.stderr[0]), r.stderr[0]);
    assert(
      /rank 1 \(pid \d+ on .*\) last reported fpn step 3.*its process is gone/.test(r.stderr[0]),
      r.stderr[0],
    );
    assert(r.stderr[0].includes(`the last checkpoint is ${last("kill")}`), r.stderr[0]);
    assert(r.rank0_s < 20, `rank 0 took ${r.rank0_s} s; the collective timeout is 20 s`);
    const c = readCheckpoint(last("kill")); // saveEvery 2: written whole after step 2
    assertEquals(c.meta.step, 2);
    disposeCheckpoint(c);
  },
});

Deno.test({
  name: "gloo trainer: a hung rank stops rank 0 after the collective timeout, naming it; checkpoint intact",
  ignore: !hasGloo,
  sanitizeResources: false,
  fn: async () => {
    const r = await launch(
      2,
      {
        FT_TEST_OUT: `${root}/hang`,
        FT_TEST_BATCH: "8",
        FT_TEST_STEPS: "6",
        FT_TEST_HANG_AT: "1:3",
        FT_TEST_TIMEOUT_MS: "4000",
      },
      60,
      1,
    );
    assert(r.codes[0] !== 0, `rank 0 exit code ${r.codes[0]}`);
    assert(
      /rank 1 \(pid \d+ on .*\) last reported fpn step 3.*still running \(hung or stuck\)/.test(r.stderr[0]),
      r.stderr[0],
    );
    assert(/[Tt]imed out|timeout/.test(r.stderr[0]), r.stderr[0]);
    assert(r.rank0_s < 4 + 15, `rank 0 took ${r.rank0_s} s with a 4 s collective timeout`);
    const c = readCheckpoint(last("hang"));
    assertEquals(c.meta.step, 2);
    disposeCheckpoint(c);
  },
});

Deno.test({
  name: "cleanup",
  sanitizeResources: false,
  fn: () => Deno.removeSync(root, { recursive: true }),
});
