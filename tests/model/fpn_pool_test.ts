/**
 * The FPN's sequence pooling (src/model/fpn.ts `adaptivePool1d`) against a float64
 * adaptive_avg_pool1d reference: the group-mean path (N divides L, e.g. the tiny config's
 * 3136 -> 196) and the pooling-matrix path (N does not divide L, down and up), their
 * gradients by finite differences, and the error for a missing matrix.
 * Run: deno test --allow-all tests/model/fpn_pool_test.ts
 */
import { assertEquals, assertThrows } from "../assert.ts";
import { tensor } from "../../src/tensor/create.ts";
import { tidy } from "../../src/tensor/scope.ts";
import { adaptivePool1d, adaptivePoolMatrix } from "../../src/model/fpn.ts";
import { assertClose, disposeAll, gradcheck, noLeak, randArray, randLeaf } from "../helpers.ts";

/** adaptive_avg_pool1d in float64: output j averages [floor(j·L/N), ceil((j+1)·L/N)). */
function refPool(x: Float32Array, rows: number, L: number, N: number): Float64Array {
  const y = new Float64Array(rows * N);
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < N; j++) {
      const s = Math.floor((j * L) / N), e = Math.ceil(((j + 1) * L) / N);
      let acc = 0;
      for (let i = s; i < e; i++) acc += x[r * L + i];
      y[r * N + j] = acc / (e - s);
    }
  }
  return y;
}

Deno.test("adaptivePool1d matches adaptive_avg_pool1d (group mean and matrix paths)", () => {
  noLeak(() =>
    tidy(() => {
      for (
        const [B, C, L, N] of [[1, 4, 3136, 196], [2, 3, 12, 4], [2, 3, 13, 4], [1, 2, 7, 10], [2, 2, 9, 9]]
      ) {
        const v = randArray(B * C * L, L + N);
        const matrix = L % N === 0 ? null : tensor(adaptivePoolMatrix(L, N), [L, N]);
        const y = adaptivePool1d(tensor(v, [B, C, L]), N, matrix);
        assertEquals(y.shape, [B, C, N]);
        assertClose(y.data(), refPool(v, B * C, L, N), { what: `adaptivePool1d ${L} -> ${N}` });
      }
    })
  );
});

Deno.test("adaptivePool1d gradients (group mean and matrix paths)", () => {
  noLeak(() => {
    const x = randLeaf([2, 3, 12], 7);
    const m = tensor(adaptivePoolMatrix(12, 5), [12, 5]);
    gradcheck((t) => adaptivePool1d(t, 4, null), [x]);
    gradcheck((t) => adaptivePool1d(t, 5, m), [x]);
    disposeAll(x, m);
  });
});

Deno.test("adaptivePool1d without the matrix it needs names the shapes", () => {
  noLeak(() =>
    tidy(() => {
      const x = tensor(randArray(2 * 3 * 13, 1), [2, 3, 13]);
      assertThrows(() => adaptivePool1d(x, 4, null), Error, "seq (2,3,13) to 4 positions needs the (13, 4)");
    })
  );
});
