/**
 * Label schemas and the explicit mapping between them. A schema fixes the tag ids a model is trained with:
 * `O` is id 0, then `B-T`, `I-T` for each type in the given order. Datasets with different type sets (CoNLL's
 * PER/ORG/LOC/MISC, WikiAnn's PER/ORG/LOC, MultiCoNER's six) are combined only through `mapSchema`, which demands
 * a target (or `null` for "drop to O") for every type present, so no entity is lost or renamed by accident.
 */
import type { LabelSchema, Sentence } from './types.js';

const TYPE_RE = /^\S+$/;

/** Builds a schema from an ordered list of entity types. */
export function labelSchema(types: readonly string[]): LabelSchema {
  const seen = new Set<string>();
  for (const t of types) {
    if (!TYPE_RE.test(t) || t === 'O' || /^[BIES]-/.test(t)) {
      throw new Error(
        `labelSchema: invalid entity type ${JSON.stringify(t)}; expected a non-empty name without spaces, not a tag`,
      );
    }
    if (seen.has(t)) throw new Error(`labelSchema: entity type '${t}' appears twice in [${types.join(', ')}]`);
    seen.add(t);
  }
  const tags = ['O', ...types.flatMap((t) => [`B-${t}`, `I-${t}`])];
  return Object.freeze({
    types: Object.freeze([...types]),
    tags: Object.freeze(tags),
    tagToId: new Map(tags.map((t, i) => [t, i] as const)),
    idToTag: Object.freeze([...tags]),
  });
}

/** The standard type lists of the corpora, in the order of their Hugging Face label lists. */
export const STANDARD_TYPES = {
  conll: ['PER', 'ORG', 'LOC', 'MISC'],
  wikiann: ['PER', 'ORG', 'LOC'],
  multiconer: ['PER', 'LOC', 'GRP', 'CORP', 'PROD', 'CW'],
} as const satisfies Record<string, readonly string[]>;

/** Entity types that occur in the sentences, sorted (so every split of a corpus gives the same schema). */
export function typesOf(sentences: Iterable<Sentence>): string[] {
  const types = new Set<string>();
  for (const s of sentences) for (const tag of s.tags) if (tag !== 'O') types.add(tag.slice(2));
  return [...types].sort();
}

/** A schema over the types that occur in the sentences (sorted). Prefer a fixed type list for training. */
export function schemaFromSentences(sentences: Iterable<Sentence>): LabelSchema {
  return labelSchema(typesOf(sentences));
}

/** Throws unless every tag of every sentence is in the schema, naming the first sentence and tag that is not. */
export function checkSchema(sentences: Iterable<Sentence>, schema: LabelSchema): void {
  for (const s of sentences) {
    for (let i = 0; i < s.tags.length; i++) {
      if (!schema.tagToId.has(s.tags[i]!)) {
        throw new Error(
          `${s.source.file}:${s.source.line}: sentence ${s.id} token ${i} has tag '${s.tags[i]}', which is not in the schema; expected one of ${schema.tags.join(' ')}`,
        );
      }
    }
  }
}

/** Tag ids of a sentence under a schema (throws on a tag outside it). */
export function tagIds(sentence: Sentence, schema: LabelSchema): Int32Array {
  const ids = new Int32Array(sentence.tags.length);
  for (let i = 0; i < ids.length; i++) {
    const id = schema.tagToId.get(sentence.tags[i]!);
    if (id === undefined) checkSchema([sentence], schema);
    ids[i] = id!;
  }
  return ids;
}

/** Source type -> target type, or `null` to turn that type's entities into `O`. */
export type TypeMapping = Readonly<Record<string, string | null>>;

export interface MapSchemaOptions {
  /** When given, every target type must be in this schema. */
  target?: LabelSchema;
}

/**
 * Renames (or drops, with `null`) entity types. Every type that occurs must be a key of `mapping`: an unmapped
 * type is an error listing all of them, never a silent `O`. Several source types may map to one target; IOB2
 * boundaries survive because every entity still starts with its own `B-`. Returns new sentences (same ids).
 */
export function mapSchema(
  sentences: readonly Sentence[],
  mapping: TypeMapping,
  opts: MapSchemaOptions = {},
): Sentence[] {
  const missing = typesOf(sentences).filter((t) => !Object.prototype.hasOwnProperty.call(mapping, t));
  if (missing.length > 0) {
    throw new Error(
      `mapSchema: no mapping for entity type${missing.length > 1 ? 's' : ''} ${missing.join(', ')}; expected each type present to map to a target type or null (drop)`,
    );
  }
  if (opts.target) {
    const allowed = new Set(opts.target.types);
    const bad = [...new Set(Object.values(mapping).filter((t): t is string => t !== null && !allowed.has(t)))];
    if (bad.length > 0) {
      throw new Error(
        `mapSchema: target type${bad.length > 1 ? 's' : ''} ${bad.join(', ')} not in the target schema (${opts.target.types.join(', ')})`,
      );
    }
  }
  return sentences.map((s) => ({
    ...s,
    tokens: [...s.tokens],
    tags: s.tags.map((tag) => {
      if (tag === 'O') return tag;
      const to = mapping[tag.slice(2)];
      return to === null || to === undefined ? 'O' : `${tag.slice(0, 2)}${to}`;
    }),
    source: { ...s.source },
  }));
}
