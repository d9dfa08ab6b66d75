/**
 * src/backend/reduce-gradients.ts: the `Sum` and `Mean` gradients give tfjs's own bits on every backend (over
 * leading, inner, negative and all axes, with and without keepDims), take their ones from the backend, and leak
 * nothing; `initBackend` registers them.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tf } from '../../src/tf.js';
import { initBackend } from '../../src/backend/init.js';
import { loadBlas } from '../../src/backend/blas.js';
import { meanGradient, sumGradient } from '../../src/backend/reduce-gradients.js';
import { createRng } from '../../src/rng.js';

// tfjs's own entries, captured before anything in this process calls initBackend (which replaces them).
const tfjsSum = tf.getGradient(tf.Sum)!;
const tfjsMean = tf.getGradient(tf.Mean)!;

function values(shape: number[], seed: number): tf.Tensor {
  const rng = createRng(seed);
  const n = shape.reduce((a, b) => a * b, 1);
  return tf.tensor(
    Float32Array.from({ length: n }, () => (rng.next() - 0.5) * 10 ** Math.floor(rng.next() * 6 - 3)),
    shape,
  );
}

type Reduce = 'sum' | 'mean';
const cases: { shape: number[]; axis: number | number[] | undefined; keepDims: boolean }[] = [
  { shape: [5, 7, 3], axis: 0, keepDims: false },
  { shape: [5, 7, 3], axis: [0, 1], keepDims: false },
  { shape: [5, 7, 3], axis: -1, keepDims: true },
  { shape: [5, 7, 3], axis: [2, 0], keepDims: false },
  { shape: [5, 7, 3], axis: undefined, keepDims: false },
  { shape: [9], axis: 0, keepDims: true },
  { shape: [4, 6], axis: 1, keepDims: false },
];

/** d/dx of sum(w * reduce(x)) for a random w: the reduction's gradient applied to a non-uniform dy. */
function gradient(reduce: Reduce, x: tf.Tensor, c: (typeof cases)[number], seed: number): Float32Array {
  return tf.tidy(() => {
    const f = (t: tf.Tensor) => {
      const r = reduce === 'sum' ? tf.sum(t, c.axis, c.keepDims) : tf.mean(t, c.axis, c.keepDims);
      return tf.sum(tf.mul(r, values(r.shape, seed)));
    };
    return tf.grad(f)(x).dataSync() as Float32Array;
  });
}

const backends = ['cpu', 'wasm', ...(loadBlas().ok ? ['blas' as const] : [])] as const;
for (const backend of backends) {
  test(`Sum and Mean gradients: tfjs's bits without a tensor of ones [${backend}]`, async () => {
    await initBackend({ prefer: backend });
    assert.equal(tf.getGradient(tf.Sum), sumGradient, 'initBackend registers the Sum gradient');
    assert.equal(tf.getGradient(tf.Mean), meanGradient, 'initBackend registers the Mean gradient');
    const before = tf.memory().numTensors;
    try {
      for (const [i, c] of cases.entries()) {
        for (const reduce of ['sum', 'mean'] as const) {
          const x = values(c.shape, 100 + i);
          tf.registerGradient(tfjsSum);
          tf.registerGradient(tfjsMean);
          const want = gradient(reduce, x, c, 200 + i);
          tf.registerGradient(sumGradient);
          tf.registerGradient(meanGradient);
          const got = gradient(reduce, x, c, 200 + i);
          const what = `${reduce} over ${JSON.stringify(c.axis)} of [${c.shape}], keepDims ${c.keepDims}`;
          assert.equal(got.length, x.size, what);
          assert.deepEqual(got, want, what);
          // and it is the gradient: each dy value repeated (divided by n for the mean) over the reduced axes
          const reduced = tf.util.parseAxisParam(c.axis ?? null!, c.shape);
          const kept = c.shape.filter((_, a) => !reduced.includes(a)).reduce((p, q) => p * q, 1);
          assert.ok(
            kept === 1 || got.some((g) => g !== got[0]),
            `${what}: a non-uniform gradient (dy is random), so a broadcast error shows`,
          );
          x.dispose();
        }
      }
    } finally {
      tf.registerGradient(sumGradient);
      tf.registerGradient(meanGradient);
    }
    assert.equal(tf.memory().numTensors, before, 'tensors leaked');
  });
}

test('the Sum gradient takes its ones from the backend (OnesLike), not from an array filled in JavaScript', async () => {
  await initBackend({ prefer: 'cpu' });
  const x = values([64, 40, 9], 7);
  const kernels = async (config: tf.GradConfig) => {
    tf.registerGradient(config);
    const info = await tf.profile(() => tf.grad((t: tf.Tensor) => tf.sum(tf.sum(t, [0, 1])))(x));
    return info.kernels.map((k) => `${k.name} [${k.outputShapes.map((s) => `[${s}]`).join(',')}]`);
  };
  const theirs = await kernels(tfjsSum);
  const ours = await kernels(sumGradient);
  tf.registerGradient(sumGradient);
  assert.ok(theirs.includes('Multiply [[64,40,9]]'), `tfjs's gradient multiplies by ones: ${theirs.join(', ')}`);
  assert.ok(!theirs.some((k) => k.startsWith('OnesLike')), `tfjs's ones come from JavaScript: ${theirs.join(', ')}`);
  assert.ok(ours.includes('OnesLike [[64,40,9]]'), `ours fills them in the backend: ${ours.join(', ')}`);
  x.dispose();
});
