/**
 * The Forgery Prompter Network (FPN): its own ViT whose first `convBlocks` (m) blocks see the
 * patch tokens plus features of a parallel conv branch, and a 21-way sigmoid head on the
 * final CLS. The conv branch follows the official code: AddCoords on the RGB input, then a
 * CoordConv (which adds its own two coordinate channels: 3 + 2 + 2 = 7 input channels)
 * k3 s2 p1 -> BatchNorm -> LeakyReLU -> MaxPool 2, then Conv k5 s2 p2 -> BatchNorm -> ReLU ->
 * MaxPool 2. Each stage's feature map is flattened to a token sequence and average-pooled
 * along the sequence to the number of patches (PyTorch `adaptive_avg_pool1d`), then added to
 * the patch tokens entering block i (the CLS is left alone).
 *
 * images (B, 3, S, S) -> logits (B, 21), features (B, 1 + N, dim) after the final norm.
 * @module
 */
import { type Tensor, toDevice } from "../tensor/tensor.ts";
import { defaultRng, type Rng } from "../tensor/rng.ts";
import { tensor } from "../tensor/create.ts";
import { keep } from "../tensor/scope.ts";
import { add } from "../ops/elementwise.ts";
import { concat, expand, permute, reshape, slice } from "../ops/shape_ops.ts";
import { matmul } from "../ops/matmul.ts";
import { mean } from "../ops/reduce.ts";
import { leakyRelu, relu } from "../ops/unary.ts";
import { maxPool2d } from "../ops/pool.ts";
import { Module } from "../nn/module.ts";
import { Linear } from "../nn/linear.ts";
import { Conv2d, CoordConv } from "../nn/conv.ts";
import { BatchNorm2d } from "../nn/batchnorm.ts";
import { VisionTransformer } from "../nn/vit.ts";
import type { FPNConfig } from "./config.ts";

/**
 * The (L, N) matrix of PyTorch's adaptive_avg_pool1d from L to N positions: output j averages
 * inputs [floor(j·L/N), ceil((j+1)·L/N)).
 */
export function adaptivePoolMatrix(L: number, N: number): Float32Array {
  const m = new Float32Array(L * N);
  for (let j = 0; j < N; j++) {
    const s = Math.floor((j * L) / N), e = Math.ceil(((j + 1) * L) / N);
    for (let i = s; i < e; i++) m[i * N + j] = 1 / (e - s);
  }
  return m;
}

/**
 * PyTorch's adaptive_avg_pool1d of seq (B, C, L) to N positions -> (B, C, N). When N divides L
 * the windows are the consecutive groups of L / N, and a mean over them is ~L/N times cheaper
 * than the dense product; otherwise `matrix` must be `adaptivePoolMatrix(L, N)` as an (L, N)
 * tensor. Differentiable either way.
 */
export function adaptivePool1d(seq: Tensor, N: number, matrix: Tensor | null): Tensor {
  const [B, C, L] = seq.shape;
  if (L === N) return seq;
  if (L % N === 0) return mean(reshape(seq, [B, C, N, L / N]), 3);
  if (!matrix || matrix.shape[0] !== L || matrix.shape[1] !== N) {
    throw new Error(
      `adaptivePool1d: seq (${seq.shape}) to ${N} positions needs the (${L}, ${N}) pooling matrix, got ${
        matrix ? `(${matrix.shape})` : "none"
      }`,
    );
  }
  return matmul(seq, matrix);
}

/** AddCoords channels for an H×W input: (2, H, W), the first varying along H, in [-1, 1]. */
export function coordChannels(H: number, W: number): Float32Array {
  const c = new Float32Array(2 * H * W);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      c[y * W + x] = H > 1 ? Math.fround(Math.fround(y / (H - 1)) * 2 - 1) : -1;
      c[H * W + y * W + x] = W > 1 ? Math.fround(Math.fround(x / (W - 1)) * 2 - 1) : -1;
    }
  }
  return c;
}

/** What the FPN returns. */
export interface FPNOutput {
  /** (B, 21) region logits. */
  logits: Tensor;
  /** (B, 1 + N, dim) final-norm tokens (CLS first). */
  features: Tensor;
}

/** The Forgery Prompter Network. */
export class ForgeryPrompter extends Module {
  /** The ViT trunk (separate q/k/v attention, final norm), ViT-H/14 layout in `paper`. */
  readonly vit: VisionTransformer;
  /** Stage 1 conv (CoordConv over RGB + AddCoords). */
  readonly coordConv: CoordConv;
  /** Stage 1 norm. */
  readonly bn1: BatchNorm2d;
  /** Stage 2 conv. */
  readonly conv2: Conv2d;
  /** Stage 2 norm. */
  readonly bn2: BatchNorm2d;
  /** dim -> 21. */
  readonly head: Linear;
  #coords: Tensor;
  /** Per conv stage: the (L, N) pooling matrix when N does not divide L, else null. */
  readonly #pools: (Tensor | null)[] = [];

  /** Builds the FPN for square inputs of `imageSize`. */
  constructor(readonly cfg: FPNConfig, readonly imageSize: number, numRegions = 21, rng: Rng = defaultRng()) {
    super();
    if (cfg.convBlocks > 2) {
      throw new Error(`ForgeryPrompter: convBlocks ${cfg.convBlocks} > 2 (the conv branch has two stages)`);
    }
    this.vit = this.child(
      "vit",
      new VisionTransformer({
        imageSize,
        patchSize: cfg.patchSize,
        dim: cfg.dim,
        depth: cfg.depth,
        heads: cfg.heads,
        mlpDim: cfg.mlpDim,
        eps: cfg.eps,
        attention: "separate",
        finalNorm: true,
        rng,
      }),
    );
    const d = cfg.dim;
    this.coordConv = this.child("coord_conv", new CoordConv(5, d, 3, { stride: 2, padding: 1, rng }));
    this.bn1 = this.child("bn1", new BatchNorm2d(d));
    this.conv2 = this.child("conv2", new Conv2d(d, d, 5, { stride: 2, padding: 2, rng }));
    this.bn2 = this.child("bn2", new BatchNorm2d(d));
    this.head = this.child("head", new Linear(d, numRegions, { rng }));
    this.#coords = keep(tensor(coordChannels(imageSize, imageSize), [1, 2, imageSize, imageSize]));
    const N = this.vit.grid * this.vit.grid;
    const s1 = Math.floor(Math.floor((imageSize - 1) / 2 + 1) / 2); // conv s2 p1 k3, then pool 2
    const s2 = Math.floor(Math.floor((s1 - 1) / 2 + 1) / 2); // conv s2 p2 k5, then pool 2
    for (const side of [s1, s2]) {
      const L = side * side;
      // N divides L (tiny: 3136 = 16 · 196): adaptivePool1d takes a group mean, no matrix
      this.#pools.push(L % N === 0 ? null : keep(tensor(adaptivePoolMatrix(L, N), [L, N])));
    }
  }

  override dispose(): void {
    super.dispose();
    this.#coords.dispose();
    for (const p of this.#pools) p?.dispose();
  }

  /** (B, C, h, w) -> (B, N, C) pooled along the flattened sequence. */
  #toTokens(f: Tensor, stage: number): Tensor {
    const [B, C, h, w] = f.shape;
    const seq = reshape(f, [B, C, h * w]); // (B, C, L) = the transposed token sequence
    const pooled = adaptivePool1d(seq, this.vit.grid * this.vit.grid, this.#pools[stage]); // (B, C, N)
    return permute(pooled, [0, 2, 1]);
  }

  /** images (B, 3, S, S), CLIP-normalised -> logits and features. */
  forward(images: Tensor): FPNOutput {
    const B = images.shape[0];
    if (this.#coords.device !== images.device) {
      const moved = keep(toDevice(this.#coords, images.device));
      this.#coords.dispose();
      this.#coords = moved;
      this.#pools.forEach((p, i) => {
        if (p) {
          this.#pools[i] = keep(toDevice(p, images.device));
          p.dispose();
        }
      });
    }
    const m = this.cfg.convBlocks;
    const conv: Tensor[] = [];
    if (m > 0) {
      const coords = expand(this.#coords, [B, 2, this.imageSize, this.imageSize]);
      const x5 = concat([images, coords], 1); // (B, 5, S, S)
      const c1 = maxPool2d(leakyRelu(this.bn1.forward(this.coordConv.forward(x5))), 2);
      conv.push(this.#toTokens(c1, 0));
      if (m > 1) {
        const c2 = maxPool2d(relu(this.bn2.forward(this.conv2.forward(c1))), 2);
        conv.push(this.#toTokens(c2, 1));
      }
    }
    let x = this.vit.embed(images);
    const T = x.shape[1];
    this.vit.blocks.items.forEach((blk, i) => {
      if (i < conv.length) x = concat([slice(x, 1, 0, 1), add(slice(x, 1, 1, T), conv[i])], 1);
      x = blk.forward(x);
    });
    const features = this.vit.norm!.forward(x);
    const cls = reshape(slice(features, 1, 0, 1), [B, this.cfg.dim]);
    return { logits: this.head.forward(cls), features };
  }
}
