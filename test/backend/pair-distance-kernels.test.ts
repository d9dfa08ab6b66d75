/**
 * MMD's pairwise squared distances as kernels on the wasm backend (src/backend/pair-distance-kernels.ts), in native
 * code and in the JavaScript twin: the forward has the bits of the tfjs-op composition (`sum(square(z[None] -
 * z[:, None]), 2)`) on the same backend, exact zeros on the diagonal, exact symmetry; the gradient is the formula's
 * within float32 rounding of a float64 reference and agrees with autodiff of the composition; native and JavaScript
 * give the same bits, on one thread or all; bad input is refused by name.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tf } from '../../src/tf.js';
import { initBackend } from '../../src/backend/init.js';
import { activeNativeKernels, useNativeKernels } from '../../src/backend/simd-kernels.js';
import { PAIR_DISTANCES, PAIR_DISTANCES_GRAD } from '../../src/backend/pair-distance-kernels.js';
import { pairDistances } from '../../src/losses/pair-distances.js';
import { createRng } from '../../src/rng.js';
import { runModule } from '../child-module.js';

await initBackend({ prefer: 'blas' });
const native = activeNativeKernels();
const nativeOff = process.env.MSD_NATIVE?.trim() === 'off';

/** [n, d]: one row, one column, the lanes' tails (n and d not multiples of 8), several claims of rows. */
const SHAPES: [number, number][] = [
  [1, 1],
  [2, 3],
  [9, 8],
  [17, 7],
  [33, 65],
  [130, 64],
];

/** n rows of d values at the scale of [CLS] vectors, rows 1 and 3 equal (their distance must be exactly 0). */
function rows(n: number, d: number, seed: number): Float32Array {
  const rng = createRng(seed);
  const z = Float32Array.from({ length: n * d }, (_, i) => (rng.next() - 0.5) * (i % 13 === 0 ? 40 : 3));
  if (n > 3) z.copyWithin(3 * d, d, 2 * d);
  return z;
}

const composition = (z: tf.Tensor) => tf.sum(tf.square(tf.sub(tf.expandDims(z, 0), tf.expandDims(z, 1))), 2);

/** Runs `f` with the kernels' JavaScript loops (the native library set aside), then puts it back. */
function withoutNative<T>(f: () => T): T {
  useNativeKernels(undefined);
  try {
    return f();
  } finally {
    useNativeKernels(native);
  }
}

function bits(t: tf.Tensor): Uint32Array {
  return new Uint32Array(Float32Array.from(t.dataSync()).buffer);
}

test('the kernels are registered on wasm and run natively unless MSD_NATIVE=off', () => {
  assert.equal(tf.getBackend(), 'wasm');
  assert.ok(tf.getKernel(PAIR_DISTANCES, 'wasm') && tf.getKernel(PAIR_DISTANCES_GRAD, 'wasm'));
  assert.equal(native === undefined, nativeOff, 'the native library should be loaded (npm run build)');
});

test('the forward has the composition bits, a zero diagonal and exact symmetry, natively and in JavaScript', () => {
  for (const [n, d] of SHAPES) {
    const z = tf.tensor2d(rows(n, d, n * 31 + d), [n, d]);
    const want = bits(composition(z));
    for (const [side, got] of [
      ['default', pairDistances(z)],
      ['javascript', withoutNative(() => pairDistances(z))],
    ] as const) {
      const g = bits(got);
      const i = g.findIndex((v, k) => v !== want[k]);
      assert.equal(i, -1, `[${n}, ${d}] ${side}: value ${i} has bits ${g[i]}, the composition ${want[i]}`);
      const v = got.arraySync() as number[][];
      for (let a = 0; a < n; a++) {
        assert.equal(v[a]![a], 0, `[${n}, ${d}] ${side}: D[${a}][${a}]`);
        for (let b = 0; b < a; b++) assert.equal(v[a]![b], v[b]![a], `[${n}, ${d}] ${side}: D[${a}][${b}]`);
      }
      if (n > 3) assert.equal(v[1]![3], 0, `[${n}, ${d}] ${side}: equal rows 1 and 3`);
    }
    tf.dispose(z);
  }
});

test('the gradient is the formula within float32 rounding, agrees with autodiff, and is the same in JavaScript', () => {
  for (const [n, d] of SHAPES) {
    const zv = rows(n, d, n * 7 + d);
    const rng = createRng(n + d);
    // A weight per pair, not symmetric: the gradient must take G[k][j] + G[j][k].
    const wv = Float32Array.from({ length: n * n }, () => rng.next() - 0.3);
    const z = tf.tensor2d(zv, [n, d]);
    const w = tf.tensor2d(wv, [n, n]);
    const grad = (f: (z: tf.Tensor) => tf.Tensor) => tf.grad((x: tf.Tensor) => tf.sum(tf.mul(w, f(x))))(z);
    const got = grad(pairDistances);
    const js = withoutNative(() => grad(pairDistances));
    const auto = grad(composition);
    const gv = got.dataSync();
    const av = auto.dataSync();
    const scale = Math.max(...zv.map(Math.abs)) * n * 4;
    for (let k = 0; k < n; k++) {
      for (let p = 0; p < d; p++) {
        let want = 0;
        for (let j = 0; j < n; j++) want += 2 * (wv[k * n + j]! + wv[j * n + k]!) * (zv[k * d + p]! - zv[j * d + p]!);
        const at = k * d + p;
        assert.ok(Math.abs(gv[at]! - want) <= 1e-5 * scale, `[${n}, ${d}] dz[${k}][${p}] ${gv[at]} vs ${want}`);
        assert.ok(
          Math.abs(gv[at]! - av[at]!) <= 1e-5 * scale,
          `[${n}, ${d}] dz[${k}][${p}] ${gv[at]} vs autodiff ${av[at]}`,
        );
      }
    }
    assert.deepEqual(bits(js), bits(got), `[${n}, ${d}]: JavaScript and default bits`);
    tf.dispose([z, w, got, js, auto]);
  }
});

test('the kernels keep no tensor', () => {
  const z = tf.tensor2d(rows(9, 8, 1), [9, 8]);
  const before = tf.memory().numTensors;
  const dz = tf.grad((x: tf.Tensor) => tf.sum(pairDistances(x)))(z);
  assert.equal(tf.memory().numTensors, before + 1);
  dz.dispose();
  z.dispose();
});

test('bad input is refused with the kernel and what was expected', () => {
  const v = tf.tensor1d([1, 2, 3]);
  assert.throws(() => pairDistances(v), /MsdPairDistances: z must be a float32 matrix, got float32 \[3\]/);
  const z = tf.tensor2d([1, 2, 3, 4], [2, 2]);
  assert.throws(
    () => tf.engine().runKernel(PAIR_DISTANCES_GRAD, { z, dy: tf.zeros([3, 3]) }),
    /MsdPairDistancesGrad: dy must be \[2, 2\] for z \[2, 2\], got \[3,3\]/,
  );
  tf.dispose([v, z]);
});

test('one native thread and all give the same bits', { skip: nativeOff && 'MSD_NATIVE=off' }, () => {
  const script = `
    import { createHash } from 'node:crypto';
    import { tf } from './src/tf.js';
    import { initBackend } from './src/backend/init.js';
    import { pairDistances } from './src/losses/pair-distances.js';
    await initBackend({ prefer: 'blas' });
    const n = 300, d = 77;
    const z = tf.tensor2d(Float32Array.from({ length: n * d }, (_, i) => Math.sin(i * 0.37) * 3), [n, d]);
    const w = tf.tensor2d(Float32Array.from({ length: n * n }, (_, i) => Math.cos(i * 0.11)), [n, n]);
    const dz = tf.grad((x) => tf.sum(tf.mul(w, pairDistances(x))))(z);
    const h = (t) => createHash('sha256').update(new Uint8Array(Float32Array.from(t.dataSync()).buffer)).digest('hex');
    console.log(JSON.stringify({ d: h(pairDistances(z)), dz: h(dz) }));
  `;
  const one = runModule<{ d: string; dz: string }>(script, { MSD_NATIVE_THREADS: '1' });
  const all = runModule<{ d: string; dz: string }>(script, { MSD_NATIVE_THREADS: '2' });
  const js = runModule<{ d: string; dz: string }>(script, { MSD_NATIVE: 'off' });
  assert.deepEqual(one, all);
  assert.deepEqual(js, all);
});
