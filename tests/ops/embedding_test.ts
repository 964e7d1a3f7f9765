/**
 * embedding: gather forward, scatter-add backward with repeated ids (vs a reference and by
 * finite differences), multi-axis ids, out-of-range ids name the id and V, no leaks.
 * Run: deno test --allow-ffi --allow-read --allow-env tests/ops/embedding_test.ts
 */
import { throws as assertThrows } from "node:assert/strict";
import { intTensor, tensor } from "../../src/tensor/create.ts";
import { tidy } from "../../src/tensor/scope.ts";
import { backward } from "../../src/autograd/tape.ts";
import { embedding } from "../../src/ops/embedding.ts";
import { sum } from "../../src/ops/reduce.ts";
import { Embedding } from "../../src/nn/embedding.ts";
import { Rng } from "../../src/tensor/rng.ts";
import { assertClose, disposeAll, gradcheck, noLeak, randArray, randLeaf } from "../helpers.ts";

Deno.test("embedding forward gathers rows; backward scatter-adds repeated ids", () => {
  noLeak(() =>
    tidy(() => {
      const V = 11, D = 13;
      const wv = randArray(V * D, 1);
      const w = tensor(wv, [V, D]).requireGrad();
      const idv = [3, 0, 10, 3, 3, 7, 0];
      const ids = intTensor(idv, [7]);
      const y = embedding(w, ids);
      const want = idv.flatMap((i) => Array.from(wv.subarray(i * D, (i + 1) * D)));
      assertClose(y.data(), want, { rtol: 0, atol: 1e-30, what: "gather" });
      const gv = randArray(7 * D, 2);
      backward(y, tensor(gv, [7, D]));
      const gw = new Float64Array(V * D);
      idv.forEach((id, n) => {
        for (let d = 0; d < D; d++) gw[id * D + d] += gv[n * D + d];
      });
      assertClose(w.grad!.data(), gw, { what: "scatter-add" });
      // ids of any shape: (2, 3) -> (2, 3, D); large V spread over threads
      const big = tensor(randArray(5000 * 4, 3), [5000, 4]).requireGrad();
      const ids2 = intTensor([4999, 0, 17, 17, 2500, 4999], [2, 3]);
      const y2 = embedding(big, ids2);
      if (y2.shape.join() !== "2,3,4") throw new Error(`shape ${y2.shape}`);
      backward(y2, tensor(new Float32Array(24).fill(1), [2, 3, 4]));
      const g2 = big.grad!.data();
      if (g2[4999 * 4] !== 2 || g2[17 * 4 + 3] !== 2 || g2[2500 * 4] !== 1 || g2[1 * 4] !== 0) {
        throw new Error("scatter-add over the vocabulary split is wrong");
      }
      disposeAll(w, big);
    })
  );
});

Deno.test("embedding gradcheck", () => {
  noLeak(() =>
    tidy(() => {
      const w = randLeaf([5, 3], 4);
      const ids = intTensor([1, 4, 1, 0], [2, 2]);
      gradcheck((a) => embedding(a, ids), [w]);
      disposeAll(w);
    })
  );
});

Deno.test("embedding errors: out-of-range id names the id and V; bad dtypes", () => {
  noLeak(() =>
    tidy(() => {
      const w = tensor(new Float32Array(12), [4, 3]);
      assertThrows(
        () => embedding(w, intTensor([0, 4, 1])),
        /embedding: weight \(4,3\), ids \(3\): id 4 at position 1 is out of range for V=4 rows/,
      );
      assertThrows(() => embedding(w, intTensor([-2])), /id -2 at position 0 is out of range for V=4/);
      assertThrows(() => embedding(w, tensor([0, 1])), /ids must be int32, got float32/);
      assertThrows(() => embedding(tensor([1, 2, 3]), intTensor([0])), /expected a float32 weight \(V, D\)/);
    })
  );
});

Deno.test("embedding paddingIdx: positions holding it send no gradient (op and Embedding module)", () => {
  noLeak(() => {
    const V = 6, D = 5, pad = 2;
    const w = randLeaf([V, D], 9);
    const idv = [2, 1, 2, 5, 1, 2];
    tidy(() => {
      const y = embedding(w, intTensor(idv, [2, 3]), { paddingIdx: pad });
      const gv = randArray(6 * D, 10);
      backward(y, tensor(gv, [2, 3, D]));
      const gw = new Float64Array(V * D);
      idv.forEach((id, n) => {
        if (id === pad) return;
        for (let d = 0; d < D; d++) gw[id * D + d] += gv[n * D + d];
      });
      assertClose(w.grad!.data(), gw, { what: "padding row gets zero gradient" });
    });
    assertThrows(
      () => tidy(() => embedding(w, intTensor([0], [1]), { paddingIdx: V })),
      /paddingIdx 6 out of range/,
    );
    const m = new Embedding(V, D, { paddingIdx: 0, rng: new Rng(3) });
    tidy(() => backward(sum(m.forward(intTensor([0, 0, 4], [3])))));
    const g = m.weight.grad!.toArray();
    assertClose(g.slice(0, D), new Array(D).fill(0), { what: "module padding row grad" });
    assertClose(g.slice(4 * D, 5 * D), new Array(D).fill(1), { what: "module row 4 grad" });
    assertClose(m.weight.toArray().slice(0, D), new Array(D).fill(0), { what: "padding row at init" });
    m.dispose();
    disposeAll(w);
  });
});
