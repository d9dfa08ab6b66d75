/**
 * Who decides how many threads OpenBLAS uses (one setting for the whole process): small products run on one thread
 * (`ONE_THREAD_MACS`, blas-kernels.ts), and a worker thread never changes the count the main thread set (blas.ts).
 * Skipped, with the reason, where no BLAS loads or the BLAS runs one thread.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import { tf, initBackend } from '../../src/index.js';
import { loadBlas, type Blas } from '../../src/backend/blas.js';
import { ONE_THREAD_MACS, SUM_ONE_THREAD_VALUES, useBlasMatMul } from '../../src/backend/blas-kernels.js';
import { runProductLoop } from '../../src/backend/product-helper.js';
import { loadNativeKernels } from '../../src/backend/native-kernels.js';

const load = loadBlas();
const blas = load.ok ? load.blas : undefined;
const skip = !blas
  ? `no BLAS here: ${(load as { reason: string }).reason}`
  : blas.threads < 2
    ? `the BLAS runs ${blas.threads} thread (MSD_BLAS_THREADS, or one core)`
    : false;

/** OpenBLAS's own, process-wide thread count (not the Blas object's record of it). */
function processThreads(b: Blas): number {
  const koffi = createRequire(import.meta.url)('koffi') as typeof import('koffi');
  return (koffi.load(b.path).func('int openblas_get_num_threads()') as () => number)();
}

test(
  'products below ONE_THREAD_MACS and sums up to SUM_ONE_THREAD_VALUES run on one BLAS thread, larger ones on all, and the count is restored',
  { skip },
  async () => {
    await initBackend({ prefer: 'blas' });
    const real = blas!;
    // The threads in force at each BLAS call, in call order.
    const seen: number[] = [];
    const spy: Blas = {
      ...real,
      sgemm: (...args) => (seen.push(real.activeThreads()), real.sgemm(...args)),
      sgemmAt: (...args) => (seen.push(real.activeThreads()), real.sgemmAt(...args)),
    };
    // The BLAS's own rule: without the native products, which take the small ones where they load (native-gemm.test.ts).
    useBlasMatMul(spy, runProductLoop);
    try {
      const run = (what: string, f: () => tf.Tensor, threads: number) => {
        seen.length = 0;
        tf.tidy(f).dispose();
        assert.ok(seen.length > 0, `${what}: no BLAS call`);
        assert.deepEqual(new Set(seen), new Set([threads]), `${what}: threads in force`);
        assert.equal(real.activeThreads(), real.threads, `${what}: the count is restored`);
        assert.equal(processThreads(real), real.threads, `${what}: OpenBLAS's own count is restored`);
      };
      const r = (shape: number[]) => tf.randomNormal(shape, 0, 1, 'float32', 7);
      // 640 x 64 x 256 (the tiny preset's intermediate dense layer): 2^23.3 multiply-adds
      run('a small dense product', () => tf.matMul(r([640, 64]), r([64, 256])), 1);
      // its weight gradient, A transposed: a single product through the loop path
      run('a small product with A transposed', () => tf.matMul(r([640, 64]), r([640, 256]), true, false), 1);
      // 1024 x 128 x 512 = 2^26: no longer small
      assert.equal(1024 * 128 * 512, ONE_THREAD_MACS);
      run('a product of ONE_THREAD_MACS', () => tf.matMul(r([1024, 128]), r([128, 512])), real.threads);
      run(
        'a large product with A transposed',
        () => tf.matMul(r([1024, 128]), r([1024, 512]), true, false),
        real.threads,
      );
      // Bias gradients: sums over the leading axis, a product of ones[1, rows] and X[rows, cols]. OpenBLAS would
      // split this one (262,144 values and more) among its threads.
      run('a small sum over rows', () => tf.sum(r([1024, 256]), 0), 1);
      assert.equal(1024 * 1024, SUM_ONE_THREAD_VALUES);
      run('a sum of SUM_ONE_THREAD_VALUES', () => tf.sum(r([1024, 1024]), 0), 1);
      run('a larger sum', () => tf.sum(r([1025, 1024]), 0), real.threads);
    } finally {
      const native = loadNativeKernels();
      useBlasMatMul(real, runProductLoop, native.ok ? native.kernels.sgemmBatch : undefined);
    }
  },
);

test("a worker thread's BLAS leaves OpenBLAS's thread count to the main thread", { skip }, async () => {
  const b = blas!;
  b.setThreads(1);
  try {
    const url = JSON.stringify(new URL('../../src/backend/blas.ts', import.meta.url).href);
    // As the inference worker runs from the sources: tsx registered first. MSD_BLAS_THREADS=2 asks for two at load.
    const worker = new Worker(
      `import('tsx/esm/api').then(async (tsx) => {
        tsx.register();
        const { parentPort } = await import('node:worker_threads');
        const { blas } = (await import(${url})).loadBlas();
        blas.setThreads(2);
        parentPort.postMessage({ threads: blas.threads, active: blas.activeThreads() });
      });`,
      { eval: true, env: { ...process.env, MSD_BLAS_THREADS: '2' } },
    );
    const [reply] = (await once(worker, 'message')) as [{ threads: number; active: number }];
    await worker.terminate();
    assert.deepEqual(reply, { threads: 1, active: 1 }, "the worker's BLAS counts one thread and sets nothing");
    assert.equal(processThreads(b), 1, 'the count the main thread set holds');
  } finally {
    b.setThreads(b.threads);
  }
});
