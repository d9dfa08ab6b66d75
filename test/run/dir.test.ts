/**
 * The run directory (src/run/dir.ts): a directory that holds a run is continued (--resume) or deleted first
 * (--force), never mixed; --force deletes every entry the run owns (diagnostics, figures, report included) and
 * nothing else; a sweep cell's teacher is the shared teacher's.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { configToJson } from '../../src/config.js';
import { runDir, type RunDir } from '../../src/run/dir.js';
import { trainTeacher } from '../../src/train/teacher.js';
import { tinyConfig, tmpRun } from '../train/helpers.js';

/** Every file path a RunDir hands out, for a run with a student on nl. */
function everyFile(run: RunDir): string[] {
  const model = (p: ReturnType<RunDir['teacher']>) => [
    p.metrics,
    p.last,
    join(p.best, 'model.safetensors'),
    p.trainReport,
    p.resultFile('nl', 'test'),
  ];
  return [
    ...model(run.teacher()),
    ...model(run.student('nl')),
    run.cachedTargetProbs('teacher-abc', 'nl'),
    run.cachedSourceCls('teacher-abc', 'es', 4),
    join(run.pretrained, 'model.safetensors'),
    join(run.prunedPretrained, 'model.safetensors'),
    run.summaryPath,
    run.demoSummaryPath,
    run.mmdPath,
    run.projectionPath,
    run.figure('per-layer-f1', 'svg'),
    run.figure('results-main-head', 'csv'),
    run.reportPath,
  ];
}

function fakeFinishedRun(run: RunDir): void {
  for (const f of everyFile(run)) {
    mkdirSync(dirname(f), { recursive: true });
    writeFileSync(f, 'old');
  }
}

test('a second run into a directory that holds one is refused, naming --resume and --force', () => {
  const dir = tmpRun('runs-refuse');
  const run = runDir(dir);
  const a = tinyConfig(dir);
  const b = tinyConfig(dir, { student: { lr: 1e-4 } });
  run.init(a);
  fakeFinishedRun(run);
  for (const cfg of [a, b]) {
    assert.throws(
      () => run.init(cfg),
      (err: Error) =>
        /already holds a run/.test(err.message) && /--resume/.test(err.message) && /--force/.test(err.message),
    );
  }
  assert.equal(readFileSync(run.configPath, 'utf8'), configToJson(a), 'the refused run did not overwrite config.json');
  assert.ok(existsSync(join(dir, 'teacher', 'best', 'model.safetensors')));
  // Resuming is allowed under the same config only.
  run.init(a, { resume: true });
  assert.throws(() => run.init(b, { resume: true }), /started with another config/);
  assert.throws(() => run.init(a, { resume: true, force: true }), /choose one/);
});

test('--force deletes the old run (every path the run owns, diagnostics/figures/report too, and nothing else)', () => {
  const dir = tmpRun('runs-force');
  const run = runDir(dir);
  run.init(tinyConfig(dir));
  fakeFinishedRun(run);
  writeFileSync(join(dir, 'notes.txt'), 'mine');
  const b = tinyConfig(dir, { student: { lr: 1e-4 } });
  run.init(b, { force: true });
  for (const f of everyFile(run)) assert.ok(!existsSync(f), `${relative(dir, f)} was left behind`);
  assert.deepEqual(readdirSync(dir).sort(), ['config.json', 'notes.txt'], 'only the new config and the foreign file');
  assert.equal(readFileSync(join(dir, 'notes.txt'), 'utf8'), 'mine');
  assert.equal(readFileSync(run.configPath, 'utf8'), configToJson(b));
});

test('trainTeacher refuses an existing run before any training', async () => {
  const dir = tmpRun('runs-teacher');
  const cfg = tinyConfig(dir);
  runDir(dir).init(cfg);
  await assert.rejects(trainTeacher(cfg), /already holds a run.*--resume.*--force/);
  assert.ok(!existsSync(join(dir, 'teacher')));
});

test('a run reusing a shared teacher reads the teacher and its encoder there, keeps its own results; --force spares it', () => {
  const shared = tmpRun('runs-shared-teacher');
  const cell = tmpRun('runs-cell');
  const cfg = tinyConfig(cell, { run: { teacherDir: shared } });
  assert.equal(runDir(cell).teacher().best, join(cell, 'teacher', 'best'), 'no config.json yet: its own teacher');
  runDir(cfg).init(cfg);
  // runDir(cfg) and runDir(path) (which reads the run's config.json) agree
  for (const run of [runDir(cfg), runDir(cell)]) {
    assert.equal(run.teacher().best, join(shared, 'teacher', 'best'));
    assert.equal(run.teacher().trainReport, join(shared, 'teacher', 'train-report.json'));
    assert.equal(run.teacher().resultFile('nl', 'test'), join(cell, 'teacher', 'results', 'nl-test.json'));
    assert.equal(run.pretrained, join(shared, 'pretrained'));
    assert.equal(run.prunedPretrained, join(shared, 'pretrained-pruned'));
    assert.equal(run.student('nl').best, join(cell, 'students', 'nl', 'best'));
  }
  fakeFinishedRun(runDir(shared));
  fakeFinishedRun(runDir(cell));
  assert.deepEqual(
    runDir(cell)
      .ownModels()
      .map((m) => m.task),
    ['student:nl'],
    'a cell trains its students, not the shared teacher',
  );
  assert.deepEqual(
    runDir(shared)
      .ownModels()
      .map((m) => m.task),
    ['teacher', 'student:nl'],
  );
  runDir(cell).init(cfg, { force: true });
  assert.ok(existsSync(join(shared, 'teacher', 'best', 'model.safetensors')), 'the shared teacher is not deleted');
  assert.deepEqual(readdirSync(cell), ['config.json']);
});
