/**
 * `Embedding` (PyTorch nn.Embedding): a (num, dim) table indexed by int32 ids. Init is
 * N(0, std²) with std 1 (PyTorch) by default; BERT / ViT-style models pass std 0.02.
 * `paddingIdx` (PyTorch's padding_idx): that row starts at zero and never receives a gradient,
 * on every device (the table is drawn and zeroed on the host, then uploaded).
 * @module
 */
import type { Tensor } from "../tensor/tensor.ts";
import { randomInitSkipped, tensor } from "../tensor/create.ts";
import { defaultRng, type Rng } from "../tensor/rng.ts";
import { embedding } from "../ops/embedding.ts";
import { Module } from "./module.ts";

/** Options of `Embedding`. */
export interface EmbeddingOptions {
  /** Init std of N(0, std²) (default 1, PyTorch). */
  std?: number;
  /** Row zeroed at init whose gradient is always zero (PyTorch's padding_idx). */
  paddingIdx?: number;
  /** Seeded generator. */
  rng?: Rng;
}

/** Lookup table: ids int32 (...) -> (..., dim). */
export class Embedding extends Module {
  /** (num, dim). */
  readonly weight: Tensor;
  /** The padding row (no gradient), if any. */
  readonly paddingIdx?: number;

  /** `num` rows of size `dim`. */
  constructor(readonly num: number, readonly dim: number, opts: EmbeddingOptions = {}) {
    super();
    const pad = opts.paddingIdx;
    // validate before allocating: a throw after randn would orphan the table outside any scope
    if (pad !== undefined && (!Number.isInteger(pad) || pad < 0 || pad >= num)) {
      throw new Error(`Embedding: paddingIdx ${pad} out of range [0, ${num})`);
    }
    this.paddingIdx = pad;
    // drawn on the host (same numbers on every device), padding row zeroed before the upload
    const rng = opts.rng ?? defaultRng(), std = opts.std ?? 1;
    const v = new Float32Array(num * dim);
    if (!randomInitSkipped()) { for (let i = 0; i < v.length; i++) v[i] = std * rng.normal(); }
    if (pad !== undefined) v.fill(0, pad * dim, (pad + 1) * dim);
    this.weight = this.param("weight", tensor(v, [num, dim]));
  }

  /** ids int32 (...) -> (..., dim). */
  forward(ids: Tensor): Tensor {
    return embedding(this.weight, ids, { paddingIdx: this.paddingIdx });
  }
}
