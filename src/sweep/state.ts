/**
 * Where each cell and shared teacher of a sweep stands, read from its files (the run directories are the truth,
 * whichever executor ran them):
 *
 *   done      teacher: `teachers/<id>/teacher/train-report.json`; cell: `cells/<id>/results/summary.json`
 *   partial   a resumable checkpoint exists (`.../checkpoints/last.safetensors`): `--resume` continues from it
 *   running   a live local child holds `state/<id>.pid` (Slurm tasks show up through squeue instead)
 *   failed    the last attempt exited non-zero (`state/<id>.exit`, written by both executors) and it is not done
 *   queued    nothing yet
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { runDir } from '../run/dir.js';
import type { PlanFile } from './plan.js';

export type FileState = 'done' | 'running' | 'partial' | 'failed' | 'queued';

export interface JobStatus {
  /** Cell id, or `teacher <id>`. */
  id: string;
  kind: 'teacher' | 'cell';
  state: FileState;
  /** Last logged optimizer step of the model in progress, and which model. */
  step?: number;
  task?: string;
  exitCode?: number;
  /** Pid of the local child running it. */
  pid?: number;
  /** The log's last lines, for failed jobs. */
  tail?: string[];
}

export type Plan = PlanFile & { root: string };

export function logPath(root: string, id: string): string {
  return join(root, 'logs', `${id}.log`);
}

export function exitPath(root: string, id: string): string {
  return join(root, 'state', `${id}.exit`);
}

export function teacherDone(dir: string): boolean {
  return existsSync(runDir(dir).teacher().trainReport);
}

export function cellDone(dir: string): boolean {
  return existsSync(runDir(dir).summaryPath);
}

/** The last `n` non-empty lines of a file ('' lines dropped); [] when it does not exist. */
export function tailLines(path: string, n = 5): string[] {
  if (!existsSync(path)) return [];
  const size = statSync(path).size;
  const text = readFileSync(path, 'utf8').slice(size > 65536 ? -65536 : 0);
  return text
    .split('\n')
    .map((l) => l.replace(/\r/g, '').trimEnd())
    .filter((l) => l.trim() !== '')
    .slice(-n);
}

/** The last `step` logged in a metrics.jsonl (0 when none). */
function lastStep(metrics: string): number {
  for (const line of tailLines(metrics, 50).reverse()) {
    try {
      const r = JSON.parse(line) as { kind?: string; step?: number };
      if (typeof r.step === 'number') return r.step;
    } catch {
      // a line being written right now: look further back
    }
  }
  return 0;
}

/** The model of a run (its own teacher, its students) with the newest resumable checkpoint, and its last step. */
function partialOf(dir: string): { task: string; step: number } | undefined {
  let found: { task: string; step: number; mtime: number } | undefined;
  for (const m of runDir(dir).ownModels()) {
    if (!existsSync(m.paths.last)) continue;
    const mtime = statSync(m.paths.last).mtimeMs;
    if (!found || mtime >= found.mtime) found = { task: m.task, step: lastStep(m.paths.metrics), mtime };
  }
  return found && { task: found.task, step: found.step };
}

/** Whether a process exists and is not a zombie (a killed child not yet reaped is dead for our purposes). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  try {
    // /proc/<pid>/stat: "pid (comm) S ...", S = state; Z = zombie. Absent off Linux: trust kill(0).
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return true;
  }
}

function livePid(path: string): number | undefined {
  if (!existsSync(path)) return undefined;
  const pid = Number(readFileSync(path, 'utf8').trim());
  return Number.isInteger(pid) && pid > 0 && processAlive(pid) ? pid : undefined;
}

function readExit(root: string, id: string): number | undefined {
  const p = exitPath(root, id);
  if (!existsSync(p)) return undefined;
  const n = Number(readFileSync(p, 'utf8').trim());
  return Number.isFinite(n) ? n : undefined;
}

function status(root: string, id: string, kind: 'teacher' | 'cell', dir: string, done: boolean): JobStatus {
  const key = kind === 'teacher' ? `teacher-${id}` : id;
  const label = kind === 'teacher' ? `teacher ${id}` : id;
  if (done) return { id: label, kind, state: 'done' };
  const exit = readExit(root, key);
  const partial = partialOf(dir);
  const pid = livePid(join(root, 'state', `${key}.pid`));
  if (pid) return { id: label, kind, state: 'running', pid, ...partial };
  if (exit !== undefined && exit !== 0)
    return { id: label, kind, state: 'failed', exitCode: exit, tail: tailLines(logPath(root, key)), ...partial };
  if (partial) return { id: label, kind, state: 'partial', ...partial };
  return { id: label, kind, state: 'queued' };
}

/** The file state of every shared teacher and cell of a planned sweep. */
export function sweepFileStatus(plan: Plan): { teachers: JobStatus[]; cells: JobStatus[] } {
  return {
    teachers: plan.teachers.map((t) => status(plan.root, t.id, 'teacher', t.dir, teacherDone(t.dir))),
    cells: plan.cells.map((c) => status(plan.root, c.id, 'cell', c.dir, cellDone(c.dir))),
  };
}
