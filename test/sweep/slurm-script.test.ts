import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { planSweep, readPlan, writePlan } from '../../src/sweep/plan.js';
import { arraySpec, slurmScript, submitSlurm } from '../../src/sweep/slurm.js';
import { runLocal } from '../../src/sweep/local.js';

test('arraySpec: ranges and the %K limit', () => {
  assert.equal(arraySpec([0, 1, 2, 3]), '0-3');
  assert.equal(arraySpec([5, 0, 2, 3, 7, 8, 9], 4), '0,2-3,5,7-9%4');
  assert.equal(arraySpec([6]), '6');
});

test('slurm: scripts carry the options, tasks pick their own line; only unfinished jobs are submitted', () => {
  const dir = mkdtempSync(join(tmpdir(), 'msd-sbatch-'));
  try {
    const plan = planSweep(
      { preset: 'tiny', axes: { variant: ['full', 'noAux'], 'run.seed': [1, 2] } },
      join(dir, 'sw'),
    );
    writePlan(plan);
    const p = readPlan(plan.root);
    const s = slurmScript(p, 'cells', {
      partition: 'gpu',
      gpus: 2,
      cpus: 8,
      mem: '32G',
      time: '08:00:00',
      account: 'lab',
      extra: ['--qos=long'],
      msd: ['/opt/node', '/x/msd.js'],
      workdir: '/work dir',
    });
    for (const line of [
      '#SBATCH --partition=gpu',
      '#SBATCH --gres=gpu:2',
      '#SBATCH --cpus-per-task=8',
      '#SBATCH --mem=32G',
      '#SBATCH --time=08:00:00',
      '#SBATCH --account=lab',
      '#SBATCH --qos=long',
      '#SBATCH --requeue',
    ]) {
      assert.ok(s.includes(line), line);
    }
    assert.match(s, /cd '\/work dir'\n\/opt\/node \/x\/msd\.js run --config "\$cfg" --resume --plain/);
    // The script's line selection, run by bash on the real .tsv for task 2, without Slurm: a fake msd prints its args.
    mkdirSync(join(dir, 'bin'));
    const fake = join(dir, 'bin', 'msd');
    writeFileSync(fake, '#!/bin/sh\necho "args: $*"\n');
    chmodSync(fake, 0o755);
    // A fake sbatch: records its arguments, answers with a job id as --parsable does.
    writeFileSync(join(dir, 'bin', 'sbatch'), `#!/bin/sh\necho "$*" >> ${join(dir, 'sbatch.log')}\necho 4242\n`);
    chmodSync(join(dir, 'bin', 'sbatch'), 0o755);
    const env = { PATH: `${join(dir, 'bin')}:${process.env.PATH}` };
    const sub = submitSlurm(p, { msd: [fake], workdir: dir, env });
    assert.deepEqual(
      sub.jobs.map((j) => [j.kind, j.jobId, j.indices.join(',')]),
      [
        ['teachers', '4242', '0,1'],
        ['cells', '4242', '0,1,2,3'],
      ],
    );
    assert.match(
      readFileSync(join(dir, 'sbatch.log'), 'utf8'),
      /--array=0-3 --dependency=afterok:4242 --kill-on-invalid-dep=yes .*cells\.sbatch/,
    );
    const r = spawnSync('bash', [sub.scripts.cells!], {
      encoding: 'utf8',
      env: { ...process.env, SLURM_ARRAY_TASK_ID: '2', SLURM_ARRAY_JOB_ID: '4242' },
    });
    assert.equal(r.status, 0, r.stderr);
    const log = readFileSync(join(plan.root, 'logs', `${p.cells[2]!.id}.log`), 'utf8');
    assert.match(log, /slurm job 4242_2 on .*, restart 0: run --config .*variant-noAux_seed-1\.json --resume/);
    assert.ok(log.includes(`args: run --config ${p.cells[2]!.config} --resume --plain`), log);
    assert.equal(readFileSync(join(plan.root, 'state', `${p.cells[2]!.id}.exit`), 'utf8').trim(), '0');
    const bad = spawnSync('bash', [sub.scripts.cells!], {
      encoding: 'utf8',
      env: { ...process.env, SLURM_ARRAY_TASK_ID: '9' },
    });
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /no job with index 9/);
    // While its arrays are in the queue, the sweep is not submitted a second time.
    writeFileSync(join(dir, 'bin', 'squeue'), '#!/bin/sh\necho 17\necho 4242\n');
    chmodSync(join(dir, 'bin', 'squeue'), 0o755);
    assert.throws(
      () => submitSlurm(p, { msd: [fake], workdir: dir, env }),
      /jobs 4242 of this sweep are still queued or running/,
    );
    writeFileSync(join(dir, 'bin', 'squeue'), '#!/bin/sh\necho 17\n');
    assert.equal(submitSlurm(p, { msd: [fake], workdir: dir, env }).jobs.length, 2);
    // A finished cell is not submitted again; its teacher is still needed by the other seed-1 cell.
    mkdirSync(join(p.cells[0]!.dir, 'results'), { recursive: true });
    writeFileSync(join(p.cells[0]!.dir, 'results', 'summary.json'), '{}');
    const again = submitSlurm(p, { msd: [fake], workdir: dir, dryRun: true });
    assert.match(again.commands[1]!.join(' '), /--array=1-3 /);
    assert.match(again.commands[0]!.join(' '), /--array=0-1 /);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('local executor: refuses a sweep whose cell a live process still runs', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'msd-lock-'));
  try {
    const plan = planSweep({ preset: 'tiny', axes: { 'run.seed': [1] } }, dir);
    writePlan(plan);
    mkdirSync(join(dir, 'state'), { recursive: true });
    writeFileSync(join(dir, 'state', 'seed-1.pid'), `${process.ppid}\n`); // alive: our parent
    await assert.rejects(
      runLocal(readPlan(dir), { msd: ['/bin/false'], display: 'none' }),
      /seed-1: still being run by pid \d+/,
    );
    writeFileSync(join(dir, 'state', 'seed-1.pid'), '999999999\n'); // no such process: a stale lock is ignored
    const r = await runLocal(readPlan(dir), { msd: ['/bin/false'], display: 'none' });
    // /bin/false fails the teacher; its cell is blocked, not started.
    assert.deepEqual([r.failed, r.blocked], [[`teacher-${plan.teachers[0]!.id}`], ['seed-1']]);
    assert.equal(readFileSync(join(dir, 'state', `teacher-${plan.teachers[0]!.id}.exit`), 'utf8').trim(), '1');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
