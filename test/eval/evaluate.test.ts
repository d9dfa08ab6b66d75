/**
 * evaluate() and predict() over a small random model: every word of every sentence gets a tag (long sentences are
 * windowed and merged back), every head is scored, raw text is pre-tokenised, a saved model predicts the same after
 * loading, and nothing leaks.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initBackend } from '../../src/backend/init.js';
import { labelSchema } from '../../src/data/schema.js';
import type { Sentence } from '../../src/data/types.js';
import { evaluateRows } from '../../src/eval/evaluate.js';
import { scoreEntities } from '../../src/eval/metric.js';
import { predict, predictLayerTags, pretokenize, runHeads } from '../../src/eval/predict.js';
import { loadBert } from '../../src/model/checkpoint.js';
import { LayerHeads } from '../../src/model/heads.js';
import { disposeNerModel, loadNerModel, saveNerModel, type NerModel } from '../../src/model/ner-model.js';
import { writeTinyCheckpoint } from '../../src/model/tiny.js';
import { tf } from '../../src/tf.js';
import { loadTokenizer } from '../../src/tokenizer/load.js';

const schema = labelSchema(['PER', 'LOC', 'ORG', 'MISC']);

function tinyModel(seed = 3): { model: NerModel; dir: string } {
  const dir = mkdtempSync(join(tmpdir(), 'msd-eval-model-'));
  writeTinyCheckpoint(dir, { seed, hiddenSize: 16, numLayers: 4, numHeads: 2, intermediateSize: 32 });
  const { encoder } = loadBert(dir);
  const heads = new LayerHeads({
    hiddenSize: 16,
    numLabels: schema.tags.length,
    numLayers: 4,
    layers: [2, 3, 4],
    seed,
  });
  return { dir, model: { name: 'tiny', encoder, heads, tokenizer: loadTokenizer(dir), schema, maxLength: 16 } };
}

function sentence(id: string, tokens: string[], tags: string[]): Sentence {
  return { id, lang: 'es', tokens, tags, source: { file: 'mem', line: 1 } };
}

const words = 'la casa de Juan en Madrid tiene un jardin muy grande y bonito con flores rojas'.split(' ');
const sentences: Sentence[] = [
  sentence('s0', ['Juan', 'vive', 'en', 'Madrid', '.'], ['B-PER', 'O', 'O', 'B-LOC', 'O']),
  // 48 words: far more than 16 sub-tokens, so several windows
  sentence(
    's1',
    [...words, ...words, ...words],
    [...words, ...words, ...words].map((w) => (w === 'Madrid' ? 'B-LOC' : w === 'Juan' ? 'B-PER' : 'O')),
  ),
  sentence('s2', ['ONU'], ['B-ORG']),
];

test('every word of every sentence is predicted by every head, windows merged back', async () => {
  await initBackend({ prefer: 'cpu' });
  const { model } = tinyModel();
  const before = tf.memory().numTensors;
  const out = runHeads(model, sentences, { probs: true, batchSize: 2 });
  assert.deepEqual(out.layers, [2, 3, 4]);
  for (const m of out.layers) {
    assert.deepEqual(
      out.labels.get(m)!.map((a) => a.length),
      sentences.map((s) => s.tokens.length),
    );
    for (const ids of out.labels.get(m)!) for (const id of ids) assert.ok(id >= 0 && id < schema.tags.length);
  }
  for (const p of out.probs!) for (const x of p) assert.ok(x > 0 && x <= 1);
  assert.equal(tf.memory().numTensors, before, 'runHeads leaks no tensor');
  // The windowed sentence decodes the same whatever the batch composition.
  const alone = runHeads(model, [sentences[1]!], { layers: [4] });
  assert.deepEqual(Array.from(alone.labels.get(4)![0]!), Array.from(out.labels.get(4)![1]!));
  disposeNerModel(model);
});

test('evaluateRows scores each head on the gold tags like scoreEntities does', async () => {
  await initBackend({ prefer: 'cpu' });
  const { model } = tinyModel();
  const rows = evaluateRows(model, { sentences, split: 'test' });
  assert.deepEqual(
    rows.map((r) => r.layer),
    [2, 3, 4],
  );
  const tags = predictLayerTags(model, sentences);
  for (const r of rows) {
    assert.equal(r.model, 'tiny');
    assert.equal(r.language, 'es');
    assert.equal(r.support, 2 + 6 + 1);
    assert.equal(r.f1, scoreEntities(sentences, tags.get(r.layer)!).f1);
  }
  assert.throws(() => runHeads(model, [sentences[0]!, sentences[0]!]), /sentence id 's0' appears twice/);
  assert.throws(() => runHeads(model, sentences, { layers: [1] }), /no head on layer 1/);
  disposeNerModel(model);
});

test('predict tags raw text, token lists and sentences; a saved model predicts the same after loading', async () => {
  await initBackend({ prefer: 'cpu' });
  assert.deepEqual(pretokenize('Juan vive en Madrid, España.'), ['Juan', 'vive', 'en', 'Madrid', ',', 'España', '.']);
  const { model, dir } = tinyModel(5);
  const preds = predict(model, ['Juan vive en Madrid, España.', ['ONU'], sentences[1]!]);
  assert.equal(preds.length, 3);
  assert.deepEqual(preds[0]!.tokens, pretokenize('Juan vive en Madrid, España.'));
  preds.forEach((p) => {
    assert.equal(p.tags.length, p.tokens.length);
    assert.equal(p.probs.length, p.tokens.length);
    for (const e of p.entities) assert.deepEqual(e.text, p.tokens.slice(e.start, e.end).join(' '));
  });
  const out = join(dir, 'saved');
  saveNerModel(out, model, { tokenizerFrom: dir });
  const loaded = loadNerModel(out, { name: 'loaded' });
  assert.equal(loaded.maxLength, 16);
  assert.deepEqual(loaded.schema.tags, schema.tags);
  assert.deepEqual(predict(loaded, ['Juan vive en Madrid, España.', ['ONU'], sentences[1]!]), preds);
  disposeNerModel(model);
  disposeNerModel(loaded);
});
