/**
 * Entity spans of one tagged sentence, for people reading predictions: which words, which type, the text, and
 * how sure the model was. `predict()` builds its output with this; it is model-free so it also works on gold tags.
 */
import { chunks, type ChunkMode } from './chunks.js';

export interface EntitySpan {
  type: string;
  /** First word of the entity (0-based). */
  start: number;
  /** One past the last word, so `words.slice(start, end)` are the entity's words. */
  end: number;
  /** The entity's words joined with `joiner` (a space by default). */
  text: string;
  /** Mean of the per-word probabilities over the entity's words; present when `probs` were given. */
  prob?: number;
}

export interface SpanOptions {
  /** Per-word probability of the predicted tag (e.g. softmax max of the word's first sub-token), one per word. */
  probs?: ArrayLike<number>;
  /** Chunking rules: `conlleval` (default) or `strict` IOB2, as in scoring. */
  mode?: ChunkMode;
  /** How the words of an entity are joined into `text` (default `' '`; use `''` for character-tokenised zh). */
  joiner?: string;
}

/**
 * The entities in `tags` over `words`, in order. Throws when words, tags (and probs) differ in length, or on a
 * tag that is not O / B-T / I-T (/ E-T in conlleval mode).
 */
export function entitySpans(
  words: readonly string[],
  tags: readonly string[],
  options: SpanOptions = {},
): EntitySpan[] {
  const { probs, mode = 'conlleval', joiner = ' ' } = options;
  if (words.length !== tags.length) {
    throw new Error(`entitySpans: ${words.length} words but ${tags.length} tags; expected one tag per word`);
  }
  if (probs && probs.length !== words.length) {
    throw new Error(
      `entitySpans: ${words.length} words but ${probs.length} probabilities; expected one probability per word`,
    );
  }
  return chunks(tags, mode).map(({ type, start, end }) => {
    const span: EntitySpan = { type, start, end, text: words.slice(start, end).join(joiner) };
    if (probs) {
      let sum = 0;
      for (let i = start; i < end; i++) sum += probs[i]!;
      span.prob = sum / (end - start);
    }
    return span;
  });
}
