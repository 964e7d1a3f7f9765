// CUDA runtime and device selection: detection never throws, `auto` falls back to the CPU with
// one line, explicit `cuda` errors clearly without a device; on a device: transfers, the
// caching allocator (live bytes return to their start), events, streams (joined both ways),
// workspaces in memoryStats, error messages (impossible allocation, bad indices, sticky state),
// an invalid FT_AUTOCAST, device info.
import assert from "node:assert/strict";
import { CUDA, cudaTest, expectClose, host, TOL } from "./cuda_helpers.ts";
import { resolveDevice } from "../../src/backend/device.ts";
import {
  cudaErrorState,
  CudaEvent,
  cudaRaw,
  cudaStatus,
  CudaStream,
  cudaSynchronize,
  getCudaMath,
  setCudaMath,
} from "../../src/backend/cuda.ts";
import { kernels } from "../../src/backend/dispatch.ts";
import { filled, tensor, zeros } from "../../src/tensor/create.ts";
import { emptyCache, memoryStats } from "../../src/tensor/storage.ts";
import { type Tensor, toDevice } from "../../src/tensor/tensor.ts";
import { tidy } from "../../src/tensor/scope.ts";
import { add, copy, mul } from "../../src/ops/elementwise.ts";
import { matmul } from "../../src/ops/matmul.ts";
import { REDUCE_SYMBOLS } from "../../src/ops/reduce.ts";
import { POOL_SYMBOLS } from "../../src/ops/pool.ts";
import { randArray } from "../helpers.ts";

Deno.test("device: resolveDevice never crashes and matches the probe", () => {
  const s = cudaStatus();
  assert.equal(typeof s.available, "boolean");
  assert.equal(resolveDevice("cpu"), "cpu");
  const lines: string[] = [];
  const d = resolveDevice("auto", (m) => lines.push(m));
  if (s.available) {
    assert.equal(d, "cuda");
    assert.equal(lines.length, 0);
  } else {
    assert.equal(d, "cpu");
    assert.equal(lines.length, 1);
    assert.match(lines[0], /CUDA not available/);
    assert.throws(() => resolveDevice("cuda"), /--device cuda: no usable CUDA device/);
  }
  assert.throws(() => resolveDevice("tpu"), /expected auto, cpu or cuda/);
});

cudaTest("device info and math switches", () => {
  assert.ok(CUDA.device && CUDA.device.sms > 0, JSON.stringify(CUDA));
  setCudaMath({ autocast: "bf16", gemm: "cublas" });
  assert.deepEqual(getCudaMath(), { autocast: "bf16", gemm: "cublas" });
  setCudaMath({ autocast: "off", gemm: "own" });
  assert.throws(() => setCudaMath({ autocast: "fp8" as "bf16" }), /expected off, bf16 or fp16/);
});

cudaTest("round trip host -> device -> host, zero_, int32", () => {
  tidy(() => {
    const v = Float32Array.from({ length: 1000 }, (_, i) => i * 0.5 - 3);
    const g = tensor(v, [10, 100], { device: "cuda" });
    assert.deepEqual(host(g), v);
    const back = toDevice(g, "cpu");
    assert.deepEqual(host(back), v);
    g.zero_();
    assert.ok(host(g).every((x) => x === 0));
    const ids = tensor([1, -2, 3], [3], { dtype: "int32", device: "cuda" });
    assert.deepEqual(Array.from(ids.dataI32()), [1, -2, 3]);
  });
});

cudaTest("caching allocator pools device blocks; live bytes return to start", () => {
  const before = memoryStats("cuda").liveBytes;
  tidy(() => {
    for (let i = 0; i < 20; i++) {
      const a = zeros([256, 256], { device: "cuda" });
      add(a, a);
    }
  });
  const s = memoryStats("cuda");
  assert.equal(s.liveBytes, before);
  assert.ok(s.cachedBytes > 0);
});

cudaTest("events time device work", () => {
  const a = new CudaEvent(), b = new CudaEvent();
  tidy(() => {
    const x = zeros([1024, 1024], { device: "cuda" });
    a.record();
    for (let i = 0; i < 5; i++) add(x, x);
    b.record();
    const ms = b.elapsedSince(a);
    assert.ok(ms >= 0 && ms < 10_000, `elapsed ${ms}`);
  });
  a.dispose();
  b.dispose();
});

// The old version read y after syncing the wrong stream and passed when the add never ran
// (a fresh block reads 0, the expected value). Sentinel-filled output, non-zero inputs, and no
// cudaSynchronize(): the host read itself must be ordered after the side stream's kernels.
cudaTest("streams: run() joins both ways; host reads and freed blocks are ordered after its work", () => {
  tidy(() => {
    const n = 1 << 22; // 16 MiB: long enough that an unordered read sees the sentinel
    const x = tensor(Float32Array.from({ length: n }, (_, i) => (i % 97) - 48), [n], { device: "cuda" });
    const s = new CudaStream();
    const y = filled([n], NaN, { device: "cuda" });
    s.run(() => {
      let t = x;
      for (let i = 0; i < 8; i++) t = add(t, x); // 9x, queued on s
      copyInto(t, y);
    });
    const hy = host(y);
    for (let i = 0; i < n; i += 4099) assert.equal(hy[i], 9 * ((i % 97) - 48), `y[${i}]`);
    assert.equal(hy[n - 1], 9 * (((n - 1) % 97) - 48));
    // a block freed inside run() and reused by the library stream right after: the library
    // stream's write must land after the side stream's last read of it
    const out = filled([n], NaN, { device: "cuda" });
    s.run(() => {
      const tmp = add(x, x); // written then read on s
      copyInto(mul(tmp, tmp), out);
      tmp.dispose(); // back to the pool while s may still read it
    });
    const reuse = filled([n], 7, { device: "cuda" }); // likely the same block, on the library stream
    const ho = host(out);
    for (let i = 0; i < n; i += 4099) assert.equal(ho[i], (2 * ((i % 97) - 48)) ** 2, `out[${i}]`);
    assert.equal(host(reuse)[n - 1], 7);
    s.dispose();
  });
});

cudaTest("workspace: counted by memoryStats, regrows, released by emptyCache", () => {
  emptyCache("cuda");
  assert.equal(memoryStats("cuda").workspaceBytes, 0);
  tidy(() => {
    // autocast GEMM packs both operands into the workspace
    setCudaMath({ autocast: "bf16" });
    const a = tensor(randArray(256 * 512, 1), [256, 512], { device: "cuda" });
    const b = tensor(randArray(512 * 128, 2), [512, 128], { device: "cuda" });
    matmul(a, b);
    const w1 = memoryStats("cuda").workspaceBytes;
    assert.ok(w1 >= (256 + 128) * 512 * 2, `workspace ${w1}`);
    // a larger request regrows it (and still computes the right thing)
    const c = tensor(randArray(2048 * 1024, 3), [2048, 1024], { device: "cuda" });
    const d = tensor(randArray(1024 * 512, 4), [1024, 512], { device: "cuda" });
    const y = matmul(c, d);
    const w2 = memoryStats("cuda").workspaceBytes;
    assert.ok(w2 >= (2048 + 512) * 1024 * 2 && w2 > w1, `workspace ${w1} -> ${w2}`);
    const yc = matmul(toDevice(c, "cpu"), toDevice(d, "cpu"));
    expectClose(host(y), host(yc), TOL.bf16, "bf16 matmul after workspace regrowth");
    setCudaMath({ autocast: "off" });
  });
  emptyCache("cuda");
  assert.equal(memoryStats("cuda").workspaceBytes, 0);
  tidy(() => { // and it comes back on demand
    setCudaMath({ autocast: "bf16" });
    const a = tensor(randArray(64 * 64, 5), [64, 64], { device: "cuda" });
    const y = matmul(a, a);
    expectClose(host(y), host(matmul(toDevice(a, "cpu"), toDevice(a, "cpu"))), TOL.bf16, "after release");
  });
});

cudaTest("errors: an impossible allocation names cudaMalloc and leaves the context usable", () => {
  assert.throws(
    () => cudaRaw.malloc(2 ** 52),
    /cudaMalloc\(4503599627370496\): .*(out of memory|cudaErrorMemoryAllocation)/,
  );
  assert.equal(cudaErrorState().sticky, 0);
  tidy(() => {
    const x = tensor([1, 2, 3], [3], { device: "cuda" });
    assert.deepEqual(Array.from(host(add(x, x))), [2, 4, 6]);
  });
  cudaSynchronize();
});

cudaTest("errors: max / maxpool backward with a bad index fail like the CPU, with a message", () => {
  const kr = kernels(REDUCE_SYMBOLS), kp = kernels(POOL_SYMBOLS);
  tidy(() => {
    for (const device of ["cpu", "cuda"] as const) {
      const gy = tensor([1, 2, 3, 4], [4], { device });
      const idx = tensor([0, 1, 5, 2], [4], { dtype: "int32", device }); // 5 >= R = 3
      const gx = zeros([4, 3], { device });
      const st = kr(device).ft_reduce_max_bwd(4n, 3n, 1n, gy.ptr, idx.ptr, gx.ptr);
      assert.equal(st, 1, `${device} reduce_max_bwd status`);
      const gp = zeros([1, 2, 2], { device });
      const ip = tensor([0, 4, 1, -1], [4], { dtype: "int32", device });
      assert.equal(
        kp(device).ft_maxpool2d_bwd(1n, 2n, 2n, 2n, 2n, gy.ptr, ip.ptr, gp.ptr),
        1,
        `${device} maxpool`,
      );
    }
    assert.match(cudaErrorState().message, /ft_maxpool2d_bwd: an index is outside \[0, H\*W = 4\)/);
    assert.equal(cudaErrorState().sticky, 0);
  });
});

// A fresh process (the probe runs once per process); needs --allow-run for deno itself
// (bench/gpu_check.sh grants it; `deno task test` does not, and then this is ignored).
const CAN_SPAWN = Deno.permissions.querySync({ name: "run", command: Deno.execPath() }).state === "granted";
Deno.test({
  name: "cuda: an invalid FT_AUTOCAST is a warning of the probe, never a throw",
  ignore: !CUDA.available || !CAN_SPAWN,
}, async () => {
  const code = `import { cudaStatus, getCudaMath } from "./src/backend/cuda.ts";
const s = cudaStatus();
console.log(JSON.stringify({ available: s.available, warnings: s.warnings, math: getCudaMath() }));`;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--ext=ts", code],
    cwd: new URL("../..", import.meta.url).pathname,
    env: { FT_AUTOCAST: "fp8" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  const r = JSON.parse(text.trim().split("\n").pop()!);
  assert.equal(r.available, true);
  assert.match(r.warnings.join(" "), /FT_AUTOCAST=fp8 ignored: autocast 'fp8': expected off, bf16 or fp16/);
  assert.equal(r.math.autocast, "off");
});

cudaTest("device info reads the selected device", () => {
  const d = CUDA.device!;
  assert.ok(d.name.length > 0 && d.memoryMiB > 1000 && d.l2Bytes > 0, JSON.stringify(d));
  assert.match(d.cc, /^\d+\.\d+$/);
});

/** dst <- src on the current stream (a device copy through the op layer). */
function copyInto(src: Tensor, dst: Tensor): void {
  const c = copy(src);
  const k = kernels({
    ft_mem_copy: { parameters: [/* dst */ "pointer", /* src */ "pointer", /* bytes */ "i64"], result: "i32" },
  });
  assert.equal(k("cuda").ft_mem_copy(dst.ptr, c.ptr, BigInt(src.size * 4)), 0);
}
