/**
 * The native loop of small products (`msd_sgemm_batch` in src/backend/native-kernels.c), which takes attention's
 * per-head products off the BLAS on the 'blas' backend: against a float64 reference over a table of shapes (every
 * transpose, the 6-row and 16-column tiles and their edges, the panel's zero padding, shared and broadcast entries,
 * beta = 1); each entry's bits independent of how the entries are shared among threads; `MSD_NATIVE_GEMM=off` keeps
 * the products on the BLAS and the backend's summary says which. Skipped, with the reason, where the library or the
 * kernel is missing (another OS or CPU, no C compiler).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { loadNativeKernels, type NativeKernels } from '../../src/backend/native-kernels.js';
import { createRng } from '../../src/rng.js';

const load = loadNativeKernels();
const kernels: NativeKernels | undefined = load.ok ? load.kernels : undefined;
const skip = !load.ok
  ? `no native library: ${load.reason}`
  : !kernels!.sgemmBatch
    ? `no native loop of products: ${kernels!.sgemmBatchOff}`
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
        let s = c.beta === 1 ? start[e * m * n + i * n + j]! : 0;
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
      mk(3, 70, 300), // a long sum
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

/** A child process that runs a loop worth several chunks (so both threads take entries) and hashes the output. */
function childHash(env: Record<string, string>): { hash: string; summary: string } {
  const script = `
    import { initBackend } from './src/backend/init.ts';
    import { loadNativeKernels } from './src/backend/native-kernels.ts';
    import { tf } from './src/index.ts';
    import { createHash } from 'node:crypto';
    const info = await initBackend({ prefer: 'blas' });
    const q = tf.tidy(() => tf.sin(tf.range(0, 128 * 40 * 32)).reshape([128, 40, 32]));
    const k = tf.tidy(() => tf.cos(tf.range(0, 128 * 40 * 32)).reshape([128, 40, 32]));
    const h = createHash('sha256');
    for (const t of [tf.matMul(q, k, false, true), tf.matMul(q, k, true, false)])
      h.update(new Uint8Array(t.dataSync().buffer));
    const threads = loadNativeKernels().ok ? loadNativeKernels().kernels.threads : 0;
    console.log(JSON.stringify({ hash: h.digest('hex'), summary: info.summary + ' threads ' + threads }));`;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    encoding: 'utf8',
    env: { ...process.env, ...env },
  });
  assert.equal(r.status, 0, r.stderr.slice(-1500));
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as { hash: string; summary: string };
}

test(
  'per-head products: the same bits on one native thread as on all; MSD_NATIVE_GEMM=off puts them on the BLAS (child processes)',
  { skip },
  () => {
    const all = childHash({ MSD_NATIVE_THREADS: '2' });
    const one = childHash({ MSD_NATIVE_THREADS: '1' });
    const off = childHash({ MSD_NATIVE_GEMM: 'off' });
    assert.match(all.summary, /per-head products native\).* threads 2$/);
    assert.match(one.summary, /per-head products native\).* threads 1$/);
    assert.match(off.summary, /per-head products on the BLAS: MSD_NATIVE_GEMM=off/);
    assert.equal(one.hash, all.hash, 'the native loop gave other bits on one thread than on two');
    // The BLAS sums in another order: other last bits, which shows the products did move (same values otherwise:
    // the first test and test/backend/blas-kernels.test.ts check both against references).
    assert.notEqual(off.hash, all.hash);
  },
);
