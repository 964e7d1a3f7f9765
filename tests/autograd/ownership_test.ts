/**
 * Regression tests for the tape's ownership rules (issue 10, faults 2, 3 and 11): leaf
 * gradients never share storage, intermediate gradients and saved tensors are freed during
 * backward, a backward outside tidy leaks nothing, and disposed tensors, wrong root gradients
 * and second backwards are errors (or an explicit retainGraph).
 * Run: .tools/deno test -A tests/autograd/ownership_test.ts
 */
import { assertEquals, assertOk, assertThrows } from "../assert.ts";
import { tensor, zeros } from "../../src/tensor/create.ts";
import type { Tensor } from "../../src/tensor/tensor.ts";
import { tidy } from "../../src/tensor/scope.ts";
import { bucketSize, memoryStats } from "../../src/tensor/storage.ts";
import { add, copy, mul, scale } from "../../src/ops/elementwise.ts";
import { sum } from "../../src/ops/reduce.ts";
import { reshape } from "../../src/ops/shape_ops.ts";
import { tanh } from "../../src/ops/unary.ts";
import { backward, record } from "../../src/autograd/tape.ts";
import { axpby } from "../../src/ops/raw.ts";
import { clipGradNorm } from "../../src/train/clip.ts";
import { assertClose, disposeAll, noLeak, randLeaf } from "../helpers.ts";

Deno.test("sum(a + b): a.grad and b.grad are separate storage; a second backward gives 2, not 3", () => {
  noLeak(() => {
    const a = tensor([1, 2, 3], [3]).requireGrad(), b = tensor([4, 5, 6], [3]).requireGrad();
    tidy(() => backward(sum(add(a, b))));
    assertOk(a.grad!.storage !== b.grad!.storage, "a.grad and b.grad share storage");
    tidy(() => backward(sum(add(a, b))));
    assertEquals(a.grad!.toArray(), [2, 2, 2]);
    assertEquals(b.grad!.toArray(), [2, 2, 2]);
    // in-place scaling of one gradient leaves the other alone
    axpby(0, a.grad!, 0.5, a.grad!);
    assertEquals(a.grad!.toArray(), [1, 1, 1]);
    assertEquals(b.grad!.toArray(), [2, 2, 2]);
    // clipGradNorm scales each gradient once: all six entries 2, norm sqrt(24), each becomes 2 / sqrt(24)
    axpby(0, a.grad!, 2, a.grad!);
    const norm = clipGradNorm([a, b], 1);
    assertClose([norm], [Math.sqrt(24)], { rtol: 1e-6 });
    assertClose([...a.grad!.toArray(), ...b.grad!.toArray()], new Array(6).fill(2 / Math.sqrt(24)), {
      rtol: 1e-5,
    });
    disposeAll(a, b);
  });
});

Deno.test("pass-through and view gradients (reshape, addScalar, x + x) are copied before a leaf keeps them", () => {
  noLeak(() => {
    const a = tensor([1, 2, 3, 4], [2, 2]).requireGrad(), b = tensor([1, 1, 1, 1], [4]).requireGrad();
    // reshape hands back a view of its gradient; add hands one gradient to both inputs
    tidy(() => backward(sum(add(reshape(a, [4]), b))));
    assertOk(a.grad!.storage !== b.grad!.storage);
    const c = tensor([1, 2], [2]).requireGrad();
    tidy(() => backward(sum(add(c, c))));
    assertEquals(c.grad!.toArray(), [2, 2]);
    // the caller's root gradient is never adopted or modified
    const g = tensor([1, 1, 1, 1], [4]);
    tidy(() => backward(add(reshape(a, [4]), b), g));
    assertEquals(g.toArray(), [1, 1, 1, 1]);
    assertOk(a.grad!.storage !== g.storage && b.grad!.storage !== g.storage);
    assertEquals(a.grad!.toArray(), [2, 2, 2, 2]);
    disposeAll(a, b, c, g);
  });
});

/** Identity op whose backward samples live bytes (the moment its gradient arrives). */
function probe(x: Tensor, samples: number[]): Tensor {
  return record(x.viewAs(x.shape), "probe", [x], (g) => {
    samples.push(memoryStats().liveBytes);
    return [g];
  });
}

Deno.test("backward frees intermediate gradients as it goes: peak = activations + frontier", () => {
  const n = 1 << 16, layers = 12, block = bucketSize(n * 4);
  const x = randLeaf([n], 1);
  noLeak(() => {
    const samples: number[] = [];
    let start = 0;
    tidy(() => {
      let h = x;
      for (let i = 0; i < layers; i++) h = probe(tanh(h), samples);
      const loss = sum(h);
      start = memoryStats().liveBytes;
      backward(loss);
    });
    // the old tape kept every layer's gradient until the scope ended: `layers` extra blocks
    const extra = Math.max(...samples) - start;
    assertOk(extra <= 3 * block, `backward held ${extra / block} blocks of gradients (allowed 3)`);
    x.grad!.dispose();
    x.grad = null;
  });
  x.dispose();
});

Deno.test("a backward outside tidy leaks nothing (only the leaf gradient is new)", () => {
  const x = randLeaf([1000], 2);
  const before = memoryStats().liveBytes;
  const y = mul(x, x), t = tanh(y), s = scale(t, 3), loss = sum(s);
  const fwd = memoryStats().liveBytes;
  backward(loss);
  assertEquals(memoryStats().liveBytes - fwd, bucketSize(4000), "live bytes after backward: only x.grad");
  disposeAll(y, t, s, loss);
  assertEquals(memoryStats().liveBytes - before, bucketSize(4000));
  x.dispose();
  assertEquals(memoryStats().liveBytes, before - bucketSize(4000));
});

Deno.test("a second backward through a released graph throws; retainGraph runs it again", () => {
  noLeak(() => {
    const x = tensor([1, 2], [2]).requireGrad();
    tidy(() => {
      const loss = sum(mul(x, x));
      backward(loss);
      assertThrows(() => backward(loss), Error, "retainGraph");
    });
    assertEquals(x.grad!.toArray(), [2, 4], "the failed second backward added nothing");
    x.grad!.dispose();
    x.grad = null;
    tidy(() => {
      const loss = sum(mul(x, x));
      backward(loss, { retainGraph: true });
      backward(loss);
    });
    assertEquals(x.grad!.toArray(), [4, 8], "retained graph: gradients add up, like PyTorch");
    x.dispose();
  });
});

Deno.test("saved tensors are freed by backward unless the graph is retained", () => {
  noLeak(() => {
    const x = tensor([1, 2, 3], [3]).requireGrad();
    const withSaved = () => {
      const mask = tensor([1, 0, 1], [3]);
      const out = record(mul(copy(x), mask), "masked", [x], (g) => [mul(g, mask)], [mask]);
      return { out, mask };
    };
    tidy(() => {
      const { out, mask } = withSaved();
      backward(sum(out));
      assertOk(mask.disposed, "saved tensor freed when the graph is released");
    });
    assertEquals(x.grad!.toArray(), [1, 0, 1]);
    tidy(() => {
      const { out, mask } = withSaved();
      backward(sum(out), { retainGraph: true });
      assertOk(!mask.disposed, "saved tensor kept with retainGraph");
    });
    x.dispose();
  });
});

Deno.test("a disposed tensor on the path is an error naming it and its op; nothing is kept on it", () => {
  noLeak(() => {
    const x = tensor([1, 2], [2]).requireGrad();
    tidy(() => {
      const y = mul(x, x);
      const loss = sum(tanh(y));
      y.dispose();
      const e = assertThrows(() => backward(loss), Error, "disposed");
      assertOk(e.message.includes("'mul'") && e.message.includes(`#${y.id}`), e.message);
      assertEquals(y.grad, null);
      assertEquals(x.grad, null);
    });
    // a disposed leaf too
    const w = tensor([3], [1]).requireGrad();
    w.name = "fc.weight";
    tidy(() => {
      const loss = sum(mul(x, w));
      w.dispose();
      assertThrows(() => backward(loss), Error, "'fc.weight'");
    });
    x.dispose();
  });
});

Deno.test("the root gradient must match the root's shape", () => {
  noLeak(() => {
    const x = tensor([1, 2, 3, 4, 5, 6], [2, 3]).requireGrad();
    tidy(() => {
      const y = mul(x, 2);
      assertThrows(() => backward(y, zeros([3, 2])), Error, "does not match root");
      assertThrows(() => backward(y, { grad: zeros([6]) }), Error, "does not match root");
      backward(y, zeros([2, 3]).zero_());
    });
    assertEquals(x.grad!.toArray(), [0, 0, 0, 0, 0, 0]);
    x.dispose();
  });
});
