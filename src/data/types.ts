/**
 * The data types every stage shares (see README "Architecture"). Tags are always IOB2 after loading.
 */

/** Where a sentence (or a problem) was found: the file and the 1-based line of its first token. */
export interface SourceLocation {
  file: string;
  line: number;
}

/** A labelled sentence: one tag per token, IOB2. */
export interface Sentence {
  /** Stable id, unique within a dataset split (e.g. `conll2002/es/train#12` or a MultiCoNER uuid). */
  id: string;
  /** ISO 639-1 language code of the text. */
  lang: string;
  tokens: string[];
  tags: string[];
  source: SourceLocation;
  /** Index of the document the sentence belongs to, where the corpus marks documents (`-DOCSTART-`). */
  doc?: number;
}

declare const unlabelledBrand: unique symbol;

/**
 * A target-language sentence as the student sees it: tokens only. The brand makes it a distinct type, so a
 * `Sentence` (with gold tags) cannot be passed where student training expects unlabelled text, and `tags` is
 * typed `never` so reading it does not compile. Build it with `unlabelled()`; it copies the tokens and drops the
 * tags at run time too (the public reference code leaked target labels into student training).
 */
export interface UnlabelledSentence {
  readonly id: string;
  readonly lang: string;
  readonly tokens: readonly string[];
  readonly source: SourceLocation;
  readonly tags?: never;
  readonly [unlabelledBrand]: true;
}

/** Either kind of sentence: what the tokenizer accepts. */
export type AnySentence = Sentence | UnlabelledSentence;

/**
 * The label set of a dataset: entity types and their IOB2 tags. `tags[0]` is always `O`; then `B-T`, `I-T` for each
 * type `T` in `types` order, so ids are stable for a given type list. Build one with `labelSchema(types)`.
 */
export interface LabelSchema {
  readonly types: readonly string[];
  readonly tags: readonly string[];
  readonly tagToId: ReadonlyMap<string, number>;
  readonly idToTag: readonly string[];
}
