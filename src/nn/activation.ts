/**
 * Activation functions by name, so configs can say `act: "gelu"`: erf GELU (BERT, ViT, SAM),
 * tanh GELU (T5's gated-gelu, "gelu_new"), ReLU, SiLU, tanh, sigmoid and identity.
 * @module
 */
import type { Tensor } from "../tensor/tensor.ts";
import { relu, sigmoid, tanh } from "../ops/unary.ts";
import { gelu } from "../ops/gelu.ts";
import { mul } from "../ops/elementwise.ts";

/** Activation names accepted by layers. */
export type Activation = "gelu" | "gelu_tanh" | "relu" | "silu" | "tanh" | "sigmoid" | "identity";

/** Applies the named activation elementwise. */
export function activate(x: Tensor, act: Activation): Tensor {
  switch (act) {
    case "gelu":
      return gelu(x);
    case "gelu_tanh":
      return gelu(x, "tanh");
    case "relu":
      return relu(x);
    case "silu":
      return mul(x, sigmoid(x));
    case "tanh":
      return tanh(x);
    case "sigmoid":
      return sigmoid(x);
    case "identity":
      return x;
    default:
      throw new Error(
        `unknown activation '${act as string}' (gelu, gelu_tanh, relu, silu, tanh, sigmoid, identity)`,
      );
  }
}
