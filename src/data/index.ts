/** src/data: corpus readers, tag schemes, label schemas, the unlabelled view and statistics. */
export type {
  Sentence,
  UnlabelledSentence,
  AnySentence,
  SourceLocation,
  LabelSchema,
  TagScheme,
  LoadProblem,
  LoadReport,
  ReadResult,
} from './types.js';
export type { ReadOptions } from './collect.js';
export { DataError, formatProblem } from './errors.js';
export { decodeLines, readLines, type Encoding, type DecodedText } from './text.js';
export {
  parseTag,
  detectScheme,
  toIob2,
  countEntities,
  iob2Spans,
  type SchemeOption,
  type ParsedTag,
  type SchemeEvidence,
} from './schemes.js';
export { readConll, guessConllLang, type ConllOptions } from './conll.js';
export { readWikiann, type WikiannOptions } from './wikiann.js';
export { readMulticoner, type MulticonerOptions } from './multiconer.js';
export { readParquet, hubLabelNames, type ParquetOptions } from './parquet.js';
export {
  labelSchema,
  STANDARD_TYPES,
  typesOf,
  schemaFromSentences,
  checkSchema,
  tagIds,
  mapSchema,
  type TypeMapping,
  type MapSchemaOptions,
} from './schema.js';
export {
  loadDataset,
  datasetPath,
  defaultDataRoot,
  cacheDataRoot,
  locateDataset,
  availableDatasets,
  DATASET_NAMES,
  SPLITS,
  type Dataset,
  type DatasetName,
  type Split,
  type LoadDatasetOptions,
} from './registry.js';
export { unlabelled } from './unlabelled.js';
export { datasetStats, splitStats, type StatsInput, type SplitStats } from './stats.js';
export {
  loadHubDataset,
  ensureDataset,
  ensureCorpus,
  pullDataset,
  readHubRows,
  type HubOptions,
  type HubDataset,
  type HubPullOptions,
} from './hub.js';
export { HUB_CORPORA, hubCorpus, type HubCorpus } from './hub-corpora.js';
