/**
 * `Embedding` (PyTorch nn.Embedding): a (num, dim) table indexed by int32 ids. Init is
 * N(0, std²) with std 1 (PyTorch) by default; BERT / ViT-style models pass std 0.02.
 * @module
 */
import type { Tensor } from "../tensor/tensor.ts";
import { randn } from "../tensor/create.ts";
import { defaultRng, type Rng } from "../tensor/rng.ts";
import { embedding } from "../ops/embedding.ts";
import { Module } from "./module.ts";

/** Options of `Embedding`. */
export interface EmbeddingOptions {
  /** Init std of N(0, std²) (default 1, PyTorch). */
  std?: number;
  /**
   * Row zeroed at init (PyTorch's padding_idx). Unlike PyTorch its gradient is not masked:
   * callers that must keep it at zero should pass an ignored target / mask instead.
   */
  paddingIdx?: number;
  /** Seeded generator. */
  rng?: Rng;
}

/** Lookup table: ids int32 (...) -> (..., dim). */
export class Embedding extends Module {
  /** (num, dim). */
  readonly weight: Tensor;

  /** `num` rows of size `dim`. */
  constructor(readonly num: number, readonly dim: number, opts: EmbeddingOptions = {}) {
    super();
    const pad = opts.paddingIdx;
    // validate before allocating: a throw after randn would orphan the table outside any scope
    if (pad !== undefined && (!Number.isInteger(pad) || pad < 0 || pad >= num)) {
      throw new Error(`Embedding: paddingIdx ${pad} out of range [0, ${num})`);
    }
    const w = randn([num, dim], opts.rng ?? defaultRng(), opts.std ?? 1);
    if (pad !== undefined) w.data().fill(0, pad * dim, (pad + 1) * dim);
    this.weight = this.param("weight", w);
  }

  /** ids int32 (...) -> (..., dim). */
  forward(ids: Tensor): Tensor {
    return embedding(this.weight, ids);
  }
}
