/**
 * src/backend/host-memory.ts: `addInto` (the micro-batch gradient sum) gives tf.add's bits on every backend, in
 * place in the heap when the accumulator alone holds its bytes and into a new tensor when something shares them;
 * `sumOfSquares` gives the same float64 sum on every backend (the SIMD kernel on wasm, the loop elsewhere); and new
 * weights written by `updateVariable` or `writeVariable` reach the next matmul on every backend.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tf } from '../../src/tf.js';
import { initBackend } from '../../src/backend/init.js';
import { loadBlas } from '../../src/backend/blas.js';
import { addInto, sumOfSquares, updateVariable, writeVariable } from '../../src/backend/host-memory.js';
import { createRng } from '../../src/rng.js';

function values(n: number, seed: number): Float32Array {
  const rng = createRng(seed);
  return Float32Array.from({ length: n }, () => (rng.next() - 0.5) * 10 ** Math.floor(rng.next() * 6 - 3));
}

const backends = ['cpu', 'wasm', ...(loadBlas().ok ? ['blas' as const] : [])] as const;
for (const backend of backends) {
  test(`addInto equals tf.add bit for bit, in place only for a sole owner [${backend}]`, async () => {
    await initBackend({ prefer: backend });
    const before = tf.memory().numTensors;
    // 4k + 3 values: the vector loop and the one-value tail; 0 values: nothing to add
    for (const n of [0, 1, 7, 4099]) {
      const a = values(n, n + 1);
      const b = values(n, n + 2);
      const want = tf.tidy(() => tf.add(tf.tensor(a), tf.tensor(b)));
      const acc = tf.tensor(a, [n]);
      const id = acc.dataId;
      const sum = addInto(acc, tf.tensor(b, [n]));
      assert.deepEqual(sum.dataSync(), want.dataSync(), `n = ${n}`);
      if (backend !== 'cpu') assert.equal(sum.dataId, id, "expected the sum in the accumulator's bytes");
      tf.dispose([sum, want]);
    }
    const acc = tf.tensor(values(9, 3));
    const shared = tf.clone(acc); // shares the bytes on wasm (copy-free Identity)
    const kept = Array.from(shared.dataSync());
    const sum = addInto(acc, tf.tensor(values(9, 4)));
    assert.deepEqual(Array.from(shared.dataSync()), kept, "a tensor sharing the accumulator's bytes was changed");
    assert.ok(acc.isDisposed, 'the accumulator is disposed');
    tf.dispose([sum, shared]);
    assert.equal(tf.memory().numTensors, before, 'tensors leaked');
  });

  test(`sumOfSquares: the same float64 sum on every backend [${backend}]`, async () => {
    await initBackend({ prefer: 'cpu' });
    // Mostly zeros, as an embedding table's gradient (the SIMD kernel skips four zeros at a time): single values and
    // runs among them, -0, a NaN.
    const sparse = (n: number, at: number[], value = (i: number) => Math.fround(0.001 * (i + 1))) => {
      const v = new Array<number>(n).fill(0);
      for (const i of at) v[i] = value(i);
      return v;
    };
    const cases = [
      ...[0, 1, 2, 3, 5, 4099].map((n) => values(n, 10 + n)),
      sparse(4099, [1, 6, 7, 8, 9, 10, 11, 12, 13, 400, 4098]),
      sparse(4099, [3, 17, 2050], (i) => (i === 17 ? -0 : 0.5)),
      sparse(64, [33], () => NaN),
    ];
    for (const v of cases) {
      const n = v.length;
      let s0 = 0;
      let s1 = 0;
      for (let i = 0; i < n; i++) {
        if (i % 2 === 0) s0 += v[i]! * v[i]!;
        else s1 += v[i]! * v[i]!;
      }
      await initBackend({ prefer: backend });
      const t = tf.tensor(v, [n]);
      assert.equal(sumOfSquares(t), s0 + s1, `n = ${n}, [${v.slice(0, 12)}...]`);
      t.dispose();
    }
  });
}

for (const backend of backends) {
  test(`a variable written by updateVariable / writeVariable reaches the next matmul [${backend}]`, async () => {
    // tfjs-backend-wasm's own matmul (XNNPACK) caches packed weights by data id: writing new values under the same
    // id would leave products on the old weights. Both writers must give the product with the new values.
    await initBackend({ prefer: backend });
    const before = tf.memory().numTensors;
    const w0 = tf.ones([4, 3]);
    const w = tf.variable(w0);
    w0.dispose(); // the variable alone holds its bytes: the in-place case
    const x = tf.ones([2, 4]);
    const product = () => tf.tidy(() => Array.from(tf.matMul(x, w).dataSync()));
    assert.deepEqual(product(), Array(6).fill(4));
    const g = tf.ones([4, 3]);
    updateVariable(w, g, (out, cur, grad) => {
      for (let i = 0; i < out.length; i++) out[i] = cur[i]! + grad[i]!;
    });
    assert.deepEqual(product(), Array(6).fill(8), 'updateVariable: the product uses the new weights');
    writeVariable(w, new Float32Array(12).fill(3));
    assert.deepEqual(product(), Array(6).fill(12), 'writeVariable: the product uses the new weights');
    tf.dispose([w, x, g]);
    assert.equal(tf.memory().numTensors, before);
  });
}
