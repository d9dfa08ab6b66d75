/**
 * The local executor: a pool of `jobs` child processes, each one `msd teacher|run --config <cell> --resume --plain`,
 * shared teachers first (a cell starts once its teacher is done), with a live table of the cells.
 *
 * Interrupting and re-running is the normal way to continue: finished cells are skipped (their files say so, see
 * state.ts), partial ones resume from their checkpoints, failed ones are tried again. Each attempt's output is
 * appended to `logs/<id>.log` and its exit code written to `state/<id>.exit`; `state/<id>.pid` holds the pid of a
 * running child, so a second executor refuses a cell that a live process is still running.
 *
 * This file is the scheduler and the signal handling; the parts it composes each have their own file: the jobs and
 * their live state (local-jobs.ts), one child process (local-child.ts), the table and log lines (local-display.ts),
 * the pid files that keep two executors off one sweep (local-lock.ts).
 */
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { interruptible, InterruptedError, onInterrupt } from '../interrupt.js';
import { startJob } from './local-child.js';
import { SweepDisplay, type DisplayMode } from './local-display.js';
import { localJobs, type LiveJob } from './local-jobs.js';
import { lockSweep } from './local-lock.js';
import type { Plan } from './state.js';

export interface LocalOptions {
  jobs?: number;
  /** The command that runs `msd` (default: this Node with the built lib/cli/msd.js). */
  msd?: string[];
  /** Extra environment for the children. */
  env?: NodeJS.ProcessEnv;
  /** 'tty': a table redrawn in place; 'plain': a line per change plus a summary every `everySec`; 'none'. */
  display?: DisplayMode;
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

type PoolResult = Omit<LocalResult, 'interrupted'> & { interrupted: false | NodeJS.Signals };

/** The jobs' outcome, as runLocal reports it. */
function poolResult(jobs: LiveJob[], interrupted: false | NodeJS.Signals): PoolResult {
  return {
    jobs,
    done: jobs.filter((j) => j.state === 'done').length,
    failed: jobs.filter((j) => j.state === 'failed').map((j) => j.key),
    blocked: jobs.filter((j) => j.state === 'blocked').map((j) => j.key),
    interrupted,
  };
}

/**
 * The pool: starts queued jobs whose teacher is done while fewer than `jobs` run, marks the cells of a failed
 * teacher blocked, and on SIGINT/SIGTERM stops starting and passes the signal on to the running children.
 */
async function runPool(plan: Plan, opts: LocalOptions): Promise<PoolResult> {
  const jobsMax = Math.max(1, opts.jobs ?? 1);
  const msd = opts.msd ?? defaultMsdCommand();
  const stream = opts.stream ?? process.stderr;
  const mode = opts.display ?? ((stream as NodeJS.WriteStream).isTTY ? 'tty' : 'plain');
  const root = plan.root;
  mkdirSync(join(root, 'state'), { recursive: true });
  mkdirSync(join(root, 'logs'), { recursive: true });
  const jobs = localJobs(plan);
  const unlock = lockSweep(root, jobs);
  const byKey = new Map(jobs.map((j) => [j.key, j]));
  const display = new SweepDisplay(jobs, mode, stream, root, opts.everySec);
  const children = new Map<string, ChildProcess>();
  const settings = { root, msd, env: opts.env, say: (line: string) => display.say(line) };
  let interrupted: false | NodeJS.Signals = false;

  return new Promise((resolvePromise) => {
    const finish = () => {
      clearInterval(timer);
      offInterrupt();
      process.off('SIGTERM', onSignal);
      display.finish();
      unlock();
      resolvePromise(poolResult(jobs, interrupted));
    };
    const start = (j: LiveJob) => {
      const child = startJob(j, settings, () => {
        children.delete(j.key);
        schedule();
      });
      children.set(j.key, child);
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
      display.draw();
      if (children.size === 0) finish();
    };
    const onSignal = (sig: NodeJS.Signals) => {
      if (interrupted) return;
      interrupted = sig;
      display.say(`[sweep] ${sig}: stopping ${children.size} running job(s); re-run the same command to continue`);
      // SIGINT: each child (msd) stops at its next step boundary after writing a checkpoint (src/interrupt.ts).
      for (const c of children.values()) c.kill(sig === 'SIGINT' ? 'SIGINT' : 'SIGTERM');
    };
    const offInterrupt = onInterrupt(() => onSignal('SIGINT'));
    process.on('SIGTERM', onSignal);
    const timer = setInterval(() => display.tick(), 1000);
    schedule();
  });
}
