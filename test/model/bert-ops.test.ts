/**
 * `dense` (src/model/bert-ops.ts): tfjs's `_FusedMatMul` kernel with a registered gradient. On every backend it
 * gives tf.fused.matMul's values and gradients bit for bit, a backward pass that does not need the input's
 * gradient (an input off the tape) runs one matmul fewer than tf.fused.matMul's, and its tape keeps only x, W and
 * b: once the caller has let go of the output, the output's bytes are free.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tf } from '../../src/tf.js';
import { initBackend } from '../../src/backend/init.js';
import { loadBlas } from '../../src/backend/blas.js';
import { dense } from '../../src/model/bert-ops.js';
import { recordForward } from '../../src/backend/backprop.js';
import { createRng } from '../../src/rng.js';

function values(n: number, seed: number): Float32Array {
  const rng = createRng(seed);
  return Float32Array.from({ length: n }, () => rng.next() * 2 - 1);
}

/** Number of matmul kernels run by `fn`. */
async function matmuls(fn: () => tf.TensorContainer): Promise<number> {
  const info = await tf.profile(fn);
  tf.dispose(info.result as tf.Tensor);
  return info.kernels.filter((k) => k.name === 'BatchMatMul' || k.name === '_FusedMatMul').length;
}

const backends = ['cpu', 'wasm', ...(loadBlas().ok ? ['blas' as const] : [])] as const;
for (const backend of backends) {
  test(`dense equals tf.fused.matMul bit for bit, forward and gradients [${backend}]`, async () => {
    await initBackend({ prefer: backend });
    const before = tf.memory().numTensors;
    const [m, k, n] = [13, 24, 7];
    const x = tf.tensor2d(values(m * k, 1), [m, k]);
    const w = tf.tensor2d(values(k * n, 2), [k, n]);
    const b = tf.tensor1d(values(n, 3));
    const up = tf.tensor2d(values(m * n, 4), [m, n]);
    const loss =
      (f: (x: tf.Tensor2D, w: tf.Tensor2D, b: tf.Tensor1D) => tf.Tensor) =>
      (xi: tf.Tensor, wi: tf.Tensor, bi: tf.Tensor) =>
        tf.sum(tf.mul(f(xi as tf.Tensor2D, wi as tf.Tensor2D, bi as tf.Tensor1D), up)) as tf.Scalar;
    const ours = loss(dense);
    const theirs = loss((xi, wi, bi) => tf.fused.matMul({ a: xi, b: wi, bias: bi }));
    const a = tf.valueAndGrads(ours)([x, w, b]);
    const want = tf.valueAndGrads(theirs)([x, w, b]);
    assert.deepEqual(a.value.dataSync(), want.value.dataSync(), 'value');
    a.grads.forEach((g, i) => assert.deepEqual(g.dataSync(), want.grads[i]!.dataSync(), `gradient ${'xwb'[i]}`));
    const y = dense(x, w, b);
    assert.deepEqual(y.shape, [m, n]);
    y.dispose();
    // Only W and b differentiated: tf.fused.matMul still computes dy W^T, dense does not.
    const oursWb = await matmuls(() => tf.grads((wi: tf.Tensor, bi: tf.Tensor) => ours(x, wi, bi))([w, b]));
    const theirsWb = await matmuls(() => tf.grads((wi: tf.Tensor, bi: tf.Tensor) => theirs(x, wi, bi))([w, b]));
    assert.equal(oursWb, theirsWb - 1, `matmuls: dense ${oursWb}, tf.fused.matMul ${theirsWb}`);
    tf.dispose([x, w, b, up, a.value, want.value, ...a.grads, ...want.grads]);
    assert.equal(tf.memory().numTensors, before, 'tensors leaked');
  });
}

for (const backend of backends) {
  test(`dense's tape keeps x, W and b, not its output [${backend}]`, async () => {
    await initBackend({ prefer: backend });
    const [m, k, n] = [13, 24, 7];
    const x = tf.tensor2d(values(m * k, 1), [m, k]);
    const w = tf.variable(tf.tensor2d(values(k * n, 2), [k, n]));
    const b = tf.variable(tf.tensor1d(values(n, 3)));
    const buffers = tf.memory().numDataBuffers;
    const rec = recordForward(() => dense(x, w, b));
    assert.deepEqual(rec.value.shape, [m, n]);
    assert.equal(tf.memory().numDataBuffers, buffers + 1, 'the output');
    const y = rec.value;
    const ones = tf.onesLike(y);
    const [gw, gb] = rec.backward([[y, ones]], [w, b]);
    // dL/db = m ones (a sum over the m rows): the walk still has what it needs.
    assert.deepEqual(Array.from(gb!.dataSync()), new Array<number>(n).fill(m));
    tf.dispose([gw!, gb!, ones, y]);
    const again = recordForward(() => dense(x, w, b));
    again.value.dispose();
    assert.equal(tf.memory().numDataBuffers, buffers, 'bytes held by the tape after the output was disposed');
    again.release();
    assert.equal(tf.memory().numDataBuffers, buffers);
    tf.dispose([x, w, b]);
  });
}
