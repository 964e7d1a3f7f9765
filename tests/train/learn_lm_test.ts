/**
 * Learning test (1): a small causal transformer — token + position embeddings, 2 pre-LN blocks
 * (MultiHeadAttention causal + MLP, LayerNorm), final LayerNorm, linear head, cross-entropy —
 * learns from scratch to continue a repeating pattern: each sequence repeats a random
 * 4-token pattern, so after the first period every next token is a copy of the token 4 back
 * (attention must find it). Seeded and deterministic; asserts the loss on the predictable
 * positions falls at least 30x within 100 AdamW steps and that live bytes return to the start.
 */
import { ok as assert } from "node:assert/strict";
import { intTensor } from "../../src/tensor/create.ts";
import { Rng } from "../../src/tensor/rng.ts";
import { tidy } from "../../src/tensor/scope.ts";
import type { Tensor } from "../../src/tensor/tensor.ts";
import { backward } from "../../src/autograd/tape.ts";
import { add } from "../../src/ops/elementwise.ts";
import { crossEntropy } from "../../src/ops/cross_entropy.ts";
import { slice } from "../../src/ops/shape_ops.ts";
import { Module, ModuleList } from "../../src/nn/module.ts";
import { Linear } from "../../src/nn/linear.ts";
import { LayerNorm } from "../../src/nn/norm.ts";
import { MLP } from "../../src/nn/mlp.ts";
import { MultiHeadAttention } from "../../src/nn/attention.ts";
import { Embedding } from "../../src/nn/embedding.ts";
import { AdamW } from "../../src/train/adamw.ts";
import { clipGradNorm } from "../../src/train/clip.ts";
import { warmupCosine } from "../../src/train/schedule.ts";
import { decayGroups } from "../../src/train/freeze.ts";
import { noLeak } from "../helpers.ts";

const V = 8, T = 16, P = 4, D = 32, HEADS = 4;

/** Pre-LN transformer block: x + attn(ln1(x)), then + mlp(ln2(x)). */
class Block extends Module {
  readonly ln1: LayerNorm;
  readonly attn: MultiHeadAttention;
  readonly ln2: LayerNorm;
  readonly mlp: MLP;
  constructor(rng: Rng) {
    super();
    this.ln1 = this.child("ln1", new LayerNorm(D));
    this.attn = this.child("attn", new MultiHeadAttention(D, { numHeads: HEADS, rng }));
    this.ln2 = this.child("ln2", new LayerNorm(D));
    this.mlp = this.child("mlp", new MLP(D, 4 * D, { act: "gelu", rng }));
  }
  forward(x: Tensor): Tensor {
    const h = this.ln1.forward(x);
    x = add(x, this.attn.forward(h, h, h, { causal: true }));
    return add(x, this.mlp.forward(this.ln2.forward(x)));
  }
}

class TinyLM extends Module {
  readonly tok: Embedding;
  readonly pos: Embedding;
  readonly blocks: ModuleList<Block>;
  readonly lnF: LayerNorm;
  readonly head: Linear;
  constructor(rng: Rng) {
    super();
    this.tok = this.child("tok", new Embedding(V, D, { std: 0.5, rng }));
    this.pos = this.child("pos", new Embedding(T, D, { std: 0.5, rng }));
    this.blocks = this.child("blocks", new ModuleList([new Block(rng), new Block(rng)]));
    this.lnF = this.child("ln_f", new LayerNorm(D));
    this.head = this.child("head", new Linear(D, V, { rng }));
  }
  /** ids int32 (B, T) -> logits (B, T, V). */
  forward(ids: Tensor): Tensor {
    const positions = intTensor([...Array(T).keys()], [T]);
    let x = add(this.tok.forward(ids), this.pos.forward(positions)); // (B,T,D) + (T,D)
    for (const b of this.blocks) x = b.forward(x);
    return this.head.forward(this.lnF.forward(x));
  }
}

/** B sequences of T tokens, each a random P-token pattern repeated. */
function batch(rng: Rng, B: number): number[] {
  const out: number[] = [];
  for (let b = 0; b < B; b++) {
    const pat = Array.from({ length: P }, () => rng.int(V));
    for (let t = 0; t < T; t++) out.push(pat[t % P]);
  }
  return out;
}

Deno.test("learning: small transformer continues repeating patterns (loss falls >= 30x in 100 steps)", () => {
  noLeak(() => {
    const rng = new Rng(7);
    const net = new TinyLM(rng.fork(1));
    const data = rng.fork(2);
    const steps = 100, B = 16;
    const opt = new AdamW(decayGroups(net, 0.01), { lr: 5e-3, betas: [0.9, 0.98] });
    const sched = warmupCosine({ warmupSteps: 10, totalSteps: steps, floor: 0.1 });
    const losses: number[] = [];
    const t0 = performance.now();
    for (let s = 0; s < steps; s++) {
      const ids = batch(data, B);
      // inputs: tokens 0..T-2; targets: tokens 1..T-1, scored from position P-1 on (predictable)
      // targets before position P-1 are unpredictable: ignored (-100) like PyTorch's ignore_index
      const tgt: number[] = [];
      for (let b = 0; b < B; b++) for (let t = 1; t < T; t++) tgt.push(t >= P ? ids[b * T + t] : -100);
      opt.setLrFactor(sched(s));
      losses.push(tidy(() => {
        const logits = slice(net.forward(intTensor(ids, [B, T])), 1, 0, T - 1); // (B, T-1, V)
        const loss = crossEntropy(logits, intTensor(tgt, [B, T - 1]));
        backward(loss);
        return loss.item();
      }));
      clipGradNorm(net.parameters(), 1);
      opt.step();
      opt.zeroGrad();
    }
    const ms = (performance.now() - t0) / steps;
    const first = losses[0], last = losses.slice(-10).reduce((a, b) => a + b, 0) / 10;
    console.log(
      `  lm: loss ${first.toFixed(4)} -> ${last.toFixed(4)} (last-10 mean, ${(first / last).toFixed(1)}x), ${
        ms.toFixed(1)
      } ms/step`,
    );
    console.log(`  lm: curve ${losses.filter((_, i) => i % 10 === 0).map((l) => l.toFixed(3)).join(" ")}`);
    assert(first / last >= 30, `loss fell only ${(first / last).toFixed(2)}x (${first} -> ${last})`);
    opt.dispose();
    net.dispose();
  });
});
