/**
 * Regression test for the CPU thread pool's job hand-over (issue 10, fault 1): with more threads
 * than cores, a worker that sat out one job could read the next job's thread count, run a chunk
 * twice and let the caller return while chunks still ran. `ft_threadpool_selftest` drives a
 * private pool through thousands of jobs and counts the jobs where some index did not run
 * exactly once. `ft_threadpool_selftest_steal` checks that the caller runs the chunks no worker
 * has claimed yet, and that chunks waiting for each other (a team barrier) still all meet.
 * Run: deno test --allow-ffi --allow-read --allow-env tests/native/threadpool_test.ts
 * @module
 */
import { assertEquals } from "../assert.ts";
import { cpuKernels } from "../../src/backend/cpu.ts";

const lib = cpuKernels(
  {
    // (threads, stress: 0|1, jobs, bad: i64[1]) -> status
    ft_threadpool_selftest: { parameters: ["i32", "i32", "i64", "buffer"], result: "i32" },
    // (threads >= 2, jobs, bad: i64[1], taken: i64[1]) -> status
    ft_threadpool_selftest_steal: { parameters: ["i32", "i64", "buffer", "buffer"], result: "i32" },
  } satisfies Deno.ForeignLibraryInterface,
);

function badJobs(threads: number, stress: boolean, jobs: number): number {
  const bad = new BigInt64Array(1);
  const rc = lib.ft_threadpool_selftest(threads, stress ? 1 : 0, BigInt(jobs), bad);
  assertEquals(rc, 0, "ft_threadpool_selftest status");
  return Number(bad[0]);
}

Deno.test("thread pool: 8 threads with hand-over fault injection run every chunk exactly once", () => {
  assertEquals(badJobs(8, true, 1500), 0);
});

Deno.test("thread pool: 4 threads (more than the 2 cores) over many jobs run every chunk exactly once", () => {
  assertEquals(badJobs(4, false, 2000), 0);
  assertEquals(badJobs(4, true, 1000), 0);
});

Deno.test("thread pool: the caller runs chunks no worker claimed; team jobs still meet", () => {
  // workers slowed at the hand-over: the caller finds unclaimed chunks and runs them itself,
  // each chunk still exactly once; in team jobs every chunk waits for all to start, which only
  // works if the caller takes over nothing before its own chunk 0 has returned
  for (const threads of [2, 4]) {
    const bad = new BigInt64Array(1), taken = new BigInt64Array(1);
    assertEquals(lib.ft_threadpool_selftest_steal(threads, 400n, bad, taken), 0, "status");
    assertEquals(Number(bad[0]), 0, `${threads} threads: chunks run 0 or 2+ times, or a team that never met`);
    assertEquals(taken[0] > 0n, true, `${threads} threads: the caller never ran an unclaimed chunk`);
  }
  const bad = new BigInt64Array(1), taken = new BigInt64Array(1);
  assertEquals(lib.ft_threadpool_selftest_steal(1, 10n, bad, taken), 1, "one thread is rejected");
});

Deno.test("thread pool: the self-test rejects bad arguments", () => {
  const bad = new BigInt64Array(1);
  assertEquals(lib.ft_threadpool_selftest(0, 0, 10n, bad), 1);
  assertEquals(lib.ft_threadpool_selftest(65, 0, 10n, bad), 1);
});
