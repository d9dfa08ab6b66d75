/**
 * The local executor: a pool of `jobs` child processes, each one `msd teacher|run --config <cell> --resume --plain`,
 * shared teachers first (a cell starts once its teacher is done), with a live table of the cells.
 *
 * Interrupting and re-running is the normal way to continue: finished cells are skipped (their files say so, see
 * state.ts), partial ones resume from their checkpoints, failed ones are tried again. Each attempt's output is
 * appended to `logs/<id>.log` and its exit code written to `state/<id>.exit`; `state/<id>.pid` holds the pid of a
 * running child, so a second executor refuses a cell that a live process is still running.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatDuration } from '../train/progress.js';
import { progressOfMessage, PROGRESS_JSON_ENV } from '../train/progress-json.js';
import { interruptible, InterruptedError, onInterrupt } from '../interrupt.js';
import { cellDone, exitPath, logPath, processAlive, tailLines, teacherDone, type Plan } from './state.js';

export type LiveState = 'queued' | 'waiting' | 'running' | 'done' | 'failed' | 'blocked' | 'skipped';

export interface LiveJob {
  /** Log/state key: the cell id, or `teacher-<id>`. */
  key: string;
  kind: 'teacher' | 'cell';
  state: LiveState;
  /** Model in progress, its step, total steps and seconds left, from the child's JSON progress messages. */
  task?: string;
  step?: number;
  total?: number;
  etaSec?: number;
  startedAt?: number;
  endedAt?: number;
  exitCode?: number;
  tail?: string[];
  /** Teacher key a cell waits for. */
  needs?: string;
  configPath: string;
  done: () => boolean;
}

export interface LocalOptions {
  jobs?: number;
  /** The command that runs `msd` (default: this Node with the built lib/cli/msd.js). */
  msd?: string[];
  /** Extra environment for the children. */
  env?: NodeJS.ProcessEnv;
  /** 'tty': a table redrawn in place; 'plain': a line per change plus a summary every `everySec`; 'none'. */
  display?: 'tty' | 'plain' | 'none';
  everySec?: number;
  stream?: NodeJS.WritableStream;
}

export interface LocalResult {
  jobs: LiveJob[];
  done: number;
  failed: string[];
  blocked: string[];
  interrupted: boolean;
}

/** The built CLI next to this module (lib/sweep/local.js -> lib/cli/msd.js; from src/ under tsx, the repo's lib/). */
export function defaultMsdCommand(): string[] {
  const here = dirname(fileURLToPath(import.meta.url));
  const lib = here.endsWith(join('src', 'sweep'))
    ? resolve(here, '../../lib/cli/msd.js')
    : resolve(here, '../cli/msd.js');
  if (!existsSync(lib)) throw new Error(`${lib} not found: build the library first (npm run build)`);
  return [process.execPath, lib];
}

/** `state/<key>.pid` of a live process other than us, if any. */
function liveOwner(root: string, key: string): number | undefined {
  const p = join(root, 'state', `${key}.pid`);
  if (!existsSync(p)) return undefined;
  const pid = Number(readFileSync(p, 'utf8').trim());
  return Number.isInteger(pid) && pid > 0 && pid !== process.pid && processAlive(pid) ? pid : undefined;
}

/** The jobs of a plan: teachers with an unfinished cell, then every cell. */
export function localJobs(plan: Plan): LiveJob[] {
  const jobs: LiveJob[] = [];
  const cellsDone = new Map(plan.cells.map((c) => [c.id, cellDone(c.dir)]));
  for (const t of plan.teachers) {
    const needed = t.cells.some((id) => !cellsDone.get(id));
    const done = () => teacherDone(t.dir);
    jobs.push({
      key: `teacher-${t.id}`,
      kind: 'teacher',
      state: done() ? 'done' : needed ? 'queued' : 'skipped',
      configPath: t.config,
      done,
    });
  }
  for (const c of plan.cells) {
    const done = () => cellDone(c.dir);
    jobs.push({
      key: c.id,
      kind: 'cell',
      state: cellsDone.get(c.id) ? 'done' : 'queued',
      configPath: c.config,
      needs: c.teacher ? `teacher-${c.teacher}` : undefined,
      done,
    });
  }
  return jobs;
}

/** One row per job for the live table. */
export function formatJobs(jobs: readonly LiveJob[], now = Date.now()): string[] {
  const w = Math.max(4, ...jobs.map((j) => j.key.length));
  const rows = [`${'job'.padEnd(w)}  ${'state'.padEnd(8)}  progress`];
  for (const j of jobs) {
    let detail = '';
    if (j.state === 'running') {
      const took = formatDuration(((now - (j.startedAt ?? now)) / 1000) | 0);
      detail = j.task
        ? `${j.task} step ${j.step}/${j.total}, ETA ${formatDuration(j.etaSec)} (running ${took})`
        : `starting (running ${took})`;
    } else if (j.state === 'done' && j.startedAt)
      detail = `in ${formatDuration(((j.endedAt ?? now) - j.startedAt) / 1000)}`;
    else if (j.state === 'failed') detail = `exit ${j.exitCode}: ${(j.tail ?? []).slice(-1)[0] ?? ''}`;
    else if (j.state === 'blocked') detail = `its teacher ${j.needs} failed`;
    else if (j.state === 'waiting') detail = `for ${j.needs}`;
    rows.push(`${j.key.padEnd(w)}  ${j.state.padEnd(8)}  ${detail}`);
  }
  const count = (s: LiveState) => jobs.filter((j) => j.state === s).length;
  rows.push(
    `${count('done')} done, ${count('running')} running, ${count('queued') + count('waiting')} queued, ${count('failed')} failed, ${count('blocked')} blocked`,
  );
  return rows;
}

/**
 * Runs every unfinished job of a planned sweep on a local pool; resolves when all are done, failed or blocked.
 * An interrupt (Ctrl-C, Kernel > Interrupt: SIGINT) stops starting jobs, asks the running ones to stop at their next
 * step boundary (each writes its checkpoint), waits for them and throws `InterruptedError`; SIGTERM does the same
 * and resolves with `interrupted: true`. Running it again continues.
 */
export async function runLocal(plan: Plan, opts: LocalOptions = {}): Promise<LocalResult> {
  const result = await interruptible('the sweep', () => runPool(plan, opts));
  if (result.interrupted === 'SIGINT') {
    const stopped = result.jobs.filter((j) => j.state === 'failed' && j.exitCode === 130).map((j) => j.key);
    throw new InterruptedError(
      `sweep ${plan.root} stopped${stopped.length ? ` (${stopped.join(', ')} stopped at a step boundary, with checkpoints)` : ''}: ` +
        `${result.done} of ${result.jobs.length} jobs done; run it again to continue`,
    );
  }
  return { ...result, interrupted: result.interrupted !== false };
}

async function runPool(
  plan: Plan,
  opts: LocalOptions,
): Promise<Omit<LocalResult, 'interrupted'> & { interrupted: false | NodeJS.Signals }> {
  const jobsMax = Math.max(1, opts.jobs ?? 1);
  const msd = opts.msd ?? defaultMsdCommand();
  const stream = opts.stream ?? process.stderr;
  const display = opts.display ?? ((stream as NodeJS.WriteStream).isTTY ? 'tty' : 'plain');
  const root = plan.root;
  mkdirSync(join(root, 'state'), { recursive: true });
  mkdirSync(join(root, 'logs'), { recursive: true });
  const lock = join(root, 'state', 'executor.pid');
  const owner = liveOwner(root, 'executor');
  if (owner)
    throw new Error(`${root}: another executor (pid ${owner}) is running this sweep; wait for it or stop it first`);
  const jobs = localJobs(plan);
  const byKey = new Map(jobs.map((j) => [j.key, j]));
  for (const j of jobs) {
    const pid = liveOwner(root, j.key);
    if (pid && j.state !== 'done')
      throw new Error(
        `${j.key}: still being run by pid ${pid} (an earlier executor's child?); kill it or wait before re-running the sweep`,
      );
  }
  writeFileSync(lock, `${process.pid}\n`);
  const children = new Map<string, ChildProcess>();
  let interrupted: false | NodeJS.Signals = false;
  let drawn = 0;
  let lastSummary = Date.now();

  const say = (line: string) => {
    if (display === 'plain') stream.write(`${line}\n`);
  };
  const draw = () => {
    if (display !== 'tty') return;
    const rows = formatJobs(jobs);
    stream.write(`${drawn ? `\x1b[${drawn}A` : ''}${rows.map((r) => `\r${r}\x1b[K`).join('\n')}\n`);
    drawn = rows.length;
  };

  return new Promise((resolvePromise) => {
    const finish = () => {
      clearInterval(timer);
      offInterrupt();
      process.off('SIGTERM', onSignal);
      draw();
      if (display === 'plain') stream.write(`${formatJobs(jobs).join('\n')}\n`);
      if (display === 'tty') {
        for (const j of jobs.filter((x) => x.state === 'failed'))
          stream.write(
            `${j.key} failed (exit ${j.exitCode}); last lines of ${logPath(root, j.key)}:\n${(j.tail ?? []).map((l) => `    ${l}`).join('\n')}\n`,
          );
      }
      rmSync(lock, { force: true });
      resolvePromise({
        jobs,
        done: jobs.filter((j) => j.state === 'done').length,
        failed: jobs.filter((j) => j.state === 'failed').map((j) => j.key),
        blocked: jobs.filter((j) => j.state === 'blocked').map((j) => j.key),
        interrupted,
      });
    };

    const start = (j: LiveJob) => {
      const log = logPath(root, j.key);
      const fd = openSync(log, 'a');
      const header = `== ${new Date().toISOString()} local executor pid ${process.pid}: ${j.kind === 'teacher' ? 'teacher' : 'run'} --config ${j.configPath} --resume\n`;
      writeFileSync(fd, header);
      const args = [
        ...msd.slice(1),
        j.kind === 'teacher' ? 'teacher' : 'run',
        '--config',
        j.configPath,
        '--resume',
        '--plain',
      ];
      // The child's progress comes as JSON messages on an IPC channel (src/train/progress-json.ts); its stdout and
      // stderr go to the log as they are.
      const child = spawn(msd[0]!, args, {
        stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
        env: { ...process.env, ...opts.env, [PROGRESS_JSON_ENV]: '1' },
      });
      child.on('message', (m) => {
        const e = progressOfMessage(m);
        if (e?.kind === 'step') Object.assign(j, { task: e.task, step: e.step, total: e.totalSteps, etaSec: e.etaSec });
      });
      children.set(j.key, child);
      writeFileSync(join(root, 'state', `${j.key}.pid`), `${child.pid}\n`);
      rmSync(exitPath(root, j.key), { force: true });
      Object.assign(j, {
        state: 'running',
        startedAt: Date.now(),
        task: undefined,
        step: undefined,
        total: undefined,
        etaSec: undefined,
      });
      say(`[sweep] start ${j.key} (pid ${child.pid})`);
      const onOutput = (chunk: Buffer) => writeFileSync(fd, chunk);
      child.stdout!.on('data', onOutput);
      child.stderr!.on('data', onOutput);
      child.on('close', (code, signal) => {
        closeSync(fd);
        children.delete(j.key);
        rmSync(join(root, 'state', `${j.key}.pid`), { force: true });
        const rc = code ?? 128 + (signal === 'SIGKILL' ? 9 : signal === 'SIGINT' ? 2 : 15);
        writeFileSync(exitPath(root, j.key), `${rc}\n`);
        j.endedAt = Date.now();
        j.exitCode = rc;
        if (rc === 0 && j.done()) {
          j.state = 'done';
          say(`[sweep] done ${j.key} in ${formatDuration((j.endedAt - j.startedAt!) / 1000)}`);
        } else {
          j.state = 'failed';
          j.tail =
            rc === 0
              ? [
                  `exited 0 but its results are missing (${j.kind === 'teacher' ? 'teacher/train-report.json' : 'results/summary.json'})`,
                ]
              : tailLines(logPath(root, j.key), 5);
          say(
            `[sweep] FAILED ${j.key} (exit ${rc}${signal ? `, ${signal}` : ''}); last lines of ${logPath(root, j.key)}:\n${(j.tail ?? []).map((l) => `    ${l}`).join('\n')}`,
          );
        }
        schedule();
      });
    };

    const schedule = () => {
      if (!interrupted) {
        for (const j of jobs) {
          if (j.state !== 'queued' && j.state !== 'waiting') continue;
          const dep = j.needs ? byKey.get(j.needs) : undefined;
          if (dep && (dep.state === 'failed' || dep.state === 'blocked')) j.state = 'blocked';
          else if (dep && dep.state !== 'done') j.state = 'waiting';
          else if (children.size < jobsMax) start(j);
        }
      }
      draw();
      if (children.size === 0) finish();
    };

    const onSignal = (sig: NodeJS.Signals) => {
      if (interrupted) return;
      interrupted = sig;
      say(`[sweep] ${sig}: stopping ${children.size} running job(s); re-run the same command to continue`);
      // SIGINT: each child (msd) stops at its next step boundary after writing a checkpoint (src/interrupt.ts).
      for (const c of children.values()) c.kill(sig === 'SIGINT' ? 'SIGINT' : 'SIGTERM');
    };
    const offInterrupt = onInterrupt(() => onSignal('SIGINT'));
    process.on('SIGTERM', onSignal);
    const timer = setInterval(() => {
      if (display === 'tty') draw();
      else if (display === 'plain' && Date.now() - lastSummary >= (opts.everySec ?? 60) * 1000) {
        lastSummary = Date.now();
        say(`[sweep] ${formatJobs(jobs).slice(-1)[0]}`);
      }
    }, 1000);
    schedule();
  });
}
