/**
 * `msd-ner/data`: every corpus reader, tag schemes, label schemas, the dataset registry and the Hugging Face Hub
 * corpora, the unlabelled view and statistics. (The root export has the few a notebook needs: loadDataset,
 * readConll, unlabelled, datasetStats, labelSchema.)
 */
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
export { DataError } from './errors.js';
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
export { readConll, type ConllOptions } from './conll.js';
export { readWikiann, type WikiannOptions } from './wikiann.js';
export { readMulticoner, type MulticonerOptions } from './multiconer.js';
export { readParquet, type ParquetOptions } from './parquet.js';
export {
  labelSchema,
  STANDARD_TYPES,
  schemaFromSentences,
  checkSchema,
  mapSchema,
  type TypeMapping,
  type MapSchemaOptions,
} from './schema.js';
export {
  loadDataset,
  availableDatasets,
  checkCorpus,
  DATASET_NAMES,
  CORPUS_LANGUAGES,
  SPLITS,
  type Dataset,
  type DatasetName,
  type Split,
  type LoadDatasetOptions,
} from './registry.js';
export { unlabelled } from './unlabelled.js';
export { datasetStats, splitStats, type StatsInput, type SplitStats } from './stats.js';
export { loadHubDataset, ensureDataset, ensureCorpus, type HubOptions, type HubDataset } from './hub.js';
export { HUB_CORPORA, hubCorpus, type HubCorpus } from './hub-corpora.js';
