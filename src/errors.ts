/**
 * Errors a person can fix, told apart from bugs. Library code throws a `UserError` (or a plain `Error` with a message
 * written for the user) for bad input: the message names the file, key or value and what was expected, and the hint
 * says how to fix it. The command line (src/cli/msd.ts) prints those as one `msd: ...` line; anything else (a
 * `TypeError`, an error from inside a dependency) is reported as an internal error with a hint to re-run with
 * `--debug` for the stack; an interrupt (Ctrl-C, src/interrupt.ts) as `msd: interrupted: ...`.
 *
 *   throw new UserError(`${path}: not a model directory (no config.json)`, 'pass the best/ directory of a run');
 */

import { isInterrupted } from './interrupt.js';

export class UserError extends Error {
  constructor(
    message: string,
    /** How to fix it, one short sentence (printed on a line of its own under the message). */
    readonly hint?: string,
  ) {
    super(message);
    this.name = 'UserError';
  }
}

/** Exit codes of `msd`: bad input 1 (commander's usage errors too), a bug 70 (EX_SOFTWARE), interrupted 130. */
export const EXIT = { user: 1, internal: 70, interrupted: 130 } as const;

/**
 * Errors that only a programming mistake raises: JavaScript's own classes (thrown by the runtime, never written for a
 * user), failed assertions, and the losses' input checks (the trainer, not the user, builds those inputs).
 */
const BUG_ERRORS = [
  'TypeError',
  'RangeError',
  'ReferenceError',
  'SyntaxError',
  'EvalError',
  'URIError',
  'AssertionError',
  'LossInputError',
];

/** The first stack frame of an error (where it was constructed), or '' when there is none. */
function throwSite(err: Error): string {
  const line = (err.stack ?? '').split('\n').find((l) => /^\s+at /.test(l));
  return line ?? '';
}

/**
 * Whether an error is a bug rather than bad input: anything thrown that is not an Error, the BUG_ERRORS classes, and
 * errors constructed inside a dependency (first stack frame under node_modules, e.g. a tfjs shape check). A
 * UserError, any other error this library throws with a message of its own (DataError, ...), and an operating-system
 * error (ENOENT, EACCES, ...: its message names the path) are bad input.
 */
export function isInternalError(err: unknown): boolean {
  if (err instanceof UserError) return false;
  if (!(err instanceof Error)) return true;
  if (typeof (err as NodeJS.ErrnoException).syscall === 'string') return false;
  if (BUG_ERRORS.includes(err.name)) return true;
  return /[\\/]node_modules[\\/]/.test(throwSite(err));
}

/**
 * What `msd` prints for an error that ended a command, and its exit code: `msd: <message>` (plus the hint) for bad
 * input; `msd: internal error: ...` with a --debug hint for a bug; the stack too when `debug`.
 */
export function formatError(err: unknown, opts: { debug?: boolean } = {}): { text: string; exitCode: number } {
  if (isInterrupted(err)) return { text: `msd: interrupted: ${err.message}`, exitCode: EXIT.interrupted };
  const internal = isInternalError(err);
  const e = err instanceof Error ? err : new Error(String(err));
  const lines: string[] = [];
  if (internal) {
    lines.push(`msd: internal error (a bug in msd, not in your input): ${e.name}: ${e.message}`);
    if (!opts.debug) lines.push('  re-run with --debug for the stack, and report it with the command line you ran');
  } else {
    lines.push(`msd: ${e.message}`);
    if (err instanceof UserError && err.hint) lines.push(`  ${err.hint}`);
  }
  if (opts.debug && e.stack) lines.push(e.stack);
  return { text: lines.join('\n'), exitCode: internal ? EXIT.internal : EXIT.user };
}

/** Edit distance (insertions, deletions, substitutions, adjacent swaps), case-insensitive. */
export function editDistance(a: string, b: string): number {
  const s = a.toLowerCase();
  const t = b.toLowerCase();
  const d: number[][] = Array.from({ length: s.length + 1 }, (_, i) =>
    Array.from({ length: t.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  for (let i = 1; i <= s.length; i++)
    for (let j = 1; j <= t.length; j++) {
      const cost = s[i - 1] === t[j - 1] ? 0 : 1;
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && s[i - 1] === t[j - 2] && s[i - 2] === t[j - 1])
        d[i]![j] = Math.min(d[i]![j]!, d[i - 2]![j - 2]! + 1);
    }
  return d[s.length]![t.length]!;
}

/**
 * The candidate closest to `word` when it is close enough to be a likely misspelling (at most a third of its
 * letters wrong, at least one), else undefined.
 */
export function closestMatch(word: string, candidates: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  for (const c of candidates) {
    const d = editDistance(word, c);
    if (d < bestD) {
      best = c;
      bestD = d;
    }
  }
  return best !== undefined && bestD <= Math.max(1, Math.floor(word.length / 3)) ? best : undefined;
}

/** `; did you mean 'x'?` for the closest candidate, or '' when none is close. */
export function didYouMean(word: string, candidates: Iterable<string>): string {
  const m = closestMatch(word, candidates);
  return m === undefined ? '' : `; did you mean '${m}'?`;
}

/** The first line of an error's message (or of the thrown value), for one-line reasons in summaries. */
export function firstLine(err: unknown): string {
  return String((err as Error)?.message ?? err).split('\n')[0]!;
}
