/**
 * Per-layer, per-language evaluation of a trained model: every head is decoded to word tags (windows of long
 * sentences merged, every word scored) and scored with conlleval's rules against the gold tags.
 *
 *   const table = evaluate(student, [nlTest, esTest]);        // danfojs DataFrame: model, language, split, layer, P, R, F1, support
 *   const rows = evaluateRows(student, nlTest, { layers: [12] });
 */
import type { DataFrame } from 'danfojs-node';
import type { Sentence } from '../data/types.js';
import type { NerModel } from '../model/ner-model.js';
import type { ChunkMode } from './chunks.js';
import { predictLayerTags, type RunHeadsOptions } from './predict.js';
import { layerRows, resultsFrame, type ResultRow } from './table.js';

/** A labelled split: what `loadDataset` returns, or any object with sentences and a split name. */
export interface EvalSplit {
  sentences: readonly Sentence[];
  split: string;
  /** Defaults to the sentences' own `lang`. */
  lang?: string;
}

export interface EvaluateOptions extends RunHeadsOptions {
  mode?: ChunkMode;
  /** Model name for the table (default `model.name`). */
  model?: string;
}

/** Result rows (one per language x split x layer) for one or more labelled splits. */
export function evaluateRows(
  model: NerModel,
  splits: EvalSplit | readonly EvalSplit[],
  opts: EvaluateOptions = {},
): ResultRow[] {
  const list = Array.isArray(splits) ? (splits as readonly EvalSplit[]) : [splits as EvalSplit];
  return list.flatMap((ds) => {
    const predictions = predictLayerTags(model, ds.sentences, opts);
    return layerRows({
      gold: ds.sentences,
      predictions,
      split: ds.split,
      language: ds.lang,
      model: opts.model ?? model.name,
      mode: opts.mode,
    });
  });
}

/** The same as a tidy danfojs DataFrame (columns model, language, split, layer, precision, recall, f1, support). */
export function evaluate(
  model: NerModel,
  splits: EvalSplit | readonly EvalSplit[],
  opts: EvaluateOptions = {},
): DataFrame {
  return resultsFrame(evaluateRows(model, splits, opts));
}

/** The dev score training selects checkpoints on: micro F1 of the main head, plus P/R for the log. */
export function devScore(model: NerModel, dev: EvalSplit): { score: number; log: Record<string, unknown> } {
  const [row] = evaluateRows(model, dev, { layers: [model.heads.mainLayer] });
  return {
    score: row?.f1 ?? 0,
    log: { devLang: row?.language, devF1: row?.f1 ?? 0, devPrecision: row?.precision, devRecall: row?.recall },
  };
}
