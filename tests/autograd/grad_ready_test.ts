// The tape's onGradReady hook (used by data-parallel gradient bucketing, src/dist/ddp.ts): each
// reached leaf is reported once, its .grad already final; a fan-out leaf only after every use;
// leaves near the loss before deeper ones; unreached leaves never. Run: .tools/deno test --allow-all tests/autograd/grad_ready_test.ts
import { assertEquals } from "../assert.ts";
import { tensor } from "../../src/tensor/create.ts";
import { tidy } from "../../src/tensor/scope.ts";
import { add, mul } from "../../src/ops/elementwise.ts";
import { sum } from "../../src/ops/reduce.ts";
import { tanh } from "../../src/ops/unary.ts";
import { backward } from "../../src/autograd/tape.ts";
import type { Tensor } from "../../src/tensor/tensor.ts";
import { assertClose, disposeAll, noLeak } from "../helpers.ts";

Deno.test("onGradReady: once per reached leaf, gradient final at report time, in completion order", () => {
  noLeak(() => {
    const w1 = tensor([0.5, -1, 2], [3]).requireGrad(); // deep: used twice (fan-out)
    const w2 = tensor([0.3, 0.7, -0.2], [3]).requireGrad(); // next to the loss
    const unused = tensor([1, 1, 1], [3]).requireGrad();
    const seen: [Tensor, number[]][] = [];
    tidy(() => {
      // loss = sum(w2 * tanh(w1 * w1 + w1)); w1 reaches the loss through two paths
      const h = tanh(add(mul(w1, w1), w1));
      const loss = sum(mul(w2, h));
      backward(loss, { onGradReady: (leaf) => seen.push([leaf, Array.from(leaf.grad!.data())]) });
    });
    assertEquals(seen.map(([t]) => t), [w2, w1]); // w2 completes first; `unused` is never reported
    // what the hook saw is the final gradient
    assertClose(seen[0][1], Array.from(w2.grad!.data()), { rtol: 0 });
    assertClose(seen[1][1], Array.from(w1.grad!.data()), { rtol: 0 });
    // and it is the right one: d/dw1 = w2 (1 - tanh²(w1² + w1)) (2 w1 + 1)
    const w1v = [0.5, -1, 2], w2v = [0.3, 0.7, -0.2];
    assertClose(
      seen[1][1],
      w1v.map((v, i) => w2v[i] * (1 - Math.tanh(v * v + v) ** 2) * (2 * v + 1)),
      { rtol: 1e-5 },
    );
    assertEquals(unused.grad, null);
    disposeAll(w1, w2, unused);
  });
});
