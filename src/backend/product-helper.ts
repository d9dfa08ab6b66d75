/**
 * Loops of per-entry products (blas-kernels.ts): attention's per-head products, batch x heads entries of
 * [t, 64] x [64, t] and the like, one sgemm call per entry. Two things make them faster:
 *
 * 1. One BLAS thread per call. Below m n k = 262,144 (t < 64) OpenBLAS keeps a call on the calling thread; above it,
 *    it splits each small call between its threads, which cost more than it gained at these sizes. Every loop of two
 *    or more entries up to 512 x 512 x 64 now runs its calls on one thread (`runProductLoop`): in the mBERT teacher
 *    profile the per-head products took 139-151 ms a step against 194-204 (4 December, `MSD_PROFILE=1`).
 * 2. The second core, when OpenBLAS's idle threads sleep at once (`OPENBLAS_THREAD_TIMEOUT` <= 16; by default they
 *    spin for about 2^28 cycles after each product and hold that core). A helper thread (product-helper-worker.ts)
 *    then takes whole entries from the same loop:
 *
 *      main thread                                  helper thread (asleep on the job counter)
 *      writes the job (addresses, shapes),
 *      opens it and wakes the helper ------------>  joins the job if it is still open
 *      claims a few entries at a time and           claims a few entries at a time and
 *      calls sgemm on them by address               calls sgemm on them by address
 *      ...until none is left; closes the job if     ...until none is left; marks the job done
 *      the helper never joined, else waits for
 *      the helper's last entries
 *
 *    The per-head products then took 107-109 ms a step in the same profile. The short timeout is not the default:
 *    small models pay for waking OpenBLAS's threads at every product (the tiny teacher step: 20,700-31,100 real
 *    tokens/s against 25,600-30,500, four interleaved runs each). A loop of less than `MIN_WORK` multiply-adds
 *    stays on the main thread, where the wake-up would cost more than it saves.
 *    The main thread never waits for the helper to wake or to start: a job the helper does not join in time is done
 *    by the main thread alone. The operands live in the wasm heap, which the helper reaches by address; nothing is
 *    allocated while a job runs (the kernel allocates its output first), so the heap cannot move under it.
 *
 * Same numbers: an entry is one sgemm call on one BLAS thread whichever thread makes it (the same kernel, the same
 * order of summation), with the helper or without, so the results never depend on it; test/backend/
 * product-helper.test.ts compares the two bit for bit. (OpenBLAS on two threads can give other last bits for the same
 * product: it did for 128 x 128 x 64 here, which is why the one-thread rule holds with or without the helper.)
 *
 * The helper runs on the main thread's loops only, with a BLAS running two or more threads (OpenBLAS;
 * `Blas.activeThreads`, which the inference pool sets to 1 while its worker holds the second core) on two or more
 * cores. `MSD_PRODUCT_HELPER=off` keeps every loop on the main thread. The helper is `unref`ed: it never keeps the
 * process alive.
 */
import { availableParallelism } from 'node:os';
import { isMainThread, Worker } from 'node:worker_threads';
import type { Blas, SgemmAt } from './blas.js';

/** Entries claimed at a time: at most this many, fewer for larger entries (`chunkOf`). */
export const CHUNK = 8;
/** Entries up to this m n k (512 x 512 x 64) run on one BLAS thread per call; larger ones on OpenBLAS's threads. */
export const MAX_ENTRY_MNK = 1 << 24;
/** OpenBLAS runs a GEMM on the calling thread alone below this m n k (4 x 65,536; interface/gemm.c). */
const SINGLE_THREAD_MNK = 262_144;
/** Multiply-adds of a loop from which the helper is woken: below, the wake-up costs more than it saves. */
export const MIN_WORK = 1 << 23;
/** A joined helper that has not finished its last chunk after this long is taken for dead. */
const STALL_MS = 60_000;

/** Slots of the control array (an Int32Array over a SharedArrayBuffer). */
export const SEQ = 0;
export const NEXT = 1;
export const STATE = 2;
/** Entries the helper computed, over all jobs (for tests and the profile). */
export const HELPED = 3;
/** 1 once the helper is up, 2 if it failed to start. */
export const READY = 4;
/** STATE values. */
export const OPEN = 0;
export const JOINED = 1;
export const CLOSED = 2;
export const DONE = 3;
/** The helper failed inside the job (entries it claimed may be missing). */
export const FAILED = 4;

/** One loop: entry i is op(A_{i mod aBatch}) x op(B_{i mod bBatch}) into C_i (blas-kernels.ts's broadcasting rule). */
export interface ProductLoop {
  transA: boolean;
  transB: boolean;
  m: number;
  n: number;
  k: number;
  lda: number;
  ldb: number;
  beta: 0 | 1;
  /** Byte addresses of the first entry of A, B and C. */
  a: number;
  b: number;
  c: number;
  aBatch: number;
  bBatch: number;
  batch: number;
}

/** The job's fields in a Float64Array over shared memory, in this order. */
const FIELDS = ['transA', 'transB', 'm', 'n', 'k', 'lda', 'ldb', 'beta', 'a', 'b', 'c', 'aBatch', 'bBatch', 'batch'];

/** Entries per claim: about 2^19 multiply-adds (tens of microseconds), 1 to CHUNK, so both threads end close. */
export function chunkOf(m: number, n: number, k: number): number {
  return Math.max(1, Math.min(CHUNK, Math.floor((1 << 19) / Math.max(1, m * n * k))));
}

function writeLoop(job: Float64Array, loop: ProductLoop): void {
  FIELDS.forEach((f, i) => (job[i] = Number(loop[f as keyof ProductLoop])));
  job[FIELDS.length] = chunkOf(loop.m, loop.n, loop.k);
}

/** Claims chunks of the loop in `job` until none is left and computes them; returns the entries computed. */
export function runChunks(sgemmAt: SgemmAt, control: Int32Array, job: Float64Array): number {
  const [transA, transB, m, n, k, lda, ldb, beta, a, b, c, aBatch, bBatch, batch, chunk] = job as unknown as number[];
  const [ta, tb] = [transA === 1, transB === 1];
  const [aBytes, bBytes, cBytes] = [4 * m! * k!, 4 * k! * n!, 4 * m! * n!];
  let done = 0;
  for (;;) {
    const start = Atomics.add(control, NEXT, chunk!);
    if (start >= batch!) return done;
    const end = Math.min(batch!, start + chunk!);
    for (let i = start; i < end; i++) {
      const ai = a! + (i % aBatch!) * aBytes;
      const bi = b! + (i % bBatch!) * bBytes;
      sgemmAt(ta, tb, m!, n!, k!, 1, ai, lda!, bi, ldb!, beta!, c! + i * cBytes, n!);
    }
    done += end - start;
  }
}

/** What the helper thread gets. */
export interface HelperData {
  control: Int32Array;
  job: Float64Array;
}

class Helper {
  readonly control = new Int32Array(new SharedArrayBuffer(4 * 8));
  readonly job = new Float64Array(new SharedArrayBuffer(8 * (FIELDS.length + 1)));
  private readonly worker: Worker;

  constructor() {
    const data: HelperData = { control: this.control, job: this.job };
    // Built, the helper is a sibling .js file. Run from the sources (tests, benchmarks: `node --import tsx`), a worker
    // does not inherit tsx's loader, so it registers it before importing the .ts file (as inference-pool.ts does).
    this.worker = import.meta.url.endsWith('.ts')
      ? new Worker(
          `import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(new URL('./product-helper-worker.ts', import.meta.url).href)}); });`,
          { eval: true, workerData: data },
        )
      : new Worker(new URL('./product-helper-worker.js', import.meta.url), { workerData: data });
    this.worker.unref();
    this.worker.on('error', () => Atomics.store(this.control, READY, 2));
    this.worker.on('exit', () => Atomics.store(this.control, READY, 2));
  }

  /** Whether the helper failed to start or has ended (the main thread then works alone). */
  get broken(): boolean {
    return Atomics.load(this.control, READY) === 2;
  }

  /** Runs `loop` on this thread and the helper (the caller has set the BLAS to one thread). */
  share(sgemmAt: SgemmAt, loop: ProductLoop): void {
    const { control, job } = this;
    writeLoop(job, loop);
    Atomics.store(control, NEXT, 0);
    Atomics.store(control, STATE, OPEN);
    Atomics.add(control, SEQ, 1);
    Atomics.notify(control, SEQ);
    try {
      runChunks(sgemmAt, control, job);
    } finally {
      // Even when this thread failed: the job must be over before the next one is written.
      this.end();
    }
    if (Atomics.load(control, STATE) === FAILED) {
      throw new Error(
        'product-helper.ts: the helper thread failed in a per-head product loop; later loops run here alone',
      );
    }
  }

  /** Closes the job if the helper never joined it, else waits until it has finished its last entries. */
  private end(): void {
    const { control } = this;
    if (Atomics.compareExchange(control, STATE, OPEN, CLOSED) === OPEN) return;
    const since = Date.now();
    while (Atomics.load(control, STATE) === JOINED) {
      Atomics.wait(control, STATE, JOINED, 1000);
      if (Date.now() - since > STALL_MS) {
        Atomics.store(control, READY, 2);
        throw new Error(
          `product-helper.ts: the helper thread has not finished its share of a per-head product loop in ${STALL_MS / 1000} s`,
        );
      }
    }
  }
}

let helper: Helper | undefined;
/** The main thread's own job, when the helper is not used (Atomics works on unshared memory too). */
const alone = { control: new Int32Array(8), job: new Float64Array(FIELDS.length + 1) };

/**
 * Runs a loop of per-entry products (blas-kernels.ts). Entries up to `MAX_ENTRY_MNK` in a loop of two or more are
 * computed with the BLAS on one thread per call, whether the helper takes part or not, so that an entry's bits never
 * depend on it; the helper takes part when the loop is worth it (`productHelper`). A single entry, or larger ones,
 * run one after another with the threads the BLAS has (one for a single product below `ONE_THREAD_MACS`, which
 * blas-kernels.ts sets before it calls this).
 */
export function runProductLoop(blas: Blas, loop: ProductLoop): void {
  const mnk = loop.m * loop.n * loop.k;
  const oneThread = loop.batch >= 2 && mnk <= MAX_ENTRY_MNK;
  const shared = oneThread ? productHelper(blas, loop.batch * mnk) : undefined;
  const run = () => {
    if (shared) return shared.share(blas.sgemmAt, loop);
    writeLoop(alone.job, loop);
    alone.control[NEXT] = 0;
    runChunks(blas.sgemmAt, alone.control, alone.job);
  };
  // Below SINGLE_THREAD_MNK OpenBLAS keeps a call on the calling thread anyway: no need to set it then.
  if (shared !== undefined || (oneThread && mnk >= SINGLE_THREAD_MNK)) blas.oneThread(run);
  else run();
}

/**
 * The helper for a loop of `work` multiply-adds with `blas`, or undefined when the loop should stay on this thread
 * (see the header). Starts the helper thread on first use.
 */
function productHelper(blas: Blas, work: number): Helper | undefined {
  if (work < MIN_WORK || !isMainThread || blas.activeThreads() < 2 || availableParallelism() < 2) return undefined;
  if (process.env.MSD_PRODUCT_HELPER?.trim() === 'off' || !idleThreadsSleep()) return undefined;
  helper ??= new Helper();
  return helper.broken ? undefined : helper;
}

/**
 * Whether OpenBLAS's idle threads sleep at once after a product (`OPENBLAS_THREAD_TIMEOUT` set to 16 or less, as
 * OpenBLAS reads it when it loads: 2^timeout cycles of spinning, 4 at least, 28 by default). While they spin (about
 * 0.1 s after each product) they hold the second core, and a helper fighting them for it made the loops slower.
 */
function idleThreadsSleep(): boolean {
  const timeout = Number(process.env.OPENBLAS_THREAD_TIMEOUT?.trim() || NaN);
  return timeout <= 16;
}

/** Entries the helper thread has computed in this process (0 if it never ran). */
export function helperEntries(): number {
  return helper ? Atomics.load(helper.control, HELPED) : 0;
}

/** The helper's control array (for tests), or undefined before the helper is first used. */
export function helperControl(): Int32Array | undefined {
  return helper?.control;
}
