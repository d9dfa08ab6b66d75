/**
 * The Slurm executor: the sweep as job arrays. Shared teachers are one array, the cells a second array that starts
 * after it (`--dependency=afterok:<teachers>`), so each teacher is trained once, not once per variant.
 *
 *   slurm/teachers.tsv, slurm/cells.tsv     array index <TAB> id <TAB> config path, one line per job
 *   slurm/teachers.sbatch, slurm/cells.sbatch   the array scripts (sbatch options as #SBATCH lines)
 *   slurm/jobs.json                         the submitted job ids (what `msd sweep status` asks squeue/sacct about)
 *   logs/<id>.log                           every attempt's output (appended; a requeued task writes a new header)
 *   logs/slurm-<job>_<task>.out             Slurm's own output of the task (errors before the run starts)
 *
 * Each task runs `msd teacher|run --config <cfg> --resume --plain`, so a task that Slurm requeues (preemption, node
 * failure, `scontrol requeue`) continues from its last checkpoint: it loses at most the steps since then
 * (`run.checkpointEvery`). Only unfinished jobs are submitted; the array index is the plan's cell index.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic, writeJsonAtomic } from '../run/io.js';
import { defaultMsdCommand } from './local.js';
import { cellDone, logPath, sweepFileStatus, teacherDone, type JobStatus, type Plan } from './state.js';

export interface SlurmOptions {
  partition?: string;
  /** Wall time per task (sbatch --time), e.g. `04:00:00`. */
  time?: string;
  /** GPUs per task (`--gres=gpu:N`; 0 = none). */
  gpus?: number;
  cpus?: number;
  /** Memory per task (sbatch --mem), e.g. `32G`. */
  mem?: string;
  /** At most this many tasks of an array at once (`--array=...%K`; 0 = no limit). */
  maxParallel?: number;
  account?: string;
  /** More `#SBATCH` options, e.g. `--qos=normal` (one each). */
  extra?: string[];
  /** The command that runs `msd` on the compute nodes (default: this Node and the built lib/cli/msd.js). */
  msd?: string[];
  /** Working directory of the tasks (relative config paths such as a local `data.root` resolve from it); default cwd. */
  workdir?: string;
  /** Only write the scripts. */
  dryRun?: boolean;
  /** Environment for sbatch (SLURM_CONF ...). */
  env?: NodeJS.ProcessEnv;
}

export interface SlurmJob {
  kind: 'teachers' | 'cells';
  jobId: string;
  /** Array indices submitted. */
  indices: number[];
  submittedAt: string;
  dependency?: string;
}

export interface SlurmSubmission {
  scripts: { teachers?: string; cells?: string };
  jobs: SlurmJob[];
  /** The sbatch command lines (printed with --dry-run). */
  commands: string[][];
}

function q(s: string): string {
  return /^[A-Za-z0-9_./:=+-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/** Compact array spec: 0-3,5,7-9. */
export function arraySpec(indices: readonly number[], maxParallel = 0): string {
  const sorted = [...indices].sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 0; i < sorted.length;) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j]! + 1) j++;
    parts.push(i === j ? `${sorted[i]}` : `${sorted[i]}-${sorted[j]}`);
    i = j + 1;
  }
  return `${parts.join(',')}${maxParallel > 0 ? `%${maxParallel}` : ''}`;
}

/** The array script of one kind of job: picks its line of the .tsv by SLURM_ARRAY_TASK_ID and runs msd on it. */
export function slurmScript(plan: Plan, kind: 'teachers' | 'cells', opts: SlurmOptions): string {
  const msd = opts.msd ?? defaultMsdCommand();
  const sub = kind === 'teachers' ? 'teacher' : 'run';
  const root = plan.root;
  const sb = [
    `--job-name=msd-${plan.name}-${kind}`,
    `--output=${join(root, 'logs', 'slurm-%A_%a.out')}`,
    '--open-mode=append',
    '--requeue',
    `--time=${opts.time ?? '04:00:00'}`,
    `--cpus-per-task=${opts.cpus ?? 4}`,
    `--mem=${opts.mem ?? '16G'}`,
    ...(opts.gpus ? [`--gres=gpu:${opts.gpus}`] : []),
    ...(opts.partition ? [`--partition=${opts.partition}`] : []),
    ...(opts.account ? [`--account=${opts.account}`] : []),
    ...(opts.extra ?? []),
  ];
  return [
    '#!/bin/bash',
    `# msd sweep ${plan.name}: ${kind} (written by \`msd sweep run --executor slurm\`; submit with sbatch --array=...)`,
    ...sb.map((o) => `#SBATCH ${o}`),
    'set -uo pipefail',
    `ROOT=${q(root)}`,
    `line=$(awk -F'\\t' -v i="$SLURM_ARRAY_TASK_ID" '$1 == i { print $2 "\\t" $3 }' "$ROOT/slurm/${kind}.tsv")`,
    `[ -n "$line" ] || { echo "no job with index $SLURM_ARRAY_TASK_ID in $ROOT/slurm/${kind}.tsv" >&2; exit 2; }`,
    "key=${line%%$'\\t'*}",
    "cfg=${line#*$'\\t'}",
    'log="$ROOT/logs/$key.log"',
    'mkdir -p "$ROOT/logs" "$ROOT/state"',
    'echo "== $(date -u +%FT%TZ) slurm job ${SLURM_ARRAY_JOB_ID}_${SLURM_ARRAY_TASK_ID} on $(hostname), restart ${SLURM_RESTART_COUNT:-0}: ' +
      sub +
      ' --config $cfg --resume" >> "$log"',
    `cd ${q(opts.workdir ?? process.cwd())}`,
    `${msd.map(q).join(' ')} ${sub} --config "$cfg" --resume --plain >> "$log" 2>&1`,
    'rc=$?',
    'echo "$rc" > "$ROOT/state/$key.exit"',
    'exit $rc',
    '',
  ].join('\n');
}

function sbatch(args: string[], env?: NodeJS.ProcessEnv): string {
  const r = spawnSync('sbatch', args, { encoding: 'utf8', env: { ...process.env, ...env } });
  if (r.error)
    throw new Error(
      `sbatch: ${r.error.message}${(r.error as NodeJS.ErrnoException).code === 'ENOENT' ? ' (is Slurm installed and on PATH?)' : ''}`,
    );
  if (r.status !== 0)
    throw new Error(`sbatch ${args.join(' ')} failed (exit ${r.status}): ${(r.stderr || r.stdout).trim()}`);
  const id = r.stdout.trim().split(';')[0]!;
  if (!/^\d+$/.test(id))
    throw new Error(`sbatch: unexpected output '${r.stdout.trim()}' (expected a job id from --parsable)`);
  return id;
}

/**
 * Writes the scripts and task lists of the unfinished jobs and submits them (unless `dryRun`): the teachers' array
 * first, then the cells' array depending on it. Returns the job ids, also recorded in slurm/jobs.json.
 */
export function submitSlurm(plan: Plan, opts: SlurmOptions = {}): SlurmSubmission {
  const dir = join(plan.root, 'slurm');
  if (!opts.dryRun) {
    // Submitting again while earlier arrays are queued would run the same cells twice at once.
    const queued = queuedJobs(plan, opts.env);
    if (queued.length)
      throw new Error(
        `${plan.root}: jobs ${queued.join(', ')} of this sweep are still queued or running; wait for them (msd sweep status ${plan.root}) or scancel them first`,
      );
  }
  mkdirSync(dir, { recursive: true });
  mkdirSync(join(plan.root, 'logs'), { recursive: true });
  const teacherIdx = plan.teachers.map((t, i) => ({
    i,
    key: `teacher-${t.id}`,
    config: t.config,
    todo: !teacherDone(t.dir) && t.cells.some((c) => !cellDone(plan.cells.find((x) => x.id === c)!.dir)),
  }));
  const cellIdx = plan.cells.map((c) => ({ i: c.index, key: c.id, config: c.config, todo: !cellDone(c.dir) }));
  const tsv = (rows: { i: number; key: string; config: string }[]) =>
    rows.map((r) => `${r.i}\t${r.key}\t${r.config}\n`).join('');
  writeFileAtomic(join(dir, 'teachers.tsv'), tsv(teacherIdx));
  writeFileAtomic(join(dir, 'cells.tsv'), tsv(cellIdx));
  const scripts: SlurmSubmission['scripts'] = {};
  const commands: string[][] = [];
  const jobs: SlurmJob[] = [];
  const pendingTeachers = teacherIdx.filter((t) => t.todo).map((t) => t.i);
  const pendingCells = cellIdx.filter((c) => c.todo).map((c) => c.i);
  let dependency: string | undefined;
  if (pendingTeachers.length) {
    scripts.teachers = join(dir, 'teachers.sbatch');
    writeFileAtomic(scripts.teachers, slurmScript(plan, 'teachers', opts));
    const args = ['--parsable', `--array=${arraySpec(pendingTeachers, opts.maxParallel)}`, scripts.teachers];
    commands.push(['sbatch', ...args]);
    if (!opts.dryRun) {
      const jobId = sbatch(args, opts.env);
      jobs.push({ kind: 'teachers', jobId, indices: pendingTeachers, submittedAt: new Date().toISOString() });
      dependency = `afterok:${jobId}`;
    } else dependency = 'afterok:<teachers job id>';
  }
  if (pendingCells.length) {
    scripts.cells = join(dir, 'cells.sbatch');
    writeFileAtomic(scripts.cells, slurmScript(plan, 'cells', opts));
    const args = [
      '--parsable',
      `--array=${arraySpec(pendingCells, opts.maxParallel)}`,
      ...(dependency ? [`--dependency=${dependency}`, '--kill-on-invalid-dep=yes'] : []),
      scripts.cells,
    ];
    commands.push(['sbatch', ...args]);
    if (!opts.dryRun)
      jobs.push({
        kind: 'cells',
        jobId: sbatch(args, opts.env),
        indices: pendingCells,
        submittedAt: new Date().toISOString(),
        dependency,
      });
  }
  if (!opts.dryRun && jobs.length) {
    const jobsPath = join(dir, 'jobs.json');
    const before = existsSync(jobsPath) ? (JSON.parse(readFileSync(jobsPath, 'utf8')) as SlurmJob[]) : [];
    writeJsonAtomic(jobsPath, [...before, ...jobs]);
  }
  return { scripts, jobs, commands };
}

/** This sweep's submitted jobs (slurm/jobs.json) that squeue still lists. */
function queuedJobs(plan: Plan, env?: NodeJS.ProcessEnv): string[] {
  const jobsPath = join(plan.root, 'slurm', 'jobs.json');
  if (!existsSync(jobsPath)) return [];
  const ours = new Set((JSON.parse(readFileSync(jobsPath, 'utf8')) as SlurmJob[]).map((j) => j.jobId));
  // %F: the array's job id (the one sbatch printed); listing all jobs avoids squeue's error on purged ids.
  const r = run('squeue', ['-h', '-o', '%F'], env);
  if (!r.ok) throw new Error(`squeue (to check for this sweep's queued jobs): ${r.err}`);
  return [
    ...new Set(
      r.out
        .split('\n')
        .map((l) => l.trim())
        .filter((id) => ours.has(id)),
    ),
  ];
}

export interface SlurmTaskState {
  /** `<job>_<index>` */
  task: string;
  state: string;
  elapsed?: string;
  reason?: string;
  exitCode?: string;
}

export interface SweepStatusRow extends JobStatus {
  /** The latest Slurm state of its array task, when it was submitted to Slurm. */
  slurm?: SlurmTaskState;
}

function run(cmd: string, args: string[], env?: NodeJS.ProcessEnv): { ok: boolean; out: string; err: string } {
  try {
    const out = execFileSync(cmd, args, {
      encoding: 'utf8',
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    return { ok: true, out, err: '' };
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    return { ok: false, out: '', err: (err.stderr || err.message).trim().split('\n')[0] ?? '' };
  }
}

/**
 * The file state of every job joined with Slurm's view of its latest array task: squeue for queued/running tasks,
 * sacct for finished ones (sacct needs Slurm accounting; where it is off, `notes` says so and files decide).
 */
export function sweepStatus(
  plan: Plan,
  opts: { env?: NodeJS.ProcessEnv } = {},
): { teachers: SweepStatusRow[]; cells: SweepStatusRow[]; notes: string[] } {
  const files = sweepFileStatus(plan);
  const notes: string[] = [];
  const jobsPath = join(plan.root, 'slurm', 'jobs.json');
  const teachers: SweepStatusRow[] = files.teachers;
  const cells: SweepStatusRow[] = files.cells;
  if (!existsSync(jobsPath)) return { teachers, cells, notes };
  const jobs = JSON.parse(readFileSync(jobsPath, 'utf8')) as SlurmJob[];
  const ids = jobs.map((j) => j.jobId);
  const states = new Map<string, SlurmTaskState>();
  const sacct = run('sacct', ['-n', '-P', '-X', '-j', ids.join(','), '-o', 'JobID,State,ExitCode,Elapsed'], opts.env);
  if (sacct.ok) {
    for (const line of sacct.out.split('\n').filter(Boolean)) {
      const [task, state, exitCode, elapsed] = line.split('|');
      if (task && /_\d+$/.test(task)) states.set(task, { task, state: state ?? '', exitCode, elapsed });
    }
  } else notes.push(`sacct: ${sacct.err}`);
  const squeue = run('squeue', ['-h', '-r', '-j', ids.join(','), '-o', '%i|%T|%M|%r'], opts.env);
  if (squeue.ok) {
    for (const line of squeue.out.split('\n').filter(Boolean)) {
      const [task, state, elapsed, reason] = line.split('|');
      if (task) states.set(task, { task, state: state ?? '', elapsed, reason });
    }
  } else notes.push(`squeue: ${squeue.err}`);
  // The latest submission of each index wins.
  for (const j of jobs) {
    for (const i of j.indices) {
      const st = states.get(`${j.jobId}_${i}`);
      if (!st) continue;
      const rows = j.kind === 'teachers' ? teachers : cells;
      const row = j.kind === 'teachers' ? rows[i] : rows[plan.cells.findIndex((c) => c.index === i)];
      if (row) row.slurm = st;
    }
  }
  return { teachers, cells, notes };
}

/** The status table as text. */
export function formatStatus(
  s: { teachers: SweepStatusRow[]; cells: SweepStatusRow[]; notes: string[] },
  plan: Plan,
): string {
  const all = [...s.teachers, ...s.cells];
  const w = Math.max(4, ...all.map((r) => r.id.length));
  const lines = [`${'job'.padEnd(w)}  ${'files'.padEnd(8)}  ${'slurm'.padEnd(22)}  detail`];
  for (const r of all) {
    const slurm = r.slurm ? `${r.slurm.task} ${r.slurm.state}` : '';
    let detail = r.step !== undefined ? `${r.task} step ${r.step}` : '';
    if (r.pid) detail += `${detail ? ' ' : ''}(pid ${r.pid})`;
    if (r.slurm?.reason && r.slurm.reason !== 'None') detail += ` (${r.slurm.reason})`;
    if (r.state === 'failed')
      detail += ` exit ${r.exitCode}: ${(r.tail ?? []).slice(-1)[0] ?? ''}; log ${logPath(plan.root, r.kind === 'teacher' ? `teacher-${r.id.replace(/^teacher /, '')}` : r.id)}`;
    lines.push(`${r.id.padEnd(w)}  ${r.state.padEnd(8)}  ${slurm.padEnd(22)}  ${detail}`);
  }
  const count = (st: string) => s.cells.filter((r) => r.state === st).length;
  const running = count('running') ? `${count('running')} running (local), ` : '';
  lines.push(
    `cells: ${count('done')} done, ${running}${count('partial')} partial, ${count('queued')} queued, ${count('failed')} failed (of ${s.cells.length})`,
  );
  for (const n of s.notes) lines.push(`note: ${n}`);
  return lines.join('\n');
}
