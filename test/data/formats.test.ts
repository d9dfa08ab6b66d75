/** WikiAnn (XTREME and raw Rahimi layouts) and MultiCoNER files written by the tests. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readMulticoner, readWikiann } from '../../src/data/index.js';
import { writeTemp } from './helpers.js';

test('raw WikiAnn: the language prefix is stripped at the first colon only', () => {
  const raw = 'en:Sioux\tB-ORG\nen:Falls\tI-ORG\nen:http://x\tO\nen:a:b\tO\n\nen:Paris\tB-LOC\n';
  const { sentences, report } = readWikiann(writeTemp('wikiann-en-raw.txt', raw), { idPrefix: 'w' });
  assert.deepEqual(sentences[0]!.tokens, ['Sioux', 'Falls', 'http://x', 'a:b']);
  assert.deepEqual(sentences[0]!.tags, ['B-ORG', 'I-ORG', 'O', 'O']);
  assert.equal(sentences[0]!.lang, 'en', 'language taken from the prefix');
  assert.deepEqual(report.entities, { LOC: 1, ORG: 1 });
});

test('raw and XTREME layouts of the same sentences read the same; auto-detection needs a common prefix', () => {
  const xtreme = 'Sioux\tB-ORG\nFalls\tI-ORG\nhttp://x\tO\n\nParis\tB-LOC\n';
  const raw = xtreme.replace(/^(?=\S)/gm, 'zh-yue:');
  const a = readWikiann(writeTemp('train-zh-yue.tsv', xtreme), { idPrefix: 'w' });
  const b = readWikiann(writeTemp('raw-zh-yue.txt', raw), { idPrefix: 'w' });
  assert.deepEqual(
    b.sentences.map((s) => s.tokens),
    a.sentences.map((s) => s.tokens),
  );
  assert.deepEqual(
    b.sentences.map((s) => s.tags),
    a.sentences.map((s) => s.tags),
  );
  assert.equal(a.sentences[0]!.lang, 'zh-yue', 'from the XTREME file name');
  assert.equal(b.sentences[0]!.lang, 'zh-yue', 'from the raw prefix');
  // XTREME file whose first token happens to look prefixed: not every line is, so it stays a token.
  const mixed = readWikiann(writeTemp('train-en.tsv', 'de:facto\tO\nword\tO\n'));
  assert.deepEqual(mixed.sentences[0]!.tokens, ['de:facto', 'word']);
  // Forcing the XTREME layout keeps prefixes.
  assert.equal(readWikiann(writeTemp('x.tsv', raw), { format: 'xtreme' }).sentences[0]!.tokens[0], 'zh-yue:Sioux');
});

test('raw WikiAnn with a different language prefix than requested is an error', () => {
  const path = writeTemp('raw-fr.txt', 'fr:Paris\tB-LOC\n');
  assert.throws(
    () => readWikiann(path, { format: 'raw', lang: 'en' }),
    /raw-fr\.txt:1: token has no language prefix 'en:'/,
  );
});

test('WikiAnn zh style: I- after O around # is repaired and counted', () => {
  const text = '北\tB-LOC\n京\tI-LOC\n#\tO\n市\tI-LOC\n\n';
  const { sentences, report } = readWikiann(writeTemp('dev-zh.tsv', text));
  assert.deepEqual(sentences[0]!.tags, ['B-LOC', 'I-LOC', 'O', 'B-LOC']);
  assert.equal(report.repaired.count, 1);
  assert.equal(report.repaired.first[0]!.line, 4);
});

const MULTICONER = `# id 11111111-aaaa-bbbb-cccc-000000000001\tdomain=dev
# _ _ O
1 _ _ O
hit _ _ B-CW
# _ _ I-CW
song _ _ I-CW

# id 11111111-aaaa-bbbb-cccc-000000000002\tdomain=dev
john _ _ B-PER
smith _ _ I-PER
# id 11111111-aaaa-bbbb-cccc-000000000003\tdomain=dev
apple _ _ B-CORP`;

test('MultiCoNER: uuids as ids, literal # tokens, a header right after a sentence, no final newline', () => {
  const path = writeTemp('ko_dev.conll', MULTICONER);
  const { sentences, report } = readMulticoner(path);
  assert.deepEqual(
    sentences.map((s) => [s.id, s.tokens.join(' '), s.tags.join(' '), s.source.line]),
    [
      ['11111111-aaaa-bbbb-cccc-000000000001', '# 1 hit # song', 'O O B-CW I-CW I-CW', 2],
      ['11111111-aaaa-bbbb-cccc-000000000002', 'john smith', 'B-PER I-PER', 9],
      ['11111111-aaaa-bbbb-cccc-000000000003', 'apple', 'B-CORP', 12],
    ],
  );
  assert.equal(sentences[0]!.lang, 'ko', 'from the file name');
  assert.deepEqual(report.entities, { CORP: 1, CW: 1, PER: 1 });
  // The same file with CRLF and a BOM.
  const crlf = readMulticoner(writeTemp('ko_dev2.conll', '\ufeff' + MULTICONER.replace(/\n/g, '\r\n')), { lang: 'ko' });
  assert.deepEqual(
    crlf.sentences,
    sentences.map((s) => ({ ...s, source: { ...s.source, file: crlf.report.file } })),
  );
});
