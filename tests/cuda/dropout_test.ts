// Dropout on CUDA (kernels/dropout.cu) vs the CPU kernel: the same seed gives the same mask bit
// for bit (both draw splitmix64 of seed + element index), forward and gradient.
// Run: deno test --allow-ffi --allow-read --allow-env tests/cuda/dropout_test.ts (skips without a GPU)
import { cudaTest } from "./cuda_helpers.ts";
import { assertEquals } from "../assert.ts";
import { tensor } from "../../src/tensor/create.ts";
import { toDevice } from "../../src/tensor/tensor.ts";
import { tidy } from "../../src/tensor/scope.ts";
import { backward } from "../../src/autograd/tape.ts";
import { dropout } from "../../src/ops/dropout.ts";
import { Rng } from "../../src/tensor/rng.ts";
import { randArray } from "../helpers.ts";

cudaTest("dropout: CPU and CUDA masks are identical for the same seed (forward and gradient)", () => {
  tidy(() => {
    const n = 100_003;
    const xc = tensor(randArray(n, 1), [n]).requireGrad();
    const xg = toDevice(xc, "cuda").requireGrad();
    for (const p of [0.1, 0.5, 0.9]) {
      const yc = dropout(xc, p, { rng: new Rng(77) }), yg = dropout(xg, p, { rng: new Rng(77) });
      assertEquals(Array.from(toDevice(yg, "cpu").data()), Array.from(yc.data()), `forward p=${p}`);
    }
    const yc = dropout(xc, 0.3, { rng: new Rng(5) }), yg = dropout(xg, 0.3, { rng: new Rng(5) });
    backward(yc, tensor(new Float32Array(n).fill(1)));
    backward(yg, toDevice(tensor(new Float32Array(n).fill(1)), "cuda"));
    assertEquals(Array.from(toDevice(xg.grad!, "cpu").data()), Array.from(xc.grad!.data()), "gradient");
  });
});
