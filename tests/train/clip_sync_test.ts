/**
 * clipGradNorm / gradNorm read the device once per call, not once per parameter (issue 10,
 * fault 14c: every parameter's squared norm used to be an `.item()` sync), and still give the
 * float64 norm. Run: deno test --allow-ffi --allow-read --allow-env tests/train/clip_sync_test.ts
 * @module
 */
import { assertEquals } from "../assert.ts";
import { tensor } from "../../src/tensor/create.ts";
import { Tensor } from "../../src/tensor/tensor.ts";
import { tidy } from "../../src/tensor/scope.ts";
import { clipGradNorm, gradNorm } from "../../src/train/clip.ts";
import { assertClose, randArray } from "../helpers.ts";

/** Runs fn counting host reads of tensor data (item() and toArray() go through data()). */
function countReads(fn: () => void): number {
  const proto = Tensor.prototype as unknown as { data: () => Float32Array };
  const orig = proto.data;
  let n = 0;
  proto.data = function (this: Tensor) {
    n++;
    return orig.call(this);
  };
  try {
    fn();
  } finally {
    proto.data = orig;
  }
  return n;
}

Deno.test("clipGradNorm: one host read for 40 parameters, norm and scaling as float64", () => {
  tidy(() => {
    const params = Array.from({ length: 40 }, (_, i) => {
      const p = tensor(randArray(10 + i, i), [10 + i]).requireGrad();
      p.grad = tensor(randArray(10 + i, 100 + i), [10 + i]);
      return p;
    });
    const ref = Math.sqrt(params.reduce((s, p) => s + p.grad!.data().reduce((a, v) => a + v * v, 0), 0));
    let norm = 0;
    assertEquals(countReads(() => (norm = gradNorm(params))), 1, "host reads in gradNorm");
    assertClose([norm], [ref], { rtol: 1e-6 });
    const before = params.map((p) => Float32Array.from(p.grad!.data()));
    assertEquals(countReads(() => (norm = clipGradNorm(params, 1))), 1, "host reads in clipGradNorm");
    assertClose([norm], [ref], { rtol: 1e-6 });
    const c = 1 / (ref + 1e-6);
    params.forEach((p, i) =>
      assertClose(p.grad!.data(), before[i].map((v) => v * c), { rtol: 1e-5, atol: 1e-7, what: `grad ${i}` })
    );
    for (const p of params) p.dispose();
  });
});
