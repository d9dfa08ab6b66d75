/**
 * Corpus statistics as a danfojs DataFrame, one row per split: sentences, tokens, entities (total and per type),
 * mean and max sentence length in tokens. Entities are counted as `B-` tags, which after loading (valid IOB2, every
 * stray `I-` repaired to `B-`) is the number of chunks conlleval reads from the raw file.
 *
 * danfojs-node is loaded on first use with `require` (it is CommonJS and heavy; most users of the library never
 * need it), and it shares the library's tfjs-core: the package's overrides make danfojs-node's
 * `@tensorflow/tfjs-node` an alias of `@tensorflow/tfjs` (test/backend/single-core.test.ts checks the tree).
 */
import { loadDanfo } from '../danfo.js';
import type { DataFrame } from 'danfojs-node';
import { countEntities } from './schemes.js';
import type { Sentence } from './types.js';

/** Anything with sentences and optional labels for the row: a `Dataset`, a reader's result, or plain sentences. */
export interface StatsInput {
  name?: string;
  lang?: string;
  split?: string;
  sentences: readonly Sentence[];
}

export interface SplitStats {
  dataset: string;
  lang: string;
  split: string;
  sentences: number;
  tokens: number;
  entities: number;
  meanLength: number;
  maxLength: number;
  /** Entities per type. */
  byType: Record<string, number>;
}

/** The numbers of one split, without danfojs. */
export function splitStats(input: StatsInput): SplitStats {
  const byType: Record<string, number> = {};
  let tokens = 0;
  let maxLength = 0;
  for (const s of input.sentences) {
    tokens += s.tokens.length;
    if (s.tokens.length > maxLength) maxLength = s.tokens.length;
    countEntities(s.tags, byType);
  }
  const n = input.sentences.length;
  return {
    dataset: input.name ?? '',
    lang: input.lang ?? input.sentences[0]?.lang ?? '',
    split: input.split ?? '',
    sentences: n,
    tokens,
    entities: Object.values(byType).reduce((a, b) => a + b, 0),
    meanLength: n === 0 ? 0 : tokens / n,
    maxLength,
    byType,
  };
}

/**
 * One row per split, columns `dataset, lang, split, sentences, tokens, entities, meanLength, maxLength` and then
 * one column per entity type (sorted; 0 where a split has none of that type).
 */
export function datasetStats(inputs: readonly StatsInput[]): DataFrame {
  if (inputs.length === 0) throw new Error('datasetStats: expected at least one split');
  const stats = inputs.map(splitStats);
  const types = [...new Set(stats.flatMap((s) => Object.keys(s.byType)))].sort();
  const columns: Record<string, (string | number)[]> = {
    dataset: stats.map((s) => s.dataset),
    lang: stats.map((s) => s.lang),
    split: stats.map((s) => s.split),
    sentences: stats.map((s) => s.sentences),
    tokens: stats.map((s) => s.tokens),
    entities: stats.map((s) => s.entities),
    meanLength: stats.map((s) => s.meanLength),
    maxLength: stats.map((s) => s.maxLength),
  };
  for (const t of types) {
    if (t in columns) throw new Error(`datasetStats: entity type '${t}' clashes with a column name`);
    columns[t] = stats.map((s) => s.byType[t] ?? 0);
  }
  const { DataFrame: DF } = loadDanfo();
  return new DF(columns);
}
