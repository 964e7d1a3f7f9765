// The autograd tape: fan-out accumulation, leaf accumulation across calls, noGrad, detach.
import { assertEquals, assertThrows } from "../assert.ts";
import { tensor } from "../../src/tensor/create.ts";
import { tidy } from "../../src/tensor/scope.ts";
import { add, mul } from "../../src/ops/elementwise.ts";
import { sum } from "../../src/ops/reduce.ts";
import { tanh } from "../../src/ops/unary.ts";
import { backward, detach, noGrad } from "../../src/autograd/tape.ts";
import { assertClose, disposeAll, noLeak } from "../helpers.ts";

Deno.test("fan-out gradients add up (x used three times)", () => {
  noLeak(() => {
    const x = tensor([0.5, -1, 2], [3]).requireGrad();
    tidy(() => {
      // y = x*x + tanh(x) ; dy/dx = 2x + 1 - tanh(x)^2
      const y = sum(add(mul(x, x), tanh(x)));
      backward(y);
    });
    assertClose(x.grad!.data(), [0.5, -1, 2].map((v) => 2 * v + 1 - Math.tanh(v) ** 2), { rtol: 1e-6 });
    // a second backward accumulates into .grad
    tidy(() => backward(sum(mul(x, 3))));
    assertClose(x.grad!.data(), [0.5, -1, 2].map((v) => 2 * v + 1 - Math.tanh(v) ** 2 + 3), { rtol: 1e-6 });
    disposeAll(x);
  });
});

Deno.test("noGrad and detach stop the tape", () => {
  noLeak(() => {
    const x = tensor([1, 2], [2]).requireGrad();
    tidy(() => {
      const y = noGrad(() => mul(x, x));
      assertEquals(y.requiresGrad, false);
      const d = detach(x);
      assertEquals(d.requiresGrad, false);
      const z = sum(mul(x, d)); // gradient flows only through the first factor
      backward(z);
    });
    assertEquals(x.grad!.toArray(), [1, 2]);
    disposeAll(x);
  });
});

Deno.test("backward errors are explicit", () => {
  noLeak(() =>
    tidy(() => {
      const x = tensor([1, 2], [2]).requireGrad();
      assertThrows(() => backward(mul(x, x)), Error, "not a scalar");
      assertThrows(() => backward(tensor([1], [1])), Error, "does not require grad");
      x.dispose();
    })
  );
});

Deno.test("a diamond graph visits each node once", () => {
  noLeak(() => {
    const x = tensor([1.5], [1]).requireGrad();
    tidy(() => {
      const a = mul(x, 2);
      const b = add(a, a); // 4x
      const c = mul(b, a); // 8x^2 -> 16x
      backward(sum(c));
    });
    assertClose(x.grad!.data(), [24], { rtol: 1e-6 });
    disposeAll(x);
  });
});
