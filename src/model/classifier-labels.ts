/**
 * Label names of saved heads <-> a label schema. A model this library saved lists exactly its schema's tags in
 * `id2label` (`schemaFromLabels`); a token-classification checkpoint from elsewhere (the Hub, transformers) names
 * its classifier's outputs in its own order and spelling, and `mapClassifier` reorders its rows into a corpus's
 * schema: every label must name a tag of the schema (`B-PER`, `b_per`, `B-PERSON` all map to `B-PER`), and an
 * unmappable one is an error naming it. Pure (no Node imports): the browser tagger uses it too.
 */
import { labelSchema } from '../data/schema.js';
import type { LabelSchema } from '../data/types.js';
import type { HfClassifier } from './hf-tensors.js';

/** The schema of a saved model from its `id2label`, checked to be a well-formed IOB2 schema in this library's order. */
export function schemaFromLabels(labels: readonly string[], where: string): LabelSchema {
  const types = labels.filter((t) => t.startsWith('B-')).map((t) => t.slice(2));
  const schema = labelSchema(types);
  if (schema.tags.join(' ') !== labels.join(' ')) {
    throw new Error(
      `${where}: id2label [${labels.join(' ')}] is not the IOB2 schema this library writes (expected [${schema.tags.join(' ')}])`,
    );
  }
  return schema;
}

/** `id2label` of a config object as a list by id (ids 0..n-1, each once), or an error naming `where`. */
export function labelsFromId2label(id2label: unknown, where: string): string[] {
  if (typeof id2label !== 'object' || id2label === null || Array.isArray(id2label))
    throw new Error(`${where}: id2label must be an object {"0": "O", ...}`);
  const entries = Object.entries(id2label as Record<string, unknown>);
  const labels: string[] = [];
  for (const [k, v] of entries) {
    const i = Number(k);
    if (!Number.isInteger(i) || i < 0 || i >= entries.length || String(i) !== k)
      throw new Error(`${where}: id2label key "${k}" is not an id in 0..${entries.length - 1}`);
    if (typeof v !== 'string' || v === '') throw new Error(`${where}: id2label["${k}"] must be a non-empty string`);
    labels[i] = v;
  }
  return labels;
}

/** Common spellings of entity types in published checkpoints -> the corpora's names. */
const TYPE_ALIASES: Record<string, string> = {
  PERSON: 'PER',
  PERS: 'PER',
  LOCATION: 'LOC',
  ORGANIZATION: 'ORG',
  ORGANISATION: 'ORG',
  MISCELLANEOUS: 'MISC',
};

/** A label in this library's spelling (`O`, `B-T`, `I-T`), or undefined when it is not an IOB2 tag. */
export function normalizeLabel(label: string): string | undefined {
  const s = label.trim();
  if (/^o$/i.test(s)) return 'O';
  const m = /^([BI])[-_](.+)$/i.exec(s);
  if (!m) return undefined;
  const type = m[2]!.toUpperCase();
  return `${m[1]!.toUpperCase()}-${TYPE_ALIASES[type] ?? type}`;
}

export interface MappedClassifier {
  /** [hidden, schema.tags.length] in the schema's tag order. */
  kernel: Float32Array;
  bias: Float32Array;
  /** schema tag -> the checkpoint's label it came from. */
  from: Map<string, string>;
  /** Schema tags the checkpoint has no output for: their rows keep the values of `fresh`. */
  fresh: string[];
}

/**
 * Reorders a transformers classifier into `schema`'s tag order. Every checkpoint label must map to a schema tag
 * (else an error naming the label); schema tags the checkpoint lacks keep the rows of `fresh` (a newly initialised
 * head of the schema's size).
 */
export function mapClassifier(
  classifier: HfClassifier,
  schema: LabelSchema,
  where: string,
  fresh: { kernel: Float32Array; bias: Float32Array },
): MappedClassifier {
  const labels = classifier.labels;
  if (!labels)
    throw new Error(
      `${where}: config.json has no id2label naming the classifier's ${classifier.numLabels} outputs; its labels cannot be matched to the corpus's tags`,
    );
  const C = schema.tags.length;
  const H = classifier.kernel.length / classifier.numLabels;
  if (fresh.kernel.length !== H * C || fresh.bias.length !== C)
    throw new Error(`mapClassifier: the fresh head must be ${H}x${C}`);
  const kernel = Float32Array.from(fresh.kernel);
  const bias = Float32Array.from(fresh.bias);
  const from = new Map<string, string>();
  labels.forEach((label, src) => {
    const tag = normalizeLabel(label);
    const dst = tag === undefined ? undefined : schema.tagToId.get(tag);
    if (dst === undefined) {
      throw new Error(
        `${where}: label "${label}" (id ${src} in id2label) has no counterpart in the corpus's tags [${schema.tags.join(' ')}]` +
          (/^LABEL_\d+$/.test(label) ? " (transformers' default name: the checkpoint does not say what it tags)" : ''),
      );
    }
    const taken = from.get(schema.tags[dst]!);
    if (taken !== undefined)
      throw new Error(`${where}: labels "${taken}" and "${label}" of id2label both map to ${schema.tags[dst]}`);
    from.set(schema.tags[dst]!, label);
    for (let h = 0; h < H; h++) kernel[h * C + dst] = classifier.kernel[h * classifier.numLabels + src]!;
    bias[dst] = classifier.bias[src]!;
  });
  return { kernel, bias, from, fresh: schema.tags.filter((t) => !from.has(t)) };
}
