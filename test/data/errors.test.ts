/**
 * Malformed input: each case throws an error naming the file, the line number, the line and what was expected;
 * with `strict: false` the same problem lands in the report, its sentence is dropped and counted, the rest loads.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DataError, readConll, readMulticoner, readWikiann, type ReadResult } from '../../src/data/index.js';
import { writeTemp } from './helpers.js';

interface Case {
  name: string;
  content: string;
  read: (path: string, strict: boolean) => ReadResult;
  line: number;
  text: string;
  expected: RegExp;
  /** Sentences still loaded with strict: false. */
  kept: number;
}

const conll =
  (opts: Parameters<typeof readConll>[1] = {}) =>
  (p: string, strict: boolean) =>
    readConll(p, { ...opts, strict });
const wikiann =
  (opts: Parameters<typeof readWikiann>[1] = {}) =>
  (p: string, strict: boolean) =>
    readWikiann(p, { ...opts, strict });
const multiconer = (p: string, strict: boolean) => readMulticoner(p, { strict });

const cases: Case[] = [
  {
    name: 'one column where a tag is expected',
    content: 'a O\nb O\n\nlonely\nc B-PER\n\nd O\n',
    read: conll(),
    line: 4,
    text: 'lonely',
    expected: /found 1 column; expected at least 2 whitespace-separated columns, the token first and the tag last/,
    kept: 2,
  },
  {
    name: 'the first line of a sentence is bad: the whole sentence is dropped, not returned short',
    content: 'x\nc B-PER\nd I-PER\n\ne O\n',
    read: conll(),
    line: 1,
    text: 'x',
    expected: /found 1 column/,
    kept: 1,
  },
  {
    name: 'a different column count than the rest of the file',
    content: 'a DT O\nb NN O\n\nNew York NNP B-LOC\n\nc NN O\n',
    read: conll(),
    line: 4,
    text: 'New York NNP B-LOC',
    expected: /found 4 columns; expected 3 like line 1/,
    kept: 2,
  },
  {
    name: 'an unknown tag string',
    content: 'a O\nb PER\n\nc O\n',
    read: conll(),
    line: 2,
    text: 'b PER',
    expected: /invalid tag 'PER'; expected 'O' or B-\/I-\/E-\/S- followed by an entity type \(e\.g\. B-PER\)/,
    kept: 1,
  },
  {
    name: 'a lower-case / malformed prefix',
    content: 'a b-per\n\nc O\n',
    read: conll(),
    line: 1,
    text: 'a b-per',
    expected: /invalid tag 'b-per'/,
    kept: 1,
  },
  {
    name: 'a tag outside a given schema',
    content: 'a B-PER\n\nb B-FAC\nc O\n\nd O\n',
    read: conll({ schema: ['PER', 'ORG', 'LOC'] }),
    line: 3,
    text: 'b B-FAC',
    expected: /tag 'B-FAC' is outside the schema; expected O or a tag of type PER, ORG, LOC/,
    kept: 2,
  },
  {
    name: 'an empty file',
    content: '',
    read: conll(),
    line: 1,
    text: '',
    expected: /the file is empty; expected at least one sentence/,
    kept: 0,
  },
  {
    name: 'a file of blank lines and document markers only',
    content: '-DOCSTART- -X- -X- O\n\n\n',
    read: conll(),
    line: 1,
    text: '-DOCSTART- -X- -X- O',
    expected: /no sentences found; expected token lines separated by blank lines/,
    kept: 0,
  },
  {
    name: 'WikiAnn line without a tab',
    content: 'Sioux\tB-ORG\nFalls I-ORG\n\nParis\tB-LOC\n',
    read: wikiann(),
    line: 2,
    text: 'Falls I-ORG',
    expected: /found no tab; expected token<TAB>TAG/,
    kept: 1,
  },
  {
    name: 'raw WikiAnn line without the language prefix',
    content: 'en:Sioux\tB-ORG\nFalls\tI-ORG\n\nen:Paris\tB-LOC\n',
    read: wikiann({ format: 'raw', lang: 'en' }),
    line: 2,
    text: 'Falls\tI-ORG',
    expected: /token has no language prefix 'en:'; expected en:token<TAB>TAG \(raw WikiAnn\)/,
    kept: 1,
  },
  {
    name: 'MultiCoNER token line before any header',
    content: 'stray _ _ O\n\n# id a1\tdomain=dev\nb _ _ B-PER\n',
    read: multiconer,
    line: 1,
    text: 'stray _ _ O',
    expected: /token line outside a sentence; expected a "# id <uuid>\\tdomain=<split>" header first/,
    kept: 1,
  },
  {
    name: 'MultiCoNER line with the wrong number of columns',
    content: '# id a1\tdomain=dev\nb B-PER\n\n# id a2\tdomain=dev\nc _ _ O\n',
    read: multiconer,
    line: 2,
    text: 'b B-PER',
    expected: /found 2 columns; expected 4: token _ _ TAG/,
    kept: 1,
  },
  {
    name: 'MultiCoNER duplicate sentence id',
    content: '# id a1\tdomain=dev\nb _ _ O\n\n# id a1\tdomain=dev\nc _ _ O\n',
    read: multiconer,
    line: 4,
    text: '# id a1\tdomain=dev',
    expected: /duplicate sentence id a1; expected ids to be unique \(first at line 1\)/,
    kept: 1,
  },
  {
    name: 'MultiCoNER header without tokens',
    content: '# id a1\tdomain=dev\n\n# id a2\tdomain=dev\nc _ _ O\n',
    read: multiconer,
    line: 1,
    text: '# id a1\tdomain=dev',
    expected: /sentence header without tokens; expected token lines after it/,
    kept: 1,
  },
];

cases.forEach((c, i) => {
  test(`strict: ${c.name} throws with path, line number, line and expectation`, () => {
    const path = writeTemp(`bad-${i}.txt`, c.content);
    assert.throws(
      () => c.read(path, true),
      (err: unknown) => {
        assert.ok(err instanceof DataError, `a DataError, got ${String(err)}`);
        assert.ok(err.message.startsWith(`${path}:${c.line}: `), err.message);
        assert.match(err.message, c.expected);
        assert.ok(err.message.includes(`line ${c.line}: ${JSON.stringify(c.text)}`), err.message);
        assert.deepEqual(
          { file: err.problem.file, line: err.problem.line, text: err.problem.text },
          { file: path, line: c.line, text: c.text },
        );
        return true;
      },
    );
  });

  test(`strict: false: ${c.name} is collected in the report`, () => {
    const path = writeTemp(`bad-lenient-${i}.txt`, c.content);
    const { sentences, report } = c.read(path, false);
    assert.equal(report.problems.length, 1, JSON.stringify(report.problems));
    const p = report.problems[0]!;
    assert.deepEqual({ file: p.file, line: p.line, text: p.text }, { file: path, line: c.line, text: c.text });
    assert.match(p.message, c.expected);
    assert.equal(sentences.length, c.kept);
    assert.equal(report.sentences, c.kept);
  });
});

test('strict: false collects every problem of a file, in file order, and counts dropped sentences', () => {
  const path = writeTemp('many.txt', 'a O\nb XX\n\nc\n\nd O\n\ne B-PER\nf Y-PER\n');
  const { sentences, report } = readConll(path, { strict: false, idPrefix: 'm' });
  assert.deepEqual(
    report.problems.map((p) => p.line),
    [2, 4, 9],
  );
  assert.equal(report.droppedSentences, 3);
  // Ids keep the file position of the sentence, so dropping one does not renumber the rest.
  assert.deepEqual(
    sentences.map((s) => s.id),
    ['m#2'],
  );
});

test('strict (default) reports the first problem in file order', () => {
  const path = writeTemp('order.txt', 'a O\nb B-PER\nc XX\n\nd\n');
  assert.throws(() => readConll(path), /order\.txt:3: invalid tag 'XX'/);
});

test('a missing file is an error naming the path', () => {
  assert.throws(() => readConll('/nonexistent/esp.train'), /cannot read \/nonexistent\/esp\.train/);
});
