/**
 * What the local executor shows of its jobs: on a terminal ('tty') a table redrawn in place every second; in a log
 * ('plain') a line per start, end and failure plus a summary line every `everySec`; or nothing ('none').
 */
import { formatDuration } from '../train/progress.js';
import type { LiveJob, LiveState } from './local-jobs.js';
import { logPath } from './state.js';

export type DisplayMode = 'tty' | 'plain' | 'none';

/** One row per job for the live table, and a count of the states last. */
export function formatJobs(jobs: readonly LiveJob[], now = Date.now()): string[] {
  const w = Math.max(4, ...jobs.map((j) => j.key.length));
  const rows = [`${'job'.padEnd(w)}  ${'state'.padEnd(8)}  progress`];
  for (const j of jobs) rows.push(`${j.key.padEnd(w)}  ${j.state.padEnd(8)}  ${jobDetail(j, now)}`);
  const count = (s: LiveState) => jobs.filter((j) => j.state === s).length;
  rows.push(
    `${count('done')} done, ${count('running')} running, ${count('queued') + count('waiting')} queued, ${count('failed')} failed, ${count('blocked')} blocked`,
  );
  return rows;
}

function jobDetail(j: LiveJob, now: number): string {
  if (j.state === 'running') {
    const took = formatDuration(((now - (j.startedAt ?? now)) / 1000) | 0);
    return j.task
      ? `${j.task} step ${j.step}/${j.total}, ETA ${formatDuration(j.etaSec)} (running ${took})`
      : `starting (running ${took})`;
  }
  if (j.state === 'done' && j.startedAt) return `in ${formatDuration(((j.endedAt ?? now) - j.startedAt) / 1000)}`;
  if (j.state === 'failed') return `exit ${j.exitCode}: ${(j.tail ?? []).slice(-1)[0] ?? ''}`;
  if (j.state === 'blocked') return `its teacher ${j.needs} failed`;
  if (j.state === 'waiting') return `for ${j.needs}`;
  return '';
}

/** A job's last log lines, indented, after a line that names the log. */
export function failureLines(root: string, j: LiveJob): string {
  return `last lines of ${logPath(root, j.key)}:\n${(j.tail ?? []).map((l) => `    ${l}`).join('\n')}`;
}

export class SweepDisplay {
  /** Rows of the table last drawn (to move the cursor back over them). */
  private drawn = 0;
  private lastSummary = Date.now();

  constructor(
    private readonly jobs: readonly LiveJob[],
    private readonly mode: DisplayMode,
    private readonly stream: NodeJS.WritableStream,
    private readonly root: string,
    private readonly everySec = 60,
  ) {}

  /** A line of the plain log (start, end, failure, signal). */
  say(line: string): void {
    if (this.mode === 'plain') this.stream.write(`${line}\n`);
  }

  /** The table, over the previous one (tty only). */
  draw(): void {
    if (this.mode !== 'tty') return;
    const rows = formatJobs(this.jobs);
    this.stream.write(`${this.drawn ? `\x1b[${this.drawn}A` : ''}${rows.map((r) => `\r${r}\x1b[K`).join('\n')}\n`);
    this.drawn = rows.length;
  }

  /** Every second: the table redrawn, or in a log a summary line every `everySec`. */
  tick(): void {
    if (this.mode === 'tty') this.draw();
    else if (this.mode === 'plain' && Date.now() - this.lastSummary >= this.everySec * 1000) {
      this.lastSummary = Date.now();
      this.say(`[sweep] ${formatJobs(this.jobs).slice(-1)[0]}`);
    }
  }

  /** At the end: the final table, and on a terminal the last log lines of every failed job. */
  finish(): void {
    this.draw();
    if (this.mode === 'plain') this.stream.write(`${formatJobs(this.jobs).join('\n')}\n`);
    if (this.mode === 'tty') {
      for (const j of this.jobs.filter((x) => x.state === 'failed'))
        this.stream.write(`${j.key} failed (exit ${j.exitCode}); ${failureLines(this.root, j)}\n`);
    }
  }
}
