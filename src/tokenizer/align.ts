/**
 * Sentence -> model input: sub-token ids with [CLS]/[SEP], the word each sub-token belongs to, and labels.
 *
 * Label alignment (as in BERT's NER recipe): the first sub-token of each word carries the word's label id; the
 * other sub-tokens, [CLS], [SEP] and padding carry -100, which the losses ignore. With `labelAllSubtokens`
 * continuation pieces carry the word's label too, a `B-T` becoming `I-T` (a word is one entity start, not several).
 * Long sentences become several windows (windows.ts); labels are set only on the words a window owns.
 */
import type { AnySentence, LabelSchema } from '../data/types.js';
import { planWindows } from './windows.js';
import type { WordPieceTokenizer } from './wordpiece.js';

/** Label id of positions the losses ignore (PyTorch's and HF's convention). */
export const IGNORE_LABEL = -100;
export const DEFAULT_MAX_LENGTH = 128;

export interface EncodeOptions {
  /** Gives labels to labelled sentences. Without it (or for an `UnlabelledSentence`) `labels` is absent. */
  schema?: LabelSchema;
  /** Sub-tokens per sequence including [CLS] and [SEP] (default 128). */
  maxLength?: number;
  /** Sub-tokens of context repeated between consecutive windows of a long sentence (default (maxLength - 2) / 2). */
  stride?: number;
  /** Label continuation pieces too (B- becomes I-); default false (first piece only). */
  labelAllSubtokens?: boolean;
}

export interface WindowInfo {
  /** Position of this window among its sentence's windows, and how many there are. */
  index: number;
  count: number;
  /** Sentence words [wordStart, wordEnd) appear in this window. */
  wordStart: number;
  wordEnd: number;
  /** Sentence words [ownStart, ownEnd) are labelled and decoded from this window (see windows.ts). */
  ownStart: number;
  ownEnd: number;
}

/** One model sequence: a whole sentence, or one window of a long one. */
export interface Encoded {
  sentenceId: string;
  /** Number of words of the whole sentence. */
  sentenceWords: number;
  /** [CLS] sub-tokens [SEP]. */
  inputIds: Int32Array;
  /**
   * Per sub-token, the index of its word in the sentence (all pieces of a word share it); -1 for [CLS] and [SEP].
   * A sub-token starts its word when its index differs from the previous one's (`firstPieceMask`).
   */
  wordIndex: Int32Array;
  /** Per sub-token label id, -100 where ignored; present when a schema was given and the sentence has tags. */
  labels?: Int32Array;
  window: WindowInfo;
}

function hasTags(s: AnySentence): s is AnySentence & { tags: string[] } {
  return Array.isArray((s as { tags?: unknown }).tags);
}

export type ResolvedEncodeOptions = Required<Omit<EncodeOptions, 'schema'>> & Pick<EncodeOptions, 'schema'>;

/** Resolved options with their defaults, validated once. */
export function resolveEncodeOptions(opts: EncodeOptions): ResolvedEncodeOptions {
  const maxLength = opts.maxLength ?? DEFAULT_MAX_LENGTH;
  if (!Number.isInteger(maxLength) || maxLength < 3)
    throw new Error(`encode: maxLength must be an integer >= 3, got ${maxLength}`);
  const stride = opts.stride ?? Math.floor((maxLength - 2) / 2);
  if (!Number.isInteger(stride) || stride < 0 || stride >= maxLength - 2) {
    throw new Error(
      `encode: stride must be an integer in [0, ${maxLength - 3}] (less than maxLength - 2), got ${stride}`,
    );
  }
  return { schema: opts.schema, maxLength, stride, labelAllSubtokens: opts.labelAllSubtokens ?? false };
}

const continuationCache = new WeakMap<LabelSchema, Int32Array>();

/** Per label id, the id continuation pieces get under `labelAllSubtokens`: I-T for B-T, else the same id. */
function continuationIds(schema: LabelSchema): Int32Array {
  let cont = continuationCache.get(schema);
  if (!cont) {
    cont = Int32Array.from(schema.tags, (tag, id) =>
      tag.startsWith('B-') ? (schema.tagToId.get(`I-${tag.slice(2)}`) ?? id) : id,
    );
    continuationCache.set(schema, cont);
  }
  return cont;
}

/** Label ids of a sentence's words; errors name the file, line, sentence and token. */
function wordLabels(sentence: AnySentence & { tags: string[] }, schema: LabelSchema): Int32Array {
  if (sentence.tags.length !== sentence.tokens.length) {
    throw new Error(
      `${sentence.source.file}:${sentence.source.line}: sentence ${sentence.id} has ${sentence.tokens.length} tokens but ${sentence.tags.length} tags; expected one tag per token`,
    );
  }
  const ids = new Int32Array(sentence.tags.length);
  for (let i = 0; i < ids.length; i++) {
    const id = schema.tagToId.get(sentence.tags[i]!);
    if (id === undefined) {
      throw new Error(
        `${sentence.source.file}:${sentence.source.line}: sentence ${sentence.id} token ${i} has tag '${sentence.tags[i]}', which is not in the schema; expected one of ${schema.tags.join(' ')}`,
      );
    }
    ids[i] = id;
  }
  return ids;
}

/** Encodes one sentence into one or more windows (see windows.ts). */
export function encodeSentence(
  tokenizer: WordPieceTokenizer,
  sentence: AnySentence,
  opts: EncodeOptions = {},
): Encoded[] {
  const pieces = sentence.tokens.map((w) => tokenizer.tokenizeWord(w).ids);
  return encodeTokenized(tokenizer, sentence, pieces, resolveEncodeOptions(opts));
}

/** `encodeSentence` with the words' sub-token ids already looked up (encodeDataset shares them with its report). */
export function encodeTokenized(
  tokenizer: WordPieceTokenizer,
  sentence: AnySentence,
  pieces: readonly (readonly number[])[],
  o: ResolvedEncodeOptions,
): Encoded[] {
  const nWords = sentence.tokens.length;
  const counts = new Int32Array(nWords);
  let total = 0;
  for (let w = 0; w < nWords; w++) total += counts[w] = pieces[w]!.length;
  const budget = o.maxLength - 2;
  const labels = o.schema && hasTags(sentence) ? wordLabels(sentence, o.schema) : undefined;
  const cont = o.schema && o.labelAllSubtokens ? continuationIds(o.schema) : undefined;
  const spans =
    total <= budget
      ? [{ wordStart: 0, wordEnd: nWords, ownStart: 0, ownEnd: nWords }]
      : planWindows(counts, budget, o.stride);
  return spans.map((span, index) => {
    let len = 0;
    for (let w = span.wordStart; w < span.wordEnd; w++) len += counts[w]!;
    len = Math.min(len, budget) + 2;
    const inputIds = new Int32Array(len);
    const wordIndex = new Int32Array(len);
    const lab = labels ? new Int32Array(len).fill(IGNORE_LABEL) : undefined;
    inputIds[0] = tokenizer.clsId;
    wordIndex[0] = -1;
    let t = 1;
    for (let w = span.wordStart; w < span.wordEnd && t < len - 1; w++) {
      const ids = pieces[w]!;
      const owned = w >= span.ownStart && w < span.ownEnd;
      for (let j = 0; j < ids.length && t < len - 1; j++, t++) {
        inputIds[t] = ids[j]!;
        wordIndex[t] = w;
        if (lab && owned) {
          if (j === 0) lab[t] = labels![w]!;
          else if (cont) lab[t] = cont[labels![w]!]!;
        }
      }
    }
    inputIds[len - 1] = tokenizer.sepId;
    wordIndex[len - 1] = -1;
    const encoded: Encoded = {
      sentenceId: sentence.id,
      sentenceWords: nWords,
      inputIds,
      wordIndex,
      window: {
        index,
        count: spans.length,
        wordStart: span.wordStart,
        wordEnd: span.wordEnd,
        ownStart: span.ownStart,
        ownEnd: span.ownEnd,
      },
    };
    if (lab) encoded.labels = lab;
    return encoded;
  });
}

/** 1 where a sub-token is the first piece of its word, else 0 ([CLS], [SEP], continuations, padding). */
export function firstPieceMask(wordIndex: Int32Array): Uint8Array {
  const mask = new Uint8Array(wordIndex.length);
  for (let t = 0; t < wordIndex.length; t++) {
    const w = wordIndex[t]!;
    mask[t] = w >= 0 && (t === 0 || wordIndex[t - 1] !== w) ? 1 : 0;
  }
  return mask;
}

/** 1 at the first piece of each word the window owns: the positions that are predicted and evaluated. */
export function predictionMask(encoded: Encoded): Uint8Array {
  const mask = firstPieceMask(encoded.wordIndex);
  const { ownStart, ownEnd } = encoded.window;
  for (let t = 0; t < mask.length; t++) {
    const w = encoded.wordIndex[t]!;
    if (mask[t] && (w < ownStart || w >= ownEnd)) mask[t] = 0;
  }
  return mask;
}
