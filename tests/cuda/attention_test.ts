// Attention on CUDA vs CPU: fp32 path (D 16/64/128) and bf16/fp16 tensor-core path (D 64),
// key padding (float and int32 masks), causal, cross-attention with Tq != Tk, fully masked
// rows, forward and gradients of q, k, v; raw 16-bit entry vs a float64 reference.
import { compareOp, cudaTest, expectClose, TOL, type Tol } from "./cuda_helpers.ts";
import { attention } from "../../src/ops/attention.ts";
import { CUDA_HALF_SYMBOLS, cudaRaw, setCudaMath } from "../../src/backend/cuda.ts";
import { kernels } from "../../src/backend/dispatch.ts";
import { randArray } from "../helpers.ts";
import type { Tensor } from "../../src/tensor/tensor.ts";

type Case = {
  B: number;
  H: number;
  Tq: number;
  Tk: number;
  D: number;
  causal?: boolean;
  mask?: "f32" | "i32";
};

const CASES: Case[] = [
  { B: 2, H: 3, Tq: 17, Tk: 17, D: 64 },
  { B: 2, H: 2, Tq: 130, Tk: 130, D: 64, causal: true },
  { B: 2, H: 2, Tq: 32, Tk: 197, D: 64, mask: "f32" },
  { B: 1, H: 2, Tq: 200, Tk: 70, D: 64, mask: "i32", causal: true },
  { B: 2, H: 1, Tq: 65, Tk: 129, D: 16 },
  { B: 1, H: 2, Tq: 40, Tk: 33, D: 128, mask: "f32" },
];

function maskValues(B: number, Tk: number): number[] {
  // batch 0 keeps a prefix (padding), batch 1 (if any) masks every key: fully masked rows
  return Array.from({ length: B * Tk }, (_, i) => (i < Tk ? (i % Tk < Tk - 5 ? 1 : 0) : 0));
}

function runCases(tag: string, tol: Tol, gradTol: Tol): void {
  for (const c of CASES) {
    const inputs = [
      { shape: [c.B, c.H, c.Tq, c.D], grad: true, seed: 1 },
      { shape: [c.B, c.H, c.Tk, c.D], grad: true, seed: 2 },
      { shape: [c.B, c.H, c.Tk, c.D], grad: true, seed: 3 },
    ];
    const withMask = c.mask
      ? [...inputs, { shape: [c.B, c.Tk], values: maskValues(c.B, c.Tk), int: c.mask === "i32" }]
      : inputs;
    compareOp(
      `${tag} attention ${JSON.stringify(c)}`,
      (q: Tensor, kk: Tensor, v: Tensor, m?: Tensor) =>
        attention(q, kk, v, { causal: !!c.causal, keyPaddingMask: m ?? null }),
      withMask,
      tol,
      gradTol,
    );
  }
}

cudaTest("fp32 attention (CUDA cores) matches the CPU", () => runCases("fp32", TOL.fp32, TOL.fp32));

cudaTest("bf16 autocast attention (tensor cores for D = 64)", () => {
  setCudaMath({ autocast: "bf16" });
  runCases("bf16", TOL.bf16, { rtol: 1e-1, atol: 5e-2, norm: 2e-2 });
});

cudaTest("fp16 autocast attention", () => {
  setCudaMath({ autocast: "fp16" });
  runCases("fp16", TOL.fp16, { rtol: 3e-2, atol: 1e-2, norm: 5e-3 });
});

const k = kernels(CUDA_HALF_SYMBOLS);

cudaTest("raw bf16 flash forward vs float64 reference", () => {
  const [B, H, Tq, Tk, D] = [1, 2, 70, 90, 64];
  const toBf = (v: Float32Array) =>
    Uint16Array.from(new Uint32Array(v.buffer), (x) => (x + 0x7fff + ((x >> 16) & 1)) >>> 16);
  const fromBf = (h: Uint16Array) => new Float32Array(Uint32Array.from(h, (x) => x << 16).buffer);
  const q = toBf(randArray(B * H * Tq * D, 1)),
    kk = toBf(randArray(B * H * Tk * D, 2)),
    v = toBf(randArray(B * H * Tk * D, 3));
  const qf = fromBf(q), kf = fromBf(kk), vf = fromBf(v);
  const scale = 1 / 8;
  const ref = new Float32Array(B * H * Tq * D);
  for (let h = 0; h < B * H; h++) {
    for (let i = 0; i < Tq; i++) {
      const s = new Float64Array(Tk);
      let m = -Infinity;
      for (let j = 0; j < Tk; j++) {
        let d = 0;
        for (let e = 0; e < D; e++) d += qf[(h * Tq + i) * D + e] * kf[(h * Tk + j) * D + e];
        s[j] = d * scale;
        m = Math.max(m, s[j]);
      }
      let z = 0;
      for (let j = 0; j < Tk; j++) z += s[j] = Math.exp(s[j] - m);
      for (let e = 0; e < D; e++) {
        let o = 0;
        for (let j = 0; j < Tk; j++) o += s[j] * vf[(h * Tk + j) * D + e];
        ref[(h * Tq + i) * D + e] = o / z;
      }
    }
  }
  const pq = cudaRaw.malloc(q.byteLength),
    pk = cudaRaw.malloc(kk.byteLength),
    pv = cudaRaw.malloc(v.byteLength);
  const po = cudaRaw.malloc(q.byteLength), pl = cudaRaw.malloc(B * H * Tq * 4);
  cudaRaw.upload(pq, q);
  cudaRaw.upload(pk, kk);
  cudaRaw.upload(pv, v);
  const st = k("cuda").ft_cuda_attention_fwd_16(
    1,
    BigInt(B),
    BigInt(H),
    BigInt(Tq),
    BigInt(Tk),
    BigInt(D),
    scale,
    0,
    pq,
    pk,
    pv,
    po,
    pl,
  );
  if (st !== 0) throw new Error(`status ${st}`);
  const o = new Uint16Array(B * H * Tq * D);
  cudaRaw.download(o, po);
  expectClose(fromBf(o), ref, { rtol: 3e-2, atol: 1e-2, norm: 1e-2 }, "flash fwd bf16");
  for (const p of [pq, pk, pv, po, pl]) cudaRaw.free(p);
});
