/**
 * A trained NER model as one object: encoder + per-layer heads + tokenizer + label schema + the sequence length it
 * was trained with. This is what `evaluate`, `predict`, the trainer and notebooks pass around, and what
 * `saveNerModel` writes as a Hugging Face-style directory (model.safetensors, config.json with id2label, tokenizer
 * files, training_config.json).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LabelSchema } from '../data/types.js';
import { loadTokenizer } from '../tokenizer/load.js';
import type { WordPieceTokenizer } from '../tokenizer/wordpiece.js';
import type { BertEncoder } from './bert.js';
import { loadBert } from './checkpoint.js';
import type { LayerHeads } from './heads.js';
import { saveModel } from './save.js';
import type { NerModel } from './ner-model-type.js';

export type { NerModel } from './ner-model-type.js';
import { labelsFromId2label, schemaFromLabels } from './classifier-labels.js';
import { LayerHeads as Heads } from './heads.js';

export { schemaFromLabels } from './classifier-labels.js';

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
  const fail = (msg: string): never => {
    loaded.encoder.dispose();
    loaded.heads?.dispose();
    throw new Error(msg);
  };
  let heads = loaded.heads;
  if (!heads && loaded.classifier) {
    // A BertForTokenClassification (from transformers or the Hub): its classifier is the one head, on the last layer.
    const L = loaded.config.numLayers;
    heads = new Heads(
      {
        hiddenSize: loaded.config.hiddenSize,
        numLabels: loaded.classifier.numLabels,
        numLayers: L,
        layers: [L],
        dropout: loaded.config.hiddenDropout,
      },
      new Map([
        [`classifier.layer_${L}.kernel`, loaded.classifier.kernel],
        [`classifier.layer_${L}.bias`, loaded.classifier.bias],
      ]),
    );
    loaded.heads = heads;
  }
  if (!heads)
    return fail(
      `${dir}: no heads (classifier.layer_{m}.* or a token-classification classifier.*) in the checkpoint; is this a trained NER model?`,
    );
  if (!raw.id2label) return fail(`${configPath}: no id2label; expected the tag list of the heads`);
  let schema: LabelSchema;
  try {
    schema = schemaFromLabels(labelsFromId2label(raw.id2label, configPath), configPath);
  } catch (err) {
    return fail((err as Error).message);
  }
  const trainingPath = join(dir, 'training_config.json');
  const training = existsSync(trainingPath)
    ? (JSON.parse(readFileSync(trainingPath, 'utf8')) as { maxLength?: number })
    : {};
  return {
    name: opts.name ?? dir,
    encoder: loaded.encoder,
    heads,
    tokenizer: loadTokenizer(dir),
    schema,
    maxLength: training.maxLength ?? 128,
  };
}

export function disposeNerModel(model: Pick<NerModel, 'encoder' | 'heads'>): void {
  model.encoder.dispose();
  model.heads.dispose();
}
