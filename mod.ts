/**
 * ForgeryTalker on Deno — the public library surface. Re-exports only; see README.md for the
 * map and ../shared/DESIGN.md for the contracts (names here are part of them).
 * @module
 */

// engine: tensors, memory, randomness
export { type DType, getDefaultDevice, setDefaultDevice, Tensor, toDevice } from "./src/tensor/tensor.ts";
export { type Device, emptyCache, type MemoryStats, memoryStats } from "./src/tensor/storage.ts";
export { keep, tidy } from "./src/tensor/scope.ts";
export { defaultRng, manualSeed, Rng, type RngState } from "./src/tensor/rng.ts";
export {
  arange,
  type CreateOptions,
  filled,
  intTensor,
  ones,
  rand,
  randn,
  tensor,
  truncNormal,
  type TruncNormalOptions,
  zeros,
} from "./src/tensor/create.ts";
export { broadcastShapes, numel, type Shape } from "./src/tensor/shape.ts";
// autograd, including what custom ops need (`record`, `recordReads`, `needsGrad`, `graphTidy`; see
// docs/nn_train.md)
export {
  backward,
  type BackwardOptions,
  detach,
  graphTidy,
  isGradEnabled,
  needsGrad,
  noGrad,
  record,
  recordReads,
} from "./src/autograd/tape.ts";
export type { GradNode } from "./src/tensor/tensor.ts";
export { cudaAvailable, type DeviceChoice, resolveDevice, useDevice } from "./src/backend/device.ts";

// ops
export {
  add,
  addScalar,
  clone,
  div,
  full,
  greater,
  maximum,
  minimum,
  mul,
  neg,
  pow,
  scale,
  sub,
} from "./src/ops/elementwise.ts";
export {
  abs,
  cos,
  exp,
  leakyRelu,
  log,
  relu,
  rsqrt,
  sigmoid,
  sin,
  sqrt,
  square,
  tanh,
} from "./src/ops/unary.ts";
export { gelu } from "./src/ops/gelu.ts";
export { max, maxWithIndex, mean, sum } from "./src/ops/reduce.ts";
export {
  concat,
  expand,
  flatten,
  permute,
  reshape,
  slice,
  squeeze,
  stack,
  transpose,
  unsqueeze,
} from "./src/ops/shape_ops.ts";
export { matmul, type MatmulOptions } from "./src/ops/matmul.ts";
export { linear } from "./src/ops/linear.ts";
export { logSoftmax, softmax } from "./src/ops/softmax.ts";
export { layerNorm, rmsNorm } from "./src/ops/norm.ts";
export { attention, type AttentionOptions } from "./src/ops/attention.ts";
export { embedding, type EmbeddingOpOptions } from "./src/ops/embedding.ts";
export { crossEntropy, type CrossEntropyOptions } from "./src/ops/cross_entropy.ts";
export { dropout } from "./src/ops/dropout.ts";
export { infoNCE, l2Normalize } from "./src/ops/infonce.ts";
export { conv2d, type Conv2dOptions, coordConv2d } from "./src/ops/conv2d.ts";
export { convTranspose2d } from "./src/ops/conv_transpose2d.ts";
export { adaptiveAvgPool1x1, avgPool2d, maxPool2d } from "./src/ops/pool.ts";
export { batchNorm2d } from "./src/ops/batchnorm.ts";
export { interpolate, type ResizeMode } from "./src/ops/resize.ts";
export { gather, indexSelect } from "./src/ops/gather.ts";
export { maskedFill, where } from "./src/ops/where.ts";
export { cast, oneHot } from "./src/ops/cast.ts";
export { cumsum } from "./src/ops/cumsum.ts";
export { pad } from "./src/ops/pad.ts";
export { tril, triu } from "./src/ops/masks.ts";
export { argmax, type TopK, topk } from "./src/ops/topk.ts";
export { bceWithLogits, softDice } from "./src/ops/bce_dice.ts";

// nn
export { type LoadOptions, type LoadResult, Module, ModuleList, type StateDict } from "./src/nn/module.ts";
export { Linear } from "./src/nn/linear.ts";
export { LayerNorm, LayerNorm2d, RMSNorm } from "./src/nn/norm.ts";
export { KVCache, type KVCacheOptions } from "./src/nn/kv_cache.ts";
export { Embedding, type EmbeddingOptions } from "./src/nn/embedding.ts";
export { MLP } from "./src/nn/mlp.ts";
export { MultiHeadAttention } from "./src/nn/attention.ts";
export { Conv2d, CoordConv } from "./src/nn/conv.ts";
export { ConvTranspose2d } from "./src/nn/conv_transpose.ts";
export { BatchNorm2d } from "./src/nn/batchnorm.ts";
export { Dropout } from "./src/nn/dropout.ts";
export * as init from "./src/nn/init.ts";

// the model (docs/model.md)
export { VisionTransformer, ViTBlock } from "./src/nn/vit.ts";
export { QFormer } from "./src/nn/qformer.ts";
export { TwoWayTransformer } from "./src/nn/two_way_transformer.ts";
export { T5, type T5DecodeCache } from "./src/nn/t5.ts";
export {
  CONFIGS,
  type DecoderKind,
  type ForgeryTalkerConfig,
  resolveConfig,
  type TemplateKind,
} from "./src/model/config.ts";
export {
  ForgeryTalker,
  type ForwardOutput,
  type LossOptions,
  type LossTerms,
  type LossWeights,
  type ModelBatch,
} from "./src/model/forgerytalker.ts";
export { ForgeryPrompter } from "./src/model/fpn.ts";
export { SamMaskDecoder, TokenMlpMaskDecoder } from "./src/model/mask_decoder.ts";
export { contrastiveLoss, fpnLoss, segLoss, tokenLoss } from "./src/model/losses.ts";
export { instruction, OFFICIAL_TEMPLATE, PAPER_TEMPLATE, selectedRegions } from "./src/model/instruction.ts";
export { countParameters } from "./src/model/param_count.ts";
export { exampleBatch } from "./src/model/example_batch.ts";
export { type Decoded, type DecodeOptions, generate } from "./src/infer/generate.ts";

// training
export { type Stage, train, type TrainOptions } from "./src/train/trainer.ts";
export { type CheckpointMeta, readCheckpoint, saveCheckpoint } from "./src/train/run_checkpoint.ts";
export {
  Optimizer,
  type OptimizerDefaults,
  type ParamGroup,
  type ParamGroupSpec,
  type ParamList,
} from "./src/train/optimizer.ts";
export { AdamW, type AdamWOptions } from "./src/train/adamw.ts";
export { SGD, type SGDOptions } from "./src/train/sgd.ts";
export { clipGradNorm, gradNorm } from "./src/train/clip.ts";
export { constant, warmupConstant, warmupCosine } from "./src/train/schedule.ts";
export { decayGroups, freezePrefixes, setTrainable, trainableParameters } from "./src/train/freeze.ts";
export { LossScaler, type LossScalerOptions, type LossScalerState } from "./src/train/loss_scale.ts";
export {
  decodeSafetensors,
  encodeSafetensors,
  loadModule,
  loadSafetensors,
  saveModule,
  saveSafetensors,
} from "./src/train/checkpoint.ts";
export {
  type CheckpointEntry,
  checkpointFormat,
  convertToSafetensors,
  listCheckpoint,
  loadTorchCheckpoint,
  loadTorchStateDict,
  openTorchCheckpoint,
  type TorchCheckpoint,
  type TorchDType,
  type TorchLoadOptions,
} from "./src/train/torch_checkpoint.ts";

// data
export { type MMTTRecord, readMMTT, SPLIT_FILES } from "./src/data/mmtt.ts";
export { regionLabels, REGIONS } from "./src/data/regions.ts";
export { decodeImage, encodePng, type Image, readImage, writePng } from "./src/data/image_io.ts";
export { Tokenizer } from "./src/data/tokenizer.ts";
export { SentencePieceTokenizer, type SpmEncodeOptions } from "./src/data/sentencepiece.ts";
export {
  type WordPieceEncodeOptions,
  type WordPieceEncoding,
  WordPieceTokenizer,
} from "./src/data/wordpiece.ts";
export { MMTTLoader } from "./src/data/loader.ts";
export { augment, degrade, preprocessImage, ROBUSTNESS } from "./src/data/transforms.ts";
// photo mode of the generator: forge a real face photo with an exact mask and caption (docs/data.md)
export {
  BUNDLED_PHOTOS,
  type ForgedPhoto,
  forgePhoto,
  type ForgePhotoOptions,
} from "./src/data/photos/forge.ts";

// evaluation
export { captionMetrics, evaluate, maskMetrics, plm, ptbTokenize } from "./src/eval/mod.ts";

// inference: the forensic report (DESIGN §6) and model-driven evaluation
export {
  analyze,
  analyzeBatch,
  type AnalyzeOptions,
  type ImageInput,
  type LoadedModel,
  loadModel,
  type Report,
  reportJSON,
  unloadModel,
  wrapModel,
} from "./src/infer/analyze.ts";
export { renderOverlay } from "./src/infer/overlay.ts";
export { maskPng, type OutputFiles, writeOutputs } from "./src/infer/outputs.ts";
export { predictSplit, type PredictSplitOptions } from "./src/infer/predict_split.ts";
