/**
 * Every file under the local data root (MSD_DATA_ROOT, the mirror .ci/run points at) loads through the registry, and
 * the counts agree with its README.md
 * and with an independent conlleval-style chunk count over the raw file.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { availableDatasets, loadDataset, type Split } from '../../src/data/index.js';
import { conllevalChunks, DATA_ROOT, rawTagSequences, sum } from './helpers.js';

/** These tests check a local data root against the counts in its README.md (this setup's mirror has one). */
const skip =
  !existsSync(join(DATA_ROOT, 'README.md')) &&
  `needs a local data root with its README.md (counts to check against): set MSD_DATA_ROOT to one (bash .ci/run does)`;
const readme = skip ? '' : readFileSync(join(DATA_ROOT, 'README.md'), 'utf8');

/** `| conll2002/es | ... | CoNLL-2002 Spanish, 8323 / 1915 / 1517 sentences, 18798 / 4352 / 3559 entities |` */
function readmeConll(lang: string): Record<Split, { sentences: number; entities: number }> {
  const row = readme.split('\n').find((l) => l.startsWith(`| conll2002/${lang} `));
  assert.ok(row, `README has a conll2002/${lang} row`);
  const m = /(\d+) \/ (\d+) \/ (\d+) sentences, (\d+) \/ (\d+) \/ (\d+) entities/.exec(row);
  assert.ok(m, `README row for ${lang} has counts: ${row}`);
  const n = m.slice(1).map(Number);
  return {
    train: { sentences: n[0]!, entities: n[3]! },
    dev: { sentences: n[1]!, entities: n[4]! },
    test: { sentences: n[2]!, entities: n[5]! },
  };
}

const files = availableDatasets(DATA_ROOT);

test('the registry finds every corpus file under the local data root', { skip }, () => {
  const listed = new Set(files.map((f) => f.path));
  const expectedCount = readme.match(/\| (conll2002|wikiann|multiconer)\//g)?.length;
  assert.ok(expectedCount && expectedCount >= 3);
  // 6 CoNLL-2002 files, 8 WikiAnn, 6 MultiCoNER (see the README table).
  assert.equal(files.filter((f) => f.name === 'conll2002').length, 6);
  assert.equal(files.filter((f) => f.name === 'wikiann').length, 8);
  assert.equal(files.filter((f) => f.name === 'multiconer').length, 6);
  assert.equal(listed.size, files.length);
});

for (const f of files) {
  test(`${f.name}/${f.lang}/${f.split} loads strictly and matches conlleval chunking of the raw file`, { skip }, () => {
    const ds = loadDataset(f.name, f.lang, f.split, { root: DATA_ROOT });
    const { report, sentences } = ds;
    assert.equal(report.problems.length, 0);
    assert.equal(report.droppedSentences, 0);
    assert.equal(report.encoding, 'utf-8');
    assert.equal(report.scheme, 'iob2');
    assert.equal(report.sentences, sentences.length);
    assert.ok(sentences.length > 0);
    // Independent count over the raw file.
    const raw = readFileSync(f.path, 'utf8');
    const seqs = rawTagSequences(raw, { skip: (l) => l.startsWith('# id '), sep: f.name === 'wikiann' ? /\t/ : /\s+/ });
    assert.equal(seqs.length, sentences.length, 'sentence count');
    assert.equal(sum(Object.fromEntries(seqs.map((s, i) => [i, s.length]))), report.tokens, 'token count');
    assert.deepEqual(
      report.entities,
      Object.fromEntries(Object.entries(conllevalChunks(seqs)).sort(([a], [b]) => a.localeCompare(b))),
    );
    // Types are within the corpus's standard schema, tags valid IOB2, ids unique and stable.
    const ids = new Set<string>();
    for (const s of sentences) {
      assert.equal(s.tokens.length, s.tags.length);
      assert.equal(s.lang, f.lang);
      for (let i = 0; i < s.tags.length; i++) {
        const t = s.tags[i]!;
        assert.ok(ds.schema.tagToId.has(t), `${t} in schema`);
        if (t.startsWith('I-'))
          assert.ok(s.tags[i - 1] === t || s.tags[i - 1] === `B-${t.slice(2)}`, `${s.id} valid IOB2 at ${i}`);
      }
      ids.add(s.id);
    }
    assert.equal(ids.size, sentences.length, 'unique ids');
    if (f.name !== 'multiconer') assert.equal(sentences[3]!.id, `${f.name}/${f.lang}/${f.split}#3`);
    // source.line points at the first token of the sentence.
    const lines = raw.split('\n');
    for (const s of [sentences[0]!, sentences[sentences.length - 1]!]) {
      const first = lines[s.source.line - 1]!;
      const token = f.name === 'wikiann' ? first.split('\t')[0] : first.split(' ')[0];
      assert.equal(token, s.tokens[0]);
    }
  });
}

for (const lang of ['es', 'nl']) {
  test(`conll2002/${lang} sentence and entity counts equal the README`, { skip }, () => {
    const expected = readmeConll(lang);
    for (const split of ['train', 'dev', 'test'] as const) {
      const { report } = loadDataset('conll2002', lang, split, { root: DATA_ROOT });
      assert.deepEqual(
        { sentences: report.sentences, entities: report.entityTotal },
        expected[split],
        `${lang} ${split}`,
      );
    }
  });
}

test('the lead-listed figures: es test 1517/3559, nl test 5195/3941 with 119 documents', { skip }, () => {
  const es = loadDataset('conll2002', 'es', 'test', { root: DATA_ROOT }).report;
  const nl = loadDataset('conll2002', 'nl', 'test', { root: DATA_ROOT }).report;
  assert.deepEqual([es.sentences, es.entityTotal, nl.sentences, nl.entityTotal], [1517, 3559, 5195, 3941]);
  assert.equal(nl.documents, 119);
  assert.equal(es.documents, 0);
});

test(
  'Spanish files have exactly one repaired stray I- each, WikiAnn zh hundreds, and the repair is reported',
  { skip },
  () => {
    for (const split of ['train', 'dev', 'test'] as const) {
      const r = loadDataset('conll2002', 'es', split, { root: DATA_ROOT }).report;
      assert.equal(r.repaired.count, 1, split);
      const loc = r.repaired.first[0]!;
      const line = readFileSync(loc.file, 'utf8').split('\n')[loc.line - 1]!;
      assert.match(line, / I-\w+$/, `the reported line is the stray I-: ${line}`);
    }
    const zh = loadDataset('wikiann', 'zh', 'dev', { root: DATA_ROOT }).report;
    assert.ok(zh.repaired.count >= 100, `zh repairs ${zh.repaired.count}`);
    assert.equal(zh.repaired.first.length, 20);
  },
);

test(
  'MultiCoNER: 800 dev sentences per language, 15300 en train, uuids as ids, literal # tokens kept',
  { skip },
  () => {
    const m = /(\d+) dev sentences each, (\d+) en train/.exec(readme);
    assert.ok(m);
    for (const lang of ['en', 'ko', 'ru', 'tr', 'fa']) {
      const ds = loadDataset('multiconer', lang, 'dev', { root: DATA_ROOT });
      assert.equal(ds.sentences.length, Number(m[1]), lang);
      assert.match(ds.sentences[0]!.id, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    }
    const train = loadDataset('multiconer', 'en', 'train', { root: DATA_ROOT });
    assert.equal(train.sentences.length, Number(m[2]));
    const dev = loadDataset('multiconer', 'en', 'dev', { root: DATA_ROOT });
    const hashes = dev.sentences.flatMap((s) => s.tokens.filter((t) => t === '#'));
    const rawHashes = readFileSync(join(DATA_ROOT, 'multiconer/en/en_dev.conll'), 'utf8')
      .split('\n')
      .filter((l) => l.startsWith('# _ _ ')).length;
    assert.ok(rawHashes > 0);
    assert.equal(hashes.length, rawHashes);
  },
);
