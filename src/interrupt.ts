/**
 * Interrupting long work (training, distilling, evaluation, diagnostics, sweeps) cleanly: Ctrl-C in a terminal, or
 * Kernel > Interrupt in JupyterLab, stops the work at the next step boundary, after a resumable checkpoint.
 *
 * How an interrupt arrives. Jupyter's interrupt request for the tslab kernel (its kernelspec has no `interrupt_mode`,
 * so "signal") is a SIGINT sent by jupyter_client to the kernel's process group; a terminal's Ctrl-C is the same
 * signal. tslab's own SIGINT listener only rejects the promise the cell awaits ("Interrupted asynchronously"), which
 * frees the cell while the work goes on in the background; and Node delivers a signal only when the event loop
 * turns, which a synchronous training loop never lets it do. So, while some work runs inside `interruptible()`:
 *   - the process's SIGINT listeners (tslab's) are set aside and one of ours records the request; they are put
 *     back when the outermost `interruptible()` returns;
 *   - the work calls `await stopRequested()` at each step boundary: it yields to the event loop once (a
 *     `setImmediate`, about a microsecond; README "Interrupting") so that a pending signal is delivered, and says
 *     whether one was; the work then saves what it needs to resume and throws `InterruptedError`;
 *   - the cell then fails with that one-line message (no stack), and Jupyter drops the queued cells as after any
 *     error. Running the cell again resumes from the checkpoint.
 * A second SIGINT (more than 2 s after the first, so that one signal sent to both a process and its group counts
 * once) in a process with no other listener (the CLI) exits at once with status 130; in a kernel it is ignored.
 */

/** The work stopped because it was interrupted; `message` says where, and how to continue. */
export class InterruptedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'Interrupted';
    // What tslab's `console.error(err)` and the CLI print: the message alone, not a stack into the library.
    this.stack = `Interrupted: ${message}`;
  }
}

export function isInterrupted(err: unknown): err is InterruptedError {
  return err instanceof InterruptedError || (err instanceof Error && err.name === 'Interrupted');
}

let depth = 0;
let requestedAt = 0;
let setAside: ((...args: unknown[]) => void)[] = [];
const subscribers = new Set<() => void>();

function onSigint(): void {
  const now = Date.now();
  if (requestedAt > 0) {
    if (now - requestedAt > 2000 && setAside.length === 0) {
      process.stderr.write('\nsecond interrupt: exiting now (the last checkpoint on disk stays)\n');
      process.exit(130);
    }
    return;
  }
  requestedAt = now;
  process.stderr.write('\ninterrupt received: stopping at the next step boundary (a checkpoint is written first)\n');
  for (const s of subscribers) s();
}

function install(): void {
  setAside = process.listeners('SIGINT') as ((...args: unknown[]) => void)[];
  process.removeAllListeners('SIGINT');
  process.on('SIGINT', onSigint);
  requestedAt = 0;
}

function uninstall(): void {
  process.off('SIGINT', onSigint);
  for (const l of setAside) process.on('SIGINT', l);
  setAside = [];
  requestedAt = 0;
}

/**
 * Runs `work` with interrupts turned into requests that `stopRequested()` reports. Nested calls share the outermost
 * one's handling (runMsd -> trainTeacher -> the loop). When an interrupt arrived but the work finished before it
 * looked, the outermost call still throws `InterruptedError` (`what` names the work), so that a notebook's Run All
 * stops there as the user asked; what was finished is on disk.
 */
export async function interruptible<T>(what: string, work: () => Promise<T>): Promise<T> {
  if (depth++ === 0) install();
  try {
    const result = await work();
    if (depth === 1 && requestedAt > 0) throw new InterruptedError(`${what} had finished when the interrupt arrived`);
    return result;
  } finally {
    if (--depth === 0) uninstall();
  }
}

/** Whether an interrupt was requested (without yielding; inside `interruptible()` only, else false). */
export function interruptRequested(): boolean {
  return depth > 0 && requestedAt > 0;
}

/** Yields to the event loop once, so that a pending signal is delivered, and says whether an interrupt was requested. */
export async function stopRequested(): Promise<boolean> {
  await new Promise<void>((resolve) => setImmediate(resolve));
  return interruptRequested();
}

/** Throws `InterruptedError(message())` when an interrupt was requested (after yielding once). */
export async function throwIfInterrupted(message: () => string): Promise<void> {
  if (await stopRequested()) throw new InterruptedError(message());
}

/** Calls `listener` when an interrupt is requested inside the current `interruptible()`; returns the unsubscribe. */
export function onInterrupt(listener: () => void): () => void {
  subscribers.add(listener);
  return () => subscribers.delete(listener);
}
