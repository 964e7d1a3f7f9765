// Elementwise ops: broadcasting forward vs float64 reference, gradients by finite differences,
// error messages, and live bytes back to their start.
import { assertEquals, assertThrows } from "../assert.ts";
import { tensor } from "../../src/tensor/create.ts";
import { tidy } from "../../src/tensor/scope.ts";
import { add, div, maximum, minimum, mul, pow, scale, sub } from "../../src/ops/elementwise.ts";
import { abs, exp, leakyRelu, log, relu, rsqrt, sigmoid, sqrt, square, tanh } from "../../src/ops/unary.ts";
import { assertClose, disposeAll, gradcheck, noLeak, randArray, randLeaf } from "../helpers.ts";

function refBinary(
  a: Float32Array,
  as: number[],
  b: Float32Array,
  bs: number[],
  os: number[],
  f: (x: number, y: number) => number,
): number[] {
  const n = os.reduce((p, q) => p * q, 1);
  const out: number[] = [];
  const idx = (shape: number[], o: number[]) => {
    let off = 0;
    const d = os.length - shape.length;
    for (let i = 0; i < shape.length; i++) off = off * shape[i] + (shape[i] === 1 ? 0 : o[i + d]);
    return off;
  };
  for (let i = 0; i < n; i++) {
    const o: number[] = [];
    let r = i;
    for (let j = os.length - 1; j >= 0; j--) {
      o[j] = r % os[j];
      r = Math.floor(r / os[j]);
    }
    out.push(f(a[idx(as, o)], b[idx(bs, o)]));
  }
  return out;
}

const cases: [number[], number[], number[]][] = [
  [[3, 5], [3, 5], [3, 5]],
  [[2, 3, 7], [7], [2, 3, 7]],
  [[4, 1, 5], [1, 6, 1], [4, 6, 5]],
  [[1], [2, 9], [2, 9]],
  [[2, 1, 3, 1], [3, 4], [2, 1, 3, 4]],
];
const fns: [string, typeof add, (x: number, y: number) => number][] = [
  ["add", add, (x, y) => x + y],
  ["sub", sub, (x, y) => x - y],
  ["mul", mul, (x, y) => x * y],
  ["div", div, (x, y) => x / y],
];

Deno.test("binary ops broadcast like numpy and match float64", () => {
  noLeak(() =>
    tidy(() => {
      for (const [as, bs, os] of cases) {
        const av = randArray(as.reduce((p, q) => p * q, 1), 1);
        const bv = randArray(bs.reduce((p, q) => p * q, 1), 2, 0.5, 2);
        const a = tensor(av, as), b = tensor(bv, bs);
        for (const [name, f, ref] of fns) {
          const out = f(a, b);
          assertEquals(out.shape, os, `${name} shape`);
          assertClose(out.data(), refBinary(av, as, bv, bs, os, ref), { what: `${name} ${as} ${bs}` });
        }
      }
    })
  );
});

Deno.test("binary ops backward (finite differences, broadcast reduction)", () => {
  noLeak(() => {
    for (const [as, bs] of cases) {
      const a = randLeaf(as, 3), b = randLeaf(bs, 4, 0.5, 2);
      for (const [, f] of fns) {
        gradcheck(f, [a, b]);
        a.grad?.dispose(), b.grad?.dispose();
        a.grad = null, b.grad = null;
      }
      gradcheck(maximum, [a, b]);
      disposeAll(a, b);
    }
  });
});

Deno.test("unary ops forward vs float64 and backward", () => {
  const ops: [
    string,
    (t: ReturnType<typeof tensor>) => ReturnType<typeof tensor>,
    (x: number) => number,
    number,
    number,
  ][] = [
    ["exp", exp, Math.exp, -2, 2],
    ["log", log, Math.log, 0.1, 3],
    ["sqrt", sqrt, Math.sqrt, 0.2, 3],
    ["rsqrt", rsqrt, (x) => 1 / Math.sqrt(x), 0.2, 3],
    ["tanh", tanh, Math.tanh, -3, 3],
    ["sigmoid", sigmoid, (x) => 1 / (1 + Math.exp(-x)), -6, 6],
    ["relu", relu, (x) => Math.max(0, x), -1, 1],
    ["leakyRelu", (t) => leakyRelu(t, 0.1), (x) => (x > 0 ? x : 0.1 * x), -1, 1],
    ["abs", abs, Math.abs, -1, 1],
    ["square", square, (x) => x * x, -2, 2],
    ["pow", (t) => pow(t, 1.5), (x) => x ** 1.5, 0.2, 2],
    ["scale", (t) => scale(t, -2.5), (x) => -2.5 * x, -1, 1],
  ];
  noLeak(() => {
    for (const [name, f, ref, lo, hi] of ops) {
      const v = randArray(37, 11, lo, hi);
      tidy(() => {
        const out = f(tensor(v, [37]));
        assertClose(out.data(), Array.from(v, ref), { rtol: 2e-6, atol: 1e-6, what: name });
      });
      // keep probes away from kinks (relu/abs at 0)
      const x = randLeaf([5, 7], 12, lo, hi);
      gradcheck(f, [x], { eps: (hi - lo) * 1e-3 });
      x.dispose();
    }
  });
});

Deno.test("NaN and Inf propagate", () => {
  noLeak(() =>
    tidy(() => {
      const a = tensor([NaN, Infinity, -Infinity, 1], [4]);
      const b = tensor([1, 1, 1, 0], [4]);
      const q = div(a, b).toArray();
      assertEquals(Number.isNaN(q[0]), true);
      assertEquals(q.slice(1), [Infinity, -Infinity, Infinity]);
      assertEquals(Number.isNaN(relu(a).toArray()[0]), true);
      assertEquals(Number.isNaN(maximum(a, b).toArray()[0]), true);
      assertEquals(Number.isNaN(minimum(a, b).toArray()[0]), true);
    })
  );
});

Deno.test("shape mismatch errors name the op and the shapes", () => {
  noLeak(() =>
    tidy(() => {
      const a = tensor(new Float32Array(6), [2, 3]), b = tensor(new Float32Array(4), [4]);
      assertThrows(() => add(a, b), Error, "add: shapes (2,3) and (4) do not broadcast");
      assertThrows(() => mul(a, b), Error, "mul: shapes (2,3) and (4)");
    })
  );
});
