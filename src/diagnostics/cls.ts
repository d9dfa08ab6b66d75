/**
 * [CLS] vectors of a model over sentences, per hidden layer: the representation the MMD terms of the loss align
 * (MMD_M, MMD_L on H_cls) and the one the paper's Figure 2 projects with t-SNE.
 *
 *   const { vectors } = clsEmbeddings(student, nlSentences, 12);     // number[][] (one row per sentence)
 *   const byLayer = clsByLayer(student, nlSentences, [4, 8, 12]);   // Map layer -> ClsMatrix
 *
 * One vector per sentence: the [CLS] of the sentence's first window (a sentence longer than the model's window is
 * cut into overlapping windows by the tokenizer; only the first one is read, as a cut at 128 would). Layer 0 is the
 * embedding output, layer m the output of transformer layer m. Evaluation mode (no dropout). Leak-free.
 */
import type { AnySentence } from '../data/types.js';
import type { NerModel } from '../model/ner-model.js';
import { resolveLayer } from '../model/cls.js';
import { checkUniqueIds, inferenceBatches, readHeads } from '../model/inference.js';
import { encodeDataset } from '../tokenizer/dataset.js';

/** Row-major [rows, dim] float matrix with the sentence id of each row. */
export interface ClsMatrix {
  layer: number;
  rows: number;
  dim: number;
  data: Float32Array;
  /** Sentence id of each row, in input order. */
  ids: string[];
}

export interface ClsOptions {
  /** Sequences per forward pass (default 32). */
  batchSize?: number;
}

/** The model's hidden layers (0 = embeddings .. numLayers), checked; default: 1..numLayers. */
export function resolveLayers(model: NerModel, layers: readonly number[] | undefined, where: string): number[] {
  const L = model.encoder.config.numLayers;
  const out = layers ? [...layers] : Array.from({ length: L }, (_, i) => i + 1);
  for (const m of out) {
    if (!Number.isInteger(m) || m < 0 || m > L)
      throw new Error(`${where}: layer ${m} does not exist; expected an integer in 0..${L} (0 = embeddings)`);
  }
  if (out.length === 0) throw new Error(`${where}: no layers given`);
  return out;
}

/** [CLS] of every sentence at each of `layers`, in one forward pass per batch. */
export function clsByLayer(
  model: NerModel,
  sentences: readonly AnySentence[],
  layers: readonly number[],
  opts: ClsOptions = {},
): Map<number, ClsMatrix> {
  const wanted = resolveLayers(model, layers, 'clsByLayer');
  if (sentences.length === 0) throw new Error('clsByLayer: no sentences given; expected at least one');
  checkUniqueIds(sentences, 'clsByLayer');
  const H = model.encoder.config.hiddenSize;
  const { encoded } = encodeDataset(model.tokenizer, sentences, { maxLength: model.maxLength });
  const first = encoded.filter((e) => e.window.index === 0);
  const rowOf = new Map(sentences.map((s, i) => [s.id, i]));
  const out = new Map<number, ClsMatrix>(
    wanted.map((m) => [
      m,
      {
        layer: m,
        rows: sentences.length,
        dim: H,
        data: new Float32Array(sentences.length * H),
        ids: sentences.map((s) => s.id),
      },
    ]),
  );
  const batches = inferenceBatches(first, model.tokenizer.padId, opts.batchSize);
  const readouts = readHeads(model, batches, { layers: [], clsOf: wanted });
  batches.forEach(({ items, shape: [rows] }, b) => {
    const cls = readouts[b]!.cls!;
    wanted.forEach((m, j) => {
      const target = out.get(m)!.data;
      items.forEach((item, r) =>
        target.set(cls.subarray((j * rows + r) * H, (j * rows + r + 1) * H), rowOf.get(item.sentenceId)! * H),
      );
    });
  });
  return out;
}

/** [CLS] vectors of `sentences` at one hidden layer (0 = embeddings, -1 = last), as plain rows. */
export function clsEmbeddings(
  model: NerModel,
  sentences: readonly AnySentence[],
  layer = -1,
  opts: ClsOptions = {},
): { layer: number; ids: string[]; vectors: number[][] } {
  const m = resolveLayer(layer, model.encoder.config.numLayers);
  const mat = clsByLayer(model, sentences, [m], opts).get(m)!;
  return { layer: m, ids: mat.ids, vectors: matrixRows(mat) };
}

/** A ClsMatrix as one number[] per row. */
export function matrixRows(mat: Pick<ClsMatrix, 'rows' | 'dim' | 'data'>): number[][] {
  return Array.from({ length: mat.rows }, (_, r) => Array.from(mat.data.subarray(r * mat.dim, (r + 1) * mat.dim)));
}
