/**
 * One job of the local executor as a child process: `msd teacher|run --config <file> --resume --plain`, its output
 * appended to `logs/<key>.log` (after a header line), its pid in `state/<key>.pid` while it runs, its exit code in
 * `state/<key>.exit`, its progress read from JSON messages on an IPC channel (src/train/progress-json.ts).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { formatDuration } from '../train/progress.js';
import { progressOfMessage, PROGRESS_JSON_ENV } from '../train/progress-json.js';
import { failureLines } from './local-display.js';
import type { LiveJob } from './local-jobs.js';
import { pidPath } from './local-lock.js';
import { exitPath, logPath, tailLines } from './state.js';

export interface ChildSettings {
  /** The sweep directory. */
  root: string;
  /** The command that runs `msd`. */
  msd: string[];
  /** Extra environment for the child. */
  env?: NodeJS.ProcessEnv;
  /** A line for the plain log. */
  say(line: string): void;
}

/** Starts job `j` and marks it running; when the child has exited and `j` holds its end state, calls `onEnd`. */
export function startJob(j: LiveJob, s: ChildSettings, onEnd: () => void): ChildProcess {
  const fd = openSync(logPath(s.root, j.key), 'a');
  const command = j.kind === 'teacher' ? 'teacher' : 'run';
  writeFileSync(
    fd,
    `== ${new Date().toISOString()} local executor pid ${process.pid}: ${command} --config ${j.configPath} --resume\n`,
  );
  // The child's progress comes as JSON messages on an IPC channel; its stdout and stderr go to the log as they are.
  const child = spawn(s.msd[0]!, [...s.msd.slice(1), command, '--config', j.configPath, '--resume', '--plain'], {
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    env: { ...process.env, ...s.env, [PROGRESS_JSON_ENV]: '1' },
  });
  child.on('message', (m) => {
    const e = progressOfMessage(m);
    if (e?.kind === 'step') Object.assign(j, { task: e.task, step: e.step, total: e.totalSteps, etaSec: e.etaSec });
  });
  writeFileSync(pidPath(s.root, j.key), `${child.pid}\n`);
  rmSync(exitPath(s.root, j.key), { force: true });
  Object.assign(j, {
    state: 'running',
    startedAt: Date.now(),
    task: undefined,
    step: undefined,
    total: undefined,
    etaSec: undefined,
  });
  s.say(`[sweep] start ${j.key} (pid ${child.pid})`);
  const onOutput = (chunk: Buffer) => writeFileSync(fd, chunk);
  child.stdout!.on('data', onOutput);
  child.stderr!.on('data', onOutput);
  child.on('close', (code, signal) => {
    closeSync(fd);
    rmSync(pidPath(s.root, j.key), { force: true });
    endJob(j, s, code ?? 128 + (signal === 'SIGKILL' ? 9 : signal === 'SIGINT' ? 2 : 15), signal);
    onEnd();
  });
  return child;
}

/** A job's end: its exit code written, and done only when it exited 0 and its results are there. */
function endJob(j: LiveJob, s: ChildSettings, rc: number, signal: NodeJS.Signals | null): void {
  writeFileSync(exitPath(s.root, j.key), `${rc}\n`);
  j.endedAt = Date.now();
  j.exitCode = rc;
  if (rc === 0 && j.done()) {
    j.state = 'done';
    s.say(`[sweep] done ${j.key} in ${formatDuration((j.endedAt - j.startedAt!) / 1000)}`);
    return;
  }
  j.state = 'failed';
  const results = j.kind === 'teacher' ? 'teacher/train-report.json' : 'results/summary.json';
  j.tail = rc === 0 ? [`exited 0 but its results are missing (${results})`] : tailLines(logPath(s.root, j.key), 5);
  s.say(`[sweep] FAILED ${j.key} (exit ${rc}${signal ? `, ${signal}` : ''}); ${failureLines(s.root, j)}`);
}
