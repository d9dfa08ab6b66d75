/**
 * The tidy results table: one row per (model, language, split, layer), with entity-level precision, recall, F1
 * (fractions in [0, 1], micro-averaged over entities unless `average: 'macro'`) and support (gold entities).
 * `evaluate()` decodes a model's heads into word-level tags and hands them here; this part needs no model.
 *
 * danfojs-node takes about two seconds to load, so it is required lazily, on the first `resultsFrame()` call,
 * rather than whenever the library is imported.
 */
import { loadDanfo } from '../danfo.js';
import type { DataFrame } from 'danfojs-node';
import type { Sentence } from '../data/types.js';
import { scoreEntities, type GoldInput } from './metric.js';
import type { ChunkMode } from './chunks.js';

export interface ResultRow {
  /** Which model produced the predictions (e.g. `teacher`, `student`); absent when the caller gave none. */
  model?: string;
  language: string;
  split: string;
  layer: number;
  precision: number;
  recall: number;
  f1: number;
  /** Gold entities scored. */
  support: number;
}

/** Word-level predicted tags per layer: layer -> one tag list per gold sentence. */
export type LayerPredictions =
  ReadonlyMap<number, readonly (readonly string[])[]> | Readonly<Record<number, readonly (readonly string[])[]>>;

export interface LayerRowsInput {
  gold: GoldInput;
  predictions: LayerPredictions;
  split: string;
  /**
   * The language of every sentence. Required when `gold` is plain tag lists; with `Sentence[]` it defaults to
   * each sentence's `lang`, and a mixed-language dataset then gives one row per language and layer.
   */
  language?: string;
  model?: string;
  mode?: ChunkMode;
  average?: 'micro' | 'macro';
}

function layersOf(predictions: LayerPredictions): [number, readonly (readonly string[])[]][] {
  const entries: [number, readonly (readonly string[])[]][] =
    predictions instanceof Map
      ? [...(predictions as ReadonlyMap<number, readonly (readonly string[])[]>).entries()]
      : Object.entries(predictions).map(([k, v]) => [Number(k), v as readonly (readonly string[])[]]);
  for (const [layer] of entries) {
    if (!Number.isInteger(layer)) throw new Error(`layerRows: layer key ${String(layer)} is not an integer`);
  }
  return entries.sort((a, b) => a[0] - b[0]);
}

/**
 * Scores every layer's predictions against gold and returns the tidy rows, ordered by language (first
 * appearance) then layer. Errors from scoring name the layer as well as the sentence.
 */
export function layerRows(input: LayerRowsInput): ResultRow[] {
  const { gold, split, model, mode, average } = input;
  const isSentences = gold.length > 0 && !Array.isArray(gold[0]);
  if (!isSentences && input.language === undefined && gold.length > 0) {
    throw new Error('layerRows: gold is plain tag lists, so `language` is required');
  }
  // sentence indices per language, in order of first appearance
  const groups = new Map<string, number[]>();
  for (let i = 0; i < gold.length; i++) {
    const lang = input.language ?? (gold[i] as Sentence).lang;
    let g = groups.get(lang);
    if (!g) groups.set(lang, (g = []));
    g.push(i);
  }
  if (groups.size === 0 && input.language !== undefined) groups.set(input.language, []);
  const goldTags = isSentences
    ? (gold as readonly Sentence[]).map((s) => s.tags)
    : (gold as readonly (readonly string[])[]);
  const ids = isSentences ? (gold as readonly Sentence[]).map((s) => s.id) : undefined;
  const layers = layersOf(input.predictions);

  const rows: ResultRow[] = [];
  for (const [language, idx] of groups) {
    for (const [layer, pred] of layers) {
      if (pred.length !== gold.length) {
        throw new Error(`layerRows: layer ${layer} has ${pred.length} predicted sentences but gold has ${gold.length}`);
      }
      const all = idx.length === gold.length;
      let scores;
      try {
        scores = scoreEntities(all ? goldTags : idx.map((i) => goldTags[i]!), all ? pred : idx.map((i) => pred[i]!), {
          mode,
          average,
          ids: ids && (all ? ids : idx.map((i) => ids[i]!)),
        });
      } catch (err) {
        throw new Error(`layerRows: layer ${layer}, language ${language}: ${(err as Error).message}`);
      }
      const row: ResultRow = {
        language,
        split,
        layer,
        precision: scores.precision,
        recall: scores.recall,
        f1: scores.f1,
        support: scores.support,
      };
      rows.push(model === undefined ? row : { model, ...row });
    }
  }
  return rows;
}

const COLUMNS = ['language', 'split', 'layer', 'precision', 'recall', 'f1', 'support'] as const;

/**
 * The rows as a danfojs DataFrame with columns language, split, layer, precision, recall, f1, support (and
 * `model` first when any row has one; rows without a model get `''`). An empty row list gives an empty frame
 * with the same columns.
 */
export function resultsFrame(rows: readonly ResultRow[]): DataFrame {
  const { DataFrame } = loadDanfo();
  const withModel = rows.some((r) => r.model !== undefined);
  const columns: string[] = withModel ? ['model', ...COLUMNS] : [...COLUMNS];
  const data = rows.map((r) => {
    const values: (string | number)[] = COLUMNS.map((c) => r[c]);
    return withModel ? [r.model ?? '', ...values] : values;
  });
  return new DataFrame(data, { columns });
}

/**
 * F1 (or precision, recall) for a person to read: a fraction in [0, 1] as a percentage with its sign, `48.45%`, as
 * conlleval and the paper print it. Results files (JSON) keep fractions; everything printed or tabulated uses this.
 */
export function formatPercent(fraction: number, digits = 2): string {
  return Number.isFinite(fraction) ? `${(100 * fraction).toFixed(digits)}%` : 'n/a';
}

/** A results row as a person reads it: precision, recall and F1 in percent (column names say so), gold entities. */
export type ResultTableRow = {
  model?: string;
  language: string;
  split: string;
  layer: number;
  'precision (%)': number;
  'recall (%)': number;
  'F1 (%)': number;
  'gold entities': number;
};

/**
 * The rows for a table a person reads (notebooks, the report, CSV/LaTeX for a paper): scores in percent, the unit
 * in each column's name. `resultsFrame` and the JSON files keep fractions.
 */
export function resultsTable(rows: readonly ResultRow[]): ResultTableRow[] {
  const withModel = rows.some((r) => r.model !== undefined);
  return rows.map((r) => ({
    ...(withModel ? { model: r.model ?? '' } : {}),
    language: r.language,
    split: r.split,
    layer: r.layer,
    'precision (%)': 100 * r.precision,
    'recall (%)': 100 * r.recall,
    'F1 (%)': 100 * r.f1,
    'gold entities': r.support,
  }));
}
