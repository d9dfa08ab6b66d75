/**
 * The conlleval text report, checked by hand and against test/eval/conlleval-ref.pl, a from-memory recreation of
 * conlleval.pl's logic (see the header of that file for how it was obtained: NOT the distributed script). The
 * Perl comparisons are skipped, not passed, when no `perl` is on the PATH.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { scoreEntities } from '../../src/eval/metric.js';
import { conllevalReport, printfFixed2 } from '../../src/eval/report.js';
import { type ChunkMode } from '../../src/eval/chunks.js';
import { rng, randomSentence, perturb } from './random-tags.js';
import { REAL_DATA } from '../real-data.js';

const refScript = join(process.cwd(), 'test', 'eval', 'conlleval-ref.pl');
const perl = spawnSync('perl', ['-e', 'print 1'], { encoding: 'utf8' });
const noPerl = perl.status === 0 ? false : 'perl is not installed';

/** Runs the reference on gold/predicted tag lists written in conlleval's input format. */
function runReference(gold: string[][], pred: string[][]): string {
  const lines: string[] = [];
  gold.forEach((sent, s) => {
    sent.forEach((g, t) => lines.push(`w${t} ${g} ${pred[s]![t]}`));
    lines.push('');
  });
  const out = spawnSync('perl', [refScript], { input: lines.join('\n') + '\n', encoding: 'utf8', maxBuffer: 1 << 26 });
  assert.equal(out.status, 0, out.stderr);
  return out.stdout;
}

test('report, hand-worked', () => {
  // gold PER (2 words), LOC; predicted PER right, LOC as ORG; 6 tokens, 4 with the right tag
  const gold = [
    ['B-PER', 'I-PER', 'O'],
    ['O', 'B-LOC', 'O'],
  ];
  const pred = [
    ['B-PER', 'I-PER', 'O'],
    ['O', 'B-ORG', 'B-ORG'],
  ];
  const expected =
    'processed 6 tokens with 2 phrases; found: 3 phrases; correct: 1.\n' +
    'accuracy:  66.67%; precision:  33.33%; recall:  50.00%; FB1:  40.00\n' +
    '              LOC: precision:   0.00%; recall:   0.00%; FB1:   0.00  0\n' +
    '              ORG: precision:   0.00%; recall:   0.00%; FB1:   0.00  2\n' +
    '              PER: precision: 100.00%; recall: 100.00%; FB1: 100.00  1\n';
  assert.equal(conllevalReport(scoreEntities(gold, pred)), expected);
  assert.equal(
    conllevalReport(scoreEntities([], [])),
    'processed 0 tokens with 0 phrases; found: 0 phrases; correct: 0.\n',
  );
});

test('printfFixed2 rounds exact ties to even, like C printf', () => {
  const cases: [number, string][] = [
    [3.125, '3.12'], // 100 * 1/32, an exact tie that toFixed would round up
    [0.375, '0.38'],
    [0.125, '0.12'],
    [99.875, '99.88'],
    [12.5, '12.50'],
    [2.675, '2.67'], // not a tie: the double is below 2.675
    [100, '100.00'],
    [0, '0.00'],
    [200 / 3, '66.67'],
  ];
  for (const [x, s] of cases) assert.equal(printfFixed2(x), s, String(x));
});

test('printfFixed2 agrees with perl printf on many values', { skip: noPerl }, () => {
  const values: number[] = [];
  for (let f = 1; f <= 64; f++) for (let c = 0; c <= f; c++) values.push((100 * c) / f);
  const r = rng(3);
  for (let k = 0; k < 500; k++) values.push(r() * 100, Math.round(r() * 800) / 8);
  const out = spawnSync('perl', ['-ne', 'chomp; printf "%.2f\\n", $_'], {
    input: values.map((v) => v.toPrecision(17)).join('\n') + '\n',
    encoding: 'utf8',
  });
  assert.equal(out.status, 0, out.stderr);
  assert.deepEqual(values.map(printfFixed2), out.stdout.trimEnd().split('\n'));
});

for (const [mode, prefixes, seed] of [
  ['IOB', ['B', 'I'], 5],
  ['IOB+E', ['B', 'I', 'E'], 6],
] as [string, string[], number][]) {
  test(`report equals the conlleval.pl reference on random corpora (${mode})`, { skip: noPerl }, () => {
    const r = rng(seed);
    const types = ['PER', 'LOC', 'ORG-X', 'MISC', 'a'];
    for (let k = 0; k < 120; k++) {
      const n = Math.floor(r() * 8);
      const gold = Array.from({ length: n }, () => randomSentence(r, 10, prefixes, types));
      const rate = r();
      const pred = gold.map((s) => perturb(r, s, rate, prefixes, types));
      assert.equal(
        conllevalReport(scoreEntities(gold, pred)),
        runReference(gold, pred),
        `case ${k}: ${JSON.stringify({ gold, pred })}`,
      );
    }
  });
}

test('report equals the reference on CoNLL-2002 Dutch test with a perturbed copy of gold', { skip: noPerl }, () => {
  const file = join(REAL_DATA ?? '', 'conll2002', 'nl', 'ned.testb');
  if (!existsSync(file)) return assert.fail(`missing ${file}`);
  const gold: string[][] = [];
  let cur: string[] = [];
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const f = line.trim().split(' ');
    if (f[0] === '') {
      if (cur.length) gold.push(cur);
      cur = [];
    } else if (f[0] !== '-DOCSTART-') cur.push(f[f.length - 1]!);
  }
  if (cur.length) gold.push(cur);
  const r = rng(2002);
  const pred = gold.map((s) => perturb(r, s, 0.1, ['B', 'I'], ['PER', 'LOC', 'ORG', 'MISC']));
  const ours = scoreEntities(gold, pred);
  assert.equal(gold.length, 5195);
  assert.equal(ours.support, 3941); // the local mirror's README count, made with conlleval chunking
  assert.equal(conllevalReport(ours), runReference(gold, pred));
});

test('strict-mode scores print in the same format', () => {
  const mode: ChunkMode = 'strict';
  const s = scoreEntities([['B-ORG', 'I-ORG']], [['I-ORG', 'I-ORG']], { mode });
  assert.match(
    conllevalReport(s),
    /^processed 2 tokens with 1 phrases; found: 0 phrases; correct: 0\.\naccuracy:  50\.00%; precision:   0\.00%; recall:   0\.00%; FB1:   0\.00\n +ORG: /,
  );
});

test('the reference script reads a file written to a temp dir the same as stdin', { skip: noPerl }, () => {
  // guards runReference's input format: a blank line ends each sentence, fields separated by one space
  const dir = mkdtempSync(join(tmpdir(), 'conlleval-'));
  try {
    const path = join(dir, 'in.txt');
    writeFileSync(path, 'a B-PER B-PER\nb I-PER O\n\nc O B-LOC\n');
    const out = spawnSync('sh', ['-c', `perl "${refScript}" < "${path}"`], { encoding: 'utf8' });
    assert.equal(out.stdout, runReference([['B-PER', 'I-PER'], ['O']], [['B-PER', 'O'], ['B-LOC']]));
    assert.match(out.stdout, /processed 3 tokens with 1 phrases; found: 2 phrases; correct: 0\./);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
