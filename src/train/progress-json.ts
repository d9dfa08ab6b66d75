/**
 * Progress as JSON messages, for a parent process (the sweep's local executor, src/sweep/local.ts) rather than a
 * human.
 *
 * The parent spawns `msd` with an IPC channel (Node's, which carries one JSON line per message) and
 * `MSD_PROGRESS_JSON=1`; the child then sends one `{"event":"progress",...ProgressEvent}` message per event over it,
 * besides the formatted lines it writes for humans on stderr (which go to the job's log unchanged). `msd` run by
 * hand, without the variable, writes only the formatted lines.
 *
 * Not a numbered file descriptor: Node and its libraries hold descriptors of their own, and writing to a wrong one
 * corrupts the process instead of failing.
 */
import { UserError } from '../errors.js';
import type { ProgressCallback, ProgressEvent } from './progress.js';

/** The environment variable that asks `msd` for JSON progress messages on its IPC channel. */
export const PROGRESS_JSON_ENV = 'MSD_PROGRESS_JSON';

export interface JsonProgressMessage extends ProgressEvent {
  event: 'progress';
}

/** The message sent for an event. */
export function progressMessage(e: ProgressEvent): JsonProgressMessage {
  return { event: 'progress', ...e };
}

/** The event of a progress message, or undefined for anything else. */
export function progressOfMessage(m: unknown): ProgressEvent | undefined {
  if (typeof m !== 'object' || m === null || (m as { event?: unknown }).event !== 'progress') return undefined;
  const { event: _, ...e } = m as JsonProgressMessage;
  return typeof e.task === 'string' && typeof e.kind === 'string' && typeof e.step === 'number' ? e : undefined;
}

/** Where the messages go: the process's IPC channel (tests pass their own). */
export type SendMessage = (message: JsonProgressMessage, done: (err: Error | null) => void) => void;

function ipcSend(): SendMessage | undefined {
  if (typeof process.send !== 'function') return undefined;
  return (message, done) => {
    if (!process.connected) return done(new Error('the IPC channel is closed'));
    process.send!(message, undefined, {}, done);
  };
}

/**
 * `human`, plus the JSON progress messages when `MSD_PROGRESS_JSON=1` (`human` alone when the variable is unset).
 * Steps are sent at most every `minIntervalMs` (default 500; the last step always), other events always.
 */
export function withJsonProgress(
  human: ProgressCallback,
  env: NodeJS.ProcessEnv = process.env,
  opts: { minIntervalMs?: number; send?: SendMessage } = {},
): ProgressCallback {
  const value = env[PROGRESS_JSON_ENV];
  if (value === undefined || value === '' || value === '0') return human;
  const send = opts.send ?? ipcSend();
  if (value !== '1' || !send)
    throw new UserError(
      `${PROGRESS_JSON_ENV}=${value}: expected 1 with an IPC channel to a parent process${send ? '' : ' (there is none)'}`,
      `unset ${PROGRESS_JSON_ENV} (the sweep's executor sets it for its children)`,
    );
  const every = opts.minIntervalMs ?? 500;
  let last = Number.NEGATIVE_INFINITY;
  let broken = false;
  return (e) => {
    human(e);
    if (broken) return;
    if (e.kind === 'step' && e.step !== e.totalSteps && Date.now() - last < every) return;
    if (e.kind === 'step') last = Date.now();
    send(progressMessage(e), (err) => {
      if (!err || broken) return;
      // The parent is gone: training goes on, with the human lines only.
      broken = true;
      process.stderr.write(`msd: JSON progress stopped (${err.message})\n`);
    });
  };
}
