// CUDA runtime and device selection: detection never throws, `auto` falls back to the CPU with
// one line, explicit `cuda` errors clearly without a device; on a device: transfers, the
// caching allocator (live bytes return to their start), events and streams.
import assert from "node:assert/strict";
import { CUDA, cudaTest, host } from "./cuda_helpers.ts";
import { resolveDevice } from "../../src/backend/device.ts";
import {
  CudaEvent,
  cudaStatus,
  CudaStream,
  cudaSynchronize,
  getCudaMath,
  setCudaMath,
} from "../../src/backend/cuda.ts";
import { tensor, zeros } from "../../src/tensor/create.ts";
import { memoryStats } from "../../src/tensor/storage.ts";
import { toDevice } from "../../src/tensor/tensor.ts";
import { tidy } from "../../src/tensor/scope.ts";
import { add } from "../../src/ops/elementwise.ts";

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

cudaTest("events time device work; streams run ops", () => {
  const a = new CudaEvent(), b = new CudaEvent();
  tidy(() => {
    const x = zeros([1024, 1024], { device: "cuda" });
    a.record();
    for (let i = 0; i < 5; i++) add(x, x);
    b.record();
    const ms = b.elapsedSince(a);
    assert.ok(ms >= 0 && ms < 10_000, `elapsed ${ms}`);
    const s = new CudaStream();
    const y = s.run(() => add(x, x));
    cudaSynchronize();
    assert.equal(host(y)[0], 0);
    s.dispose();
  });
  a.dispose();
  b.dispose();
});
