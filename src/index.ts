/**
 * msd-ner: zero-shot cross-lingual NER with MSD (Mixture of Short-channel Distillers, Ma et al., EMNLP 2022).
 *
 * The public API: what notebooks and users call, by topic. Internals (kernels, loss input checks, the training
 * loop's parts, cache files, tokenizer pieces) stay in their modules, and tests import those modules directly.
 * A feature of another issue appends one marked block at the end.
 */

// Backend and tensors
export {
  initBackend,
  activeBackend,
  parseBackendName,
  BACKEND_NAMES,
  type BackendInfo,
  type BackendName,
  type InitBackendOptions,
} from './backend/init.js';
export { tf } from './tf.js';
export type * from './tf.js';

// Configuration (src/config.ts holds every default)
export {
  resolveConfig,
  parseSets,
  configToJson,
  headLayerList,
  PRESETS,
  PAPER,
  TINY,
  type MsdConfig,
  type ModelConfig,
  type DataConfig,
  type OptimConfig,
  type TeacherConfig,
  type StudentConfig,
  type RunConfig,
  type DeepPartial,
} from './config.js';

// Data
export {
  loadDataset,
  availableDatasets,
  DATASET_NAMES,
  type Dataset,
  type DatasetName,
  type Split,
  type LoadDatasetOptions,
} from './data/registry.js';
export { readConll, type ConllOptions } from './data/conll.js';
export { readWikiann } from './data/wikiann.js';
export { readMulticoner } from './data/multiconer.js';
export { loadHubDataset, ensureDataset, ensureCorpus, type HubOptions } from './data/hub.js';
export { HUB_CORPORA } from './data/hub-corpora.js';
export { unlabelled } from './data/unlabelled.js';
export { datasetStats, splitStats, type SplitStats } from './data/stats.js';
export { labelSchema, STANDARD_TYPES } from './data/schema.js';
export { DataError } from './data/errors.js';
export type { Sentence, UnlabelledSentence, AnySentence, LabelSchema, LoadReport } from './data/types.js';

// Tokenizer
export { loadTokenizer, type LoadTokenizerOptions } from './tokenizer/load.js';
export type { WordPieceTokenizer } from './tokenizer/wordpiece.js';
export { encodeSentence, type Encoded, type EncodeOptions } from './tokenizer/align.js';
export { encodeDataset, type EncodedDataset } from './tokenizer/dataset.js';
export { makeBatches, type Batch, type BatchOptions } from './tokenizer/batching.js';

// Models
export { fromPretrained, resolveModelDir, resolveTokenizerDir, type FromPretrainedOptions } from './model/hub.js';
export { loadBert, type LoadedBert } from './model/checkpoint.js';
export { loadNerModel, saveNerModel, disposeNerModel, type NerModel } from './model/ner-model.js';
export { writeTinyCheckpoint, type TinyCheckpointOptions } from './model/tiny.js';
export { exportHf, type ExportHfOptions, type ExportHfResult } from './model/export-hf.js';
export { exportWeb, type ExportWebResult } from './web/export-web.js';
export { countParameters } from './model/params.js';
export type { BertConfig } from './model/config.js';

// Evaluation and prediction
export { evaluate, evaluateRows, type EvalSplit, type EvaluateOptions } from './eval/evaluate.js';
export { predict, type Prediction } from './eval/predict.js';
export { scoreEntities, type EntityScores } from './eval/metric.js';
export { conllevalReport } from './eval/report.js';
export { resultsFrame, resultsTable, formatPercent, type ResultRow, type ResultTableRow } from './eval/table.js';

// Losses: the paper's equations as pure functions of tensors
export { tokenCrossEntropy, IGNORE_INDEX } from './losses/ce.js';
export { teacherLoss, type TeacherLossInput } from './losses/teacher.js';
export { kdLayerLoss, studentLoss, type StudentLossInput } from './losses/kd.js';
export { mmd, type MmdOptions } from './losses/mmd.js';
export { finalLoss, type FinalLossInput } from './losses/final.js';
export { layerWeights, type LambdaMode, type LayerWeights } from './losses/lambda.js';
export { readTerms, type LossResult } from './losses/terms.js';
export { LossInputError } from './losses/check.js';

// Training: the method's stages, one run directory each
export { backendFor } from './train/backend.js';
export { loadSplit, evalSplit, ensureRunData } from './train/data.js';
export { pretrainedDir, newModel } from './train/models.js';
export { trainTeacher, type TeacherResult } from './train/teacher.js';
export { distillStudent, type StudentResult } from './train/student.js';
export { runMsd, evaluateRun, type RunSummary, type EvalRunOptions } from './train/pipeline.js';
export type { TrainOptions } from './train/loop.js';
// The run directory on disk, atomic/JSON I/O, the method's variants, the paper's published numbers (src/run)
export { runDir, type RunDir, type ModelPaths } from './run/dir.js';
export { readJson, readJsonl } from './run/io.js';
export {
  ABLATION_VARIANTS,
  VARIANT_NAMES,
  VARIANT_LABELS,
  variantAblation,
  variantOf,
  runVariant,
  type VariantName,
  type Variant,
  type Ablation,
} from './run/variants.js';
export {
  loadPublished,
  publishedRows,
  publishedF1,
  publishedCorpus,
  type AblationRow,
  type PublishedRow,
  type PublishedNumbers,
} from './run/published.js';
export {
  consoleProgress,
  formatProgress,
  liveProgress,
  type LiveDisplay,
  type ProgressEvent,
  type ProgressCallback,
} from './train/progress.js';

// --- figures and diagnostics (issue 12: src/viz, src/diagnostics) ---
export * from './diagnostics/index.js';
export * from './viz/index.js';
// --- end figures and diagnostics ---

// --- demo and vocabulary pruning (issue 15: src/model/prune.ts, src/train/demo-summary.ts) ---
export { pruneVocabulary, type PruneCorpus, type PruneOptions, type PruneReport } from './model/prune.js';
export { demoSummary, formatDemoSummary, type DemoSummary, type DemoSummaryOptions } from './train/demo-summary.js';
// --- end demo and vocabulary pruning ---

// --- experiment grids (issue 14: src/sweep) ---
export { teacherConfigView } from './config.js';
export { checkSharedTeacher } from './train/pipeline.js';
export {
  planSweep,
  readSweepSpec,
  writePlan,
  readPlan,
  formatPlan,
  parseAxes,
  type SweepSpec,
  type SweepPlan,
  type Cell,
  type Axis,
  type TeacherJob,
  type PlanFile,
} from './sweep/plan.js';
export { runLocal, formatJobs, type LocalOptions, type LocalResult, type LiveJob } from './sweep/local.js';
export {
  submitSlurm,
  slurmScript,
  sweepStatus,
  formatStatus,
  arraySpec,
  type SlurmOptions,
  type SlurmSubmission,
  type SlurmJob,
} from './sweep/slurm.js';
export { sweepFileStatus, type JobStatus } from './sweep/state.js';
export {
  collectSweep,
  writeCollect,
  formatCollect,
  latexTable,
  tidyFrame,
  type TidyRow,
  type StatRow,
  type CollectResult,
  type CollectOptions,
} from './sweep/collect.js';
export { mean, std, tTest, describe as describeSample, type TTestResult, type GroupStats } from './sweep/stats.js';
// --- end experiment grids ---

// --- config files and checks (issue 24: src/config.ts, src/errors.ts, src/train/preflight.ts) ---
export { resolveLayers, readConfigFile, parseSet, configKeyPath, type ConfigLayer } from './config.js';
export { UserError } from './errors.js';
export { preflight, type PreflightOptions, type Stage } from './train/preflight.js';
export { checkCorpus, CORPUS_LANGUAGES } from './data/registry.js';
// --- end config files and checks ---
