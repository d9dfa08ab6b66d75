/**
 * The native products (`msd_sgemm_batch` in src/backend/native-kernels.c), which take attention's per-head products,
 * the dense products too small for OpenBLAS's threads and the bias gradients' sums over rows off the BLAS on the
 * 'blas' backend: against a float64 reference over a table of shapes (every transpose, the 6-row and 16-column tiles
 * and their edges, the panel's zero padding, shared and broadcast entries, beta = 1, a bias row, blocks of B's rows, one entry
 * split into blocks of rows or of columns); which products go native; the bits independent of how the work is shared
 * among threads; `MSD_NATIVE_GEMM=off` keeps the products on the BLAS and the backend's summary says which. Skipped,
 * with the reason, where the library or the kernel is missing (another OS or CPU, no C compiler).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadNativeKernels, type NativeKernels, type SgemmBatch } from '../../src/backend/native-kernels.js';
import { tf } from '../../src/tf.js';
import { initBackend } from '../../src/backend/init.js';
import { loadBlas, type Blas } from '../../src/backend/blas.js';
import { NATIVE_MAX_MNK, ONE_THREAD_MACS, useBlasMatMul } from '../../src/backend/blas-kernels.js';
import { runProductLoop } from '../../src/backend/product-helper.js';
import { createRng } from '../../src/rng.js';
import { runModule } from '../child-module.js';

const load = loadNativeKernels();
const kernels: NativeKernels | undefined = load.ok ? load.kernels : undefined;
const skip = !load.ok
  ? `no native library: ${load.reason}`
  : !kernels!.sgemmBatch
    ? `no native products: ${kernels!.sgemmBatchOff}`
    : false;

interface Case {
  ta: boolean;
  tb: boolean;
  m: number;
  n: number;
  k: number;
  aBatch: number;
  bBatch: number;
  batch: number;
  beta: 0 | 1;
  /** A row of n values every sum starts from (beta 0), as a dense layer's bias. */
  bias?: boolean;
}

function values(n: number, seed: number): Float32Array {
  const r = createRng(seed);
  return Float32Array.from({ length: n }, () => r.next() * 2 - 1);
}

/** Runs the kernel on `c` and returns C, with the same inputs' float64 product (plus C's start when beta = 1). */
function run(c: Case, seed: number): { got: Float32Array; want: Float64Array; scale: Float64Array } {
  const { m, n, k } = c;
  const A = values(c.aBatch * m * k, seed);
  const B = values(c.bBatch * k * n, seed + 1);
  const start = values(c.batch * m * n, seed + 2);
  // One guard value past C: the kernel must not write there.
  const C = new Float32Array(c.batch * m * n + 1);
  if (c.beta === 1) C.set(start);
  C[C.length - 1] = 12345;
  const lda = c.ta ? m : k;
  const ldb = c.tb ? k : n;
  const k_ = kernels!;
  const bias = c.bias ? values(n, seed + 3) : undefined;
  const rc = k_.sgemmBatch!(
    c.ta ? 1 : 0,
    c.tb ? 1 : 0,
    m,
    n,
    k,
    lda,
    ldb,
    c.beta,
    k_.address(A),
    k_.address(B),
    k_.address(C),
    c.aBatch,
    c.bBatch,
    c.batch,
    bias ? k_.address(bias) : 0,
  );
  assert.equal(rc, 0, 'msd_sgemm_batch returned an error');
  assert.equal(C[C.length - 1], 12345, 'msd_sgemm_batch wrote past its output');
  const want = new Float64Array(c.batch * m * n);
  const scale = new Float64Array(c.batch * m * n);
  for (let e = 0; e < c.batch; e++) {
    const a0 = (e % c.aBatch) * m * k;
    const b0 = (e % c.bBatch) * k * n;
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let s = c.beta === 1 ? start[e * m * n + i * n + j]! : bias ? bias[j]! : 0;
        let abs = Math.abs(s);
        for (let p = 0; p < k; p++) {
          const a = A[a0 + (c.ta ? p * lda + i : i * lda + p)]!;
          const b = B[b0 + (c.tb ? j * ldb + p : p * ldb + j)]!;
          s += a * b;
          abs += Math.abs(a * b);
        }
        want[e * m * n + i * n + j] = s;
        scale[e * m * n + i * n + j] = abs;
      }
    }
  }
  return { got: C.subarray(0, c.batch * m * n), want, scale };
}

const cases: Case[] = [];
for (const ta of [false, true]) {
  for (const tb of [false, true]) {
    const mk = (m: number, n: number, k: number, more: Partial<Case> = {}): Case => ({
      ta,
      tb,
      m,
      n,
      k,
      aBatch: 3,
      bBatch: 3,
      batch: 3,
      beta: 0,
      ...more,
    });
    cases.push(
      mk(1, 1, 1),
      mk(6, 16, 5), // one whole tile
      mk(7, 17, 3), // a tile and an edge each way
      mk(13, 9, 33), // two vector widths of 8 and one of 1 column
      mk(5, 8, 64), // n a multiple of 8: B read where it is (not transposed)
      mk(40, 40, 32, { batch: 11, aBatch: 11, bBatch: 11 }), // the tiny preset's per-head scores
      mk(29, 32, 29, { batch: 2, aBatch: 1, bBatch: 2 }), // one A shared by every entry
      mk(12, 24, 7, { batch: 4, aBatch: 4, bBatch: 1 }), // one B shared by every entry
      mk(11, 19, 13, { beta: 1 }), // added to what C holds
      mk(7, 17, 3, { bias: true }), // the sums start from a bias row (a whole vector, a partial one, one column)
      mk(13, 9, 33, { bias: true, batch: 2, aBatch: 2, bBatch: 1 }),
      mk(3, 70, 300), // a long sum: two blocks of B's rows
      // One entry, split into blocks of rows among the threads (dense products): a shared panel when B is transposed
      mk(200, 40, 300, { batch: 1, aBatch: 1, bBatch: 1 }),
      mk(97, 24, 600, { batch: 1, aBatch: 1, bBatch: 1, beta: 1 }), // the sums start from C, then go on per block
      mk(97, 40, 600, { batch: 1, aBatch: 1, bBatch: 1, bias: true }), // from the bias, then from C per block
      mk(64, 256, 700, { batch: 1, aBatch: 1, bBatch: 1 }), // a weight gradient's shape (k = rows of a batch)
      // Too few rows to split: blocks of columns (a bias gradient's sum over rows is [1, rows] x [rows, cols])
      mk(1, 300, 2000, { batch: 1, aBatch: 1, bBatch: 1 }),
      mk(4, 100, 3000, { batch: 1, aBatch: 1, bBatch: 1, beta: 1 }),
    );
  }
}

test('msd_sgemm_batch equals a float64 product: every transpose, tile edge, broadcast entry and beta', { skip }, () => {
  for (const [i, c] of cases.entries()) {
    const { got, want, scale } = run(c, 10 * i + 1);
    let worst = 0;
    for (let j = 0; j < want.length; j++) {
      // float32 sums of k products: a few ulps of the sum of magnitudes per term at most.
      worst = Math.max(worst, Math.abs(got[j]! - want[j]!) / (scale[j]! * 2 ** -22 * (c.k + 2) + 1e-30));
    }
    assert.ok(worst <= 1, `${JSON.stringify(c)}: off by ${worst.toFixed(2)} of the float32 error bound`);
  }
});

/** A child process that runs products worth several items (so both threads take some) and hashes the outputs. */
function childHash(env: Record<string, string>): { hash: string; summary: string } {
  const script = `
    import { initBackend } from './src/backend/init.ts';
    import { loadNativeKernels } from './src/backend/native-kernels.ts';
    import { tf } from './src/index.ts';
    import { createHash } from 'node:crypto';
    const info = await initBackend({ prefer: 'blas' });
    const q = tf.tidy(() => tf.sin(tf.range(0, 128 * 40 * 32)).reshape([128, 40, 32]));
    const k = tf.tidy(() => tf.cos(tf.range(0, 128 * 40 * 32)).reshape([128, 40, 32]));
    // A dense product split into blocks of rows, and a weight gradient's (A transposed, k = 2,000 rows).
    const x = tf.tidy(() => tf.sin(tf.range(0, 2000 * 64)).reshape([2000, 64]));
    const w = tf.tidy(() => tf.cos(tf.range(0, 64 * 256)).reshape([64, 256]));
    const dy = tf.tidy(() => tf.sin(tf.range(0, 2000 * 256)).reshape([2000, 256]));
    const h = createHash('sha256');
    const products = [tf.matMul(q, k, false, true), tf.matMul(q, k, true, false), tf.matMul(x, w), tf.matMul(x, dy, true)];
    // and a bias gradient's sum over rows (blocks of columns)
    for (const t of [...products, tf.sum(dy, 0)])
      h.update(new Uint8Array(t.dataSync().buffer));
    const threads = loadNativeKernels().ok ? loadNativeKernels().kernels.threads : 0;
    console.log(JSON.stringify({ hash: h.digest('hex'), summary: info.summary + ' threads ' + threads }));`;
  return runModule<{ hash: string; summary: string }>(script, env);
}

test(
  'native products: the same bits on one thread as on all; MSD_NATIVE_GEMM=off puts them on the BLAS (child processes)',
  { skip },
  () => {
    const all = childHash({ MSD_NATIVE_THREADS: '2' });
    const one = childHash({ MSD_NATIVE_THREADS: '1' });
    const off = childHash({ MSD_NATIVE_GEMM: 'off' });
    assert.match(all.summary, /small products native\).* threads 2$/);
    assert.match(one.summary, /small products native\).* threads 1$/);
    assert.match(off.summary, /small products on the BLAS: MSD_NATIVE_GEMM=off/);
    assert.equal(one.hash, all.hash, 'the native loop gave other bits on one thread than on two');
    // The BLAS sums in another order: other last bits, which shows the products did move (same values otherwise:
    // the first test and test/backend/blas-kernels.test.ts check both against references).
    assert.notEqual(off.hash, all.hash);
  },
);

test(
  'which products go native: dense ones below ONE_THREAD_MACS, loops of entries up to NATIVE_MAX_MNK',
  { skip },
  async () => {
    await initBackend({ prefer: 'blas' });
    const load = loadBlas();
    assert.ok(load.ok);
    const real = load.blas;
    const gemm = kernels!.sgemmBatch!;
    const calls = { blas: 0, native: 0 };
    const spy: Blas = {
      ...real,
      sgemm: (...args) => (calls.blas++, real.sgemm(...args)),
      sgemmAt: (...args) => (calls.blas++, real.sgemmAt(...args)),
    };
    const nativeSpy: SgemmBatch = (...args) => (calls.native++, gemm(...args));
    useBlasMatMul(spy, runProductLoop, nativeSpy);
    try {
      const r = (shape: number[]) => tf.randomNormal(shape, 0, 1, 'float32', 7);
      const where = (f: () => tf.Tensor) => {
        calls.blas = calls.native = 0;
        tf.tidy(f).dispose();
        return calls.native > 0 && calls.blas === 0 ? 'native' : calls.blas > 0 && calls.native === 0 ? 'blas' : 'both';
      };
      assert.equal(
        where(() => tf.matMul(r([640, 64]), r([64, 256]))),
        'native',
        'a small dense product',
      );
      assert.equal(
        where(() => tf.matMul(r([640, 64]), r([640, 256]), true, false)),
        'native',
        'its weight gradient',
      );
      assert.equal(
        where(() => tf.matMul(r([4, 640, 64]), r([64, 256]))),
        'native',
        'stacked entries, one weight',
      );
      assert.equal(1024 * 128 * 512, ONE_THREAD_MACS);
      assert.equal(
        where(() => tf.matMul(r([1024, 128]), r([128, 512]))),
        'blas',
        'a product of ONE_THREAD_MACS',
      );
      assert.equal(
        where(() => tf.matMul(r([1024, 128]), r([1024, 512]), true)),
        'blas',
        'a large weight gradient',
      );
      assert.equal(128 * 128 * 128, NATIVE_MAX_MNK);
      const heads = (t: number, d: number) => () => tf.matMul(r([3, t, d]), r([3, t, d]), false, true);
      assert.equal(where(heads(128, 128)), 'native', 'per-head entries of NATIVE_MAX_MNK');
      assert.equal(where(heads(129, 128)), 'blas', 'larger per-head entries');
      assert.equal(
        where(() => tf.sum(r([1024, 1024]), 0)),
        'native',
        'a sum over rows of SUM_ONE_THREAD_VALUES',
      );
      assert.equal(
        where(() => tf.sum(r([1025, 1024]), 0)),
        'blas',
        'a larger sum',
      );
    } finally {
      useBlasMatMul(real, runProductLoop, gemm);
    }
  },
);
