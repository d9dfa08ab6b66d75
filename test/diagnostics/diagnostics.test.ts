/**
 * Diagnostics on tiny random models and a few sentences: [CLS] vectors equal the encoder's own hidden states
 * (first window of a long sentence), MMD per layer is the loss's `mmd` on those vectors, zero for identical sets,
 * seeded and reproducible, leak-free; cross-model MMD of a model with itself is zero; 2-D projections are seeded
 * and keep two well-separated clusters apart.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initBackend } from '../../src/backend/init.js';
import { labelSchema } from '../../src/data/schema.js';
import type { Sentence } from '../../src/data/types.js';
import { mmd } from '../../src/losses/mmd.js';
import { loadBert } from '../../src/model/checkpoint.js';
import { LayerHeads } from '../../src/model/heads.js';
import { disposeNerModel, type NerModel } from '../../src/model/ner-model.js';
import { writeTinyCheckpoint } from '../../src/model/tiny.js';
import { createRng } from '../../src/rng.js';
import { tf } from '../../src/tf.js';
import { encodeDataset } from '../../src/tokenizer/dataset.js';
import { loadTokenizer } from '../../src/tokenizer/load.js';
import { batchToTensors, disposeBatchTensors } from '../../src/tokenizer/tensors.js';
import { padBatch } from '../../src/tokenizer/batching.js';
import { clsByLayer, clsEmbeddings } from '../../src/diagnostics/cls.js';
import {
  crossModelMmdRows,
  mmdByLayer,
  mmdByLayerRows,
  sampleSide,
  SOURCE_TARGET,
  TEACHER_STUDENT,
} from '../../src/diagnostics/mmd.js';
import { project2d } from '../../src/diagnostics/project.js';

const schema = labelSchema(['PER', 'LOC', 'ORG']);

const made: string[] = [];
after(() => made.forEach((d) => rmSync(d, { recursive: true, force: true })));

function tinyModel(seed: number, name: string): NerModel {
  const dir = mkdtempSync(join(tmpdir(), 'msd-diag-model-'));
  made.push(dir);
  writeTinyCheckpoint(dir, { seed, hiddenSize: 16, numLayers: 3, numHeads: 2, intermediateSize: 32 });
  const { encoder } = loadBert(dir);
  const heads = new LayerHeads({ hiddenSize: 16, numLabels: schema.tags.length, numLayers: 3, layers: [2, 3], seed });
  return { name, encoder, heads, tokenizer: loadTokenizer(dir), schema, maxLength: 16 };
}

const es = 'la casa de Juan en Madrid tiene un jardin muy grande y bonito con flores rojas'.split(' ');
const nl = 'het huis van Jan in Amsterdam heeft een tuin die groot en mooi is met rode bloemen'.split(' ');
function sentences(lang: string, words: string[], n: number, seed: number): Sentence[] {
  const rng = createRng(seed);
  return Array.from({ length: n }, (_, i) => {
    const tokens = Array.from({ length: 3 + rng.int(6) }, () => words[rng.int(words.length)]!);
    return { id: `${lang}#${i}`, lang, tokens, tags: tokens.map(() => 'O'), source: { file: 'mem', line: i + 1 } };
  });
}
const source = sentences('es', es, 14, 1);
const target = sentences('nl', nl, 12, 2);

test('clsByLayer: the encoder hidden state at [CLS], first window of a long sentence, every layer', async () => {
  await initBackend({ prefer: 'cpu' });
  const model = tinyModel(3, 'm');
  const long: Sentence = {
    id: 'long',
    lang: 'es',
    tokens: [...es, ...es, ...es],
    tags: [...es, ...es, ...es].map(() => 'O'),
    source: { file: 'mem', line: 99 },
  };
  const list = [source[0]!, long, source[1]!];
  const before = tf.memory().numTensors;
  const got = clsByLayer(model, list, [0, 1, 3], { batchSize: 2 });
  assert.equal(tf.memory().numTensors, before, 'no tensor leaked');
  const { encoded } = encodeDataset(model.tokenizer, list, { maxLength: model.maxLength });
  assert.ok(encoded.filter((e) => e.sentenceId === 'long').length > 1, 'the long sentence has several windows');
  list.forEach((s, i) => {
    const first = encoded.find((e) => e.sentenceId === s.id && e.window.index === 0)!;
    const t = batchToTensors(padBatch([first], model.tokenizer.padId));
    const { hidden } = model.encoder.forward(t, { training: false });
    for (const m of [0, 1, 3]) {
      const want = hidden[m]!.slice([0, 0, 0], [1, 1, 16]).dataSync();
      const row = got.get(m)!.data.subarray(i * 16, (i + 1) * 16);
      for (let k = 0; k < 16; k++) assert.ok(Math.abs(row[k]! - want[k]!) < 1e-5, `${s.id} layer ${m} dim ${k}`);
    }
    tf.dispose(hidden);
    disposeBatchTensors(t);
  });
  const last = clsEmbeddings(model, list);
  assert.equal(last.layer, 3, 'layer -1 is the last layer');
  assert.deepEqual(last.ids, ['es#0', 'long', 'es#1']);
  assert.deepEqual(last.vectors[1], Array.from(got.get(3)!.data.subarray(16, 32)));
  assert.throws(() => clsByLayer(model, list, [4]), /layer 4 does not exist; expected an integer in 0..3/);
  assert.throws(() => clsByLayer(model, [source[0]!, source[0]!], [1]), /appears twice/);
  disposeNerModel(model);
});

test("mmdByLayer: the loss's mmd on the [CLS] vectors, zero for identical sets, seeded, leak-free", async () => {
  await initBackend({ prefer: 'cpu' });
  const teacher = tinyModel(3, 'teacher');
  const student = tinyModel(4, 'student:nl');
  const before = tf.memory().numTensors;
  const rows = mmdByLayerRows([teacher, student], source, target, { sample: 10, seed: 7 });
  assert.equal(tf.memory().numTensors, before, 'no tensor leaked');
  assert.deepEqual(
    rows.map((r) => `${r.model}/${r.layer}/${r.pair}`),
    ['teacher', 'student:nl'].flatMap((m) => [1, 2, 3].map((l) => `${m}/${l}/${SOURCE_TARGET}`)),
  );
  for (const r of rows) assert.ok(r.mmd2 > 1e-4, `${r.model} layer ${r.layer}: ${r.mmd2} > 0 for different languages`);

  // the same number as the loss's mmd on the same seeded samples
  const src = sampleSide(source, 10, 7, 'source');
  const tgt = sampleSide(target, 10, 7, 'target');
  const a = clsByLayer(teacher, src, [2]).get(2)!;
  const b = clsByLayer(teacher, tgt, [2]).get(2)!;
  const direct = tf.tidy(
    () => mmd(tf.tensor2d(a.data, [a.rows, a.dim]), tf.tensor2d(b.data, [b.rows, b.dim])).dataSync()[0]!,
  );
  assert.equal(rows.find((r) => r.model === 'teacher' && r.layer === 2)!.mmd2, direct);

  // same seed, same numbers; another seed draws other sentences
  assert.deepEqual(mmdByLayerRows([teacher, student], source, target, { sample: 10, seed: 7 }), rows);
  const other = mmdByLayerRows(teacher, source, target, { sample: 10, seed: 8, layers: [2] });
  assert.notEqual(other[0]!.mmd2, direct);

  // identical sets: zero (up to float rounding)
  for (const r of mmdByLayerRows(teacher, source, source, { sample: 200 }))
    assert.ok(Math.abs(r.mmd2) < 1e-5, `self MMD ${r.mmd2}`);

  // cross-model: a model against itself is zero, against another model not
  for (const r of crossModelMmdRows(teacher, teacher, source, { sample: 10 })) assert.ok(Math.abs(r.mmd2) < 1e-5);
  const cross = crossModelMmdRows(teacher, student, source, { sample: 10 });
  assert.deepEqual(
    cross.map((r) => r.pair),
    [TEACHER_STUDENT, TEACHER_STUDENT, TEACHER_STUDENT],
  );
  assert.equal(cross[0]!.model, 'teacher vs student:nl');
  assert.ok(cross.every((r) => r.mmd2 > 1e-4));

  // the DataFrame: source-target rows of both models, then teacher vs student
  const df = mmdByLayer([teacher, student], source, target, { sample: 10, seed: 7 });
  assert.deepEqual(df.columns, ['model', 'layer', 'pair', 'mmd2']);
  assert.equal(df.shape[0], 9);
  assert.equal(tf.memory().numTensors, before, 'no tensor leaked');
  assert.throws(
    () => mmdByLayerRows(teacher, source.slice(0, 1), target),
    /source has 1 sentence\(s\); expected at least 2/,
  );
  disposeNerModel(teacher);
  disposeNerModel(student);
});

test('project2d: seeded, finite, keeps two separated clusters apart (t-SNE, UMAP, PCA)', () => {
  const rng = createRng(11);
  const vectors = Array.from({ length: 40 }, (_, i) =>
    Array.from({ length: 12 }, () => (i < 20 ? 5 : -5) + rng.next()),
  );
  for (const method of ['t-sne', 'umap', 'pca'] as const) {
    const xy = project2d(vectors, { method, seed: 3 });
    assert.equal(xy.length, 40);
    assert.deepEqual(project2d(vectors, { method, seed: 3 }), xy, `${method}: same seed, same picture`);
    const mean = (pts: [number, number][]) =>
      pts.reduce((s, p) => [s[0] + p[0] / pts.length, s[1] + p[1] / pts.length], [0, 0]);
    const [ca, cb] = [mean(xy.slice(0, 20)), mean(xy.slice(20))];
    const spread = (pts: [number, number][], c: number[]) =>
      Math.max(...pts.map((p) => Math.hypot(p[0] - c[0]!, p[1] - c[1]!)));
    const gap = Math.hypot(ca[0] - cb[0], ca[1] - cb[1]);
    assert.ok(
      gap > Math.max(spread(xy.slice(0, 20), ca), spread(xy.slice(20), cb)),
      `${method}: clusters apart (gap ${gap.toFixed(2)})`,
    );
  }
  assert.throws(
    () =>
      project2d([
        [1, 2],
        [3, 4],
      ]),
    /expected at least 3/,
  );
  assert.throws(() => project2d([[1, 2], [3, 4], [5]]), /row 2 has width 1, row 0 has 2/);
  assert.throws(
    () =>
      project2d([
        [1, 2],
        [3, NaN],
        [5, 6],
      ]),
    /row 1 holds a NaN/,
  );
  assert.throws(() => project2d(vectors, { method: 'mds' as never }), /not one of 't-sne', 'umap', 'pca'/);
});
