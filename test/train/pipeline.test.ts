/** evaluateRun: the main-head F1 is read at each model's main head layer, whatever `run.evalLayers` says. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { saveNerModel, disposeNerModel } from '../../src/model/ner-model.js';
import { evaluateRun } from '../../src/train/pipeline.js';
import { runDir } from '../../src/run/dir.js';
import { loadSplit } from '../../src/train/data.js';
import { newModel, pretrainedDir } from '../../src/train/models.js';
import { noData, tinyConfig, tmpRun } from './helpers.js';
import { InterruptedError } from '../../src/interrupt.js';

test('main head F1 comes from the main head layer even when evalLayers stops below it', { skip: noData }, async () => {
  const cfg = tinyConfig(tmpRun('pipeline'), { run: { evalLayers: [2, 3] } });
  const run = runDir(cfg.run.outDir);
  run.init(cfg);
  const dir = await pretrainedDir(cfg);
  const schema = loadSplit(cfg, 'es', 'dev').schema;
  for (const [name, paths] of [
    ['teacher', run.teacher()],
    ['student:nl', run.student('nl')],
  ] as const) {
    const model = newModel(name, dir, schema, cfg, name.length);
    saveNerModel(paths.best, model, { tokenizerFrom: dir });
    disposeNerModel(model);
  }
  const summary = await evaluateRun(cfg);
  assert.deepEqual(summary.mainLayer, { teacher: 4, 'student:nl': 4 });
  for (const [model, langs] of [
    ['teacher', ['es', 'nl']],
    ['student:nl', ['nl']],
  ] as const) {
    for (const lang of langs) {
      const rows = summary.rows.filter((r) => r.model === model && r.language === lang);
      assert.deepEqual(
        rows.map((r) => r.layer).sort(),
        [2, 3, 4],
        `${model} ${lang}: evalLayers 2..3 plus the main head 4`,
      );
      assert.equal(summary.main[model]![lang], rows.find((r) => r.layer === 4)!.f1, `${model} ${lang}`);
    }
  }
  const onDisk = JSON.parse(readFileSync(run.summaryPath, 'utf8')) as { mainLayer: Record<string, number> };
  assert.deepEqual(onDisk.mainLayer, summary.mainLayer);

  // Interrupted (SIGINT, as Kernel > Interrupt sends) while the teacher's first split is scored: it stops before the
  // next split, saying so; the split it was scoring is written.
  let sent = false;
  await assert.rejects(
    () =>
      evaluateRun(cfg, {
        onProgress: (e) => {
          if (!sent && e.kind === 'info') {
            sent = true;
            process.kill(process.pid, 'SIGINT');
          }
        },
      }),
    (err: Error) => {
      assert.ok(err instanceof InterruptedError, String(err));
      assert.match(err.message, /^evaluation stopped before teacher on nl test/);
      return true;
    },
  );
  assert.deepEqual(process.listeners('SIGINT'), []);
});
