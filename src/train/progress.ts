/**
 * Progress of long work (training, caching teacher outputs, evaluation) as plain events. The trainer only calls a
 * callback; the CLI turns events into a progress bar on a terminal or periodic plain lines otherwise, and notebooks
 * turn them into a live display (`newDisplay()` in tslab) or anything else.
 */

export interface ProgressEvent {
  /** What is running: `teacher`, `student:nl`, `cache:nl`, `eval:nl` ... */
  task: string;
  /** `step` during work, `epoch` at an epoch end, `eval` after an evaluation, `done` at the end, `info` for notes. */
  kind: 'step' | 'epoch' | 'eval' | 'done' | 'info';
  step: number;
  totalSteps: number;
  epoch?: number;
  epochs?: number;
  /** Total loss and its terms at this step. */
  loss?: number;
  terms?: Record<string, number>;
  lr?: number;
  /** Real (non-padding) tokens per second over the recent steps. */
  tokensPerSec?: number;
  /** Seconds since the task started and estimated seconds left. */
  elapsedSec?: number;
  etaSec?: number;
  /** Free text (evaluation results, checkpoint written, ...). */
  message?: string;
}

export type ProgressCallback = (event: ProgressEvent) => void;

export function formatDuration(sec: number | undefined): string {
  if (sec === undefined || !Number.isFinite(sec)) return '?';
  const s = Math.max(0, Math.round(sec));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const r = s % 60;
  return h > 0 ? `${h}h${String(m).padStart(2, '0')}m` : m > 0 ? `${m}m${String(r).padStart(2, '0')}s` : `${r}s`;
}

/** One human-readable line for an event (used by both console modes and by notebooks). */
export function formatProgress(e: ProgressEvent): string {
  if (e.kind !== 'step') return `[${e.task}] ${e.message ?? e.kind}`;
  const pct = e.totalSteps > 0 ? ((100 * e.step) / e.totalSteps).toFixed(0).padStart(3) : '  ?';
  const parts = [`[${e.task}]`, `${pct}%`, `step ${e.step}/${e.totalSteps}`];
  if (e.epoch !== undefined) parts.push(`epoch ${e.epoch}/${e.epochs ?? '?'}`);
  if (e.loss !== undefined) parts.push(`loss ${e.loss.toFixed(4)}`);
  if (e.lr !== undefined) parts.push(`lr ${e.lr.toExponential(2)}`);
  if (e.tokensPerSec !== undefined) parts.push(`${e.tokensPerSec.toFixed(0)} tok/s`);
  parts.push(`ETA ${formatDuration(e.etaSec)}`);
  return parts.join('  ');
}

export interface ConsoleProgressOptions {
  stream?: NodeJS.WriteStream;
  /** Plain mode: at most one step line per this many seconds (default 10). */
  everySec?: number;
  /** Force plain lines even on a terminal. */
  plain?: boolean;
}

/** A progress bar on a terminal (one line rewritten in place), plain periodic lines otherwise (logs, CI). */
export function consoleProgress(opts: ConsoleProgressOptions = {}): ProgressCallback {
  const stream = opts.stream ?? process.stderr;
  const tty = !opts.plain && Boolean(stream.isTTY);
  const every = (opts.everySec ?? 10) * 1000;
  let lastPlain = 0;
  let barOpen = false;
  return (e) => {
    if (e.kind !== 'step') {
      if (barOpen) stream.write('\n');
      barOpen = false;
      stream.write(`${formatProgress(e)}\n`);
      return;
    }
    if (tty) {
      const width = 24;
      const filled = e.totalSteps > 0 ? Math.round((width * e.step) / e.totalSteps) : 0;
      const bar = `${'#'.repeat(filled)}${'.'.repeat(width - filled)}`;
      const cols = stream.columns ?? 120;
      stream.write(`\r${`|${bar}| ${formatProgress(e)}`.slice(0, cols - 1)}\x1b[K`);
      barOpen = true;
      return;
    }
    const now = Date.now();
    if (now - lastPlain >= every || e.step === e.totalSteps) {
      lastPlain = now;
      stream.write(`${formatProgress(e)}\n`);
    }
  };
}

/** Something that shows text and replaces what it showed before, like tslab's `newDisplay()`. */
export interface LiveDisplay {
  text(text: string): void;
}

export interface LiveProgressOptions {
  /** Steps update the display at most this often (default 1000 ms); other events always do. */
  minIntervalMs?: number;
  /** How many recent non-step events (evaluations, epochs, notes) stay above the current step (default 6). */
  keep?: number;
  /** The clock (tests). */
  now?: () => number;
}

/**
 * Live progress for a notebook cell: `trainTeacher(cfg, { onProgress: liveProgress(newDisplay()) })`. The display
 * shows the last few events above the current step. Steps are throttled: tslab's kernel socket sends one message
 * at a time, and an update at every training step kills the kernel (ZeroMQ "Socket is busy writing").
 */
export function liveProgress(display: LiveDisplay, opts: LiveProgressOptions = {}): ProgressCallback {
  const every = opts.minIntervalMs ?? 1000;
  const keep = opts.keep ?? 6;
  const now = opts.now ?? Date.now;
  const events: string[] = [];
  let shown = Number.NEGATIVE_INFINITY;
  return (e) => {
    if (e.kind !== 'step') events.push(formatProgress(e));
    else if (now() - shown < every) return;
    shown = now();
    display.text([...events.slice(-keep), e.kind === 'step' ? formatProgress(e) : ''].join('\n').trimEnd());
  };
}
