// Embedding on CUDA vs the CPU kernel: gather, scatter-add backward with repeated ids, and
// paddingIdx (that row zero at init and without gradient) through the Embedding module.
import { cudaTest, expectClose, host, TOL } from "./cuda_helpers.ts";
import { intTensor, tensor } from "../../src/tensor/create.ts";
import { tidy } from "../../src/tensor/scope.ts";
import { getDefaultDevice, setDefaultDevice } from "../../src/tensor/tensor.ts";
import { backward } from "../../src/autograd/tape.ts";
import { embedding } from "../../src/ops/embedding.ts";
import { Embedding } from "../../src/nn/embedding.ts";
import { Rng } from "../../src/tensor/rng.ts";
import { randArray } from "../helpers.ts";

cudaTest("embedding with paddingIdx matches the CPU kernel (forward, backward)", () => {
  const V = 300, D = 24, idv = [0, 5, 5, 299, 7, 0, 5, 12];
  const wv = randArray(V * D, 1), gv = randArray(idv.length * D, 2);
  const run = (device: "cpu" | "cuda") =>
    tidy(() => {
      const w = tensor(wv, [V, D], { device }).requireGrad();
      const y = embedding(w, intTensor(idv, [2, 4], device), { paddingIdx: 5 });
      backward(y, tensor(gv, [2, 4, D], { device }));
      const out = [host(y), host(w.grad!)];
      w.dispose();
      return out;
    });
  const [yc, gc] = run("cpu"), [yg, gg] = run("cuda");
  expectClose(yg, yc, TOL.fp32, "embedding forward");
  expectClose(gg, gc, TOL.fp32, "embedding backward with paddingIdx");
  if (gg.slice(5 * D, 6 * D).some((v) => v !== 0)) throw new Error("padding row got a gradient on cuda");
});

cudaTest("Embedding(paddingIdx) built on CUDA has a zero padding row", () => {
  const prev = getDefaultDevice();
  setDefaultDevice("cuda");
  try {
    const m = new Embedding(10, 8, { paddingIdx: 3, rng: new Rng(5) });
    const w = host(m.weight);
    m.dispose();
    if (w.slice(24, 32).some((v) => v !== 0)) throw new Error("padding row not zero on cuda");
    if (w.slice(0, 8).every((v) => v === 0)) throw new Error("other rows must be drawn");
  } finally {
    setDefaultDevice(prev);
  }
});
