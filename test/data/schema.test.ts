/** Label schemas, tag schemes as units, and explicit mapping between type sets. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  checkSchema,
  countEntities,
  detectScheme,
  iob2Spans,
  labelSchema,
  mapSchema,
  parseTag,
  schemaFromSentences,
  STANDARD_TYPES,
  toIob2,
  type Sentence,
  type TagScheme,
} from '../../src/data/index.js';
import { tagIds } from '../../src/data/schema.js';
import { conllevalChunks } from './helpers.js';

const sentence = (tags: string[], id = 's#0'): Sentence => ({
  id,
  lang: 'en',
  tokens: tags.map((_, i) => `w${i}`),
  tags,
  source: { file: 'f.txt', line: 7 },
});

test('labelSchema: O first, then B-/I- per type in order; ids round-trip', () => {
  const s = labelSchema(STANDARD_TYPES.conll);
  assert.deepEqual(s.tags, ['O', 'B-PER', 'I-PER', 'B-ORG', 'I-ORG', 'B-LOC', 'I-LOC', 'B-MISC', 'I-MISC']);
  assert.deepEqual([...s.idToTag], [...s.tags]);
  s.tags.forEach((t, i) => assert.equal(s.tagToId.get(t), i));
  assert.deepEqual(s.types, ['PER', 'ORG', 'LOC', 'MISC']);
  assert.ok(Object.isFrozen(s.tags));
});

for (const [types, why] of [
  [['PER', 'PER'], /appears twice/],
  [['O'], /invalid entity type "O"/],
  [['B-PER'], /invalid entity type "B-PER"/],
  [['two words'], /invalid entity type "two words"/],
  [[''], /invalid entity type ""/],
] as const) {
  test(`labelSchema rejects ${JSON.stringify(types)}`, () => assert.throws(() => labelSchema(types), why));
}

test('schemaFromSentences sorts types; checkSchema and tagIds name the offending sentence', () => {
  const ss = [sentence(['B-ORG', 'O']), sentence(['B-LOC', 'I-LOC'], 's#1')];
  assert.deepEqual(schemaFromSentences(ss).types, ['LOC', 'ORG']);
  const wikiann = labelSchema(STANDARD_TYPES.wikiann);
  checkSchema(ss, wikiann);
  assert.deepEqual([...tagIds(ss[1]!, wikiann)], [5, 6]);
  assert.throws(
    () => checkSchema([sentence(['O', 'B-MISC'], 'x#3')], wikiann),
    /f\.txt:7: sentence x#3 token 1 has tag 'B-MISC', which is not in the schema; expected one of O B-PER/,
  );
  assert.throws(() => tagIds(sentence(['B-MISC']), wikiann), /not in the schema/);
});

test('mapSchema renames and drops types explicitly and never silently', () => {
  const ss = [sentence(['B-PER', 'I-PER', 'B-CORP', 'B-GRP', 'I-GRP', 'B-CW', 'O'])];
  const toWikiann = { PER: 'PER', CORP: 'ORG', GRP: 'ORG', CW: null };
  const mapped = mapSchema(ss, toWikiann, { target: labelSchema(STANDARD_TYPES.wikiann) });
  // Adjacent CORP and GRP both become ORG and stay two entities.
  assert.deepEqual(mapped[0]!.tags, ['B-PER', 'I-PER', 'B-ORG', 'B-ORG', 'I-ORG', 'O', 'O']);
  assert.deepEqual(countEntities(mapped[0]!.tags), { ORG: 2, PER: 1 });
  assert.deepEqual(ss[0]!.tags[2], 'B-CORP', 'input untouched');
  assert.throws(
    () => mapSchema(ss, { PER: 'PER', CORP: 'ORG' }),
    /no mapping for entity types CW, GRP; expected each type present to map to a target type or null/,
  );
  assert.throws(
    () => mapSchema(ss, { ...toWikiann, CW: 'MISC' }, { target: labelSchema(STANDARD_TYPES.wikiann) }),
    /target type MISC not in the target schema \(PER, ORG, LOC\)/,
  );
});

test('parseTag accepts O and B/I/E/S-TYPE only', () => {
  for (const good of ['O', 'B-PER', 'I-MISC', 'E-LOC', 'S-ORG', 'B-some_type']) assert.ok(parseTag(good), good);
  for (const bad of ['', 'o', 'PER', 'B-', 'B', 'X-PER', 'b-per', 'B-P ER', 'B_PER', '-PER'])
    assert.equal(parseTag(bad), undefined, bad);
});

const P = (tags: string[]) => tags.map((t) => parseTag(t)!);
const cases: { name: string; tags: string[]; scheme: TagScheme; iob2: string[]; repaired: number[] }[] = [
  {
    name: 'IOB1 runs',
    tags: ['I-PER', 'I-PER', 'O', 'I-LOC'],
    scheme: 'iob1',
    iob2: ['B-PER', 'I-PER', 'O', 'B-LOC'],
    repaired: [],
  },
  {
    name: 'IOB1 adjacent same type',
    tags: ['I-LOC', 'B-LOC', 'I-LOC'],
    scheme: 'iob1',
    iob2: ['B-LOC', 'B-LOC', 'I-LOC'],
    repaired: [],
  },
  { name: 'IOB1 type change', tags: ['I-LOC', 'I-ORG'], scheme: 'iob1', iob2: ['B-LOC', 'B-ORG'], repaired: [] },
  {
    name: 'IOB2 clean',
    tags: ['B-PER', 'I-PER', 'B-PER', 'O'],
    scheme: 'iob2',
    iob2: ['B-PER', 'I-PER', 'B-PER', 'O'],
    repaired: [],
  },
  { name: 'IOB2 stray I- at start', tags: ['I-PER', 'O'], scheme: 'iob2', iob2: ['B-PER', 'O'], repaired: [0] },
  {
    name: 'IOB2 I- after other type',
    tags: ['B-PER', 'I-LOC', 'I-LOC'],
    scheme: 'iob2',
    iob2: ['B-PER', 'B-LOC', 'I-LOC'],
    repaired: [1],
  },
  {
    name: 'BIOES',
    tags: ['B-X', 'I-X', 'E-X', 'S-X', 'S-Y', 'O'],
    scheme: 'bioes',
    iob2: ['B-X', 'I-X', 'I-X', 'B-X', 'B-Y', 'O'],
    repaired: [],
  },
  { name: 'BIOES I after E', tags: ['B-X', 'E-X', 'I-X'], scheme: 'bioes', iob2: ['B-X', 'I-X', 'B-X'], repaired: [2] },
];
for (const c of cases) {
  test(`toIob2: ${c.name}; entity count equals conlleval chunks of the raw tags`, () => {
    const out = toIob2(P(c.tags), c.scheme);
    assert.deepEqual(out.tags, c.iob2);
    assert.deepEqual(out.repaired, c.repaired);
    assert.deepEqual(countEntities(out.tags), conllevalChunks([c.tags]));
  });
}

test('detectScheme: BIOES on E/S, IOB1 when more entities open with I- than B-, else IOB2', () => {
  assert.equal(detectScheme([P(['B-X', 'E-X'])]).scheme, 'bioes');
  assert.equal(detectScheme([P(['I-X', 'O', 'I-Y', 'B-Y'])]).scheme, 'iob1');
  assert.equal(detectScheme([P(['B-X', 'O', 'I-Y', 'B-Y'])]).scheme, 'iob2');
  assert.equal(detectScheme([P(['O', 'O'])]).scheme, 'iob2');
  const ev = detectScheme([P(['I-X', 'B-X', 'O', 'B-Y', 'I-Y'])]);
  assert.deepEqual([ev.openingI, ev.openingB, ev.endOrSingle], [1, 1, 0]);
});

test('iob2Spans', () => {
  assert.deepEqual(iob2Spans(['B-PER', 'I-PER', 'O', 'B-LOC', 'B-LOC']), [
    { type: 'PER', start: 0, end: 2 },
    { type: 'LOC', start: 3, end: 4 },
    { type: 'LOC', start: 4, end: 5 },
  ]);
});
