// matmul (all transposes, batch broadcasting) and linear vs float64; gradients; errors.
import { assertEquals, assertThrows } from "../assert.ts";
import { tensor } from "../../src/tensor/create.ts";
import { tidy } from "../../src/tensor/scope.ts";
import { matmul } from "../../src/ops/matmul.ts";
import { linear } from "../../src/ops/linear.ts";
import { assertClose, disposeAll, gradcheck, noLeak, randArray, randLeaf } from "../helpers.ts";

/** float64 (M,K)@(K,N) over a broadcast batch; a,b given as plain (batch, rows, cols) arrays. */
function refMatmul(
  a: Float32Array,
  aBatch: number,
  ar: number,
  ac: number,
  tA: boolean,
  b: Float32Array,
  bBatch: number,
  br: number,
  bc: number,
  tB: boolean,
): number[] {
  const M = tA ? ac : ar, K = tA ? ar : ac, N = tB ? br : bc;
  const batch = Math.max(aBatch, bBatch);
  const out: number[] = [];
  for (let p = 0; p < batch; p++) {
    const ao = (aBatch === 1 ? 0 : p) * ar * ac, bo = (bBatch === 1 ? 0 : p) * br * bc;
    for (let i = 0; i < M; i++) {
      for (let j = 0; j < N; j++) {
        let s = 0;
        for (let k = 0; k < K; k++) {
          const av = tA ? a[ao + k * ac + i] : a[ao + i * ac + k];
          const bv = tB ? b[bo + j * bc + k] : b[bo + k * bc + j];
          s += av * bv;
        }
        out.push(s);
      }
    }
  }
  return out;
}

Deno.test("matmul: all transposes, odd sizes, batch broadcast", () => {
  noLeak(() =>
    tidy(() => {
      const sizes: [number, number, number][] = [[1, 1, 1], [7, 5, 3], [33, 17, 65], [64, 48, 130], [
        130,
        31,
        9,
      ]];
      for (const [M, N, K] of sizes) {
        for (const tA of [false, true]) {
          for (const tB of [false, true]) {
            for (const [aB, bB] of [[1, 1], [3, 3], [3, 1], [1, 2]]) {
              const [ar, ac] = tA ? [K, M] : [M, K];
              const [br, bc] = tB ? [N, K] : [K, N];
              const av = randArray(aB * ar * ac, M + N), bv = randArray(bB * br * bc, K + 1);
              const a = tensor(av, aB === 1 && bB === 1 ? [ar, ac] : [aB, ar, ac]);
              const b = tensor(bv, bB === 1 && aB === 1 ? [br, bc] : bB === 1 ? [br, bc] : [bB, br, bc]);
              const out = matmul(a, b, { transA: tA, transB: tB });
              assertEquals(out.shape.slice(-2), [M, N]);
              assertClose(out.data(), refMatmul(av, aB, ar, ac, tA, bv, bB, br, bc, tB), {
                rtol: 1e-4,
                atol: 1e-4,
                what: `matmul M${M} N${N} K${K} tA${tA} tB${tB} batch ${aB}/${bB}`,
              });
            }
          }
        }
      }
    })
  );
});

Deno.test("matmul and linear gradients", () => {
  noLeak(() => {
    const a = randLeaf([2, 5, 4], 1), b = randLeaf([4, 3], 2), bt = randLeaf([2, 3, 4], 3);
    gradcheck((x, y) => matmul(x, y), [a, b]);
    gradcheck((x, y) => matmul(x, y, { transB: true }), [a, bt]);
    const at = randLeaf([2, 4, 5], 9), c = randLeaf([2, 4, 3], 10);
    gradcheck((x, y) => matmul(x, y, { transA: true }), [at, c]);
    gradcheck((x, y) => matmul(x, y, { transA: true, transB: true }), [at, bt]);
    disposeAll(at, c);
    const x = randLeaf([2, 3, 6], 4), w = randLeaf([5, 6], 5), bias = randLeaf([5], 6);
    gradcheck((p, q, r) => linear(p, q, r), [x, w, bias]);
    gradcheck((p, q) => linear(p, q), [x, w]);
    disposeAll(a, b, bt, x, w, bias);
  });
});

Deno.test("linear matches x @ w^T + b", () => {
  noLeak(() =>
    tidy(() => {
      const xv = randArray(4 * 7, 1), wv = randArray(3 * 7, 2), bv = randArray(3, 3);
      const out = linear(tensor(xv, [4, 7]), tensor(wv, [3, 7]), tensor(bv, [3]));
      const ref = refMatmul(xv, 1, 4, 7, false, wv, 1, 3, 7, true).map((v, i) => v + bv[i % 3]);
      assertClose(out.data(), ref, { rtol: 1e-5, atol: 1e-5 });
    })
  );
});

Deno.test("matmul / linear shape errors", () => {
  noLeak(() =>
    tidy(() => {
      const a = tensor(new Float32Array(6), [2, 3]), b = tensor(new Float32Array(8), [4, 2]);
      assertThrows(() => matmul(a, b), Error, "matmul: inner sizes differ: (2,3) x (4,2)");
      assertThrows(() => linear(a, b), Error, "linear: x (2,3), weight (4,2)");
      assertThrows(() => matmul(tensor([1, 2, 3]), a), Error, "matmul: operands need 2+ dims");
    })
  );
});

Deno.test("linear with in = 0: the output is the bias broadcast over every row (zeros without a bias)", () => {
  noLeak(() =>
    tidy(() => {
      const x = tensor([], [5, 0]), w = tensor([], [3, 0]), b = tensor([1.5, -2, 4], [3]);
      assertEquals(Array.from(linear(x, w, b).data()), [
        1.5,
        -2,
        4,
        1.5,
        -2,
        4,
        1.5,
        -2,
        4,
        1.5,
        -2,
        4,
        1.5,
        -2,
        4,
      ]);
      assertEquals(Array.from(linear(x, w).data()), new Array(15).fill(0));
    })
  );
});
