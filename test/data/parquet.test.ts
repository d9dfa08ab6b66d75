/** Hugging Face-style parquet files written by the tests (see parquet-writer.ts), read with hyparquet. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DataError, readParquet } from '../../src/data/index.js';
import { hubLabelNames } from '../../src/data/parquet.js';
import { writeTemp } from './helpers.js';
import { writeListParquet } from './parquet-writer.js';

const CONLL2002_LABELS = ['O', 'B-PER', 'I-PER', 'B-ORG', 'I-ORG', 'B-LOC', 'I-LOC', 'B-MISC', 'I-MISC'];
const HF_FEATURES = JSON.stringify({
  info: {
    features: {
      id: { dtype: 'string', _type: 'Value' },
      tokens: { feature: { dtype: 'string', _type: 'Value' }, _type: 'Sequence' },
      ner_tags: { feature: { names: CONLL2002_LABELS, _type: 'ClassLabel' }, _type: 'Sequence' },
    },
  },
});

const TOKENS = [['Melbourne', '(', 'Australia', ')'], [], ['La', 'Comisión', 'Europea', 'dijo']];
const IDS = [[5, 0, 5, 0], [], [0, 3, 4, 0]];

for (const gzip of [false, true]) {
  test(`integer tags with labels from the Hub features metadata (${gzip ? 'gzip' : 'uncompressed'} pages)`, async () => {
    const path = writeTemp(
      `conll2002-es-${gzip}.parquet`,
      writeListParquet(
        [
          { name: 'tokens', kind: 'string', rows: TOKENS },
          { name: 'ner_tags', kind: 'int64', rows: IDS },
        ],
        { gzip, keyValues: [{ key: 'huggingface', value: HF_FEATURES }] },
      ),
    );
    const { sentences, report } = await readParquet(path, { lang: 'es', idPrefix: 'hf/es/test' });
    assert.deepEqual(
      sentences.map((s) => [s.id, s.tokens.join(' '), s.tags.join(' '), s.source.line, s.lang]),
      [
        ['hf/es/test#0', 'Melbourne ( Australia )', 'B-LOC O B-LOC O', 1, 'es'],
        ['hf/es/test#2', 'La Comisión Europea dijo', 'O B-ORG I-ORG O', 3, 'es'],
      ],
    );
    assert.deepEqual(report.entities, { LOC: 2, ORG: 1 });
    assert.equal(report.tokens, 8);
    assert.equal(report.scheme, 'iob2');
  });
}

test('an explicit label list, custom column names, string tags', async () => {
  const ids = writeTemp(
    'custom.parquet',
    writeListParquet([
      { name: 'words', kind: 'string', rows: [['a', 'b']] },
      { name: 'labels', kind: 'int64', rows: [[1, 0]] },
    ]),
  );
  const r = await readParquet(ids, { tokensColumn: 'words', tagsColumn: 'labels', labels: ['O', 'B-X', 'I-X'] });
  assert.deepEqual(r.sentences[0]!.tags, ['B-X', 'O']);
  const strings = writeTemp(
    'strings.parquet',
    writeListParquet([
      { name: 'tokens', kind: 'string', rows: [['a', 'b', 'c']] },
      { name: 'ner_tags', kind: 'string', rows: [['I-PER', 'I-PER', 'B-PER']] },
    ]),
  );
  const s = await readParquet(strings);
  assert.equal(s.report.scheme, 'iob1');
  assert.deepEqual(s.sentences[0]!.tags, ['B-PER', 'I-PER', 'B-PER']);
});

test('parquet problems name the file, row and expectation; strict: false collects them', async () => {
  const path = writeTemp(
    'bad.parquet',
    writeListParquet([
      { name: 'tokens', kind: 'string', rows: [['a'], ['b', 'c'], ['d']] },
      { name: 'ner_tags', kind: 'int64', rows: [[0], [0, 42], [1]] },
    ]),
  );
  await assert.rejects(readParquet(path, { labels: CONLL2002_LABELS }), (err: unknown) => {
    assert.ok(err instanceof DataError);
    assert.match(err.message, /bad\.parquet:2: tag id 42 of token 1 is outside the label list; expected 0\.\.8/);
    assert.equal(err.problem.text, '{"tokens":["b","c"],"ner_tags":[0,42]}');
    assert.ok(err.message.includes(JSON.stringify(err.problem.text)));
    return true;
  });
  const lenient = await readParquet(path, { labels: CONLL2002_LABELS, strict: false });
  assert.equal(lenient.sentences.length, 2);
  assert.equal(lenient.report.droppedSentences, 1);
  assert.equal(lenient.report.problems[0]!.line, 2);

  const mismatch = writeTemp(
    'mismatch.parquet',
    writeListParquet([
      { name: 'tokens', kind: 'string', rows: [['a', 'b']] },
      { name: 'ner_tags', kind: 'int64', rows: [[0]] },
    ]),
  );
  await assert.rejects(
    readParquet(mismatch, { labels: CONLL2002_LABELS }),
    /mismatch\.parquet:1: 2 tokens but 1 tags; expected one tag per token/,
  );
  await assert.rejects(readParquet(mismatch), /tags are integer ids but no label list was given/);
  await assert.rejects(
    readParquet(mismatch, { tagsColumn: 'tags' }),
    /no column 'tags'; expected list columns tokens and tags \(found tokens, ner_tags\)/,
  );
  await assert.rejects(
    readParquet(writeTemp('notparquet.parquet', 'a O\n')),
    /notparquet\.parquet: not a readable parquet file/,
  );
});

test('hubLabelNames reads Sequence(ClassLabel) features and ignores anything else', () => {
  assert.deepEqual(hubLabelNames([{ key: 'huggingface', value: HF_FEATURES }], 'ner_tags'), CONLL2002_LABELS);
  assert.equal(hubLabelNames([{ key: 'huggingface', value: HF_FEATURES }], 'tokens'), undefined);
  assert.equal(hubLabelNames([{ key: 'huggingface', value: '{' }], 'ner_tags'), undefined);
  assert.equal(hubLabelNames(undefined, 'ner_tags'), undefined);
});
