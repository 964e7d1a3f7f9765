/**
 * Public evaluation API: caption metrics exactly as the COCO caption evaluation computes
 * them, localization metrics, PLM, and the standalone evaluator.
 */
export {
  javaLowerCase,
  PTB_PUNCTUATIONS,
  ptbTokenize,
  ptbTokenizerOutput,
  ptbTokenizeRun,
  ptbTokens,
} from "./ptb_tokenizer.ts";
export { type CaptionMetricOptions, captionMetrics, type CaptionScores } from "./caption_metrics.ts";
export { bleuScores } from "./bleu.ts";
export { lcsLength, rougeL, rougeScores } from "./rouge.ts";
export { ciderScores } from "./cider.ts";
export {
  meteorFromStats,
  meteorResources,
  meteorScores,
  meteorSegmentStats,
  type MeteorStats,
} from "./meteor/scorer.ts";
export { snowballStem } from "./meteor/stemmer.ts";
export {
  type GtMask,
  imageScores,
  MaskAccumulator,
  maskCounts,
  maskMetrics,
  type MaskScores,
  type ProbMap,
} from "./mask_metrics.ts";
export { NUM_REGIONS, plm, plmSample } from "./plm.ts";
export { evaluate, type EvaluateOptions, type EvaluationReport, PredictionIssue } from "./evaluator.ts";
export { formatTable, REPORT_COLUMNS, type ReportRow } from "./report.ts";
