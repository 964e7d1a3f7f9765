/**
 * KVCache: incremental decoding of a small causal self-attention (token by token and in
 * chunks, with a prompt prefill) equals the uncached full computation; beam-search reorder;
 * capacity and shape errors; the buffers outlive tidy scopes and nothing leaks.
 * Run: deno test --allow-ffi --allow-read --allow-env tests/nn/kv_cache_test.ts
 */
import { throws as assertThrows } from "node:assert/strict";
import { intTensor, tensor } from "../../src/tensor/create.ts";
import { tidy } from "../../src/tensor/scope.ts";
import { noGrad } from "../../src/autograd/tape.ts";
import { attention } from "../../src/ops/attention.ts";
import { slice } from "../../src/ops/shape_ops.ts";
import { KVCache } from "../../src/nn/kv_cache.ts";
import { assertClose, noLeak, randArray } from "../helpers.ts";

const [B, H, T, D] = [2, 3, 11, 8];

Deno.test("KVCache incremental decode equals the uncached causal attention", () => {
  noLeak(() =>
    noGrad(() =>
      tidy(() => {
        const q = tensor(randArray(B * H * T * D, 1), [B, H, T, D]);
        const k = tensor(randArray(B * H * T * D, 2), [B, H, T, D]);
        const v = tensor(randArray(B * H * T * D, 3), [B, H, T, D]);
        const full = attention(q, k, v, { causal: true }).data();
        // prefill 4 positions, then 1, 1, 3, 2 at a time
        using cache = new KVCache({ batch: B, heads: H, capacity: 16, headDim: D });
        const outs: Float32Array[] = [];
        let t0 = 0;
        for (const n of [4, 1, 1, 3, 2]) {
          tidy(() => {
            cache.append(slice(k, 2, t0, t0 + n), slice(v, 2, t0, t0 + n));
            outs.push(Float32Array.from(cache.attend(slice(q, 2, t0, t0 + n)).data()));
          });
          t0 += n;
        }
        // reassemble (B,H,T,D) from the chunks along T
        const got = new Float32Array(B * H * T * D);
        let s = 0;
        for (const [ci, n] of [4, 1, 1, 3, 2].entries()) {
          for (let bh = 0; bh < B * H; bh++) {
            got.set(outs[ci].subarray(bh * n * D, (bh + 1) * n * D), (bh * T + s) * D);
          }
          s += n;
        }
        assertClose(got, full, { rtol: 1e-5, atol: 1e-6, what: "cached vs full" });
        if (cache.length !== 11) throw new Error(`length ${cache.length}`);
      })
    )
  );
});

Deno.test("KVCache.reorder permutes the batch (beam search) and keeps the length", () => {
  noLeak(() =>
    tidy(() => {
      const cache = new KVCache({ batch: 3, heads: 1, capacity: 4, headDim: 2 });
      cache.append(tensor([1, 2, 3, 4, 5, 6], [3, 1, 1, 2]), tensor([6, 5, 4, 3, 2, 1], [3, 1, 1, 2]));
      cache.reorder(intTensor([2, 2, 0], [3]));
      const k = cache.k.data(), v = cache.v.data();
      assertClose([k[0], k[1], k[8], k[9], k[16], k[17]], [5, 6, 5, 6, 1, 2]);
      assertClose([v[0], v[1], v[16], v[17]], [2, 1, 6, 5]);
      if (cache.length !== 1) throw new Error(`length ${cache.length}`);
      cache.dispose();
    })
  );
});

Deno.test("KVCache errors: capacity, shapes, reorder indices, use after dispose", () => {
  noLeak(() =>
    tidy(() => {
      const cache = new KVCache({ batch: 1, heads: 2, capacity: 2, headDim: 4 });
      const x = tensor(new Float32Array(2 * 3 * 4), [1, 2, 3, 4]);
      assertThrows(() => cache.append(x, x), /KVCache.append: 0 \+ 3 positions exceed the capacity 2/);
      const bad = tensor(new Float32Array(8), [1, 1, 2, 4]);
      assertThrows(
        () => cache.append(bad, bad),
        /KVCache.append: k \(1,1,2,4\) float32: expected float32 \(1,2,T,4\)/,
      );
      assertThrows(
        () => cache.reorder(intTensor([0, 0], [2])),
        /KVCache.reorder: indices \(2\) int32: expected int32 \(1\)/,
      );
      cache.dispose();
      assertThrows(() => cache.k, /KVCache: used after dispose/);
    })
  );
});
