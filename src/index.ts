/**
 * msd-ner: zero-shot cross-lingual NER with MSD (Mixture of Short-channel Distillers, Ma et al., EMNLP 2022).
 *
 * The root export is the method as a notebook author holds it in mind: configuration, data, tokenizer, models,
 * the two training stages, evaluation, the diagnostics, and the run directory they all share. The rest is in
 * subpath exports (package.json "exports"), one per role:
 *
 *   msd-ner/data     every corpus reader, tag schemes, label schemas, the dataset registry, Hub corpora
 *   msd-ner/losses   the paper's equations as pure functions of tensors
 *   msd-ner/viz      chart specs, show()/showTable(), figure export, tables, the run report
 *   msd-ner/sweep    grids of runs: plan, local and Slurm executors, collect, statistics
 *   msd-ner/export   transformers and browser export, vocabulary pruning
 *
 * Internals (kernels, loss input checks, the training loop's parts, cache files, tokenizer pieces) stay in their
 * modules; test/public-api.test.ts holds the committed list of every name each of these exports.
 */

// Backend and tensors
export { initBackend, activeBackend, type BackendInfo, type InitBackendOptions } from './backend/init.js';
export { BACKEND_NAMES, type BackendName } from './backend/names.js';
export { tf } from './tf.js';
export type * from './tf.js';

// Configuration (src/config.ts holds every default)
export {
  resolveConfig,
  readConfigFile,
  parseSets,
  configToJson,
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
export { UserError } from './errors.js';

// Data (every reader and the Hub: msd-ner/data)
export { loadDataset, type Dataset, type DatasetName, type Split } from './data/registry.js';
export { readConll } from './data/conll.js';
export { unlabelled } from './data/unlabelled.js';
export { datasetStats } from './data/stats.js';
export { labelSchema } from './data/schema.js';
export type { Sentence, UnlabelledSentence, AnySentence, LabelSchema, LoadReport } from './data/types.js';

// Tokenizer
export { loadTokenizer } from './tokenizer/load.js';
export type { WordPieceTokenizer } from './tokenizer/wordpiece.js';
export { encodeSentence, type Encoded } from './tokenizer/align.js';
export { encodeDataset, type EncodedDataset } from './tokenizer/dataset.js';
export { makeBatches, type Batch } from './tokenizer/batching.js';

// Models
export { fromPretrained, type FromPretrainedOptions } from './model/hub.js';
export { loadNerModel, saveNerModel, disposeNerModel, type NerModel } from './model/ner-model.js';
export { writeTinyCheckpoint } from './model/tiny.js';
export { countParameters } from './model/params.js';
export type { BertConfig } from './model/config.js';

// Training: the method's stages, one run directory each
export { backendFor } from './train/backend.js';
export { loadSplit, evalSplit, ensureRunData } from './train/data.js';
export { pretrainedDir } from './train/models.js';
export { trainTeacher, type TeacherResult } from './train/teacher.js';
export { distillStudent, type StudentResult } from './train/student.js';
export { runMsd, evaluateRun, type RunSummary, type EvalRunOptions } from './train/pipeline.js';
export type { TrainOptions } from './train/loop.js';
export {
  consoleProgress,
  formatProgress,
  liveProgress,
  type LiveDisplay,
  type ProgressEvent,
  type ProgressCallback,
} from './train/progress.js';

// Evaluation and prediction
export { evaluate, evaluateRows, type EvalSplit, type EvaluateOptions } from './eval/evaluate.js';
export { predict, type Prediction } from './eval/predict.js';
export { scoreEntities, type EntityScores } from './eval/metric.js';
export { conllevalReport } from './eval/report.js';
export { resultsFrame, resultsTable, formatPercent, type ResultRow, type ResultTableRow } from './eval/table.js';

// Diagnostics: the numbers behind the figures
export { runDiagnostics, type RunDiagnosticsOptions, type ProjectionRow } from './diagnostics/run.js';
export {
  mmdByLayer,
  crossModelMmd,
  mmdFrame,
  SOURCE_TARGET,
  TEACHER_STUDENT,
  type MmdRow,
  type MmdByLayerOptions,
} from './diagnostics/mmd.js';
export { clsEmbeddings, type ClsMatrix, type ClsOptions } from './diagnostics/cls.js';
export { project2d, type ProjectionMethod, type ProjectOptions } from './diagnostics/project.js';

// The run directory on disk, the method's variants, the paper's published numbers (src/run)
export { runDir, type RunDir, type ModelPaths } from './run/dir.js';
export { readJson, readJsonl } from './run/io.js';
export { VARIANT_NAMES, VARIANT_LABELS, variantOf, type VariantName, type Ablation } from './run/variants.js';
export { publishedRows, publishedF1, publishedCorpus, type AblationRow, type PublishedRow } from './run/published.js';

// Notebooks: from a notebook's choices to its config and run directory (src/notebook.ts)
export {
  notebookRun,
  notebookSweep,
  type NotebookChoices,
  type NotebookOptions,
  type NotebookRun,
  type SweepChoices,
  type NotebookSweep,
} from './notebook.js';
