/** CoNLL column files written by the tests: IOB1, German 5 columns, latin-1, CRLF, BOM, BIOES, truncated endings. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readConll, type Sentence } from '../../src/data/index.js';
import { writeTemp } from './helpers.js';

const ENG_IOB1 = `-DOCSTART- -X- -X- O

EU NNP B-NP I-ORG
rejects VBZ B-VP O
German JJ B-NP I-MISC
call NN I-NP O
to TO B-VP O
boycott VB I-VP O
British JJ B-NP I-MISC
lamb NN I-NP O
. . O O

Peter NNP B-NP I-PER
Blackburn NNP I-NP I-PER

-DOCSTART- -X- -X- O

Germany NNP B-NP I-LOC
France NNP I-NP B-LOC
and CC O O
Italy NNP B-NP I-LOC
Rome NNP I-NP I-LOC

`;

const view = (ss: Sentence[]) => ss.map((s) => ({ tokens: s.tokens, tags: s.tags }));

test('CoNLL-2003 English IOB1 (4 columns, -DOCSTART- -X- -X- O) is detected and converted to IOB2', () => {
  const path = writeTemp('eng.testb', ENG_IOB1);
  const { sentences, report } = readConll(path);
  assert.deepEqual(view(sentences), [
    {
      tokens: ['EU', 'rejects', 'German', 'call', 'to', 'boycott', 'British', 'lamb', '.'],
      tags: ['B-ORG', 'O', 'B-MISC', 'O', 'O', 'O', 'B-MISC', 'O', 'O'],
    },
    { tokens: ['Peter', 'Blackburn'], tags: ['B-PER', 'I-PER'] },
    // IOB1 `B-` separates two adjacent entities of one type; `I-LOC I-LOC` stays one entity.
    { tokens: ['Germany', 'France', 'and', 'Italy', 'Rome'], tags: ['B-LOC', 'B-LOC', 'O', 'B-LOC', 'I-LOC'] },
  ]);
  assert.equal(report.scheme, 'iob1');
  assert.equal(report.schemeSource, 'detected');
  assert.equal(report.repaired.count, 0, 'IOB1 opening I- is the scheme, not a repair');
  assert.equal(report.documents, 2);
  assert.deepEqual(
    sentences.map((s) => s.doc),
    [0, 0, 1],
  );
  assert.deepEqual(report.entities, { LOC: 3, MISC: 2, ORG: 1, PER: 1 });
  assert.equal(report.entityTotal, 7);
  assert.equal(report.tokens, 16);
  assert.deepEqual(
    sentences.map((s) => s.source.line),
    [3, 13, 18],
  );
  assert.deepEqual(
    sentences.map((s) => s.id),
    ['eng.testb#0', 'eng.testb#1', 'eng.testb#2'],
  );
  assert.equal(sentences[0]!.lang, 'en', 'language guessed from eng.*');
});

test('the same IOB1 file read with scheme iob2 counts every opening I- as a repair', () => {
  const path = writeTemp('eng-as-iob2.txt', ENG_IOB1);
  const { sentences, report } = readConll(path, { scheme: 'iob2', lang: 'en', idPrefix: 'x' });
  assert.equal(report.scheme, 'iob2');
  assert.equal(report.schemeSource, 'given');
  assert.equal(report.repaired.count, 6);
  assert.deepEqual(
    report.repaired.first.map((l) => l.line),
    [3, 5, 9, 13, 18, 21],
  );
  assert.equal(sentences[2]!.tags.join(' '), 'B-LOC B-LOC O B-LOC I-LOC');
});

const DEU = `-DOCSTART- -X- -X- -X- O

Ereignis Ereignis NN I-NC O
und und KON O O
Erzählung Erzählung NN I-NC O
in in APPR I-PC O
Österreich Österreich NE I-NC I-LOC
über über APPR I-PC O
Jürgen Jürgen NE I-NC I-PER
Groß Groß NE I-NC I-PER

Bundesland Bundesland NN I-NC O
Baden-Württemberg Baden-Württemberg NE I-NC I-LOC
`;

test('German CoNLL-2003 (5 columns) in latin-1 and in UTF-8 give identical sentences; encoding reported', () => {
  const latin = readConll(writeTemp('deu.train', Buffer.from(DEU, 'latin1')), { idPrefix: 'deu' });
  const utf8 = readConll(writeTemp('deu-utf8.train', Buffer.from(DEU, 'utf8')), { idPrefix: 'deu', lang: 'de' });
  assert.equal(latin.report.encoding, 'latin-1');
  assert.equal(utf8.report.encoding, 'utf-8');
  assert.deepEqual(
    latin.sentences.map((s) => ({ ...s, source: { line: s.source.line } })),
    utf8.sentences.map((s) => ({ ...s, source: { line: s.source.line } })),
  );
  assert.equal(latin.sentences[0]!.tokens[4], 'Österreich');
  assert.equal(latin.sentences[0]!.tags.join(' '), 'O O O O B-LOC O B-PER I-PER');
  assert.equal(latin.sentences[0]!.lang, 'de');
  assert.equal(latin.report.scheme, 'iob1');
  // A file that ends without its blank line still yields its last sentence.
  assert.deepEqual(latin.sentences[1]!.tokens, ['Bundesland', 'Baden-Württemberg']);
});

test('original CoNLL-2002 two-column latin-1 (word TAG): same as UTF-8, a no-break space stays inside a token', () => {
  const text = 'La O\nAsociación B-ORG\nEspañola I-ORG\nde I-ORG\n10\u00a0000 O\n\nSevilla B-LOC\n';
  const a = readConll(writeTemp('esp.testa', Buffer.from(text, 'latin1')), { idPrefix: 'p' });
  const b = readConll(writeTemp('esp-u.testa', text), { idPrefix: 'p', lang: 'es' });
  assert.equal(a.report.encoding, 'latin-1');
  assert.deepEqual(view(a.sentences), view(b.sentences));
  assert.equal(a.sentences[0]!.tokens[4], '10\u00a0000');
  assert.equal(a.sentences[0]!.lang, 'es');
});

test('CRLF line ends, a BOM and trailing spaces are accepted', () => {
  const lf = 'Peter NNP B-PER\nBlackburn NNP I-PER\n\nin IN O\nParis NNP B-LOC\n\n';
  const crlf = '\ufeff' + lf.replace(/\n/g, '\r\n').replace('in IN O', 'in IN O  ');
  const a = readConll(writeTemp('lf.txt', lf), { idPrefix: 'p' });
  const b = readConll(writeTemp('crlf.txt', crlf), { idPrefix: 'p' });
  assert.deepEqual(view(b.sentences), view(a.sentences));
  assert.deepEqual(
    b.sentences.map((s) => s.source.line),
    [1, 4],
  );
  assert.equal(b.report.bom, true);
  assert.equal(a.report.bom, false);
  assert.equal(b.sentences[0]!.tokens[0], 'Peter', 'BOM removed from the first token');
  const bomLatin = readConll(
    writeTemp(
      'bom-latin.txt',
      Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('Señor B-PER\n', 'latin1')]),
    ),
  );
  assert.equal(bomLatin.report.encoding, 'latin-1');
  assert.equal(bomLatin.report.bom, true);
  assert.deepEqual(bomLatin.sentences[0]!.tokens, ['Señor']);
});

test('BIOES/IOBES input is detected and converted; E-/S- in a file declared IOB2 is an error', () => {
  const text = 'New B-LOC\nYork E-LOC\nand O\nJohn S-PER\nSmith S-PER\nCo B-ORG\nInc I-ORG\nLtd E-ORG\n\nX E-MISC\n';
  const { sentences, report } = readConll(writeTemp('bioes.txt', text));
  assert.equal(report.scheme, 'bioes');
  assert.deepEqual(sentences[0]!.tags, ['B-LOC', 'I-LOC', 'O', 'B-PER', 'B-PER', 'B-ORG', 'I-ORG', 'I-ORG']);
  assert.deepEqual(sentences[1]!.tags, ['B-MISC'], 'an opening E- becomes B- and is a repair');
  assert.equal(report.repaired.count, 1);
  assert.deepEqual(report.entities, { LOC: 1, MISC: 1, ORG: 1, PER: 2 });
  assert.throws(
    () => readConll(writeTemp('bioes2.txt', text), { scheme: 'iob2' }),
    (err: Error) => {
      assert.match(
        err.message,
        /bioes2\.txt:2: E-\/S- tags are not IOB2; expected B-\/I- tags only, or scheme 'bioes'/,
      );
      assert.match(err.message, /"York E-LOC"/);
      return true;
    },
  );
});

test('an IOB2 file with a stray I- after O or after another type repairs it to B- and reports where', () => {
  const text = 'a O\nb I-PER\nc I-PER\nd B-ORG\ne I-LOC\n\nf B-LOC\ng I-LOC\nh B-LOC\ni B-LOC\n';
  const { sentences, report } = readConll(writeTemp('stray.txt', text), { idPrefix: 's' });
  assert.equal(report.scheme, 'iob2');
  assert.deepEqual(sentences[0]!.tags, ['O', 'B-PER', 'I-PER', 'B-ORG', 'B-LOC']);
  assert.equal(report.repaired.count, 2);
  assert.deepEqual(report.repaired.first, [
    { file: report.file, line: 2 },
    { file: report.file, line: 5 },
  ]);
  assert.deepEqual(report.entities, { LOC: 4, ORG: 1, PER: 1 });
});
