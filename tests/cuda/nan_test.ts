// NaN in, NaN out on CUDA (issue 10, fault 10): losses, reductions and fused row kernels with a
// NaN or ±inf planted in the input give the CPU backend's results (NaN where the CPU has NaN),
// including a NaN row beside -inf entries, which fmaxf used to read as a fully masked row.
// Run: deno test --allow-ffi --allow-read --allow-env tests/cuda/nan_test.ts (skips without a GPU)
import { cudaTest } from "./cuda_helpers.ts";
import { assertEquals } from "../assert.ts";
import { intTensor, tensor } from "../../src/tensor/create.ts";
import { type Tensor, toDevice } from "../../src/tensor/tensor.ts";
import { tidy } from "../../src/tensor/scope.ts";
import { max, mean, sum } from "../../src/ops/reduce.ts";
import { bceWithLogits, softDice } from "../../src/ops/bce_dice.ts";
import { crossEntropy } from "../../src/ops/cross_entropy.ts";
import { logSoftmax, softmax } from "../../src/ops/softmax.ts";
import { layerNorm, rmsNorm } from "../../src/ops/norm.ts";
import { gelu } from "../../src/ops/gelu.ts";
import { assertClose, randArray } from "../helpers.ts";

const R = 3, L = 37;
const targets = Array.from({ length: R * L }, (_, i) => (i % 3 === 0 ? 1 : 0));
const ops: [string, (x: Tensor) => Tensor][] = [
  ["sum", (x) => sum(x)],
  ["mean(axis 1)", (x) => mean(x, 1)],
  ["max(axis 1)", (x) => max(x, 1)],
  ["bceWithLogits", (x) => bceWithLogits(x, toDevice(tensor(targets, [R, L]), x.device))],
  ["softDice", (x) => softDice(x, toDevice(tensor(targets, [R, L]), x.device))],
  ["crossEntropy", (x) => crossEntropy(x, toDevice(intTensor([4, 0, 36], [R]), x.device))],
  ["softmax", (x) => softmax(x)],
  ["logSoftmax", (x) => logSoftmax(x)],
  ["layerNorm", (x) => layerNorm(x)],
  ["rmsNorm", (x) => rmsNorm(x)],
  ["gelu", (x) => gelu(x)],
];

for (const [name, f] of ops) {
  cudaTest(`NaN/inf: ${name} matches the CPU with NaN and infinities`, () => {
    for (const bad of [NaN, Infinity, -Infinity]) {
      tidy(() => {
        const v = Array.from(randArray(R * L, 3, -3, 3));
        v[5] = bad;
        if (Number.isNaN(bad)) { for (let j = L; j < 2 * L; j++) v[j] = j === L + 7 ? NaN : -Infinity; }
        const xc = tensor(v, [R, L]);
        const want = f(xc).data(), got = toDevice(f(toDevice(xc, "cuda")), "cpu").data();
        assertClose(got, want, { rtol: 1e-4, atol: 1e-5, what: `${name} with ${bad}` });
        for (let i = 0; i < want.length; i++) {
          assertEquals(Number.isNaN(got[i]), Number.isNaN(want[i]), `${name} with ${bad}: NaN-ness at ${i}`);
        }
      });
    }
  });
}
