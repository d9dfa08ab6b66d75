/**
 * A shortened demo (`msd demo` with fewer sentences and steps, through the real CLI) learns NER: the teacher's
 * Spanish dev F1 ends above a threshold measured on this machine with a wide margin (random guessing and the
 * all-O predictor score 0), and the printed and written summary has every field.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DemoSummary } from '../../src/train/demo-summary.js';
import { SHORT_DEMO_SETS, SHORT_DEMO_MIN_DEV_F1 } from './short-demo.js';

test('a shortened demo learns Spanish NER and prints a complete summary', (t) => {
  const out = mkdtempSync(join(tmpdir(), 'demo-'));
  try {
    const args = [
      '--import',
      'tsx',
      join('src', 'cli', 'msd.ts'),
      'demo',
      '--plain',
      '--out',
      out,
      ...SHORT_DEMO_SETS.flatMap((s) => ['--set', s]),
    ];
    const stdout = execFileSync(process.execPath, args, { encoding: 'utf8', maxBuffer: 64 << 20 });

    // Learning: the teacher's best Spanish dev F1 (its selection score).
    const report = JSON.parse(readFileSync(join(out, 'teacher', 'train-report.json'), 'utf8')) as {
      bestDevF1: number;
      steps: number;
    };
    t.diagnostic(`teacher es dev F1 ${report.bestDevF1.toFixed(4)} after ${report.steps} steps`);
    assert.ok(
      report.bestDevF1 > SHORT_DEMO_MIN_DEV_F1,
      `teacher es dev F1 ${report.bestDevF1} after ${report.steps} steps; expected > ${SHORT_DEMO_MIN_DEV_F1}`,
    );

    // The summary: every field present and consistent with the per-layer results.
    const s = JSON.parse(readFileSync(join(out, 'results', 'demo-summary.json'), 'utf8')) as DemoSummary;
    for (const key of [
      'what',
      'why',
      'model',
      'data',
      'teacherSource',
      'target',
      'difference',
      'zeroShot',
      'paperCommand',
      'timing',
      'measuredAt',
    ] as const) {
      assert.ok(s[key] !== undefined && s[key] !== '', `summary.${key} is missing`);
    }
    assert.match(s.what, /no multilingual pretraining/);
    assert.equal(s.teacherSource.lang, 'es');
    assert.equal(s.target.lang, 'nl');
    assert.ok(s.teacherSource.perHead.length >= 2, 'every head of the teacher is reported');
    assert.equal(s.teacherSource.perHead.at(-1)!.layer, s.teacherSource.mainLayer);
    assert.equal(s.teacherSource.perHead.at(-1)!.f1, s.teacherSource.main);
    for (const f of [s.teacherSource.main, s.target.teacher, s.target.student]) assert.ok(f >= 0 && f <= 1);
    assert.ok(s.target.published.label.includes('mBERT'), 'the paper figure is labelled as mBERT');
    assert.ok(s.target.published.f1 === null || (s.target.published.f1 > 0 && s.target.published.f1 <= 1));
    assert.match(s.difference, /student - teacher on nl/);
    assert.match(s.paperCommand, /--preset paper/);
    assert.equal(s.zeroShot, true);
    assert.ok(s.model.vocabSize !== null && s.model.vocabSize < 119547, 'the vocabulary was pruned');
    assert.ok(typeof s.timing.wallSec === 'number' && s.timing.wallSec > 0);

    // What the terminal shows.
    assert.match(stdout, /What this is: /);
    assert.match(stdout, /Teacher, es test F1 \(%\) by head/);
    assert.match(stdout, /nl test F1 \(%\), zero-shot/);
    assert.match(stdout, /main-head F1 \(%\) on each language's test split/);
    assert.match(stdout, /teacher \(es only\)\s+\d/);
    assert.match(stdout, /student \(distilled on nl text\)\s+\d/);
    assert.match(stdout, /paper: .*mBERT/);
    assert.match(stdout, /The paper's setting \(mBERT\): node lib\/cli\/msd\.js run --preset paper/);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});
