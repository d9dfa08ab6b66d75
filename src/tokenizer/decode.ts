/**
 * Per-sub-token predictions back to one label per word: each word takes the prediction at its first sub-token,
 * read from the window that owns it (the one where the word has the most context, see windows.ts), so every word
 * of every sentence gets exactly one prediction, however long the sentence.
 */
import type { LabelSchema } from '../data/types.js';
import type { Encoded } from './align.js';

/**
 * Label ids per word of one sentence. `windows` are that sentence's windows (any order); `predictions[k]` holds
 * the predicted id per sub-token of `windows[k]` (a padded batch row is fine: positions past the window are unused).
 */
export function decodeWordLabels(windows: readonly Encoded[], predictions: readonly ArrayLike<number>[]): Int32Array {
  if (windows.length === 0) throw new Error('decodeWordLabels: no windows given');
  if (predictions.length !== windows.length) {
    throw new Error(
      `decodeWordLabels: ${windows.length} windows but ${predictions.length} prediction rows; expected one row per window`,
    );
  }
  const { sentenceId, sentenceWords } = windows[0]!;
  const out = new Int32Array(sentenceWords).fill(-1);
  windows.forEach((win, k) => {
    if (win.sentenceId !== sentenceId) {
      throw new Error(
        `decodeWordLabels: windows of different sentences ('${sentenceId}' and '${win.sentenceId}'); decode one sentence at a time or use decodeSentences`,
      );
    }
    const pred = predictions[k]!;
    if (pred.length < win.inputIds.length) {
      throw new Error(
        `decodeWordLabels: sentence ${sentenceId} window ${win.window.index} has ${win.inputIds.length} sub-tokens but ${pred.length} predictions`,
      );
    }
    const { ownStart, ownEnd } = win.window;
    let prev = -1;
    for (let t = 0; t < win.wordIndex.length; t++) {
      const w = win.wordIndex[t]!;
      if (w >= 0 && w !== prev && w >= ownStart && w < ownEnd) out[w] = pred[t]!;
      prev = w;
    }
  });
  const missing = out.indexOf(-1);
  if (missing >= 0) {
    throw new Error(
      `decodeWordLabels: sentence ${sentenceId} word ${missing} is owned by none of the ${windows.length} windows given; pass all windows of the sentence`,
    );
  }
  return out;
}

/** Tags per word of one sentence (see decodeWordLabels). */
export function decodeWordTags(
  windows: readonly Encoded[],
  predictions: readonly ArrayLike<number>[],
  schema: LabelSchema,
): string[] {
  return Array.from(decodeWordLabels(windows, predictions), (id) => {
    const tag = schema.idToTag[id];
    if (tag === undefined)
      throw new Error(`decodeWordTags: predicted id ${id} is outside the schema (${schema.tags.length} tags)`);
    return tag;
  });
}

/**
 * Decodes many sentences at once from (window, prediction row) pairs in any order, e.g. collected batch by batch
 * with `batchRows`. Returns tags per word by sentence id, in the order sentences first appear.
 */
export function decodeSentences(
  pairs: Iterable<readonly [Encoded, ArrayLike<number>]>,
  schema: LabelSchema,
): Map<string, string[]> {
  const grouped = new Map<string, { windows: Encoded[]; preds: ArrayLike<number>[] }>();
  for (const [win, pred] of pairs) {
    let g = grouped.get(win.sentenceId);
    if (!g) grouped.set(win.sentenceId, (g = { windows: [], preds: [] }));
    g.windows.push(win);
    g.preds.push(pred);
  }
  const out = new Map<string, string[]>();
  for (const [id, g] of grouped) out.set(id, decodeWordTags(g.windows, g.preds, schema));
  return out;
}
