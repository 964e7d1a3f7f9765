/**
 * attention: forward vs a float64 reference (self / cross, odd sizes, key padding, causal,
 * fully masked rows), gradients of q, k, v by finite differences and against the reference's
 * analytic backward at a larger size, shape errors, no leaks.
 * Run: deno test --allow-ffi --allow-read --allow-env tests/ops/attention_test.ts
 */
import { throws as assertThrows } from "node:assert/strict";
import { intTensor, tensor } from "../../src/tensor/create.ts";
import { tidy } from "../../src/tensor/scope.ts";
import { backward } from "../../src/autograd/tape.ts";
import { attention } from "../../src/ops/attention.ts";
import { assertClose, disposeAll, gradcheck, noLeak, randArray, randLeaf } from "../helpers.ts";

interface Ref {
  o: Float64Array;
  gq: Float64Array;
  gk: Float64Array;
  gv: Float64Array;
}

/** float64 attention forward and backward (given dL/do = go). */
function ref(
  q: Float32Array,
  k: Float32Array,
  v: Float32Array,
  [B, H, Tq, Tk, D]: number[],
  keep: ((b: number, j: number) => boolean) | null,
  causal: boolean,
  scale: number,
  go: Float32Array,
): Ref {
  const o = new Float64Array(B * H * Tq * D), gq = new Float64Array(o.length);
  const gk = new Float64Array(B * H * Tk * D), gv = new Float64Array(gk.length);
  for (let bh = 0; bh < B * H; bh++) {
    const b = Math.floor(bh / H);
    for (let i = 0; i < Tq; i++) {
      const s = new Float64Array(Tk).fill(-Infinity);
      for (let j = 0; j < Tk; j++) {
        if ((keep && !keep(b, j)) || (causal && j > i)) continue;
        let acc = 0;
        for (let d = 0; d < D; d++) acc += q[(bh * Tq + i) * D + d] * k[(bh * Tk + j) * D + d];
        s[j] = acc * scale;
      }
      const m = Math.max(...s);
      if (m === -Infinity) continue; // zeros
      const p = s.map((x) => Math.exp(x - m));
      const z = p.reduce((a, c) => a + c, 0);
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
        const ds = p[j] * (dp[j] - dot) * scale;
        for (let d = 0; d < D; d++) {
          gq[(bh * Tq + i) * D + d] += ds * k[(bh * Tk + j) * D + d];
          gk[(bh * Tk + j) * D + d] += ds * q[(bh * Tq + i) * D + d];
        }
      }
    }
  }
  return { o, gq, gk, gv };
}

function runCase(
  dims: number[],
  opts: { pad?: number[]; causal?: boolean; int32Mask?: boolean; scale?: number },
  seed: number,
) {
  const [B, H, Tq, Tk, D] = dims;
  const qv = randArray(B * H * Tq * D, seed, -1.5, 1.5);
  const kv = randArray(B * H * Tk * D, seed + 1, -1.5, 1.5);
  const vv = randArray(B * H * Tk * D, seed + 2);
  const gov = randArray(B * H * Tq * D, seed + 3);
  const scale = opts.scale ?? 1 / Math.sqrt(D);
  // pad[b] = number of padded keys at the end of batch b
  const keep = opts.pad ? (b: number, j: number) => j < Tk - opts.pad![b] : null;
  const r = ref(qv, kv, vv, dims, keep, !!opts.causal, scale, gov);
  tidy(() => {
    const q = tensor(qv, [B, H, Tq, D]).requireGrad();
    const k = tensor(kv, [B, H, Tk, D]).requireGrad();
    const v = tensor(vv, [B, H, Tk, D]).requireGrad();
    let mask = null;
    if (keep) {
      const mv = Array.from({ length: B * Tk }, (_, i) => (keep(Math.floor(i / Tk), i % Tk) ? 1 : 0));
      mask = opts.int32Mask ? intTensor(mv, [B, Tk]) : tensor(mv, [B, Tk]);
    }
    const o = attention(q, k, v, { keyPaddingMask: mask, causal: opts.causal, scale: opts.scale });
    const tol = { rtol: 1e-4, atol: 2e-5 };
    const what = `${dims} ${JSON.stringify(opts)}`;
    const od = o.data();
    for (let i = 0; i < od.length; i++) if (Number.isNaN(od[i])) throw new Error(`${what}: NaN in output`);
    assertClose(od, r.o, { ...tol, what: `${what} o` });
    backward(o, tensor(gov, o.shape));
    assertClose(q.grad!.data(), r.gq, { ...tol, what: `${what} dq` });
    assertClose(k.grad!.data(), r.gk, { ...tol, what: `${what} dk` });
    assertClose(v.grad!.data(), r.gv, { ...tol, what: `${what} dv` });
    disposeAll(q, k, v);
  });
}

Deno.test("attention forward+backward match float64 reference (self, cross, odd sizes)", () => {
  noLeak(() => {
    runCase([2, 3, 7, 7, 13], {}, 1);
    runCase([1, 2, 5, 11, 8], {}, 2); // cross: Tq != Tk
    runCase([2, 1, 9, 3, 16], { scale: 0.3 }, 3);
    runCase([1, 2, 70, 45, 64], {}, 4); // several query blocks, 2 column tiles
    runCase([1, 1, 1, 1, 1], {}, 5);
  });
});

Deno.test("attention masks: key padding (float and int32), causal, fully masked rows give zeros", () => {
  noLeak(() => {
    runCase([2, 2, 7, 7, 13], { pad: [2, 0] }, 10);
    runCase([2, 2, 6, 9, 5], { pad: [1, 4], int32Mask: true }, 11);
    runCase([2, 3, 7, 7, 13], { causal: true }, 12);
    runCase([1, 2, 9, 5, 7], { causal: true }, 13); // Tq > Tk, top-left aligned
    runCase([1, 1, 66, 66, 17], { causal: true, pad: [3] }, 14);
    runCase([3, 2, 5, 6, 4], { pad: [6, 0, 6] }, 15); // batches 0 and 2 fully padded
  });
});

Deno.test("attention gradcheck (finite differences)", () => {
  noLeak(() =>
    tidy(() => {
      const q = randLeaf([1, 2, 5, 7], 20), k = randLeaf([1, 2, 6, 7], 21), v = randLeaf([1, 2, 6, 7], 22);
      gradcheck((a, b, c) => attention(a, b, c), [q, k, v]);
      gradcheck((a, b, c) => attention(a, b, c, { causal: true }), [q, k, v]);
      const m = tensor([1, 1, 1, 0, 1, 0], [1, 6]);
      gradcheck((a, b, c) => attention(a, b, c, { keyPaddingMask: m }), [q, k, v]);
      disposeAll(q, k, v);
    })
  );
});

Deno.test("attention errors name the op and shapes", () => {
  noLeak(() =>
    tidy(() => {
      const q = tensor(new Float32Array(2 * 3 * 4 * 8), [2, 3, 4, 8]);
      const k = tensor(new Float32Array(2 * 3 * 5 * 8), [2, 3, 5, 8]);
      const k7 = tensor(new Float32Array(2 * 3 * 5 * 7), [2, 3, 5, 7]);
      assertThrows(() => attention(q, k7, k7), /attention: q \(2,3,4,8\), k \(2,3,5,7\)/);
      assertThrows(() => attention(q, k, q), /attention: .*v \(2,3,4,8\).*expected q \(B,H,Tq,D\)/);
      assertThrows(
        () => attention(q, k, k, { keyPaddingMask: tensor([1, 1, 1, 1], [1, 4]) }),
        /attention: .*keyPaddingMask \(1,4\): expected keyPaddingMask \(2,5\)/,
      );
      assertThrows(() => attention(tensor([1, 2], [2]), k, k), /attention: q \(2\)/);
    })
  );
});
