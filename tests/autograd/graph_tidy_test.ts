/**
 * `graphTidy` (src/autograd/tape.ts) and the `reads` declaration of `record`: activations no
 * backward reads are freed when the scope ends (they stay graph nodes), activations a backward
 * reads are freed by `backward` right after their last reader ran, gradients are bit-identical
 * to the plain run, an under-declared read fails loudly, and without gradients it is `tidy`.
 * Run: .tools/deno test -A tests/autograd/graph_tidy_test.ts
 */
import { assertEquals, assertOk, assertThrows } from "../assert.ts";
import { Tensor } from "../../src/tensor/tensor.ts";
import { tidy } from "../../src/tensor/scope.ts";
import { memoryStats } from "../../src/tensor/storage.ts";
import { add, scale } from "../../src/ops/elementwise.ts";
import { linear } from "../../src/ops/linear.ts";
import { gelu } from "../../src/ops/gelu.ts";
import { permute } from "../../src/ops/shape_ops.ts";
import { sum } from "../../src/ops/reduce.ts";
import { backward, graphTidy, noGrad, record, recordReads } from "../../src/autograd/tape.ts";
import { disposeAll, noLeak, randLeaf } from "../helpers.ts";

// x (4, 8, 16) -> h = linear(x, w1) (4, 8, 16) -> p = permute(h) (8, 4, 16) -> y = gelu(p)
// -> out = y + linear(y, w2). h is read by nobody's backward (permute copies), p by gelu's,
// y by the second linear's, the second linear's output by nobody's (the add).
interface Seen {
  h?: Tensor;
  p?: Tensor;
  y?: Tensor;
  z?: Tensor;
}
function block(x: Tensor, w1: Tensor, w2: Tensor, seen: Seen): Tensor {
  const h = seen.h = linear(x, w1);
  const p = seen.p = permute(h, [1, 0, 2]);
  const y = seen.y = gelu(p);
  const z = seen.z = linear(y, w2);
  return add(y, z);
}

function leaves(): Tensor[] {
  return [randLeaf([4, 8, 16], 1), randLeaf([16, 16], 2, -0.3, 0.3), randLeaf([16, 16], 3, -0.3, 0.3)];
}

Deno.test("graphTidy frees unread activations at scope end, read ones after their last reader; same gradients", () => {
  noLeak(() => {
    const [x, w1, w2] = leaves();
    // reference: the plain forward, every activation alive until the outer tidy ends
    const ref = tidy(() => {
      backward(sum(block(x, w1, w2, {})));
      return [x, w1, w2].map((t) => Array.from(t.grad!.data()));
    });
    for (const t of [x, w1, w2]) t.grad!.dispose(), t.grad = null;

    tidy(() => {
      const seen: Seen = {};
      const base = memoryStats().liveBytes;
      const plainBytes = tidy(() => {
        block(x, w1, w2, {});
        return memoryStats().liveBytes - base;
      });
      const out = graphTidy(() => block(x, w1, w2, seen));
      const kept = memoryStats().liveBytes - base;
      // h and z: freed at once, still graph nodes; p and y: handed over for the backward
      assertOk(seen.h!.hollow && seen.h!.disposed, "h (read by no backward) was not freed");
      assertOk(seen.z!.hollow && seen.z!.disposed, "z (read only by the residual add) was not freed");
      assertOk(!seen.p!.disposed && seen.p!.graphOwned && seen.p!.readers === 1, "p must stay for gelu");
      assertOk(!seen.y!.disposed && seen.y!.graphOwned && seen.y!.readers === 1, "y must stay for linear");
      assertOk(
        kept <= plainBytes - 2 * seen.h!.size * 4,
        `graphTidy kept ${kept} bytes, the plain forward ${plainBytes}`,
      );
      // metadata of a hollow tensor stays readable; its data does not, and says why
      assertEquals([...seen.h!.shape], [4, 8, 16]);
      assertEquals(seen.h!.device, "cpu");
      assertThrows(() => seen.h!.data(), Error, "freed by graphTidy");

      backward(sum(out));
      // the backward freed what it no longer reads, before the outer scope ends
      assertOk(seen.p!.disposed && seen.y!.disposed, "backward did not free p and y after their readers");
      const got = [x, w1, w2].map((t) => Array.from(t.grad!.data()));
      for (let i = 0; i < 3; i++) assertEquals(got[i], ref[i], `gradient ${i} differs from the plain run`);
    });
    disposeAll(x, w1, w2);
  });
});

Deno.test("graphTidy with retainGraph: nothing read is freed, the second backward adds the same gradients", () => {
  noLeak(() => {
    const [x, w1, w2] = leaves();
    tidy(() => {
      const seen: Seen = {};
      const out = graphTidy(() => block(x, w1, w2, seen));
      backward(sum(out), { retainGraph: true });
      assertOk(!seen.p!.disposed && !seen.y!.disposed, "a retained graph lost activations");
      const first = Array.from(w1.grad!.data());
      backward(sum(out));
      const twice = Array.from(w1.grad!.data());
      twice.forEach((v, i) =>
        assertOk(Math.abs(v - 2 * first[i]) <= 1e-6 * Math.abs(v) + 1e-7, `w1.grad[${i}]`)
      );
    });
    disposeAll(x, w1, w2);
  });
});

Deno.test("an op that under-declares its reads fails in backward with an error naming graphTidy", () => {
  noLeak(() => {
    const a = randLeaf([3, 5], 4);
    tidy(() => {
      const out = graphTidy(() => {
        const x = scale(a, 2); // read by the op below, which declares no reads
        const y = Tensor.empty(x.shape);
        y.set(x.data());
        return recordReads(y, "badOp", [x], [], (g) => {
          x.data(); // reads x without having declared it
          return [g];
        });
      });
      assertThrows(() => backward(sum(out)), Error, "freed by graphTidy");
    });
    disposeAll(a);
  });
});

Deno.test("graphTidy without gradients is a plain tidy; undeclared ops keep their tensors", () => {
  noLeak(() => {
    const [x, w1, w2] = leaves();
    const seen: Seen = {};
    const before = memoryStats().liveBytes;
    const out = noGrad(() => graphTidy(() => block(x, w1, w2, seen)));
    assertOk(seen.h!.disposed && seen.p!.disposed && seen.y!.disposed && seen.z!.disposed);
    assertOk(!seen.h!.hollow, "no graph: plainly disposed");
    assertEquals(memoryStats().liveBytes - before, out.storage.capacity);
    out.dispose();
    // an op without a reads declaration: its output and inputs stay until the outer scope
    tidy(() => {
      let inner: Tensor | null = null;
      const o = graphTidy(() => {
        inner = scale(x, 3);
        const y = Tensor.empty(inner.shape).zero_();
        return record(y, "undeclared", [inner], (g) => [g]);
      });
      assertOk(!inner!.disposed && inner!.graphOwned, "an undeclared op's input was freed");
      backward(sum(o));
      assertOk(inner!.disposed, "backward did not free it after its reader ran");
    });
    disposeAll(x, w1, w2);
  });
});
