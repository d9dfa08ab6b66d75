/**
 * A small saved NER model for the export tests: 3 layers, 32 wide, mBERT's vocabulary (real text tokenises), a head
 * on every layer, written as a run's best/ directory (`saveNerModel`). The heads' weights are drawn with std 1 (not
 * BERT's 0.02) so that logits differ by far more than float32 noise between two engines, and every type occurs.
 */
import { join } from 'node:path';
import { labelSchema, STANDARD_TYPES } from '../../src/data/schema.js';
import { loadBert } from '../../src/model/checkpoint.js';
import { LayerHeads } from '../../src/model/heads.js';
import { disposeNerModel, saveNerModel, type NerModel } from '../../src/model/ner-model.js';
import { writeTinyCheckpoint } from '../../src/model/tiny.js';
import { loadTokenizer } from '../../src/tokenizer/load.js';
import { MBERT_DIR } from '../tokenizer/helpers.js';

export const SCHEMA = labelSchema(STANDARD_TYPES.conll);
export const MAX_LENGTH = 64;

/** Writes `<dir>/pretrained` and the model into `<dir>/best`; returns the latter. */
export function savedModel(dir: string): string {
  const pre = join(dir, 'pretrained');
  writeTinyCheckpoint(pre, {
    seed: 7,
    hiddenSize: 32,
    numLayers: 3,
    numHeads: 2,
    intermediateSize: 64,
    vocab: join(MBERT_DIR, 'vocab.txt'),
  });
  const { encoder } = loadBert(pre);
  const heads = new LayerHeads({
    hiddenSize: 32,
    numLabels: SCHEMA.tags.length,
    numLayers: 3,
    layers: 'all',
    seed: 11,
    initializerRange: 1,
  });
  const model: NerModel = {
    name: 't',
    encoder,
    heads,
    tokenizer: loadTokenizer(pre),
    schema: SCHEMA,
    maxLength: MAX_LENGTH,
  };
  saveNerModel(join(dir, 'best'), model, { tokenizerFrom: pre });
  disposeNerModel(model);
  return join(dir, 'best');
}
