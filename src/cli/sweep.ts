/**
 * `msd sweep plan|run|status` and `msd collect`: experiment grids (src/sweep).
 *
 *   msd sweep plan   sweep.json [--out dir]             expand the grid into cells; print the plan
 *   msd sweep run    sweep.json|dir --executor local --jobs 2
 *   msd sweep run    sweep.json|dir --executor slurm [--partition p --time 04:00:00 --gpus 1 --cpus 8 --mem 32G
 *                                                    --max-parallel 10 --dry-run]
 *   msd sweep status dir                                files joined with squeue/sacct
 *   msd collect      dir                                tidy table, mean/std over seeds, t-tests, CSV + LaTeX
 */
import { Command, Option } from 'commander';
import { existsSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { runLocal } from '../sweep/local.js';
import type { Plan } from '../sweep/state.js';
import { formatPlan, planSweep, readPlan, readSweepSpec, writePlan } from '../sweep/plan.js';
import { formatStatus, submitSlurm, sweepStatus } from '../sweep/slurm.js';
import { UserError } from '../errors.js';
import { preflight } from '../train/preflight.js';

/**
 * A sweep file (planned now into --out or runs/sweeps/<name>) or an already planned sweep directory. Every cell and
 * shared teacher passes the pre-flight checks (src/train/preflight.ts) before anything is written.
 */
async function planFrom(arg: string, o: { out?: string; force?: boolean }, print: boolean) {
  if (existsSync(arg) && statSync(arg).isDirectory()) return readPlan(arg);
  const spec = readSweepSpec(arg);
  const out = o.out ?? join('runs', 'sweeps', spec.name ?? basename(arg).replace(/\.json$/, ''));
  const plan = planSweep(spec, out, arg);
  const jobs = [
    ...plan.teachers.map((t) => ({ id: `teacher ${t.id}`, config: t.config, stage: 'teacher' as const })),
    ...plan.cells.map((c) => ({ id: `cell ${c.id}`, config: c.config, stage: 'run' as const })),
  ];
  for (const j of jobs) {
    try {
      await preflight(j.config, { stage: j.stage, teacherPending: true });
    } catch (err) {
      if (!(err instanceof UserError)) throw err;
      throw new UserError(`${arg}: ${j.id}: ${err.message}`, err.hint);
    }
  }
  writePlan(plan, { force: o.force });
  if (print) console.log(formatPlan(plan));
  return readPlan(out);
}

function int(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new Error(`expected a non-negative integer, got '${v}'`);
  return n;
}

function collectList(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/** `msd sweep run --executor slurm`: submits the unfinished cells as job arrays and prints what it did. */
function runOnSlurm(plan: Plan, o: Record<string, unknown>): void {
  const s = submitSlurm(plan, {
    partition: o.partition as string | undefined,
    time: o.time as string,
    gpus: o.gpus as number,
    cpus: o.cpus as number,
    mem: o.mem as string,
    maxParallel: o.maxParallel as number,
    account: o.account as string | undefined,
    extra: o.sbatchOpt as string[],
    dryRun: Boolean(o.dryRun),
  });
  for (const [k, p] of Object.entries(s.scripts)) console.log(`${k} script: ${p}`);
  if (o.dryRun) for (const c of s.commands) console.log(`would run: ${c.join(' ')}`);
  for (const j of s.jobs)
    console.log(
      `submitted ${j.kind}: job ${j.jobId}, array ${j.indices.length} task(s)${j.dependency ? ` after ${j.dependency}` : ''}`,
    );
  if (!s.commands.length) console.log('nothing to submit: every cell is done');
  else if (!o.dryRun) console.log(`follow it with: msd sweep status ${plan.root}`);
}

/** `msd sweep run` on the local pool: runs the unfinished cells and sets the exit code from how it ended. */
async function runOnPool(plan: Plan, o: Record<string, unknown>): Promise<void> {
  const r = await runLocal(plan, { jobs: o.jobs as number, display: o.plain ? 'plain' : undefined });
  if (r.interrupted) {
    console.error(`interrupted: re-run \`msd sweep run ${plan.root}\` to continue`);
    process.exitCode = 130;
  } else if (r.failed.length || r.blocked.length) {
    console.error(
      `${r.failed.length} failed (${r.failed.join(', ')}), ${r.blocked.length} blocked; logs in ${join(plan.root, 'logs')}`,
    );
    process.exitCode = 1;
  } else console.log(`all ${plan.cells.length} cells done; collect them with: msd collect ${plan.root}`);
}

export function registerSweepCommands(program: Command): void {
  const sweep = program.command('sweep').description('experiment grids: plan, run (local pool or Slurm), status');

  sweep
    .command('plan')
    .description('expand a sweep file into one run directory per cell (resolved config, stable id) and print the plan')
    .argument('<sweep.json>', 'the sweep file')
    .option('--out <dir>', 'sweep directory (default runs/sweeps/<name>)')
    .option('--force', 'replan even where existing cells were planned with other configs')
    .action(async (file: string, o: { out?: string; force?: boolean }) => {
      await planFrom(file, o, true);
    });

  sweep
    .command('run')
    .description('run every unfinished cell; re-running skips finished cells and resumes partial ones')
    .argument('<sweep>', 'a sweep file (planned first) or a planned sweep directory')
    .option('--out <dir>', 'sweep directory when planning a sweep file (default runs/sweeps/<name>)')
    .addOption(new Option('--executor <kind>', 'where cells run').choices(['local', 'slurm']).default('local'))
    .option('--jobs <n>', 'local: parallel child processes', int, 1)
    .option('--plain', 'local: plain lines instead of a live table')
    .option('--partition <name>', 'slurm: partition')
    .option('--time <hh:mm:ss>', 'slurm: wall time per task', '04:00:00')
    .option('--gpus <n>', 'slurm: GPUs per task (--gres=gpu:N)', int, 0)
    .option('--cpus <n>', 'slurm: CPUs per task', int, 4)
    .option('--mem <size>', 'slurm: memory per task', '16G')
    .option('--max-parallel <k>', 'slurm: at most K tasks of an array at once (%K; 0 = no limit)', int, 0)
    .option('--account <name>', 'slurm: account')
    .option(
      '--sbatch-opt <opt>',
      'slurm: another #SBATCH option, e.g. --qos=normal (repeatable)',
      collectList,
      [] as string[],
    )
    .option('--dry-run', 'slurm: write the job scripts and print the sbatch commands without submitting')
    .action(async (arg: string, o: Record<string, unknown>) => {
      const plan = await planFrom(arg, o as { out?: string }, false);
      if (o.executor === 'slurm') runOnSlurm(plan, o);
      else await runOnPool(plan, o);
    });

  sweep
    .command('status')
    .description("each cell's state from its files, joined with squeue/sacct for Slurm sweeps")
    .argument('<dir>', 'a planned sweep directory')
    .action((dir: string) => {
      const plan = readPlan(dir);
      console.log(formatStatus(sweepStatus(plan), plan));
    });

  program
    .command('collect')
    .description("a sweep's results: tidy table, mean/std over seeds, t-test against full MSD, CSV + LaTeX")
    .argument('<dir>', 'a planned sweep directory')
    .addOption(
      new Option('--variance <kind>', 't-test: unequal (Welch) or equal (Student)')
        .choices(['unequal', 'equal'])
        .default('unequal'),
    )
    .option('--no-figures', 'skip the ablation and per-layer charts (SVG + Vega-Lite JSON)')
    .action(collectAction);
}

/** `msd collect <dir>`: the table, mean/std over seeds and t-tests, written as CSV + LaTeX, and the sweep's figures. */
async function collectAction(dir: string, o: { variance: 'equal' | 'unequal'; figures: boolean }): Promise<void> {
  const { collectFigurePath, collectSweep, formatCollect, writeCollect } = await import('../sweep/collect.js'); // danfojs: when used
  const r = collectSweep(dir, { variance: o.variance });
  console.log(formatCollect(r));
  const root = readPlan(dir).root;
  const paths = Object.values(writeCollect(root, r));
  if (o.figures) {
    const { sweepFigures } = await import('../viz/sweep-figures.js');
    const { exportFigure } = await import('../viz/render.js');
    const figs = sweepFigures(r);
    for (const [name, spec] of [
      ['ablation', figs.ablation],
      ['per-layer', figs.perLayer],
    ] as const) {
      if (!spec) continue;
      const json = collectFigurePath(root, name, 'vl.json');
      const svg = collectFigurePath(root, name, 'svg');
      paths.push(await exportFigure(spec, json, { format: 'json' }), await exportFigure(spec, svg));
    }
  }
  console.log(`\nwritten: ${paths.join(', ')}`);
}
