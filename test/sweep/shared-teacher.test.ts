import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { configToJson, resolveConfig, teacherConfigView } from '../../src/config.js';
import { checkSharedTeacher } from '../../src/train/pipeline.js';
import { pretrainedDir } from '../../src/train/models.js';
import { runDir } from '../../src/run/dir.js';

test('run.teacherDir: teacher paths point into the shared run, results stay in the cell', () => {
  const cfg = resolveConfig('tiny', { run: { outDir: '/x/cell', teacherDir: '/x/teachers/t1' } });
  const t = runDir(cfg).teacher();
  assert.equal(t.best, '/x/teachers/t1/teacher/best');
  assert.equal(t.last, '/x/teachers/t1/teacher/checkpoints/last.safetensors');
  assert.equal(t.results, '/x/cell/teacher/results');
  assert.equal(runDir(cfg).student('nl').best, '/x/cell/students/nl/best');
  const own = runDir(resolveConfig('tiny', { run: { outDir: '/x/cell' } })).teacher();
  assert.equal(own.best, '/x/cell/teacher/best');
});

test('teacherConfigView ignores student settings and targets, sees teacher settings and the seed', () => {
  const a = resolveConfig('tiny');
  const same = resolveConfig('tiny', {
    student: { ablation: { noAux: true }, lr: 1 },
    data: { targets: ['es'], limit: { test: 5 } },
    run: { logEvery: 3 },
  });
  assert.deepEqual(teacherConfigView(same), teacherConfigView(a));
  for (const o of [
    { run: { seed: 7 } },
    { teacher: { lr: 1 } },
    { data: { source: 'nl' } },
    { data: { limit: { train: 5 } } },
  ]) {
    assert.notDeepEqual(teacherConfigView(resolveConfig('tiny', o)), teacherConfigView(a), JSON.stringify(o));
  }
});

test('checkSharedTeacher: a missing teacher and a teacher of other settings are clear errors; a matching one passes', async () => {
  const root = mkdtempSync(join(tmpdir(), 'msd-shared-'));
  try {
    const tdir = join(root, 'teacher-run');
    const teacherCfg = resolveConfig('tiny', { run: { outDir: tdir }, model: { pruneVocab: false } });
    mkdirSync(tdir, { recursive: true });
    writeFileSync(join(tdir, 'config.json'), configToJson(teacherCfg));
    const cell = resolveConfig('tiny', {
      run: { outDir: join(root, 'cell'), teacherDir: tdir },
      student: { ablation: { noMmdL: true } },
      model: { pruneVocab: false },
    });
    assert.throws(() => checkSharedTeacher(cell), /holds no finished teacher.*msd teacher --config/);
    mkdirSync(join(tdir, 'teacher', 'best'), { recursive: true });
    writeFileSync(join(tdir, 'teacher', 'train-report.json'), '{}');
    checkSharedTeacher(cell);
    const other = resolveConfig('tiny', {
      run: { outDir: join(root, 'cell2'), teacherDir: tdir, seed: 5 },
      teacher: { lr: 0.123 },
      model: { pruneVocab: false },
    });
    assert.throws(() => checkSharedTeacher(other), /other settings \(teacher, seed differ\)/);
    // The tiny preset's random "pretrained" encoder is read from the teacher's run (the same weights, written once).
    mkdirSync(join(tdir, 'pretrained'), { recursive: true });
    writeFileSync(join(tdir, 'pretrained', 'model.safetensors'), '');
    assert.equal(await pretrainedDir(cell), join(tdir, 'pretrained'));
    assert.equal(await pretrainedDir(teacherCfg), join(tdir, 'pretrained'));
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
