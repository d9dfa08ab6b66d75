import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chunks, type ChunkMode } from '../../src/eval/chunks.js';
import { parseTag, endOfChunk, startOfChunk, type Prefix } from '../../src/eval/chunks.js';

const show = (tags: string[], mode: ChunkMode): string[] =>
  chunks(tags, mode).map((c) => `${c.type}[${c.start},${c.end})`);

// Hand-worked: [tags, conlleval chunks, strict IOB2 chunks, what it shows]
const cases: [string[], string[], string[], string][] = [
  [[], [], [], 'empty sentence'],
  [['O', 'O'], [], [], 'no entity'],
  [['B-PER', 'I-PER', 'O', 'B-LOC'], ['PER[0,2)', 'LOC[3,4)'], ['PER[0,2)', 'LOC[3,4)'], 'plain IOB2'],
  [['B-ORG', 'I-ORG'], ['ORG[0,2)'], ['ORG[0,2)'], 'IOB2 entity'],
  [['I-ORG', 'I-ORG'], ['ORG[0,2)'], [], 'IOB1 entity: conlleval starts at I- after O; strict drops the run'],
  [['I-PER', 'I-PER', 'B-PER', 'O'], ['PER[0,2)', 'PER[2,3)'], ['PER[2,3)'], 'adjacent same-type entities in IOB1'],
  [
    ['B-PER', 'I-PER', 'B-PER'],
    ['PER[0,2)', 'PER[2,3)'],
    ['PER[0,2)', 'PER[2,3)'],
    'B- after I- of the same type starts a new entity',
  ],
  [['B-PER', 'B-PER'], ['PER[0,1)', 'PER[1,2)'], ['PER[0,1)', 'PER[1,2)'], 'B- after B-'],
  [['B-PER', 'I-PER', 'I-LOC', 'I-LOC'], ['PER[0,2)', 'LOC[2,4)'], ['PER[0,2)'], 'type change inside a run'],
  [['B-PER', 'I-LOC'], ['PER[0,1)', 'LOC[1,2)'], ['PER[0,1)'], 'I- of another type after B-'],
  [['B-LOC', 'O', 'I-LOC', 'I-LOC'], ['LOC[0,1)', 'LOC[2,4)'], ['LOC[0,1)'], 'stray I- run after O'],
  [['O', 'O', 'B-MISC'], ['MISC[2,3)'], ['MISC[2,3)'], 'entity at sentence end'],
  [['O', 'B-MISC', 'I-MISC'], ['MISC[1,3)'], ['MISC[1,3)'], 'two-word entity at sentence end'],
  [['I-MISC'], ['MISC[0,1)'], [], 'sentence of a single I-'],
  [
    ['B-ORG-X', 'I-ORG-X', 'I-ORG'],
    ['ORG-X[0,2)', 'ORG[2,3)'],
    ['ORG-X[0,2)'],
    'types may contain hyphens (split at the first)',
  ],
];

for (const [tags, conll, strict, what] of cases) {
  test(`chunks: ${what}: ${tags.join(' ') || '(none)'}`, () => {
    assert.deepEqual(show(tags, 'conlleval'), conll);
    assert.deepEqual(show(tags, 'strict'), strict);
  });
}

// E- tags follow conlleval.pl's rules (IOE): [tags, conlleval chunks]
const ioeCases: [string[], string[]][] = [
  [
    ['I-NP', 'E-NP', 'E-NP', 'O'],
    ['NP[0,2)', 'NP[2,3)'],
  ],
  [
    ['I-NP', 'E-NP', 'I-NP'],
    ['NP[0,2)', 'NP[2,3)'],
  ],
  [['O', 'E-NP'], ['NP[1,2)']],
  [['E-NP', 'B-NP'], ['NP[0,2)']], // conlleval.pl neither ends nor starts a chunk at E-X B-X
  [
    ['E-NP', 'E-VP'],
    ['NP[0,1)', 'VP[1,2)'],
  ],
];
for (const [tags, conll] of ioeCases) {
  test(`chunks (E- as conlleval.pl): ${tags.join(' ')}`, () => {
    assert.deepEqual(show(tags, 'conlleval'), conll);
    assert.throws(() => chunks(tags, 'strict'), /strict IOB2 mode accepts only O, B-TYPE and I-TYPE/);
  });
}

test('parseTag splits at the first hyphen and rejects what conlleval mode does not support', () => {
  assert.deepEqual(parseTag('O'), { prefix: 0, type: '' });
  assert.deepEqual(parseTag('B-PER'), { prefix: 1, type: 'PER' });
  assert.deepEqual(parseTag('I-A-B'), { prefix: 2, type: 'A-B' });
  assert.deepEqual(parseTag('E-X'), { prefix: 3, type: 'X' });
  assert.throws(() => parseTag('S-PER'), /"S-PER".*convert the tags to IOB2/);
  for (const bad of ['X', 'B', 'B-', 'o', '[', 'PER', ''])
    assert.throws(() => parseTag(bad), /expected O, B-TYPE, I-TYPE or E-TYPE/, bad);
});

test('chunk errors name the sentence, its id and the token', () => {
  assert.throws(
    () => chunks(['O', 'B-PER', 'S-LOC'], 'conlleval', { side: 'predicted', sentence: 7, id: 'nl#7' }),
    /"S-LOC" \(predicted, sentence 7 \(id nl#7\), token 2\)/,
  );
});

test('conlleval rules are consistent: between two non-O tags a chunk ends exactly where one starts', () => {
  // chunks() relies on this to emit non-overlapping spans that agree with conlleval's start/end counting
  const prefixes: Prefix[] = [0, 1, 2, 3];
  const types = ['A', 'B'];
  let checked = 0;
  for (const pp of prefixes)
    for (const p of prefixes)
      for (const pt of types)
        for (const t of types) {
          const prevType = pp === 0 ? '' : pt;
          const type = p === 0 ? '' : t;
          const end = endOfChunk(pp, p, prevType, type);
          const start = startOfChunk(pp, p, prevType, type);
          if (pp !== 0 && p !== 0) assert.equal(end, start, `prev ${pp}-${prevType} tag ${p}-${type}`);
          if (pp === 0) assert.equal(end, false); // nothing open after O
          if (p === 0) assert.equal(start, false); // O starts nothing
          if (pp !== 0 && p === 0) assert.equal(end, true); // O ends any chunk
          checked++;
        }
  assert.equal(checked, 64);
});
