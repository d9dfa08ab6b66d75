/**
 * Who runs a sweep: `state/executor.pid` holds the pid of the local executor running it, `state/<key>.pid` that of
 * a running child. A second executor refuses a sweep whose executor, or a job's child, is still alive.
 */
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LiveJob } from './local-jobs.js';
import { processAlive } from './state.js';

/** `state/<key>.pid`: the pid of the process running job `key` (or `executor`). */
export function pidPath(root: string, key: string): string {
  return join(root, 'state', `${key}.pid`);
}

/** `state/<key>.pid` of a live process other than us, if any. */
function liveOwner(root: string, key: string): number | undefined {
  const p = pidPath(root, key);
  if (!existsSync(p)) return undefined;
  const pid = Number(readFileSync(p, 'utf8').trim());
  return Number.isInteger(pid) && pid > 0 && pid !== process.pid && processAlive(pid) ? pid : undefined;
}

/**
 * Takes the sweep at `root` for this process, after checking that no other live executor runs it and that no
 * unfinished job is still run by a live child (an earlier executor's); returns the release.
 */
export function lockSweep(root: string, jobs: readonly LiveJob[]): () => void {
  const owner = liveOwner(root, 'executor');
  if (owner)
    throw new Error(`${root}: another executor (pid ${owner}) is running this sweep; wait for it or stop it first`);
  for (const j of jobs) {
    const pid = liveOwner(root, j.key);
    if (pid && j.state !== 'done')
      throw new Error(
        `${j.key}: still being run by pid ${pid} (an earlier executor's child?); kill it or wait before re-running the sweep`,
      );
  }
  const lock = pidPath(root, 'executor');
  writeFileSync(lock, `${process.pid}\n`);
  return () => rmSync(lock, { force: true });
}
