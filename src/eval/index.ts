/**
 * Evaluation: conlleval-exact entity scoring, the conlleval text report, entity spans and the tidy per-layer
 * results table. (`evaluate(model, dataset)` and `predict(model, sentences)` build on these.)
 */
// parseTag / startOfChunk / endOfChunk stay internal to chunks.ts (src/data exports its own parseTag)
export { chunks } from './chunks.js';
export type { Chunk, ChunkMode, TagLocation } from './chunks.js';
export { scoreEntities, prf } from './metric.js';
export type { EntityScores, TypeScore, PRF, ScoreOptions, GoldInput } from './metric.js';
export { conllevalReport, printfFixed2 } from './report.js';
export { entitySpans } from './spans.js';
export type { EntitySpan, SpanOptions } from './spans.js';
export { layerRows, resultsFrame, resultsTable, formatPercent, type ResultTableRow } from './table.js';
export type { ResultRow, LayerPredictions, LayerRowsInput } from './table.js';
export { evaluate, evaluateRows, type EvalSplit, type EvaluateOptions } from './evaluate.js';
export {
  runHeads,
  predictLayerTags,
  predict,
  pretokenize,
  type RunHeadsOptions,
  type HeadOutputs,
  type Prediction,
} from './predict.js';
