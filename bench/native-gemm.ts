/**
 * The native products (`msd_sgemm_batch`, src/backend/native-kernels.c) against OpenBLAS, through `tf.matMul` on the
 * 'blas' backend as a step calls them: attention's per-head loops at the tiny preset's and mBERT's sizes, and the
 * dense products below OpenBLAS's threads (the tiny preset's layers, mBERT's classifier heads), forward and both
 * gradient forms. Milliseconds per call, the median of REPS, the two sides interleaved so that they see the same
 * machine; the last column is OpenBLAS's time over the native one.
 *
 *   node --import tsx bench/native-gemm.ts [reps]
 */
import { tf } from '../src/tf.js';
import { initBackend } from '../src/backend/init.js';
import { loadBlas } from '../src/backend/blas.js';
import { useBlasMatMul } from '../src/backend/blas-kernels.js';
import { runProductLoop } from '../src/backend/product-helper.js';
import { loadNativeKernels } from '../src/backend/native-kernels.js';

const REPS = Number(process.argv[2] ?? 30);
const info = await initBackend({ prefer: 'blas' });
const blas = loadBlas();
const native = loadNativeKernels();
if (!blas.ok || !native.ok || !native.kernels.sgemmBatch) {
  console.error(`bench/native-gemm.ts: no native products here (${info.summary})`);
  process.exit(1);
}
const gemm = native.kernels.sgemmBatch;
const lib = blas.blas;

/** [name, A's shape, B's shape, transposeA, transposeB] */
const cases: [string, number[], number[], boolean, boolean][] = [
  ['tiny per head: Q K^T', [128, 40, 32], [128, 40, 32], false, true],
  ['tiny per head: P V', [128, 40, 40], [128, 40, 32], false, false],
  ['tiny per head: P^T dC', [128, 40, 40], [128, 40, 32], true, false],
  ['mBERT per head: Q K^T', [384, 128, 64], [384, 128, 64], false, true],
  ['mBERT per head: P V', [384, 128, 128], [384, 128, 64], false, false],
  ['tiny dense: [2500, 64] x [64, 256]', [2500, 64], [64, 256], false, false],
  ['tiny dense: [2500, 256] x [256, 64]', [2500, 256], [256, 64], false, false],
  ['tiny dense dX: [2500, 256] x [64, 256]^T', [2500, 256], [64, 256], false, true],
  ['tiny dense dW: [2500, 64]^T x [2500, 256]', [2500, 64], [2500, 256], true, false],
  ['mBERT dense, 80 rows: [80, 768] x [768, 768]', [80, 768], [768, 768], false, false],
  ['mBERT head: [4096, 768] x [768, 9]', [4096, 768], [768, 9], false, false],
  ['mBERT head dX: [4096, 9] x [768, 9]^T', [4096, 9], [768, 9], false, true],
  ['mBERT head dW: [4096, 768]^T x [4096, 9]', [4096, 768], [4096, 9], true, false],
];

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

// Bias gradients: sums over rows (tf.sum over axis 0), as a product of a row of ones and the gradient.
const sums: [string, number[]][] = [
  ['tiny bias gradient: sum of [2500, 256] over rows', [2500, 256]],
  ['tiny bias gradient: sum of [2500, 64] over rows', [2500, 64]],
];

/** Times `op` with the products on OpenBLAS and on the native library, interleaved, and prints one row. */
function compare(name: string, op: () => tf.Tensor): void {
  const times = { blas: [] as number[], native: [] as number[] };
  for (let r = 0; r < REPS + 3; r++) {
    for (const side of ['blas', 'native'] as const) {
      useBlasMatMul(lib, runProductLoop, side === 'native' ? gemm : undefined);
      const t0 = performance.now();
      op().dispose();
      if (r >= 3) times[side].push(performance.now() - t0);
    }
  }
  const [o, n] = [median(times.blas), median(times.native)];
  console.log(
    `${name.padEnd(44)} ${o.toFixed(3).padStart(10)} ${n.toFixed(3).padStart(11)} ${(o / n).toFixed(2).padStart(7)}`,
  );
}

console.log(info.summary);
console.log('product                                      OpenBLAS ms   native ms   ratio');
for (const [name, as, bs, ta, tb] of cases) {
  const [a, b] = [tf.randomNormal(as), tf.randomNormal(bs)];
  compare(name, () => tf.matMul(a, b, ta, tb));
  tf.dispose([a, b]);
}
for (const [name, shape] of sums) {
  const x = tf.randomNormal(shape);
  compare(name, () => tf.sum(x, 0));
  x.dispose();
}
useBlasMatMul(lib, runProductLoop, gemm);
