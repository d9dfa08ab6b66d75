/**
 * The local executor reads its children's progress from their JSON messages (MSD_PROGRESS_JSON, an IPC channel), not
 * from the formatted lines meant for humans, which go to the job's log unchanged.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { planSweep, readPlan, writePlan } from '../../src/sweep/plan.js';
import { runLocal } from '../../src/sweep/local.js';
import { formatJobs } from '../../src/sweep/local-display.js';

// A stand-in for `msd`: when asked for JSON progress, one progress message and one other message on its IPC channel,
// a human line with other numbers on stderr, then a failure (so the run ends at once, its cell blocked).
const FAKE_MSD = `
process.stderr.write('[teacher]  11%  step 1/9  ETA 9m00s\\n');
if (process.env.MSD_PROGRESS_JSON !== '1') process.exit(4);
process.send('not progress');
process.send({ event: 'progress', task: 'teacher', kind: 'step', step: 4, totalSteps: 9, etaSec: 125 }, () =>
  process.exit(3),
);
`;

test('local executor: a job shows the step, total and ETA of its JSON progress lines', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'msd-local-progress-'));
  try {
    const fake = join(dir, 'fake-msd.cjs');
    writeFileSync(fake, FAKE_MSD);
    const plan = planSweep({ preset: 'tiny', axes: { 'run.seed': [1] } }, join(dir, 'sw'));
    writePlan(plan);
    const r = await runLocal(readPlan(plan.root), { msd: [process.execPath, fake], display: 'none' });
    const teacher = r.jobs.find((j) => j.kind === 'teacher')!;
    assert.equal(teacher.exitCode, 3);
    assert.deepEqual([teacher.task, teacher.step, teacher.total, teacher.etaSec], ['teacher', 4, 9, 125]);
    // The table as a running job shows it.
    const row = formatJobs([{ ...teacher, state: 'running', startedAt: Date.now() }])[1]!;
    assert.match(row, /teacher step 4\/9, ETA 2m05s/);
    const log = readFileSync(join(plan.root, 'logs', `${teacher.key}.log`), 'utf8');
    assert.match(log, /\[teacher\] {2}11% {2}step 1\/9/, 'the human line is in the log');
    assert.doesNotMatch(log, /"event":"progress"/, 'the JSON messages are not');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
