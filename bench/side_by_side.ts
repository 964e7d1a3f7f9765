/**
 * Our side of the PyTorch comparison (driver: bench/compare_torch.py, run by
 * bench/compare_torch.sh): the issue's cases through the real ops, forward and forward+backward,
 * timed with the rule of bench/torch_cases.py (same case ids, same constants).
 *
 * fwd: `tidy(() => noGrad(f))`. fwd+bwd: `tidy(() => backward(f(), g))` with a fixed upstream
 * gradient g (scalar losses: none), then the leaves' gradients are disposed, inside the timed
 * call (torch clears `.grad` in its timed call too). tidy returns every temporary to the caching
 * allocator, so steady-state calls reuse memory.
 *
 * Run: deno run --allow-ffi --allow-read --allow-env bench/side_by_side.ts [--json] [--only ids]
 *   --only: comma list of case ids or id prefixes (gemm, attn, gemm_512x512x512, softmax, ...)
 *   --json: print {id: {fwd_ms, fwdbwd_ms, fwd_n, fwdbwd_n}} (plus "_meta") on stdout, nothing else
 */
import { filled, intTensor, rand, randn, tensor } from "../src/tensor/create.ts";
import { Rng } from "../src/tensor/rng.ts";
import { tidy } from "../src/tensor/scope.ts";
import type { Tensor } from "../src/tensor/tensor.ts";
import { backward, noGrad } from "../src/autograd/tape.ts";
import { cpuKernels } from "../src/backend/cpu.ts";
import { matmul } from "../src/ops/matmul.ts";
import { attention } from "../src/ops/attention.ts";
import { softmax } from "../src/ops/softmax.ts";
import { layerNorm } from "../src/ops/norm.ts";
import { gelu } from "../src/ops/gelu.ts";
import { dropout } from "../src/ops/dropout.ts";
import { sum } from "../src/ops/reduce.ts";
import { coordConv2d } from "../src/ops/conv2d.ts";
import { convTranspose2d } from "../src/ops/conv_transpose2d.ts";
import { bceWithLogits, softDice } from "../src/ops/bce_dice.ts";
import { crossEntropy } from "../src/ops/cross_entropy.ts";
import { embedding } from "../src/ops/embedding.ts";
import { add } from "../src/ops/elementwise.ts";

// Timing rule: keep equal to bench/torch_cases.py.
const WARMUP_CALLS = 2, WARMUP_S = 0.2, BUDGET_S = 0.5, MIN_CALLS = 5, MAX_CALLS = 200;
const DISPATCH_INNER = 1000;

const now = () => performance.now() / 1e3;

/** Warm-up, then single timed calls; returns [median ms, timed calls]. */
function medianMs(fn: () => void): [number, number] {
  const t0 = now();
  fn();
  if (now() - t0 < BUDGET_S) {
    let calls = 1;
    while (calls < 50 && (calls < WARMUP_CALLS || now() - t0 < WARMUP_S)) {
      fn();
      calls++;
    }
  }
  const ts: number[] = [];
  const start = now();
  for (;;) {
    const t = now();
    fn();
    ts.push(now() - t);
    const spent = now() - start;
    if (ts.length >= MAX_CALLS || spent >= 3 * BUDGET_S || (ts.length >= MIN_CALLS && spent >= BUDGET_S)) {
      break;
    }
  }
  ts.sort((a, b) => a - b);
  const n = ts.length;
  const med = n % 2 ? ts[(n - 1) / 2] : 0.5 * (ts[n / 2 - 1] + ts[n / 2]);
  return [med * 1e3, n];
}

interface Case {
  fwd: () => void;
  fwdBwd: (() => void) | null;
}

/** fwd / fwd+bwd of out = f() with `leaves` requiring grad; g = upstream gradient (none: scalar). */
function pair(f: () => Tensor, leaves: Tensor[], g: Tensor | null): Case {
  for (const t of leaves) t.requireGrad();
  return {
    fwd: () => tidy(() => void noGrad(f)),
    fwdBwd: () => {
      tidy(() => backward(f(), g ?? undefined));
      for (const t of leaves) {
        t.grad?.dispose();
        t.grad = null;
      }
    },
  };
}

const GEMM_SHAPES: [number, number, number][] = [
  [3136, 192, 576],
  [3136, 768, 192],
  [512, 512, 512],
  [2048, 2048, 2048],
];

function gemmCase(M: number, N: number, K: number): Case {
  const r = new Rng(1);
  const a = randn([M, K], r), b = randn([K, N], r), g = randn([M, N], r);
  return pair(() => matmul(a, b), [a, b], g);
}

function attentionCase([B, H, Tq, Tk, D]: number[], causal: boolean): Case {
  const r = new Rng(1);
  const q = randn([B, H, Tq, D], r), k = randn([B, H, Tk, D], r), v = randn([B, H, Tk, D], r);
  const g = randn([B, H, Tq, D], r);
  return pair(() => attention(q, k, v, { causal }), [q, k, v], g);
}

/** T5 (learnable (1,H,Tq,Tk) bias) or Q-Former (key-padding mask: row b keeps Tk - b % 8 keys). */
function attentionExtraCase([B, H, Tq, Tk, D]: number[], withBias: boolean, withPad: boolean): Case {
  const r = new Rng(1);
  const q = randn([B, H, Tq, D], r), k = randn([B, H, Tk, D], r), v = randn([B, H, Tk, D], r);
  const g = randn([B, H, Tq, D], r);
  const bias = withBias ? randn([1, H, Tq, Tk], r) : null;
  const mask = withPad
    ? tensor(Array.from({ length: B * Tk }, (_, i) => (i % Tk < Tk - (Math.floor(i / Tk) % 8) ? 1 : 0)), [
      B,
      Tk,
    ])
    : null;
  const leaves = bias ? [q, k, v, bias] : [q, k, v];
  return pair(() => attention(q, k, v, { bias, keyPaddingMask: mask }), leaves, g);
}

const BUILDERS: Record<string, () => Case> = {};
for (const [M, N, K] of GEMM_SHAPES) BUILDERS[`gemm_${M}x${N}x${K}`] = () => gemmCase(M, N, K);
Object.assign(BUILDERS, {
  attn_self: () => attentionCase([16, 3, 197, 197, 64], false),
  attn_cross: () => attentionCase([16, 3, 32, 197, 64], false),
  attn_causal: () => attentionCase([16, 4, 64, 64, 64], true),
  attn_t5_bias: () => attentionExtraCase([16, 4, 64, 64, 64], true, false),
  attn_qf_self: () => attentionExtraCase([16, 3, 64, 64, 64], false, true),
  softmax: () => {
    const r = new Rng(1);
    const x = randn([16, 3, 196, 196], r), g = randn([16, 3, 196, 196], r);
    return pair(() => softmax(x), [x], g);
  },
  layernorm: () => {
    const r = new Rng(1);
    const x = randn([16, 196, 192], r), w = randn([192], r), b = randn([192], r);
    const g = randn([16, 196, 192], r);
    return pair(() => layerNorm(x, w, b), [x, w, b], g);
  },
  gelu: () => {
    const r = new Rng(1);
    const x = randn([16, 196, 768], r), g = randn([16, 196, 768], r);
    return pair(() => gelu(x, "none"), [x], g);
  },
  dropout: () => {
    const r = new Rng(1);
    const x = randn([16, 196, 768], r), g = randn([16, 196, 768], r);
    return pair(() => dropout(x, 0.1, { rng: r }), [x], g);
  },
  bias_grad: () => {
    // the linear bias gradient: column sum of the output gradient (rows, out) over the rows
    const g = randn([3136, 3072], new Rng(1));
    return { fwd: () => tidy(() => void noGrad(() => sum(g, 0))), fwdBwd: null };
  },
  coordconv: () => {
    const r = new Rng(1);
    const x = randn([16, 3, 224, 224], r), w = randn([32, 5, 3, 3], r, 0.2), b = randn([32], r);
    const g = rand([16, 32, 224, 224], r, -1, 1); // uniform: 25.7M normals in JS take a while
    return pair(() => coordConv2d(x, w, b, { padding: 1 }), [x, w, b], g);
  },
  convt: () => {
    const r = new Rng(1);
    const x = randn([16, 128, 14, 14], r), w = randn([128, 64, 2, 2], r, 0.1), b = randn([64], r);
    const g = randn([16, 64, 28, 28], r);
    return pair(() => convTranspose2d(x, w, b, { stride: 2 }), [x, w, b], g);
  },
  bce_dice: () => {
    const r = new Rng(1);
    const x = randn([16, 1, 224, 224], r);
    const yv = new Float32Array(16 * 224 * 224);
    for (let i = 0; i < yv.length; i++) yv[i] = r.uniform() > 0.7 ? 1 : 0;
    const y = tensor(yv, [16, 1, 224, 224]);
    return pair(() => add(bceWithLogits(x, y, { negWeight: 0.2 }), softDice(x, y)), [x], null);
  },
  cross_entropy: () => {
    const r = new Rng(1);
    const x = randn([256, 32128], r);
    const t = intTensor(Array.from({ length: 256 }, (_, i) => (i % 7 === 0 ? -100 : r.int(32128))));
    return pair(() => crossEntropy(x, t, { labelSmoothing: 0.1 }), [x], null);
  },
  embedding: () => {
    const r = new Rng(1);
    const w = randn([32128, 768], r, 0.02);
    const ids = intTensor(Array.from({ length: 16 * 64 }, () => r.int(32128)), [16, 64]);
    const g = randn([16, 64, 768], r);
    return pair(() => embedding(w, ids), [w], g);
  },
  dispatch: () => {
    const a = filled([1], 1), b = filled([1], 1);
    return {
      fwd: () => {
        for (let i = 0; i < DISPATCH_INNER; i++) add(a, b).dispose();
      },
      fwdBwd: null,
    };
  },
});

function select(only: string): string[] {
  const ids = Object.keys(BUILDERS);
  if (!only) return ids;
  const want = only.split(",").map((s) => s.trim()).filter((s) => s);
  const match = (id: string, w: string) => id === w || id.startsWith(w + "_");
  const unknown = want.filter((w) => !ids.some((id) => match(id, w)));
  if (unknown.length) throw new Error(`unknown case(s) ${unknown.join(", ")}; known: ${ids.join(", ")}`);
  return ids.filter((id) => want.some((w) => match(id, w)));
}

function gemmImpl(): string {
  try {
    const lib = cpuKernels({ ft_gemm_impl: { parameters: [], result: "i32", optional: true } });
    const f = lib.ft_gemm_impl;
    if (!f) return "unknown (no ft_gemm_impl)";
    return ["openblas", "own avx512", "own avx2"][f()] ?? "unknown";
  } catch (e) {
    return `unknown (${(e as Error).message.split("\n")[0]})`;
  }
}

function main() {
  const args = Deno.args;
  const json = args.includes("--json");
  const oi = args.indexOf("--only");
  const ids = select(oi >= 0 ? args[oi + 1] ?? "" : "");
  const out: Record<string, Record<string, number | string>> = {
    _meta: {
      gemm_impl: gemmImpl(),
      threads: Deno.env.get("FT_NUM_THREADS") ?? `${navigator.hardwareConcurrency} (hardware)`,
      lib_dir: Deno.env.get("FT_LIB_DIR") ?? "build/",
    },
  };
  for (const id of ids) {
    const c = BUILDERS[id]();
    const r: Record<string, number> = {};
    [r.fwd_ms, r.fwd_n] = medianMs(c.fwd);
    if (id === "dispatch") r.fwd_ms /= DISPATCH_INNER;
    if (c.fwdBwd) [r.fwdbwd_ms, r.fwdbwd_n] = medianMs(c.fwdBwd);
    out[id] = r;
    if (!json) {
      const fb = r.fwdbwd_ms === undefined ? "" : `   fwd+bwd ${r.fwdbwd_ms.toFixed(3)} ms (${r.fwdbwd_n})`;
      console.log(`${id.padEnd(22)} fwd ${r.fwd_ms.toFixed(4)} ms (${r.fwd_n})${fb}`);
    }
  }
  if (json) console.log(JSON.stringify(out));
  else console.log(JSON.stringify(out._meta));
}

main();
