/**
 * The NerModel type on its own (no Node imports), so the browser tagger can name it; ner-model.ts saves and
 * loads it.
 */
import type { LabelSchema } from '../data/types.js';
import type { WordPieceTokenizer } from '../tokenizer/wordpiece.js';
import type { BertEncoder } from './bert.js';
import type { LayerHeads } from './heads.js';

/**
 * A trained NER model as one object: encoder + per-layer heads + tokenizer + label schema + the sequence length it
 * was trained with. This is what `evaluate`, `predict`, the trainer and notebooks pass around.
 */
export interface NerModel {
  /** A label for tables and logs: `teacher`, `student:nl`, ... */
  name: string;
  encoder: BertEncoder;
  heads: LayerHeads;
  tokenizer: WordPieceTokenizer;
  schema: LabelSchema;
  /** Sub-tokens per window the model was trained with (longer sentences are windowed, never cut). */
  maxLength: number;
}
