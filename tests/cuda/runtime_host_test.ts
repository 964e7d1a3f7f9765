// Builds tests/cuda/host/runtime_host.cu together with kernels/runtime.cu (nvcc, host code
// only; no GPU needed) and runs it: CUDA error messages and codes, sticky faults, library notes,
// the no-device paths and occupancy grid sizing of the runtime, checked on every machine with
// nvcc. The binary is cached in build/ and rebuilt when a source is newer. Ignored without nvcc
// or without permission to run it (the test task allows nvcc and build/runtime_host_test).
// Run: .tools/deno test --allow-all tests/cuda/runtime_host_test.ts
import assert from "node:assert/strict";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const BIN = join(ROOT, "build", "runtime_host_test");
const SOURCES = ["kernels/runtime.cu", "kernels/common.cuh", "native/ft.h", "tests/cuda/host/runtime_host.cu"]
  .map((f) => join(ROOT, f));

function findNvcc(): string | null {
  for (const p of ["/usr/local/cuda/bin/nvcc", "/usr/local/bin/nvcc", "/usr/bin/nvcc"]) {
    try {
      if (Deno.statSync(p).isFile) return p;
    } catch {
      // not here
    }
  }
  return null;
}

function mtime(p: string): number {
  try {
    return Deno.statSync(p).mtime?.getTime() ?? 0;
  } catch {
    return 0;
  }
}

const NVCC = findNvcc();
const allowed = (cmd: string) =>
  Deno.permissions.querySync({ name: "run", command: cmd }).state === "granted";

Deno.test({
  name: "cuda runtime host logic (errors, sticky faults, notes, no-device paths, grid sizing) without a GPU",
  ignore: !NVCC || !allowed(NVCC) || !allowed(BIN),
  async fn() {
    if (SOURCES.some((s) => mtime(s) > mtime(BIN))) {
      Deno.mkdirSync(dirname(BIN), { recursive: true });
      const build = await new Deno.Command(NVCC!, {
        args: [
          "-std=c++17",
          "-O1",
          "--expt-relaxed-constexpr",
          "-Ikernels",
          "-Inative",
          SOURCES[0],
          SOURCES[3],
          "-o",
          BIN,
        ],
        cwd: ROOT,
        stdout: "piped",
        stderr: "piped",
      }).output();
      assert.equal(build.code, 0, `nvcc failed:\n${new TextDecoder().decode(build.stderr)}`);
    }
    const run = await new Deno.Command(BIN, { stdout: "piped", stderr: "piped" }).output();
    const out = new TextDecoder().decode(run.stdout);
    assert.equal(run.code, 0, out + new TextDecoder().decode(run.stderr));
    assert.match(out, /done (\d+) checks, 0 failures/);
    assert.ok(Number(out.match(/done (\d+)/)![1]) >= 15, out);
  },
});
