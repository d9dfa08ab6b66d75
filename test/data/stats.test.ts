/** datasetStats: a danfojs DataFrame per split, checked against the README and against plain counting. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { tf } from '../../src/tf.js';
import { datasetStats, loadDataset, splitStats, type Split } from '../../src/data/index.js';
import { DATA_ROOT } from './helpers.js';
import { noRealData } from '../real-data.js';

const SPLITS: Split[] = ['train', 'dev', 'test'];

test(
  'CoNLL-2002 es/nl statistics equal the README counts and direct counting',
  { skip: noRealData('README.md') || noRealData('conll2002') },
  () => {
    const readme = readFileSync(join(DATA_ROOT, 'README.md'), 'utf8');
    const datasets = ['es', 'nl'].flatMap((lang) =>
      SPLITS.map((split) => loadDataset('conll2002', lang, split, { root: DATA_ROOT })),
    );
    const before = tf.memory().numTensors;
    const df = datasetStats(datasets);
    assert.equal(tf.memory().numTensors, before, 'building the frame creates no tensors');
    assert.deepEqual(df.columns, [
      'dataset',
      'lang',
      'split',
      'sentences',
      'tokens',
      'entities',
      'meanLength',
      'maxLength',
      'LOC',
      'MISC',
      'ORG',
      'PER',
    ]);
    assert.deepEqual(df.shape, [6, 12]);
    const rows = df.values as (string | number)[][];
    const col = (name: string) => rows.map((r) => r[df.columns.indexOf(name)]);
    assert.deepEqual(col('split'), ['train', 'dev', 'test', 'train', 'dev', 'test']);
    for (const lang of ['es', 'nl']) {
      const row = readme.split('\n').find((l) => l.startsWith(`| conll2002/${lang} `))!;
      const m = /(\d+) \/ (\d+) \/ (\d+) sentences, (\d+) \/ (\d+) \/ (\d+) entities/.exec(row)!;
      const offset = lang === 'es' ? 0 : 3;
      assert.deepEqual(col('sentences').slice(offset, offset + 3), m.slice(1, 4).map(Number), `${lang} sentences`);
      assert.deepEqual(col('entities').slice(offset, offset + 3), m.slice(4, 7).map(Number), `${lang} entities`);
    }
    datasets.forEach((ds, i) => {
      const tokens = ds.sentences.reduce((a, s) => a + s.tokens.length, 0);
      assert.equal(col('tokens')[i], tokens);
      assert.equal(col('tokens')[i], ds.report.tokens);
      assert.equal(col('meanLength')[i], tokens / ds.sentences.length);
      assert.equal(col('maxLength')[i], Math.max(...ds.sentences.map((s) => s.tokens.length)));
      for (const t of ['LOC', 'MISC', 'ORG', 'PER']) assert.equal(col(t)[i], ds.report.entities[t], `${t} ${i}`);
      const perType = ['LOC', 'MISC', 'ORG', 'PER'].reduce((a, t) => a + (col(t)[i] as number), 0);
      assert.equal(perType, col('entities')[i]);
    });
  },
);

test(
  'types missing from a split are 0; plain sentence lists work; the frame shares the library tfjs-core',
  { skip: noRealData('multiconer/ko') || noRealData('wikiann/en') },
  () => {
    const ko = loadDataset('multiconer', 'ko', 'dev', { root: DATA_ROOT });
    const en = loadDataset('wikiann', 'en', 'dev', { root: DATA_ROOT });
    const df = datasetStats([ko, { sentences: en.sentences }]);
    assert.deepEqual(df.columns.slice(8), ['CORP', 'CW', 'GRP', 'LOC', 'ORG', 'PER', 'PROD']);
    const rows = df.values as (string | number)[][];
    assert.equal(rows[0]![df.columns.indexOf('ORG')], 0);
    assert.equal(rows[1]![df.columns.indexOf('CW')], 0);
    assert.deepEqual(rows[1]!.slice(0, 3), ['', 'en', '']);
    assert.equal(rows[1]![df.columns.indexOf('sentences')], splitStats(en).sentences);
    // danfojs builds its tensors with the same engine as `tf`: our tf sees and frees them.
    const before = tf.memory().numTensors;
    const t = df.loc({ columns: ['sentences', 'tokens'] }).tensor;
    assert.ok(t instanceof tf.Tensor);
    assert.equal(tf.memory().numTensors, before + 1);
    t.dispose();
    assert.equal(tf.memory().numTensors, before);
    assert.throws(() => datasetStats([]), /expected at least one split/);
  },
);
