/**
 * Encoding a whole split, with a report of what the sequence limit does to it. `droppedByTruncation` counts the
 * words the public reference code would have lost: it cuts every sentence to maxLength sub-tokens ([CLS] and
 * [SEP] included), so a word whose first sub-token falls past position maxLength - 2 disappears from gold and
 * prediction alike, which inflates F1. Here those words are kept through windows (windows.ts).
 */
import type { AnySentence } from '../data/types.js';
import { encodeTokenized, resolveEncodeOptions, type EncodeOptions, type Encoded } from './align.js';
import type { WordPieceTokenizer } from './wordpiece.js';

export interface EncodeReport {
  sentences: number;
  words: number;
  /** Model sequences produced (>= sentences). */
  windows: number;
  /** Content sub-tokens of all sentences ([CLS]/[SEP] and window overlaps not counted). */
  subTokens: number;
  /** Words whose sub-tokens are all [UNK]. */
  unkWords: number;
  /** Sentences longer than maxLength - 2 sub-tokens, split into windows. */
  longSentences: number;
  /** Longest sentence in content sub-tokens. */
  maxSubTokens: number;
  /** Words a cut at maxLength (reference behaviour) would have dropped. */
  droppedByTruncation: number;
  maxLength: number;
}

export interface EncodedDataset {
  encoded: Encoded[];
  report: EncodeReport;
}

/** Encodes every sentence (in order; a sentence's windows are consecutive). */
export function encodeDataset(
  tokenizer: WordPieceTokenizer,
  sentences: readonly AnySentence[],
  opts: EncodeOptions = {},
): EncodedDataset {
  const o = resolveEncodeOptions(opts);
  const budget = o.maxLength - 2;
  const encoded: Encoded[] = [];
  const report: EncodeReport = {
    sentences: sentences.length,
    words: 0,
    windows: 0,
    subTokens: 0,
    unkWords: 0,
    longSentences: 0,
    maxSubTokens: 0,
    droppedByTruncation: 0,
    maxLength: o.maxLength,
  };
  const unk = tokenizer.unkId;
  for (const s of sentences) {
    let pos = 0;
    const pieces: (readonly number[])[] = new Array(s.tokens.length);
    for (let w = 0; w < s.tokens.length; w++) {
      const ids = (pieces[w] = tokenizer.tokenizeWord(s.tokens[w]!).ids);
      if (pos >= budget) report.droppedByTruncation++;
      if (ids[0] === unk && ids.every((id) => id === unk)) report.unkWords++;
      pos += ids.length;
    }
    report.words += s.tokens.length;
    report.subTokens += pos;
    if (pos > budget) report.longSentences++;
    if (pos > report.maxSubTokens) report.maxSubTokens = pos;
    for (const e of encodeTokenized(tokenizer, s, pieces, o)) encoded.push(e);
  }
  report.windows = encoded.length;
  return { encoded, report };
}

/** Words the reference's cut at `maxLength` would drop from one sentence (0 when it fits). */
export function droppedByTruncation(tokenizer: WordPieceTokenizer, sentence: AnySentence, maxLength = 128): number {
  let pos = 0;
  let dropped = 0;
  for (const w of sentence.tokens) {
    if (pos >= maxLength - 2) dropped++;
    pos += tokenizer.tokenizeWord(w).ids.length;
  }
  return dropped;
}
