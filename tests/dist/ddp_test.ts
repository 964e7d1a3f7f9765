/**
 * Data-parallel training across 2 real processes with Gloo (tests/dist/ddp_worker.ts is one rank).
 * Ranks are started through /usr/bin/python3 (the only program the test task may run besides
 * nvidia-smi), which runs this deno binary once per rank and reports exit codes and stderr.
 * Skips when build/libft_dist.so is absent (libgloo-dev not installed).
 * Run: .tools/deno test --allow-all tests/dist/ddp_test.ts
 */
import { deepStrictEqual as assertEquals, ok as assert, throws as assertThrows } from "node:assert/strict";
import { findLibrary } from "../../src/backend/loader.ts";
import { DistributedSampler } from "../../src/dist/ddp.ts";

const WORKER = new URL("./ddp_worker.ts", import.meta.url).pathname;
const hasGloo = findLibrary("ft_dist") !== null;
let port = 31000 + (Deno.pid % 2000) * 2;

// python: start `ranks` workers, wait up to `limit` s each, print {"codes": [...], "stderr": [...]}.
const LAUNCH = `
import json, os, subprocess, sys
deno, worker, ranks, limit = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
procs = []
for r in range(ranks):
    env = dict(os.environ, RANK=str(r), WORLD_SIZE=str(ranks), LOCAL_RANK=str(r))
    procs.append(subprocess.Popen([deno, "run", "--allow-all", worker], env=env,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE))
codes, errs = [], []
for p in procs:
    try:
        _, e = p.communicate(timeout=limit)
    except subprocess.TimeoutExpired:
        p.kill(); _, e = p.communicate()
    codes.append(p.returncode); errs.append(e.decode(errors="replace")[-2000:])
print(json.dumps({"codes": codes, "stderr": errs}))
`;

interface Run {
  codes: number[];
  stderr: string[];
  seconds: number;
}

async function launch(ranks: number, env: Record<string, string>, limitS = 60): Promise<Run> {
  port += 2;
  const store = Deno.makeTempDirSync({ prefix: "ft_dist_store_" });
  const t0 = performance.now();
  const out = await new Deno.Command("/usr/bin/python3", {
    args: ["-c", LAUNCH, Deno.execPath(), WORKER, String(ranks), String(limitS)],
    env: { ...env, MASTER_PORT: String(port), FT_DIST_STORE: store, FT_NUM_THREADS: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const seconds = (performance.now() - t0) / 1000;
  Deno.removeSync(store, { recursive: true });
  const text = new TextDecoder().decode(out.stdout).trim();
  if (!out.success) throw new Error(`launcher failed: ${new TextDecoder().decode(out.stderr)}`);
  return { ...JSON.parse(text), seconds };
}

function readParams(path: string): number[][] {
  return JSON.parse(Deno.readTextFileSync(path));
}

function maxDiff(a: number[][], b: number[][]): number {
  let m = 0;
  a.forEach((row, i) => row.forEach((v, j) => m = Math.max(m, Math.abs(v - b[i][j]))));
  return m;
}

Deno.test("DistributedSampler: every sample once per epoch across ranks, deterministic, resumable", () => {
  const world = 3, n = 10;
  const parts = [0, 1, 2].map((r) => new DistributedSampler(n, r, world, { seed: 5 }).indices(2));
  assertEquals(parts.map((p) => p.length), [4, 4, 4]); // ceil(10/3), padded by wrapping
  const seen = new Set(parts.flat());
  assertEquals(seen.size, n);
  assertEquals(new DistributedSampler(n, 1, world, { seed: 5 }).indices(2), parts[1]);
  assert(
    JSON.stringify(new DistributedSampler(n, 1, world, { seed: 5 }).indices(3)) !== JSON.stringify(parts[1]),
  );
  assertEquals(new DistributedSampler(n, 1, world, { seed: 5 }).indices(2, 3), parts[1].slice(3));
  const dropped = [0, 1, 2].map((r) =>
    new DistributedSampler(n, r, world, { seed: 5, dropLast: true }).indices(0)
  );
  assertEquals(new Set(dropped.flat()).size, 9);
});

Deno.test({
  name:
    "gloo DDP: 2 ranks x batch 8 == 1 process x batch 16 after 5 steps (after and during backward); resume on 1 rank",
  ignore: !hasGloo,
  sanitizeResources: false,
  fn: async () => {
    const dir = Deno.makeTempDirSync({ prefix: "ft_ddp_" });
    const single = await launch(1, { FT_TEST_OUT: `${dir}/one.json`, FT_TEST_STEPS: "5" });
    assertEquals(single.codes, [0], single.stderr.join("\n"));
    const two = await launch(2, { FT_TEST_OUT: `${dir}/two.json`, FT_TEST_STEPS: "5", FT_TEST_CKPT_AT: "3" });
    assertEquals(two.codes, [0, 0], two.stderr.join("\n"));
    const a = readParams(`${dir}/one.json`), b = readParams(`${dir}/two.json`);
    const start = JSON.parse(Deno.readTextFileSync(`${dir}/two.json.ckpt.json`)).params as number[][];
    assert(maxDiff(a, start) > 1e-3, "training must move the parameters between step 3 and 5");
    const d = maxDiff(a, b);
    assert(d < 1e-5, `2-rank vs 1-process parameters differ by ${d}`);
    // overlapped: buckets all-reduced from the tape's hook while backward runs (async gloo thread)
    const over = await launch(2, {
      FT_TEST_OUT: `${dir}/over.json`,
      FT_TEST_STEPS: "5",
      FT_TEST_OVERLAP: "1",
    });
    assertEquals(over.codes, [0, 0], over.stderr.join("\n"));
    const o = maxDiff(a, readParams(`${dir}/over.json`));
    assert(o < 1e-5, `overlapped 2-rank vs 1-process parameters differ by ${o}`);
    const stats = JSON.parse(Deno.readTextFileSync(`${dir}/over.json.stats.json`));
    assertEquals(stats.buckets, 3);
    // every parameter is reached, so all 3 buckets start from the hook; the trace (buckets started
    // after each reported parameter) shows l2's bucket on the wire before the tape reached l1
    assertEquals(stats.launchedInBackward, [3, 3, 3, 3, 3]);
    assertEquals(stats.launchTrace, Array(5).fill([0, 1, 2, 3]));
    assertEquals(stats.asyncSum, [1 + 2, 10 + 10]); // allReduceSumAsync + done() polling + wait()
    const resumed = await launch(1, {
      FT_TEST_OUT: `${dir}/resumed.json`,
      FT_TEST_STEPS: "5",
      FT_TEST_RESUME: `${dir}/two.json.ckpt.json`,
    });
    assertEquals(resumed.codes, [0], resumed.stderr.join("\n"));
    const r = maxDiff(a, readParams(`${dir}/resumed.json`));
    assert(r < 1e-5, `resumed-on-1-rank parameters differ by ${r}`);
    Deno.removeSync(dir, { recursive: true });
  },
});

Deno.test({
  name:
    "gloo DDP: a killed rank makes the survivor fail with an error naming the collective, well before the timeout",
  ignore: !hasGloo,
  sanitizeResources: false,
  fn: async () => {
    const run = await launch(2, { FT_TEST_STEPS: "5", FT_TEST_DIE_RANK: "1", FT_TEST_DIE_STEP: "2" }, 60);
    assertEquals(run.codes[1], 9);
    assert(run.codes[0] !== 0 && run.codes[0] !== null, `rank 0 exit code ${run.codes[0]}`);
    assert(/gloo (allreduce|broadcast|barrier) failed on rank 0\/2/.test(run.stderr[0]), run.stderr[0]);
    assert(run.seconds < 20, `took ${run.seconds}s; the collective timeout is 20 s`);
  },
});

Deno.test("nccl: a missing libnccl gives an error listing the paths tried and FT_NCCL_LIB", async () => {
  const { ncclCandidates, openNccl } = await import("../../src/dist/nccl.ts");
  const present = ncclCandidates().some((p) => {
    try {
      Deno.dlopen(p, {}).close();
      return true;
    } catch {
      return false;
    }
  });
  if (present) return; // a machine with NCCL: nothing to check here
  assertThrows(() => openNccl(), /NCCL not found; tried:[\s\S]*libnccl\.so\.2[\s\S]*FT_NCCL_LIB/);
});
