/**
 * attention's newer options against a float64 reference: an additive (B|1,H|1,Tq,Tk) bias with
 * its gradient (summed over broadcast dims), bottom-right causal alignment, kvLength over a
 * capacity buffer (with the mask given as (B,Tcap) or (B,kvLength)), and the query-chunked
 * backward (B·H smaller than the thread count). Finite differences for q, k, v and the bias.
 * Run: deno test --allow-ffi --allow-read --allow-env tests/ops/attention_bias_test.ts
 */
import { throws as assertThrows } from "node:assert/strict";
import { tensor } from "../../src/tensor/create.ts";
import { tidy } from "../../src/tensor/scope.ts";
import { backward } from "../../src/autograd/tape.ts";
import { attention } from "../../src/ops/attention.ts";
import { assertClose, disposeAll, gradcheck, noLeak, randArray, randLeaf } from "../helpers.ts";

interface Case {
  dims: [number, number, number, number, number]; // B, H, Tq, Tk, D
  biasShape?: [number, number]; // leading dims of the bias (B|1, H|1)
  causal?: "top-left" | "bottom-right";
  pad?: number[]; // padded keys at the end of each batch
  cap?: number; // capacity of k/v (>= Tk): kvLength = Tk
  maskCap?: boolean; // mask given as (B, cap) instead of (B, Tk)
}

/** float64 forward/backward with bias; returns o and grads of q, k, v, bias (full (B,H,Tq,Tk)). */
function ref(
  c: Case,
  q: Float32Array,
  k: Float32Array,
  v: Float32Array,
  bias: Float32Array | null,
  go: Float32Array,
) {
  const [B, H, Tq, Tk, D] = c.dims;
  const [bb, hb] = c.biasShape ?? [1, 1];
  const scale = 1 / Math.sqrt(D);
  const o = new Float64Array(B * H * Tq * D), gq = new Float64Array(o.length);
  const gk = new Float64Array(B * H * Tk * D), gv = new Float64Array(gk.length);
  const gb = new Float64Array(bb * hb * Tq * Tk);
  const off = c.causal === "bottom-right" ? Tk - Tq : 0;
  for (let bh = 0; bh < B * H; bh++) {
    const b = Math.floor(bh / H), h = bh % H;
    const bbase = ((bb === 1 ? 0 : b) * hb + (hb === 1 ? 0 : h)) * Tq * Tk;
    for (let i = 0; i < Tq; i++) {
      const s = new Float64Array(Tk).fill(-Infinity);
      for (let j = 0; j < Tk; j++) {
        if ((c.pad && j >= Tk - c.pad[b]) || (c.causal && j > i + off)) continue;
        let acc = 0;
        for (let d = 0; d < D; d++) acc += q[(bh * Tq + i) * D + d] * k[(bh * Tk + j) * D + d];
        s[j] = acc * scale + (bias ? bias[bbase + i * Tk + j] : 0);
      }
      const m = Math.max(...s);
      if (m === -Infinity) continue;
      const p = s.map((x) => Math.exp(x - m));
      const z = p.reduce((a, x) => a + x, 0);
      for (let j = 0; j < Tk; j++) p[j] /= z;
      const dp = new Float64Array(Tk);
      for (let j = 0; j < Tk; j++) {
        for (let d = 0; d < D; d++) {
          o[(bh * Tq + i) * D + d] += p[j] * v[(bh * Tk + j) * D + d];
          dp[j] += go[(bh * Tq + i) * D + d] * v[(bh * Tk + j) * D + d];
          gv[(bh * Tk + j) * D + d] += p[j] * go[(bh * Tq + i) * D + d];
        }
      }
      const dot = p.reduce((a, pj, j) => a + pj * dp[j], 0);
      for (let j = 0; j < Tk; j++) {
        const ds = p[j] * (dp[j] - dot);
        gb[bbase + i * Tk + j] += ds;
        for (let d = 0; d < D; d++) {
          gq[(bh * Tq + i) * D + d] += ds * scale * k[(bh * Tk + j) * D + d];
          gk[(bh * Tk + j) * D + d] += ds * scale * q[(bh * Tq + i) * D + d];
        }
      }
    }
  }
  return { o, gq, gk, gv, gb };
}

/** (B,H,T,D) rows -> (B,H,cap,D) with garbage beyond T (must not be read). */
function toCap(x: Float32Array, B: number, H: number, T: number, D: number, cap: number): Float32Array {
  const out = new Float32Array(B * H * cap * D).fill(1e4);
  for (let bh = 0; bh < B * H; bh++) out.set(x.subarray(bh * T * D, (bh + 1) * T * D), bh * cap * D);
  return out;
}

function run(c: Case, seed: number) {
  const [B, H, Tq, Tk, D] = c.dims;
  const cap = c.cap ?? Tk;
  const qv = randArray(B * H * Tq * D, seed, -1.5, 1.5), kv = randArray(B * H * Tk * D, seed + 1, -1.5, 1.5);
  const vv = randArray(B * H * Tk * D, seed + 2), gov = randArray(B * H * Tq * D, seed + 3);
  const [bb, hb] = c.biasShape ?? [1, 1];
  const bv = c.biasShape ? randArray(bb * hb * Tq * Tk, seed + 4, -2, 2) : null;
  const r = ref(c, qv, kv, vv, bv, gov);
  tidy(() => {
    const q = tensor(qv, [B, H, Tq, D]).requireGrad();
    const k = tensor(toCap(kv, B, H, Tk, D, cap), [B, H, cap, D]).requireGrad();
    const v = tensor(toCap(vv, B, H, Tk, D, cap), [B, H, cap, D]).requireGrad();
    const bias = bv ? tensor(bv, [bb, hb, Tq, Tk]).requireGrad() : null;
    let mask = null;
    if (c.pad) {
      const w = c.maskCap ? cap : Tk;
      mask = tensor(
        Array.from({ length: B * w }, (_, i) => (i % w < Tk - c.pad![Math.floor(i / w)] ? 1 : 0)),
        [B, w],
      );
    }
    const o = attention(q, k, v, {
      bias,
      keyPaddingMask: mask,
      causal: !!c.causal,
      causalAlign: c.causal,
      kvLength: c.cap ? Tk : undefined,
    });
    const tol = { rtol: 1e-4, atol: 3e-5 };
    const what = JSON.stringify(c);
    assertClose(o.data(), r.o, { ...tol, what: `${what} o` });
    backward(o, tensor(gov, o.shape));
    assertClose(q.grad!.data(), r.gq, { ...tol, what: `${what} dq` });
    const gk = k.grad!.data(), gv = v.grad!.data();
    // rows beyond kvLength get zero gradient
    const ek = new Float64Array(
      toCap(Float32Array.from(r.gk), B, H, Tk, D, cap).map((x) => x === 1e4 ? 0 : x),
    );
    const ev = new Float64Array(
      toCap(Float32Array.from(r.gv), B, H, Tk, D, cap).map((x) => x === 1e4 ? 0 : x),
    );
    assertClose(gk, ek, { ...tol, what: `${what} dk` });
    assertClose(gv, ev, { ...tol, what: `${what} dv` });
    if (bias) assertClose(bias.grad!.data(), r.gb, { ...tol, what: `${what} dbias` });
    disposeAll(q, k, v, ...(bias ? [bias] : []));
  });
}

Deno.test("attention bias: full and broadcast shapes, forward and gradients vs float64", () => {
  noLeak(() => {
    run({ dims: [2, 3, 7, 7, 13], biasShape: [2, 3] }, 1);
    run({ dims: [2, 3, 7, 9, 8], biasShape: [1, 3] }, 2); // T5: one bias per head, shared by the batch
    run({ dims: [2, 2, 5, 6, 4], biasShape: [2, 1] }, 3);
    run({ dims: [3, 2, 70, 45, 64], biasShape: [1, 1] }, 4); // several query blocks
    run({ dims: [2, 2, 9, 9, 16], biasShape: [1, 2], causal: "top-left", pad: [0, 3] }, 5);
  });
});

Deno.test("attention causal bottom-right alignment (decode with a cache) and Tq > Tk", () => {
  noLeak(() => {
    run({ dims: [2, 2, 3, 11, 8], causal: "bottom-right" }, 10);
    run({ dims: [1, 2, 1, 17, 8], causal: "bottom-right", biasShape: [1, 2] }, 11);
    run({ dims: [1, 2, 9, 5, 7], causal: "bottom-right" }, 12); // first 4 queries see nothing
    run({ dims: [1, 1, 66, 80, 17], causal: "bottom-right", pad: [3] }, 13);
    run({ dims: [2, 2, 6, 6, 5], causal: "bottom-right" }, 14); // Tq = Tk: same as top-left
  });
});

Deno.test("attention kvLength reads only the first keys of a capacity buffer", () => {
  noLeak(() => {
    run({ dims: [2, 2, 3, 5, 8], cap: 12 }, 20);
    run({ dims: [2, 2, 1, 7, 8], cap: 16, causal: "bottom-right", pad: [0, 2], maskCap: true }, 21);
    run({ dims: [2, 2, 4, 9, 8], cap: 9, pad: [1, 2] }, 22);
    run({ dims: [1, 3, 2, 6, 8], cap: 10, pad: [1], biasShape: [1, 3], causal: "bottom-right" }, 23);
  });
});

Deno.test("attention backward chunks queries when B·H is small (dK/dV summed across chunks)", () => {
  noLeak(() => {
    run({ dims: [1, 1, 300, 130, 32] }, 30);
    run({ dims: [1, 2, 257, 257, 24], causal: "top-left", biasShape: [1, 2] }, 31);
  });
});

Deno.test("attention bias gradcheck (finite differences)", () => {
  noLeak(() =>
    tidy(() => {
      const q = randLeaf([2, 2, 4, 5], 40), k = randLeaf([2, 2, 6, 5], 41), v = randLeaf([2, 2, 6, 5], 42);
      const b = randLeaf([1, 2, 4, 6], 43);
      gradcheck((a, bb, c, d) => attention(a, bb, c, { bias: d }), [q, k, v, b]);
      gradcheck(
        (a, bb, c, d) => attention(a, bb, c, { bias: d, causal: true, causalAlign: "bottom-right" }),
        [
          q,
          k,
          v,
          b,
        ],
      );
      disposeAll(q, k, v, b);
    })
  );
});

Deno.test("attention option errors name the option and the expected shape", () => {
  noLeak(() =>
    tidy(() => {
      const q = tensor(new Float32Array(2 * 3 * 4 * 8), [2, 3, 4, 8]);
      const k = tensor(new Float32Array(2 * 3 * 10 * 8), [2, 3, 10, 8]);
      assertThrows(
        () => attention(q, k, k, { bias: tensor(new Float32Array(3 * 4 * 10), [3, 1, 4, 10]) }),
        /attention: .*bias \(3,1,4,10\): expected bias \(2\|1,3\|1,4,10\)/,
      );
      assertThrows(
        () => attention(q, k, k, { bias: tensor(new Float32Array(3 * 4 * 10), [1, 3, 4, 10]), kvLength: 6 }),
        /expected bias \(2\|1,3\|1,4,6\)/,
      );
      assertThrows(
        () => attention(q, k, k, { kvLength: 11 }),
        /kvLength must be an integer in \[0, 10\], got 11/,
      );
      assertThrows(
        () => attention(q, k, k, { kvLength: 6, keyPaddingMask: tensor(new Float32Array(14), [2, 7]) }),
        /expected keyPaddingMask \(2,10\) or \(2,6\)/,
      );
      assertThrows(
        () => attention(q, k, k, { causal: true, causalAlign: "center" as unknown as "top-left" }),
        /causalAlign must be/,
      );
    })
  );
});
