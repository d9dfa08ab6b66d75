/**
 * msd-ner: zero-shot cross-lingual NER with MSD (Mixture of Short-channel Distillers, Ma et al., EMNLP 2022).
 * The public API; every module below is re-exported here and nowhere else.
 */
export * from './backend/init.js';
export { registerWasmKernels } from './backend/wasm-kernels.js';
export { tf } from './tf.js';
export type * from './tf.js';
export * from './config.js';
export * from './data/index.js';
export * from './model/index.js';
export * from './eval/index.js';
export * from './tokenizer/index.js';
export * from './losses/index.js';
export * from './train/index.js';

// --- figures and diagnostics (issue 12: src/viz, src/diagnostics) ---
export * from './diagnostics/index.js';
export * from './viz/index.js';
// --- end figures and diagnostics ---

// --- demo and vocabulary pruning (issue 15: src/model/prune.ts, src/train/demo-summary.ts) ---
export { pruneVocabulary, type PruneCorpus, type PruneOptions, type PruneReport } from './model/prune.js';
export { demoSummary, formatDemoSummary, type DemoSummary, type DemoSummaryOptions } from './train/demo-summary.js';
// --- end demo and vocabulary pruning ---
