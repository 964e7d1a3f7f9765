/**
 * Multi-input ops check dtype and device, and a kernel missing from the CUDA library is an
 * error naming it (issue 10, fault 7). No GPU needed: a stand-in "cuda" opener returning no
 * symbols and a host-memory "cuda" allocator exercise the checks (this file runs in its own
 * isolate, so the stand-ins reach nothing else).
 * Run: .tools/deno test -A tests/ops/dispatch_test.ts
 */
import { assertEquals, assertThrows } from "../assert.ts";
import { kernels, need, registerCudaOpener } from "../../src/backend/dispatch.ts";
import { registerAllocator } from "../../src/tensor/storage.ts";
import { mem } from "../../src/backend/cpu.ts";
import { Tensor } from "../../src/tensor/tensor.ts";
import { intTensor, tensor } from "../../src/tensor/create.ts";
import { concat, stack } from "../../src/ops/shape_ops.ts";
import { add } from "../../src/ops/elementwise.ts";
import { tidy } from "../../src/tensor/scope.ts";
import { noLeak } from "../helpers.ts";

Deno.test("a kernel the CUDA library lacks throws an error naming it; optional ones stay null", () => {
  registerCudaOpener(<S extends Deno.ForeignLibraryInterface>(defs: S) =>
    Object.fromEntries(
      Object.keys(defs).map((k) => [k, null]),
    ) as unknown as Deno.StaticForeignLibraryInterface<S>
  );
  const k = kernels({
    ft_made_up_fwd: { parameters: ["i64"], result: "i32" },
    ft_made_up_fused: { parameters: ["i64"], result: "i32", optional: true },
  });
  assertThrows(() => k("cuda").ft_made_up_fwd(1n), Error, "ft_made_up_fwd: no kernel on device 'cuda'");
  assertEquals(k("cuda").ft_made_up_fused, null);
  assertThrows(() => need(k("cuda").ft_made_up_fused, "ft_made_up_fused", "cuda"), Error, "ft_made_up_fused");
});

Deno.test("concat / stack / add refuse mixed dtypes and devices, naming the op", () => {
  noLeak(() => {
    const a = tensor([1, 2], [2]), i = intTensor([1, 2], [2]);
    assertThrows(() => concat([a, i]), Error, "concat: tensor 1 is int32");
    assertThrows(() => tidy(() => stack([a, i])), Error, "concat: tensor 1 is int32");
    // a stand-in device backed by host memory: only the device tag differs
    registerAllocator("cuda", {
      alloc: (bytes) => mem.ft_mem_alloc(BigInt(bytes))!,
      free: (p) => mem.ft_mem_free(p),
    });
    const c = Tensor.empty([2], "float32", "cuda");
    assertThrows(() => concat([a, c]), Error, "concat: tensor 1 is float32 on cuda");
    assertThrows(() => add(a, c), Error, "add: tensors on different devices");
    a.dispose();
    i.dispose();
    c.dispose();
  });
});
