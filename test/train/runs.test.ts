/** RunDir.init: a directory that holds a run is continued (--resume) or deleted first (--force), never mixed. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { configToJson } from '../../src/config.js';
import { RunDir } from '../../src/train/runs.js';
import { trainTeacher } from '../../src/train/teacher.js';
import { tinyConfig, tmpRun } from './helpers.js';

function fakeFinishedRun(run: RunDir): void {
  for (const f of [
    'teacher/best/model.safetensors',
    'students/nl/best/model.safetensors',
    'results/summary.json',
    'cache/teacher-abc/x.safetensors',
  ]) {
    mkdirSync(join(run.root, f, '..'), { recursive: true });
    writeFileSync(join(run.root, f), 'old');
  }
}

test('a second run into a directory that holds one is refused, naming --resume and --force', () => {
  const dir = tmpRun('runs-refuse');
  const run = new RunDir(dir);
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

test('--force deletes the old run (and only what a run writes) before starting clean', () => {
  const dir = tmpRun('runs-force');
  const run = new RunDir(dir);
  run.init(tinyConfig(dir));
  fakeFinishedRun(run);
  writeFileSync(join(dir, 'notes.txt'), 'mine');
  const b = tinyConfig(dir, { student: { lr: 1e-4 } });
  run.init(b, { force: true });
  for (const gone of ['teacher', 'students', 'results', 'cache'])
    assert.ok(!existsSync(join(dir, gone)), `${gone} was left behind`);
  assert.equal(readFileSync(join(dir, 'notes.txt'), 'utf8'), 'mine');
  assert.equal(readFileSync(run.configPath, 'utf8'), configToJson(b));
});

test('trainTeacher refuses an existing run before any training', async () => {
  const dir = tmpRun('runs-teacher');
  const cfg = tinyConfig(dir);
  new RunDir(dir).init(cfg);
  await assert.rejects(trainTeacher(cfg), /already holds a run.*--resume.*--force/);
  assert.ok(!existsSync(join(dir, 'teacher')));
});
