/** src/tokenizer: BERT WordPiece, label alignment, windows for long sentences, batching and tensors. */
export { isBertWhitespace, isBertRemoved, isBertPunctuation, isChineseChar } from './unicode.js';
export { preTokenizeWord, type BertNormalization } from './normalize.js';
export { WordPieceTokenizer, type WordPieceConfig, type WordTokens, type EncodedWords } from './wordpiece.js';
export {
  loadTokenizer,
  configFromTokenizerJson,
  configFromVocabTxt,
  tokenizerFromVocab,
  type LoadTokenizerOptions,
  type TokenizerFile,
} from './load.js';
export { planWindows, type WindowSpan } from './windows.js';
export {
  encodeSentence,
  resolveEncodeOptions,
  encodeTokenized,
  firstPieceMask,
  predictionMask,
  IGNORE_LABEL,
  DEFAULT_MAX_LENGTH,
  type EncodeOptions,
  type ResolvedEncodeOptions,
  type Encoded,
  type WindowInfo,
} from './align.js';
export { decodeWordLabels, decodeWordTags, decodeSentences } from './decode.js';
export { encodeDataset, droppedByTruncation, type EncodeReport, type EncodedDataset } from './dataset.js';
export {
  makeBatches,
  padBatch,
  batchRows,
  paddingEfficiency,
  fixedPaddingEfficiency,
  type Batch,
  type BatchOptions,
} from './batching.js';
export { batchToTensors, disposeBatchTensors, type BatchTensors } from './tensors.js';
export { createRng, mixSeed, type Rng } from '../rng.js';
