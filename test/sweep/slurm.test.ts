/**
 * The sweep on a real single-node Slurm: Debian's slurm-wlm + munge installed by kernel-setup/slurm-install.sh, a
 * private munged/slurmctld/slurmd started from a generated slurm.conf (kernel-setup/slurm-start.sh), the small
 * 2 x 2 sweep submitted as job arrays with sbatch (teachers first, cells after them), one running cell task requeued
 * mid-run (`scontrol requeue`), every result collected, the daemons stopped. Where Slurm cannot be installed or
 * started, the test is skipped with the reason the scripts give; nothing is simulated.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { collectSweep } from '../../src/sweep/collect.js';
import { readPlan } from '../../src/sweep/plan.js';
import { cellDone } from '../../src/sweep/state.js';
import { msd, REPO, requireBuild, writeSpec } from './helpers.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function sh(script: string, args: string[], env?: NodeJS.ProcessEnv) {
  const r = spawnSync('bash', [join(REPO, 'kernel-setup', script), ...args], {
    encoding: 'utf8',
    env: { ...process.env, ...env },
  });
  return { ok: r.status === 0, out: `${r.stdout}${r.stderr}`.trim() };
}

function slurm(cmd: string, args: string[], env: NodeJS.ProcessEnv): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', env: { ...process.env, ...env } });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr.trim()}`);
  return r.stdout;
}

test(
  'Slurm executor: job arrays on a real single-node Slurm, a requeued task resumes, all cells collected',
  { timeout: 25 * 60_000 },
  async (t) => {
    requireBuild();
    const install = sh('slurm-install.sh', []);
    if (!install.ok) {
      t.skip(`Slurm could not be installed: ${install.out.split('\n').slice(-3).join(' | ')}`);
      return;
    }
    const dir = mkdtempSync(join(tmpdir(), 'msd-slurm-'));
    const slurmDir = join(dir, 'slurm');
    const started = sh('slurm-start.sh', [slurmDir]);
    if (!started.ok) {
      rmSync(dir, { recursive: true, force: true });
      t.skip(`Slurm could not start here: ${started.out}`);
      return;
    }
    const env = { SLURM_CONF: join(slurmDir, 'slurm.conf') };
    try {
      const spec = writeSpec(dir);
      const root = join(dir, 'sweep');
      // --dry-run writes the scripts and submits nothing.
      const dry = await msd(
        ['sweep', 'run', spec, '--out', root, '--executor', 'slurm', '--dry-run', '--cpus', '1', '--mem', '1G'],
        { env },
      ).done;
      assert.equal(dry.code, 0, dry.out);
      assert.match(dry.out, /would run: sbatch --parsable --array=0-1 .*teachers\.sbatch/);
      assert.match(
        dry.out,
        /would run: sbatch --parsable --array=0-3 --dependency=afterok:<teachers job id> --kill-on-invalid-dep=yes .*cells\.sbatch/,
      );
      assert.equal(slurm('squeue', ['-h'], env).trim(), '', 'dry run submitted nothing');
      const script = readFileSync(join(root, 'slurm', 'cells.sbatch'), 'utf8');
      for (const line of [
        '#SBATCH --requeue',
        '#SBATCH --cpus-per-task=1',
        '#SBATCH --mem=1G',
        '#SBATCH --open-mode=append',
      ])
        assert.ok(script.includes(line), line);

      const sub = await msd(
        ['sweep', 'run', root, '--executor', 'slurm', '--cpus', '1', '--mem', '1G', '--time', '00:30:00'],
        { env },
      ).done;
      assert.equal(sub.code, 0, sub.out);
      const cellsJob = /submitted cells: job (\d+)/.exec(sub.out)?.[1];
      assert.ok(cellsJob, sub.out);
      assert.match(sub.out, /submitted teachers: job \d+, array 2 task\(s\)/);

      // Requeue the first cell task that is running with a checkpoint mid-way through its student.
      const plan = readPlan(root);
      let requeued: { id: string; task: string } | undefined;
      const deadline = Date.now() + 15 * 60_000;
      while (!requeued && Date.now() < deadline) {
        await sleep(300);
        const running = slurm('squeue', ['-h', '-r', '-j', cellsJob, '-t', 'RUNNING', '-o', '%i'], env)
          .split('\n')
          .filter(Boolean);
        for (const task of running) {
          const cell = plan.cells.find((c) => `${cellsJob}_${c.index}` === task);
          const ck = cell && join(cell.dir, 'students', 'nl', 'checkpoints', 'last.safetensors');
          if (cell && ck && existsSync(ck) && !cellDone(cell.dir)) {
            // Mid-run: the student's last progress line is short of its last step (after it, only evaluation is left).
            const progress = [
              ...readFileSync(join(root, 'logs', `${cell.id}.log`), 'utf8').matchAll(
                /\[student:nl\].* step (\d+)\/(\d+)/g,
              ),
            ].pop();
            if (!progress || Number(progress[1]) >= Number(progress[2]) - 3) continue;
            slurm('scontrol', ['requeue', task], env);
            requeued = { id: cell.id, task };
            // Once the killed task is pending again, Slurm holds it for two minutes (BeginTime): let it start now.
            for (let i = 0; i < 300; i++) {
              const [state, reason] = slurm('squeue', ['-h', '-j', task, '-o', '%T|%r'], env).trim().split('|');
              if (state === 'PENDING' && reason === 'BeginTime') {
                slurm('scontrol', ['update', `jobid=${task}`, 'StartTime=now'], env);
                break;
              }
              await sleep(200);
            }
            break;
          }
        }
      }
      assert.ok(requeued, 'no cell task was caught running mid-way');

      // Wait for every cell, then collect.
      while (Date.now() < deadline) {
        if (plan.cells.every((c) => cellDone(c.dir)) && slurm('squeue', ['-h'], env).trim() === '') break;
        await sleep(1000);
      }
      const status = await msd(['sweep', 'status', root], { env }).done;
      assert.equal(status.code, 0, status.out);
      assert.match(status.out, /cells: 4 done, 0 partial, 0 queued, 0 failed \(of 4\)/);
      const log = readFileSync(join(root, 'logs', `${requeued.id}.log`), 'utf8');
      assert.match(log, new RegExp(`slurm job ${requeued.task} on .*, restart 0`));
      assert.match(log, new RegExp(`slurm job ${requeued.task} on .*, restart 1`));
      assert.match(
        log,
        /resumed from .*last\.safetensors at step [1-9]/,
        'the requeued task resumed from its checkpoint',
      );
      // No step was logged twice after the resume.
      const steps = readFileSync(
        join(plan.cells.find((c) => c.id === requeued!.id)!.dir, 'students', 'nl', 'metrics.jsonl'),
        'utf8',
      )
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as { kind: string; step: number })
        .filter((r) => r.kind === 'step')
        .map((r) => r.step);
      assert.deepEqual(
        steps,
        steps.map((_, i) => i + 1),
      );
      const c = collectSweep(root);
      assert.deepEqual(c.incomplete, []);
      assert.equal(c.main.length, 3);
      assert.ok(c.main.every((r) => r.n === 2));
    } finally {
      const stopped = sh('slurm-stop.sh', [slurmDir]);
      rmSync(dir, { recursive: true, force: true });
      assert.ok(stopped.ok, stopped.out);
    }
  },
);
