import { test } from 'node:test';
import assert from 'node:assert/strict';
import { scoreEntities } from '../../src/eval/metric.js';
import { type ChunkMode } from '../../src/eval/chunks.js';
import type { Sentence } from '../../src/data/types.js';
import { rng, randomSentence, perturb } from './random-tags.js';

const close = (a: number, b: number, msg?: string): void =>
  assert.ok(Math.abs(a - b) < 1e-12, `${msg ?? ''} ${a} != ${b}`);

// Hand-worked cases: gold, predicted, mode, expected counts (correct / predicted / gold) and F1.
interface Case {
  what: string;
  gold: string[][];
  pred: string[][];
  mode: ChunkMode;
  correct: number;
  predicted: number;
  support: number;
  f1: number;
}
const cases: Case[] = [
  {
    what: 'IOB1 prediction of an IOB2 entity, default',
    gold: [['B-ORG', 'I-ORG']],
    pred: [['I-ORG', 'I-ORG']],
    mode: 'conlleval',
    correct: 1,
    predicted: 1,
    support: 1,
    f1: 1,
  },
  {
    what: 'IOB1 prediction of an IOB2 entity, strict',
    gold: [['B-ORG', 'I-ORG']],
    pred: [['I-ORG', 'I-ORG']],
    mode: 'strict',
    correct: 0,
    predicted: 0,
    support: 1,
    f1: 0,
  },
  {
    what: 'adjacent same-type entities, IOB1 gold vs IOB2 prediction',
    gold: [['I-PER', 'B-PER']],
    pred: [['B-PER', 'B-PER']],
    mode: 'conlleval',
    correct: 2,
    predicted: 2,
    support: 2,
    f1: 1,
  },
  {
    what: 'adjacent same-type entities merged by the prediction',
    gold: [['I-PER', 'B-PER']],
    pred: [['B-PER', 'I-PER']],
    mode: 'conlleval',
    correct: 0,
    predicted: 1,
    support: 2,
    f1: 0,
  },
  {
    what: 'entity at sentence end, exact',
    gold: [['O', 'B-LOC', 'I-LOC']],
    pred: [['O', 'B-LOC', 'I-LOC']],
    mode: 'conlleval',
    correct: 1,
    predicted: 1,
    support: 1,
    f1: 1,
  },
  {
    what: 'entity at sentence end, cut short',
    gold: [['O', 'B-LOC', 'I-LOC']],
    pred: [['O', 'B-LOC', 'O']],
    mode: 'conlleval',
    correct: 0,
    predicted: 1,
    support: 1,
    f1: 0,
  },
  // the sentence boundary ends PER in sentence 0; sentence 1's I-PER starts a new entity. Scored as one
  // stream the gold would hold a single PER over both sentences and nothing would match.
  {
    what: 'sentences are scored independently',
    gold: [
      ['O', 'B-PER'],
      ['I-PER', 'O'],
    ],
    pred: [
      ['O', 'B-PER'],
      ['B-PER', 'O'],
    ],
    mode: 'conlleval',
    correct: 2,
    predicted: 2,
    support: 2,
    f1: 1,
  },
  {
    what: 'type change inside a run, default',
    gold: [['B-PER', 'I-PER', 'I-LOC']],
    pred: [['B-PER', 'I-PER', 'B-LOC']],
    mode: 'conlleval',
    correct: 2,
    predicted: 2,
    support: 2,
    f1: 1,
  },
  // strict: gold has PER only (the I-LOC run is dropped); prediction has PER and LOC: P 1/2, R 1, F1 2/3
  {
    what: 'type change inside a run, strict',
    gold: [['B-PER', 'I-PER', 'I-LOC']],
    pred: [['B-PER', 'I-PER', 'B-LOC']],
    mode: 'strict',
    correct: 1,
    predicted: 2,
    support: 1,
    f1: 2 / 3,
  },
  {
    what: 'wrong type',
    gold: [['B-PER']],
    pred: [['B-LOC']],
    mode: 'conlleval',
    correct: 0,
    predicted: 1,
    support: 1,
    f1: 0,
  },
  {
    what: 'boundary too long',
    gold: [['B-PER', 'O']],
    pred: [['B-PER', 'I-PER']],
    mode: 'conlleval',
    correct: 0,
    predicted: 1,
    support: 1,
    f1: 0,
  },
  // two sentences: gold PER, LOC | ORG, MISC; predicted PER (ok), LOC (ok) | ORG (wrong end); P 2/3 R 2/4 F1 4/7
  {
    what: 'several sentences',
    gold: [
      ['B-PER', 'O', 'B-LOC'],
      ['B-ORG', 'I-ORG', 'O', 'B-MISC'],
    ],
    pred: [
      ['B-PER', 'O', 'B-LOC'],
      ['B-ORG', 'O', 'O', 'O'],
    ],
    mode: 'conlleval',
    correct: 2,
    predicted: 3,
    support: 4,
    f1: 4 / 7,
  },
];

for (const c of cases) {
  test(`scoreEntities: ${c.what}`, () => {
    const s = scoreEntities(c.gold, c.pred, { mode: c.mode });
    assert.equal(s.correct, c.correct, 'correct');
    assert.equal(s.predicted, c.predicted, 'predicted');
    assert.equal(s.support, c.support, 'support');
    close(s.f1, c.f1, 'f1');
    close(s.precision, c.predicted ? c.correct / c.predicted : 0, 'precision');
    close(s.recall, c.support ? c.correct / c.support : 0, 'recall');
    assert.equal(s.mode, c.mode);
  });
}

test('no entities on either side: all scores 0 with the noEntities flag, never NaN', () => {
  for (const [gold, pred] of [
    [[['O', 'O']], [['O', 'O']]],
    [[], []],
    [[[]], [[]]],
  ] as [string[][], string[][]][]) {
    const s = scoreEntities(gold, pred);
    assert.equal(s.noEntities, true);
    for (const v of [s.precision, s.recall, s.f1, s.micro.f1, s.macro.f1, s.macro.precision, s.accuracy])
      assert.ok(Number.isFinite(v));
    assert.deepEqual([s.precision, s.recall, s.f1, s.macro.f1], [0, 0, 0, 0]);
    assert.deepEqual(s.perType, []);
  }
  const onlyGold = scoreEntities([['B-PER']], [['O']]);
  assert.equal(onlyGold.noEntities, false);
  assert.deepEqual([onlyGold.precision, onlyGold.recall, onlyGold.f1], [0, 0, 0]);
  const onlyPred = scoreEntities([['O']], [['B-PER']]);
  assert.deepEqual([onlyPred.precision, onlyPred.recall, onlyPred.f1, onlyPred.perType[0]!.support], [0, 0, 0, 0]);
});

test('mismatched lengths: the error names the sentence by index and id', () => {
  assert.throws(() => scoreEntities([['O'], ['O']], [['O']]), /gold has 2 sentences but predictions have 1/);
  assert.throws(
    () => scoreEntities([['O'], ['O', 'O']], [['O'], ['O']], { ids: ['a', 'b'] }),
    /sentence 1 \(id b\): 2 gold tags but 1 predicted tags/,
  );
  const sents: Sentence[] = [
    { id: 'nl/test#0', lang: 'nl', tokens: ['Jan'], tags: ['B-PER'], source: { file: 'x', line: 1 } },
    { id: 'nl/test#1', lang: 'nl', tokens: ['in', 'Gent'], tags: ['O', 'B-LOC'], source: { file: 'x', line: 3 } },
  ];
  assert.throws(
    () => scoreEntities(sents, [['B-PER'], ['O', 'B-LOC', 'O']]),
    /sentence 1 \(id nl\/test#1\): 2 gold tags but 3 predicted/,
  );
  assert.throws(
    () => scoreEntities(sents, [['B-PER'], ['O', 'S-LOC']]),
    /"S-LOC" \(predicted, sentence 1 \(id nl\/test#1\), token 1\)/,
  );
  assert.throws(
    () => scoreEntities(sents, [['B-PER'], ['O', 'B-LOC']], { mode: 'loose' as ChunkMode }),
    /unknown chunk mode "loose"/,
  );
});

test('Sentence[] gold scores like its tag lists; token accuracy counts equal tags', () => {
  const sents: Sentence[] = [
    { id: 'a', lang: 'nl', tokens: ['Jan', 'woont'], tags: ['B-PER', 'O'], source: { file: 'x', line: 1 } },
    {
      id: 'b',
      lang: 'nl',
      tokens: ['in', 'Den', 'Haag'],
      tags: ['O', 'B-LOC', 'I-LOC'],
      source: { file: 'x', line: 4 },
    },
  ];
  const pred = [
    ['B-PER', 'B-MISC'],
    ['O', 'B-LOC', 'B-LOC'],
  ];
  assert.deepEqual(
    scoreEntities(sents, pred),
    scoreEntities(
      sents.map((s) => s.tags),
      pred,
    ),
  );
  const s = scoreEntities(sents, pred);
  assert.equal(s.tokens, 5);
  assert.equal(s.correctTags, 3);
  close(s.accuracy, 3 / 5);
  assert.equal(s.sentences, 2);
});

test('per-type scores with support, and the macro average as an option', () => {
  // gold PER, PER, LOC; predicted PER (right), PER (wrong end), LOC (right), MISC (spurious)
  const gold = [['B-PER', 'O', 'B-PER', 'I-PER', 'O', 'B-LOC', 'O']];
  const pred = [['B-PER', 'O', 'B-PER', 'O', 'B-MISC', 'B-LOC', 'O']];
  const s = scoreEntities(gold, pred);
  const byType = Object.fromEntries(s.perType.map((t) => [t.type, t]));
  assert.deepEqual(
    s.perType.map((t) => t.type),
    ['LOC', 'MISC', 'PER'],
  );
  assert.deepEqual([byType.LOC!.support, byType.LOC!.predicted, byType.LOC!.correct, byType.LOC!.f1], [1, 1, 1, 1]);
  assert.deepEqual([byType.MISC!.support, byType.MISC!.predicted, byType.MISC!.correct, byType.MISC!.f1], [0, 1, 0, 0]);
  assert.deepEqual([byType.PER!.support, byType.PER!.predicted, byType.PER!.correct], [2, 2, 1]);
  close(byType.PER!.f1, 0.5);
  // micro: 2 correct of 4 predicted, 3 gold
  assert.equal(s.average, 'micro');
  close(s.f1, (2 * 0.5 * (2 / 3)) / (0.5 + 2 / 3));
  // macro: mean over LOC, MISC, PER
  close(s.macro.f1, (1 + 0 + 0.5) / 3);
  close(s.macro.precision, (1 + 0 + 0.5) / 3);
  close(s.macro.recall, (1 + 0 + 0.5) / 3);
  const m = scoreEntities(gold, pred, { average: 'macro' });
  assert.equal(m.average, 'macro');
  close(m.f1, 0.5);
  close(m.micro.f1, s.f1);
});

// ---- property test against a naive implementation written here, on a different chunking formulation ----

/**
 * Naive conlleval for O/B/I: first rewrite the tags to IOB2 (an I-T that does not continue a T token becomes
 * B-T), then an entity is a B-T with the I-T tokens after it. Entities are keyed strings in a set.
 */
function naiveEntities(tags: string[][], mode: ChunkMode): Set<string> {
  const out = new Set<string>();
  tags.forEach((sent, s) => {
    const t = sent.map((tag, i) => {
      if (mode === 'strict' || !tag.startsWith('I-')) return tag;
      const prev = i > 0 ? sent[i - 1]! : 'O';
      return prev !== 'O' && prev.slice(2) === tag.slice(2) ? tag : `B-${tag.slice(2)}`;
    });
    for (let i = 0; i < t.length; i++) {
      if (!t[i]!.startsWith('B-')) continue;
      const type = t[i]!.slice(2);
      let j = i + 1;
      while (j < t.length && t[j] === `I-${type}`) j++;
      out.add(`${s}|${i}|${j}|${type}`);
    }
  });
  return out;
}

function naiveScores(gold: string[][], pred: string[][], mode: ChunkMode) {
  const g = naiveEntities(gold, mode);
  const p = naiveEntities(pred, mode);
  const hit = [...p].filter((e) => g.has(e));
  const type = (e: string): string => e.split('|')[3]!;
  const types = new Set([...g, ...p].map(type));
  const perType = new Map(
    [...types].map((t) => [
      t,
      {
        gold: [...g].filter((e) => type(e) === t).length,
        predicted: [...p].filter((e) => type(e) === t).length,
        correct: hit.filter((e) => type(e) === t).length,
      },
    ]),
  );
  const P = p.size ? hit.length / p.size : 0;
  const R = g.size ? hit.length / g.size : 0;
  return {
    correct: hit.length,
    predicted: p.size,
    gold: g.size,
    precision: P,
    recall: R,
    f1: P + R ? (2 * P * R) / (P + R) : 0,
    perType,
  };
}

for (const mode of ['conlleval', 'strict'] as ChunkMode[]) {
  test(`property: random IOB tag sequences score as the naive implementation (${mode})`, () => {
    const r = rng(mode === 'strict' ? 7 : 11);
    const prefixes = ['B', 'I'];
    const types = ['PER', 'LOC', 'ORG'];
    let withMatches = 0;
    for (let k = 0; k < 400; k++) {
      const n = 1 + Math.floor(r() * 6);
      const gold = Array.from({ length: n }, () => randomSentence(r, 12, prefixes, types));
      const rate = r();
      const pred = gold.map((s) => perturb(r, s, rate, prefixes, types));
      const ours = scoreEntities(gold, pred, { mode });
      const ref = naiveScores(gold, pred, mode);
      const ctx = `case ${k}: ${JSON.stringify({ gold, pred })}`;
      assert.equal(ours.correct, ref.correct, ctx);
      assert.equal(ours.predicted, ref.predicted, ctx);
      assert.equal(ours.support, ref.gold, ctx);
      close(ours.precision, ref.precision, ctx);
      close(ours.recall, ref.recall, ctx);
      close(ours.f1, ref.f1, ctx);
      assert.equal(ours.perType.length, ref.perType.size, ctx);
      for (const t of ours.perType) {
        const c = ref.perType.get(t.type)!;
        assert.deepEqual(
          [t.support, t.predicted, t.correct],
          [c.gold, c.predicted, c.correct],
          `${ctx} type ${t.type}`,
        );
      }
      if (ref.correct > 0 && ref.correct < ref.predicted) withMatches++;
    }
    assert.ok(withMatches > 100, `only ${withMatches} cases had partial matches; the generator is too weak`);
  });
}
