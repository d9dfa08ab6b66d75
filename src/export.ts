/**
 * `msd-ner/export`: a trained model out of this library: a Hugging Face transformers directory (exportHf), a static
 * tagger page for the browser (exportWeb), and a model pruned to the vocabulary of its corpora (pruneVocabulary).
 * `msd export --format hf|web` and `msd demo` use the same functions.
 */
export { exportHf, type ExportHfOptions, type ExportHfResult } from './model/export-hf.js';
export { exportWeb, type ExportWebResult } from './web/export-web.js';
export { pruneVocabulary, type PruneCorpus, type PruneOptions, type PruneReport } from './model/prune.js';
