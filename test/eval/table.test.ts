import { test } from 'node:test';
import assert from 'node:assert/strict';
import { layerRows, resultsFrame, resultsTable, formatPercent } from '../../src/eval/table.js';
import { scoreEntities } from '../../src/eval/metric.js';
import type { Sentence } from '../../src/data/types.js';

const sent = (id: string, lang: string, tags: string[]): Sentence => ({
  id,
  lang,
  tokens: tags.map((_, i) => `w${i}`),
  tags,
  source: { file: 'f', line: 1 },
});

const gold: Sentence[] = [
  sent('nl#0', 'nl', ['B-PER', 'I-PER', 'O']),
  sent('es#0', 'es', ['B-LOC', 'O']),
  sent('nl#1', 'nl', ['O', 'B-ORG']),
];
// layer 4 gets nl sentence 0 wrong; layer 12 is perfect
const layer4 = [
  ['B-PER', 'O', 'O'],
  ['B-LOC', 'O'],
  ['O', 'B-ORG'],
];
const layer12 = gold.map((s) => s.tags);

test('layerRows: one row per language and layer, hand-worked', () => {
  const rows = layerRows({
    gold,
    predictions: new Map([
      [12, layer12],
      [4, layer4],
    ]),
    split: 'test',
    model: 'teacher',
  });
  assert.deepEqual(
    rows.map((r) => [r.model, r.language, r.split, r.layer, r.support]),
    [
      ['teacher', 'nl', 'test', 4, 2],
      ['teacher', 'nl', 'test', 12, 2],
      ['teacher', 'es', 'test', 4, 1],
      ['teacher', 'es', 'test', 12, 1],
    ],
  );
  // nl layer 4: gold PER[0,2) ORG; predicted PER[0,1) ORG: P 1/2, R 1/2, F1 1/2
  assert.deepEqual([rows[0]!.precision, rows[0]!.recall, rows[0]!.f1], [0.5, 0.5, 0.5]);
  for (const r of rows.slice(1)) assert.deepEqual([r.precision, r.recall, r.f1], [1, 1, 1]);
});

test('layerRows: plain tag lists need a language; a Record works like a Map; rows match scoreEntities', () => {
  const tags = gold.map((s) => s.tags);
  assert.throws(() => layerRows({ gold: tags, predictions: { 4: layer4 }, split: 'dev' }), /`language` is required/);
  const rows = layerRows({
    gold: tags,
    predictions: { 12: layer12, 4: layer4 },
    split: 'dev',
    language: 'xx',
    average: 'macro',
  });
  assert.deepEqual(
    rows.map((r) => [r.language, r.layer, 'model' in r]),
    [
      ['xx', 4, false],
      ['xx', 12, false],
    ],
  );
  const s = scoreEntities(tags, layer4, { average: 'macro' });
  assert.deepEqual(
    [rows[0]!.precision, rows[0]!.recall, rows[0]!.f1, rows[0]!.support],
    [s.precision, s.recall, s.f1, s.support],
  );
});

test('layerRows: errors name the layer and the sentence', () => {
  assert.throws(
    () => layerRows({ gold, predictions: { 7: layer4.slice(1) }, split: 'test' }),
    /layer 7 has 2 predicted sentences but gold has 3/,
  );
  const bad = [
    ['B-PER', 'O'],
    ['B-LOC', 'O'],
    ['O', 'B-ORG'],
  ];
  assert.throws(
    () => layerRows({ gold, predictions: { 9: bad }, split: 'test' }),
    /layer 9, language nl: sentence 0 \(id nl#0\): 3 gold tags but 2 predicted/,
  );
});

test('resultsFrame: a danfojs DataFrame with the tidy columns', () => {
  const rows = layerRows({ gold, predictions: { 4: layer4, 12: layer12 }, split: 'test' });
  const df = resultsFrame(rows);
  assert.deepEqual(df.columns, ['language', 'split', 'layer', 'precision', 'recall', 'f1', 'support']);
  assert.deepEqual(df.shape, [4, 7]);
  assert.deepEqual(
    df.values,
    rows.map((r) => [r.language, r.split, r.layer, r.precision, r.recall, r.f1, r.support]),
  );
  const withModel = resultsFrame([{ ...rows[0]!, model: 'student' }, rows[1]!]);
  assert.deepEqual(withModel.columns[0], 'model');
  assert.deepEqual(
    (withModel.values as unknown[][]).map((v) => v[0]),
    ['student', ''],
  );
  const empty = resultsFrame([]);
  assert.deepEqual(empty.shape, [0, 7]);
});

test('formatPercent and resultsTable: F1 as a person reads it, in percent with the unit named', () => {
  assert.equal(formatPercent(0.4845), '48.45%');
  assert.equal(formatPercent(0.012, 1), '1.2%');
  assert.equal(formatPercent(Number.NaN), 'n/a');
  const table = resultsTable([
    { model: 'teacher', language: 'nl', split: 'test', layer: 2, precision: 0.5, recall: 0.25, f1: 0.025, support: 7 },
  ]);
  assert.deepEqual(Object.keys(table[0]!), [
    'model',
    'language',
    'split',
    'layer',
    'precision (%)',
    'recall (%)',
    'F1 (%)',
    'gold entities',
  ]);
  assert.equal(table[0]!['F1 (%)'], 2.5);
  assert.equal(table[0]!['gold entities'], 7);
});
