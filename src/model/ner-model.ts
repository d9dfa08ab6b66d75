/**
 * A trained NER model as one object: encoder + per-layer heads + tokenizer + label schema + the sequence length it
 * was trained with. This is what `evaluate`, `predict`, the trainer and notebooks pass around, and what
 * `saveNerModel` writes as a Hugging Face-style directory (model.safetensors, config.json with id2label, tokenizer
 * files, training_config.json).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LabelSchema } from '../data/types.js';
import { labelSchema } from '../data/schema.js';
import { loadTokenizer } from '../tokenizer/load.js';
import type { WordPieceTokenizer } from '../tokenizer/wordpiece.js';
import type { BertEncoder } from './bert.js';
import { loadBert } from './checkpoint.js';
import type { LayerHeads } from './heads.js';
import { saveModel } from './save.js';

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

/** The schema of a saved model from its `id2label`, checked to be a well-formed IOB2 schema. */
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

/** Writes the model as a Hugging Face-style directory (atomic per file). */
export function saveNerModel(
  dir: string,
  model: NerModel,
  opts: { trainingConfig?: unknown; tokenizerFrom?: string } = {},
): void {
  saveModel(dir, model.encoder, model.heads, {
    labels: model.schema.tags,
    trainingConfig:
      opts.trainingConfig === undefined
        ? { maxLength: model.maxLength }
        : { maxLength: model.maxLength, ...(opts.trainingConfig as object) },
    tokenizerFrom: opts.tokenizerFrom,
  });
}

/** Loads a directory written by `saveNerModel` (or any BERT directory with `msd_heads` and `id2label`). */
export function loadNerModel(dir: string, opts: { name?: string } = {}): NerModel {
  const loaded = loadBert(dir);
  const configPath = join(dir, 'config.json');
  const raw = JSON.parse(readFileSync(configPath, 'utf8')) as { id2label?: Record<string, string> };
  if (!loaded.heads) {
    loaded.encoder.dispose();
    throw new Error(
      `${dir}: no per-layer heads (classifier.layer_{m}.*) in the checkpoint; is this a trained msd-ner model?`,
    );
  }
  if (!raw.id2label) {
    loaded.encoder.dispose();
    loaded.heads.dispose();
    throw new Error(`${configPath}: no id2label; expected the tag list of the heads`);
  }
  const labels = Object.keys(raw.id2label)
    .sort((a, b) => Number(a) - Number(b))
    .map((k) => raw.id2label![k]!);
  const schema = schemaFromLabels(labels, configPath);
  const trainingPath = join(dir, 'training_config.json');
  const training = existsSync(trainingPath)
    ? (JSON.parse(readFileSync(trainingPath, 'utf8')) as { maxLength?: number })
    : {};
  return {
    name: opts.name ?? dir,
    encoder: loaded.encoder,
    heads: loaded.heads,
    tokenizer: loadTokenizer(dir),
    schema,
    maxLength: training.maxLength ?? 128,
  };
}

export function disposeNerModel(model: Pick<NerModel, 'encoder' | 'heads'>): void {
  model.encoder.dispose();
  model.heads.dispose();
}
