/**
 * FT_NO_AVX512 reaches every CPU kernel with an AVX-512 path (issue 10, fault 7). Two checks:
 * (1) the sources: no kernel detects CPU features or uses GCC target_clones (whose choice is
 * made at load and ignores FT_NO_AVX512) on its own; the one choice is native/simd.h, read per
 * call; (2) the numbers: each such kernel, run at the baseline, AVX2 and AVX-512 levels
 * (ft_cpu_set_isa, the same switch FT_NO_AVX512 sets at load), gives the same results within
 * float tolerance. Run: deno test --allow-ffi --allow-read --allow-env tests/native/isa_test.ts
 * @module
 */
import { assertEquals } from "../assert.ts";
import { cpuIsa, setCpuIsa, withCpuIsa } from "../../src/backend/cpu_isa.ts";
import { cpuKernels } from "../../src/backend/cpu.ts";
import { intTensor, tensor } from "../../src/tensor/create.ts";
import { tidy } from "../../src/tensor/scope.ts";
import { backward } from "../../src/autograd/tape.ts";
import { add, axpby, full, mul } from "../../src/ops/elementwise.ts";
import { exp, tanh } from "../../src/ops/unary.ts";
import { mean, sum } from "../../src/ops/reduce.ts";
import { permute } from "../../src/ops/shape_ops.ts";
import { matmul } from "../../src/ops/matmul.ts";
import { conv2d } from "../../src/ops/conv2d.ts";
import { convTranspose2d } from "../../src/ops/conv_transpose2d.ts";
import { batchNorm2d } from "../../src/ops/batchnorm.ts";
import { bceWithLogits, softDice } from "../../src/ops/bce_dice.ts";
import { crossEntropy } from "../../src/ops/cross_entropy.ts";
import { logSoftmax, softmax } from "../../src/ops/softmax.ts";
import { layerNorm, rmsNorm } from "../../src/ops/norm.ts";
import { gelu } from "../../src/ops/gelu.ts";
import { assertClose, randArray } from "../helpers.ts";

const NATIVE = new URL("../../native/", import.meta.url);

Deno.test("ISA: no CPU kernel detects features or picks clones outside native/simd.h", () => {
  const offenders: string[] = [];
  for (const e of Deno.readDirSync(NATIVE)) {
    if (!/\.(cpp|h)$/.test(e.name) || e.name === "simd.h") continue;
    const src = Deno.readTextFileSync(new URL(e.name, NATIVE));
    if (/__builtin_cpu_supports|target_clones/.test(src)) offenders.push(e.name);
  }
  assertEquals(offenders, [], "files with their own CPU feature choice");
});

Deno.test("ISA: ft_cpu_set_isa lowers the level, caps it at the CPU's and restores it", () => {
  const start = cpuIsa();
  try {
    assertEquals(setCpuIsa(0), 0);
    assertEquals(cpuIsa(), 0);
    assertEquals(setCpuIsa(1) <= 1, true);
    const top = setCpuIsa(2);
    assertEquals(top >= start, true, "2 is capped at the CPU, never below the load-time level");
  } finally {
    assertEquals(setCpuIsa(null), start, "null restores the load-time level");
  }
});

/** Each kernel family with an AVX-512 path (or AVX-512 clones), forward and backward. */
const kernels: [string, () => Float32Array[]][] = [
  ["elementwise + unary", () => {
    const a = tensor(randArray(3 * 517, 1), [3, 517]).requireGrad(), b = tensor(randArray(517, 2), [517]);
    const y = tanh(add(mul(a, b), exp(a)));
    backward(sum(y));
    const z = full([1000], 0.5);
    axpby(2, tensor(randArray(1000, 3), [1000]), 0.25, z);
    return [y.data(), a.grad!.data(), z.data()];
  }],
  ["reduce + strided copy", () => {
    const x = tensor(randArray(7 * 33 * 10001, 4), [7, 33, 10001]);
    return [sum(x, 2).data(), mean(x, [0, 1]).data(), sum(x).data(), permute(x, [2, 0, 1]).data()];
  }],
  ["gemm (own AVX-512 / OpenBLAS)", () => {
    const a = tensor(randArray(96 * 130, 5), [96, 130]), b = tensor(randArray(130 * 70, 6), [130, 70]);
    return [matmul(a, b).data()];
  }],
  ["conv2d + convTranspose2d", () => {
    const x = tensor(randArray(2 * 8 * 13 * 11, 7), [2, 8, 13, 11]).requireGrad();
    const w = tensor(randArray(12 * 8 * 9, 8, -0.3, 0.3), [12, 8, 3, 3]).requireGrad();
    const bias = tensor(randArray(12, 9), [12]).requireGrad();
    const y = conv2d(x, w, bias, { padding: 1 });
    const wt = tensor(randArray(12 * 5 * 4, 10, -0.3, 0.3), [12, 5, 2, 2]).requireGrad();
    const z = convTranspose2d(y, wt, null, { stride: 2 });
    backward(sum(mul(z, z)));
    return [y.data(), z.data(), x.grad!.data(), w.grad!.data(), bias.grad!.data(), wt.grad!.data()];
  }],
  ["batchNorm2d", () => {
    const x = tensor(randArray(4 * 6 * 9 * 10, 11), [4, 6, 9, 10]).requireGrad();
    const y = batchNorm2d(x, null, null, null, null);
    backward(sum(mul(y, tensor(randArray(y.size, 12), y.shape))));
    return [y.data(), x.grad!.data()];
  }],
  ["bceWithLogits + softDice", () => {
    const x = tensor(randArray(3 * 1001, 13, -6, 6), [3, 1001]).requireGrad();
    const t = tensor(Array.from(randArray(3 * 1001, 14), (v) => (v > 0 ? 1 : 0)), [3, 1001]);
    const l = add(bceWithLogits(x, t), softDice(x, t));
    backward(l);
    return [l.data(), x.grad!.data(), bceWithLogits(x, t, { reduction: "none" }).data()];
  }],
  ["crossEntropy", () => {
    const x = tensor(randArray(5 * 333, 15, -4, 4), [5, 333]).requireGrad();
    const l = crossEntropy(x, intTensor([0, 17, 332, 100, 5], [5]), { labelSmoothing: 0.1 });
    backward(l);
    return [l.data(), x.grad!.data()];
  }],
  ["softmax + logSoftmax", () => {
    const x = tensor(randArray(6 * 77, 16, -5, 5), [6, 77]).requireGrad();
    const y = softmax(x), z = logSoftmax(x);
    backward(add(sum(mul(y, y)), sum(mul(z, tensor(randArray(z.size, 17), z.shape)))));
    return [y.data(), z.data(), x.grad!.data()];
  }],
  ["layerNorm + rmsNorm", () => {
    const x = tensor(randArray(5 * 96, 18, -3, 3), [5, 96]).requireGrad();
    const w = tensor(randArray(96, 19), [96]).requireGrad(),
      b = tensor(randArray(96, 20), [96]).requireGrad();
    const y = layerNorm(x, w, b), z = rmsNorm(x, w);
    backward(add(sum(mul(y, y)), sum(mul(z, tensor(randArray(z.size, 21), z.shape)))));
    return [y.data(), z.data(), x.grad!.data(), w.grad!.data(), b.grad!.data()];
  }],
  ["gelu (erf and tanh)", () => {
    const x = tensor(randArray(1003, 22, -6, 6), [1003]).requireGrad();
    const y = gelu(x), z = gelu(x, "tanh");
    backward(add(sum(y), sum(mul(z, z))));
    return [y.data(), z.data(), x.grad!.data()];
  }],
];

for (const [name, run] of kernels) {
  Deno.test(`ISA: ${name} gives the same numbers on the baseline, AVX2 and AVX-512 paths`, () => {
    const at = (level: 0 | 1 | 2) =>
      withCpuIsa(level, () => tidy(() => run().map((a) => Float32Array.from(a))));
    const top = at(2), avx2 = at(1), base = at(0);
    for (const [lname, got] of [["AVX2", avx2], ["baseline", base]] as const) {
      got.forEach((g, i) =>
        assertClose(g, top[i], { rtol: 2e-4, atol: 2e-5, what: `${name} output ${i} (${lname})` })
      );
    }
  });
}

Deno.test("ISA: AdamW's update is the same on every level", () => {
  const lib = cpuKernels(
    {
      // (ntensors, sizes i64[n], p f32*[n], g f32*[n], m f32*[n], v f32*[n], lr f32[n], wd f32[n], b1, b2, eps, bc1 f32[n], bc2 f32[n], gs)
      ft_adamw_step: {
        parameters: [
          "i32",
          "buffer",
          "buffer",
          "buffer",
          "buffer",
          "buffer",
          "buffer",
          "buffer",
          "f32",
          "f32",
          "f32",
          "buffer",
          "buffer",
          "f32",
        ],
        result: "i32",
      },
    } satisfies Deno.ForeignLibraryInterface,
  );
  const n = 40003;
  const run = (level: 0 | 1 | 2) =>
    withCpuIsa(level, () => {
      const p = Float32Array.from(randArray(n, 30)), g = Float32Array.from(randArray(n, 31));
      const m = Float32Array.from(randArray(n, 32, -0.1, 0.1)),
        v = Float32Array.from(randArray(n, 33, 0, 0.1));
      const ptrs = (a: Float32Array) =>
        BigUint64Array.of(BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(a))));
      const rc = lib.ft_adamw_step(
        1,
        BigInt64Array.of(BigInt(n)),
        ptrs(p),
        ptrs(g),
        ptrs(m),
        ptrs(v),
        Float32Array.of(1e-3),
        Float32Array.of(0.01),
        0.9,
        0.999,
        1e-8,
        Float32Array.of(0.1), // bc1, bc2: per-tensor arrays since the per-parameter step
        Float32Array.of(0.001),
        1,
      );
      assertEquals(rc, 0);
      return [p, m, v];
    });
  const top = run(2);
  for (const level of [1, 0] as const) {
    run(level).forEach((a, i) =>
      assertClose(a, top[i], { rtol: 1e-5, atol: 1e-7, what: `adamw ${i} level ${level}` })
    );
  }
});
