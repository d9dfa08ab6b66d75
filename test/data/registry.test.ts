/** loadDataset: standard file names under a data root, the root's defaults, and the corpus schemas. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { availableDatasets, loadDataset, STANDARD_TYPES } from '../../src/data/index.js';
import { datasetPath, defaultDataRoot } from '../../src/data/registry.js';
import { DATA_ROOT } from './helpers.js';

function makeRoot(files: Record<string, string | Buffer>): string {
  const root = mkdtempSync(join(tmpdir(), 'msd-root-'));
  for (const [rel, content] of Object.entries(files)) {
    mkdirSync(join(root, rel, '..'), { recursive: true });
    writeFileSync(join(root, rel), content);
  }
  return root;
}

const DEU =
  '-DOCSTART- -X- -X- -X- O\n\nÖsterreich Österreich NE I-NC I-LOC\nund und KON O O\nBayern Bayern NE I-NC I-LOC\n\n';

test('conll2003 en/de from standard names: IOB1 detected, German latin-1 decoded, ids and schema', () => {
  const root = makeRoot({
    'conll2003/de/deu.train': Buffer.from(DEU, 'latin1'),
    'conll2003/en/eng.testa': '-DOCSTART- -X- -X- O\n\nEU NNP B-NP I-ORG\nrejects VBZ B-VP O\n\n',
  });
  const de = loadDataset('conll2003', 'de', 'train', { root });
  assert.equal(de.report.encoding, 'latin-1');
  assert.equal(de.report.scheme, 'iob1');
  assert.deepEqual(de.sentences[0]!.tokens, ['Österreich', 'und', 'Bayern']);
  assert.deepEqual(de.sentences[0]!.tags, ['B-LOC', 'O', 'B-LOC']);
  assert.equal(de.sentences[0]!.id, 'conll2003/de/train#0');
  assert.equal(de.sentences[0]!.doc, 0);
  assert.deepEqual(de.schema.types, STANDARD_TYPES.conll);
  const en = loadDataset('conll2003', 'en', 'dev', { root });
  assert.deepEqual([en.name, en.lang, en.split], ['conll2003', 'en', 'dev']);
  assert.deepEqual(en.sentences[0]!.tags, ['B-ORG', 'O']);
  assert.deepEqual(
    availableDatasets(root).map((d) => `${d.name}/${d.lang}/${d.split}`),
    ['conll2003/de/train', 'conll2003/en/dev'],
  );
});

test('standard paths of every corpus', () => {
  const r = '/data';
  assert.equal(datasetPath('conll2002', 'es', 'dev', r), '/data/conll2002/es/esp.testa');
  assert.equal(datasetPath('conll2002', 'nl', 'test', r), '/data/conll2002/nl/ned.testb');
  assert.equal(datasetPath('conll2003', 'en', 'train', r), '/data/conll2003/en/eng.train');
  assert.equal(datasetPath('wikiann', 'hi', 'dev', r), '/data/wikiann/hi/dev-hi.tsv');
  assert.equal(datasetPath('multiconer', 'fa', 'test', r), '/data/multiconer/fa/fa_test.conll');
  assert.throws(
    () => datasetPath('conll2002', 'de', 'train', r),
    /conll2002 has no language 'de'; expected one of es, nl/,
  );
  assert.throws(
    () => datasetPath('conll2002', 'es', 'validation' as never, r),
    /unknown split 'validation'; expected one of train, dev, test/,
  );
  assert.throws(() => datasetPath('ontonotes' as never, 'en', 'train', r), /unknown dataset 'ontonotes'/);
});

test('resolution order: data.root, then MSD_DATA_ROOT, then the cache; missing everywhere names each place and the remedies', () => {
  const saved = { root: process.env.MSD_DATA_ROOT, cache: process.env.MSD_CACHE };
  try {
    const cache = mkdtempSync(join(tmpdir(), 'msd-cache-'));
    process.env.MSD_CACHE = cache;
    delete process.env.MSD_DATA_ROOT;
    assert.equal(defaultDataRoot(), resolve(cache, 'data'));
    const tsv = (tag: string) => `a\t${tag}\n\n`;
    const cached = makeRoot({});
    mkdirSync(join(cache, 'data', 'wikiann', 'xx'), { recursive: true });
    writeFileSync(join(cache, 'data', 'wikiann', 'xx', 'train-xx.tsv'), tsv('B-LOC'));
    const tags = (root?: string) => loadDataset('wikiann', 'xx', 'train', { root }).sentences[0]!.tags[0];
    assert.equal(tags(), 'B-LOC');
    const envRoot = makeRoot({ 'wikiann/xx/train-xx.tsv': tsv('B-ORG') });
    process.env.MSD_DATA_ROOT = envRoot;
    assert.equal(defaultDataRoot(), envRoot);
    assert.equal(tags(), 'B-ORG');
    assert.equal(tags(makeRoot({ 'wikiann/xx/train-xx.tsv': tsv('B-PER') })), 'B-PER');
    // A root without the file falls through to the next place.
    assert.equal(tags(cached), 'B-ORG');
    const ds = loadDataset('wikiann', 'xx', 'train');
    assert.deepEqual(
      ds.sentences.map((s) => [s.id, s.lang, s.tags.join(' ')]),
      [['wikiann/xx/train#0', 'xx', 'B-ORG']],
    );
    assert.throws(
      () => loadDataset('conll2003', 'de', 'dev', { root: cached }),
      (err: Error) =>
        err.message.includes(`data.root: no ${join(cached, 'conll2003', 'de', 'deu.testa')}`) &&
        err.message.includes(`MSD_DATA_ROOT: no ${join(envRoot, 'conll2003', 'de', 'deu.testa')}`) &&
        err.message.includes(`the cache: no ${join(cache, 'data', 'conll2003', 'de', 'deu.testa')}`) &&
        /not on the Hugging Face Hub under terms that allow it: German CoNLL-2003/.test(err.message) &&
        /Point MSD_DATA_ROOT \(or data\.root in the config\) at a local folder/.test(err.message),
    );
  } finally {
    if (saved.root === undefined) delete process.env.MSD_DATA_ROOT;
    else process.env.MSD_DATA_ROOT = saved.root;
    if (saved.cache === undefined) delete process.env.MSD_CACHE;
    else process.env.MSD_CACHE = saved.cache;
  }
});

test('a missing split names the path and what the folder holds', () => {
  const root = makeRoot({ 'wikiann/en/dev-en.tsv': 'a\tO\n\n', 'wikiann/en/train-en.tsv': 'a\tO\n\n' });
  assert.throws(
    () => loadDataset('wikiann', 'en', 'test', { root }),
    /data\.root: no .*wikiann\/en\/test-en\.tsv.*the folder .*wikiann\/en holds: dev-en\.tsv, train-en\.tsv/,
  );
  assert.throws(() => loadDataset('multiconer', 'de', 'dev', { root }), /multiconer\/de holds: does not exist/);
});

test("a tag outside the corpus's standard types is an error (strict) or a reported problem", () => {
  const root = makeRoot({ 'wikiann/en/dev-en.tsv': 'a\tB-MISC\n\nb\tB-PER\n' });
  assert.throws(
    () => loadDataset('wikiann', 'en', 'dev', { root }),
    /dev-en\.tsv:1: tag 'B-MISC' is outside the schema; expected O or a tag of type PER, ORG, LOC/,
  );
  const lenient = loadDataset('wikiann', 'en', 'dev', { root, strict: false });
  assert.equal(lenient.sentences.length, 1);
  assert.equal(lenient.report.problems.length, 1);
});
