/**
 * src/run: everything on disk and the vocabulary both halves of the library share (training and figures/sweeps):
 * the run directory and every path in it, atomic and JSON I/O, the method's variants and their labels, and the
 * paper's published numbers. It imports nothing but src/config.ts, so every other folder may depend on it.
 */
export { runDir, RUN_ENTRIES, type RunDir, type ModelPaths } from './dir.js';
export { writeFileAtomic, writeJsonAtomic, readJson, appendJsonl, readJsonl } from './io.js';
export {
  ABLATION_VARIANTS,
  VARIANT_NAMES,
  VARIANT_LABELS,
  variantAblation,
  variantOf,
  runVariant,
  type Ablation,
  type Variant,
  type VariantName,
} from './variants.js';
export {
  loadPublished,
  publishedRows,
  publishedRow,
  publishedF1,
  publishedCorpus,
  defaultPublishedPath,
  type AblationRow,
  type PublishedRow,
  type PublishedNumbers,
} from './published.js';
export type { SeedStatRow } from './seed-stats.js';
