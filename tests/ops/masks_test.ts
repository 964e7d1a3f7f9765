/**
 * tril / triu: 0/1 masks vs the definition (square, wide, tall, positive and negative k),
 * errors, no leaks.
 * Run: deno test --allow-ffi --allow-read --allow-env tests/ops/masks_test.ts
 */
import { deepStrictEqual, throws as assertThrows } from "node:assert/strict";
import { tidy } from "../../src/tensor/scope.ts";
import { tril, triu } from "../../src/ops/masks.ts";
import { noLeak } from "../helpers.ts";

Deno.test("tril / triu match torch.tril / torch.triu of ones", () => {
  noLeak(() =>
    tidy(() => {
      for (const [r, c] of [[4, 4], [3, 6], [6, 3], [1, 1], [0, 3]]) {
        for (const k of [-2, -1, 0, 1, 3]) {
          const lo = tril(r, c, k).toArray(), up = triu(r, c, k).toArray();
          const wl: number[] = [], wu: number[] = [];
          for (let i = 0; i < r; i++) {
            for (let j = 0; j < c; j++) {
              wl.push(j <= i + k ? 1 : 0);
              wu.push(j >= i + k ? 1 : 0);
            }
          }
          deepStrictEqual(lo, wl, `tril ${r}x${c} k ${k}`);
          deepStrictEqual(up, wu, `triu ${r}x${c} k ${k}`);
        }
      }
      deepStrictEqual(tril(2, 3).toArray(), [1, 0, 0, 1, 1, 0]);
      assertThrows(() => tril(-1, 2), /tril: rows must be a non-negative integer, got -1/);
      assertThrows(() => triu(2, 2, 0.5), /triu: k must be an integer, got 0.5/);
    })
  );
});
