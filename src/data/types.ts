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
 * `Sentence` (with gold tags) cannot be passed where student training expects unlabelled text, and it has no
 * `tags` property, so even reading one does not compile. Build it with `unlabelled()`; it copies the tokens and drops the
 * tags at run time too (the public reference code leaked target labels into student training).
 */
export interface UnlabelledSentence {
  readonly id: string;
  readonly lang: string;
  readonly tokens: readonly string[];
  readonly source: SourceLocation;
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

/** Tag schemes the readers accept; everything is converted to IOB2 on load. */
export type TagScheme = 'iob1' | 'iob2' | 'bioes';

/** One thing wrong with an input file: where, the offending line, and what was expected instead. */
export interface LoadProblem {
  file: string;
  /** 1-based line (for parquet files: 1-based row). */
  line: number;
  /** The offending line as read (without its line ending). */
  text: string;
  /** What is wrong and what was expected. */
  message: string;
}

/** What a reader found in one file. Entity counts are numbers of `B-` tags after conversion to IOB2. */
export interface LoadReport {
  file: string;
  /** Sentences returned (excluding `-DOCSTART-` lines and sentences dropped for problems). */
  sentences: number;
  tokens: number;
  /** Entities per type, keys sorted. */
  entities: Record<string, number>;
  /** Total entities over all types. */
  entityTotal: number;
  /** `-DOCSTART-` document markers seen (0 where the corpus marks none). */
  documents: number;
  /** `I-X` tags that started an entity in an IOB2/BIOES file and were rewritten to `B-X`. */
  repaired: { count: number; first: SourceLocation[] };
  encoding: 'utf-8' | 'latin-1';
  /** Whether the file started with a byte-order mark (accepted and removed). */
  bom: boolean;
  /** The input tag scheme, and whether it was given or detected. */
  scheme: TagScheme;
  schemeSource: 'given' | 'detected';
  /** Problems collected with `strict: false` (with `strict: true`, the first one is thrown instead). */
  problems: LoadProblem[];
  /** Sentences left out because one of their lines had a problem (`strict: false` only). */
  droppedSentences: number;
}

/** A reader's answer: the sentences (tags IOB2) and what was found on the way. */
export interface ReadResult {
  sentences: Sentence[];
  report: LoadReport;
}
