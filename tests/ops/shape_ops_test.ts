// Shape ops: permute / transpose / slice / concat / expand / reshape forward and backward.
import { assertEquals, assertThrows } from "../assert.ts";
import { tensor } from "../../src/tensor/create.ts";
import { tidy } from "../../src/tensor/scope.ts";
import {
  concat,
  expand,
  flatten,
  permute,
  reshape,
  slice,
  stack,
  transpose,
  unsqueeze,
} from "../../src/ops/shape_ops.ts";
import { disposeAll, gradcheck, noLeak, randLeaf } from "../helpers.ts";

Deno.test("permute and transpose reorder elements", () => {
  noLeak(() =>
    tidy(() => {
      const x = tensor(Array.from({ length: 24 }, (_, i) => i), [2, 3, 4]);
      const p = permute(x, [2, 0, 1]);
      assertEquals(p.shape, [4, 2, 3]);
      // p[k,i,j] = x[i,j,k]
      const pv = p.data();
      for (let i = 0; i < 2; i++) {
        for (let j = 0; j < 3; j++) {
          for (let k = 0; k < 4; k++) assertEquals(pv[k * 6 + i * 3 + j], i * 12 + j * 4 + k);
        }
      }
      assertEquals(transpose(tensor([1, 2, 3, 4, 5, 6], [2, 3])).toArray(), [1, 4, 2, 5, 3, 6]);
      assertThrows(() => permute(x, [0, 0, 1]), Error, "permute: bad permutation");
    })
  );
});

Deno.test("slice, concat, stack, expand, reshape", () => {
  noLeak(() =>
    tidy(() => {
      const x = tensor(Array.from({ length: 12 }, (_, i) => i), [3, 4]);
      assertEquals(slice(x, 1, 1, 3).toArray(), [1, 2, 5, 6, 9, 10]);
      assertEquals(slice(x, 0, -1).toArray(), [8, 9, 10, 11]);
      assertEquals(concat([x, slice(x, 1, 0, 1)], 1).shape, [3, 5]);
      assertEquals(stack([x, x], 0).shape, [2, 3, 4]);
      assertEquals(expand(tensor([1, 2], [2, 1]), [2, 3]).toArray(), [1, 1, 1, 2, 2, 2]);
      assertEquals(reshape(x, [2, -1]).shape, [2, 6]);
      assertEquals(flatten(unsqueeze(x, 0)).shape, [12]);
      assertThrows(() => reshape(x, [5, -1]), Error, "reshape: cannot view (3,4) as (5,-1)");
      assertThrows(() => concat([x, tensor([1, 2], [1, 2])], 0), Error, "concat: shapes (3,4) (1,2)");
    })
  );
});

Deno.test("shape op gradients", () => {
  noLeak(() => {
    const x = randLeaf([3, 4, 5], 2), y = randLeaf([3, 2, 5], 3), z = randLeaf([4, 1], 4);
    gradcheck((t) => permute(t, [1, 2, 0]), [x]);
    gradcheck((t) => slice(t, 2, 1, 4), [x]);
    gradcheck((a, b) => concat([a, b], 1), [x, y]);
    gradcheck((t) => expand(t, [2, 4, 3]), [z]);
    gradcheck((t) => reshape(t, [12, 5]), [x]);
    disposeAll(x, y, z);
  });
});
