/**
 * Size limits (issue 10, fault 9): a shape whose element count or byte size does not fit the
 * native size math is rejected with an error naming the shape before anything reaches native
 * code; before, zeros([2**31, 2**31]) wrapped to a 64-byte block and the next op segfaulted.
 * The native allocator also refuses negative and absurd byte counts instead of returning a
 * 64-byte block. Run: deno test --allow-ffi --allow-read --allow-env tests/tensor/size_limits_test.ts
 * @module
 */
import { assertEquals, assertThrows } from "../assert.ts";
import { filled, tensor, zeros } from "../../src/tensor/create.ts";
import { Tensor } from "../../src/tensor/tensor.ts";
import { checkShape, MAX_TENSOR_BYTES } from "../../src/tensor/shape.ts";
import { memoryStats, Storage } from "../../src/tensor/storage.ts";
import { mem } from "../../src/backend/cpu.ts";
import { expand } from "../../src/ops/shape_ops.ts";
import { tidy } from "../../src/tensor/scope.ts";

Deno.test("size limits: zeros([2**31, 2**31]) is an error naming the shape, not a tiny buffer", () => {
  const before = memoryStats().liveBytes;
  assertThrows(() => zeros([2 ** 31, 2 ** 31]), Error, "(2147483648,2147483648)");
  assertThrows(() => filled([2 ** 40, 2 ** 20], 1), Error, "elements");
  assertThrows(() => zeros([2 ** 25, 2 ** 21]), Error, "2^47");
  assertThrows(() => Tensor.empty([2 ** 27, 2 ** 27]), Error, "(134217728,134217728)");
  assertEquals(memoryStats().liveBytes, before, "nothing allocated");
});

Deno.test("size limits: element counts beyond the safe-integer range are rejected even mid-product", () => {
  // 2**30 * 2**30 * 2**30 is not representable exactly; the check must not be fooled by rounding
  assertThrows(() => checkShape([2 ** 30, 2 ** 30, 2 ** 30], "t"), Error, "t: shape (1073741824,");
  assertThrows(() => checkShape([2 ** 53 + 2]), Error, "more than 2^53 elements");
  assertThrows(() => checkShape([MAX_TENSOR_BYTES / 4 + 1], "big"), Error, "big: shape (35184372088833) has");
  checkShape([MAX_TENSOR_BYTES / 4]); // the limit itself passes the check (allocating it would not)
  checkShape([2 ** 40, 2 ** 40, 0]); // empty tensors are fine whatever the other axes
  assertThrows(() => checkShape([2, -1]), Error, "(2,-1)");
  assertThrows(() => checkShape([1.5]), Error, "(1.5)");
  assertThrows(() => checkShape([NaN]), Error, "(NaN)");
});

Deno.test("size limits: an op whose output would be huge fails before native code", () => {
  tidy(() => {
    const x = tensor([1], [1, 1]);
    assertThrows(() => expand(x, [2 ** 31, 2 ** 31]), Error, "(2147483648,2147483648)");
  });
});

Deno.test("size limits: Storage.alloc rejects non-integer, negative and over-cap byte counts", () => {
  assertThrows(() => Storage.alloc(-8), Error, "-8 bytes");
  assertThrows(() => Storage.alloc(2.5), Error, "2.5 bytes");
  assertThrows(() => Storage.alloc(MAX_TENSOR_BYTES + 64), Error, "limit");
  assertThrows(() => Storage.alloc(2 ** 64), Error, "bytes");
});

Deno.test("size limits: ft_mem_alloc returns null for negative or absurd sizes", () => {
  assertEquals(mem.ft_mem_alloc(-1n), null);
  assertEquals(mem.ft_mem_alloc(-(2n ** 62n)), null);
  assertEquals(mem.ft_mem_alloc(2n ** 62n), null);
  const p = mem.ft_mem_alloc(0n); // a zero-byte request still gets a valid (minimal) block
  assertEquals(p !== null, true);
  mem.ft_mem_free(p);
});
