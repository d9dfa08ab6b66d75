/**
 * Gradient sinks (src/backend/gradient-sinks.ts, train/loop.ts `accumulatePass`): over micro-batches, the running
 * sums of the weight gradients equal the sum of the passes' own gradients (float rounding aside), on every backend.
 * On the BLAS backend a dense weight's sum is added into by the product itself (the same tensor comes back, its
 * bytes changed, nothing allocated for it), a weight reached twice in one pass still sums both parts, and the bias
 * (not a product) is summed the usual way; elsewhere the sums are new tensors. Same inputs, same bits.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tf } from '../../src/tf.js';
import type { Tensor, Variable } from '../../src/tf.js';
import { initBackend } from '../../src/backend/init.js';
import { loadBlas } from '../../src/backend/blas.js';
import { takeGradientSink, withGradientSinks } from '../../src/backend/gradient-sinks.js';
import { dense } from '../../src/model/bert-ops.js';
import { accumulatePass, passGradients } from '../../src/train/loop.js';
import { randomTensor } from '../random-tensor.js';

const [K, N] = [24, 7];

/** The loss of one micro-batch: x W + b twice through W (a weight reached twice in one pass when `twice`). */
function lossOf(x: tf.Tensor2D, w: Variable, b: Variable, w2: Variable, up: tf.Tensor, twice: boolean) {
  return () => {
    const h = dense(x, w as tf.Tensor2D, b as tf.Tensor1D);
    const y = twice ? tf.add(h, dense(tf.tanh(x), w as tf.Tensor2D, b as tf.Tensor1D)) : h;
    const z = dense(tf.tanh(y) as tf.Tensor2D, w2 as tf.Tensor2D, b as tf.Tensor1D);
    return { total: tf.sum(tf.mul(z, up)) as tf.Scalar, perTerm: {} };
  };
}

interface Run {
  /** The sums by name, as arrays. */
  sums: Record<string, Float32Array>;
  /** Names whose gradient a pass after the first returned as the running sum itself (a sink used). */
  sunk: string[];
}

/** Three micro-batches summed with accumulatePass (`sinks`) or as plain passes added up afterwards. */
let runs = 0;
function run(twice: boolean, sinks: boolean): Run {
  // Variable names are global in tfjs: each run's own, the sums compared by the part after the '#'.
  const id = `run${runs++}#`;
  const variable = (shape: number[], seed: number, name: string) => {
    const init = randomTensor(shape, seed);
    const v = tf.variable(init, true, `${id}${name}`);
    init.dispose();
    return v;
  };
  const [w, b, w2] = [variable([K, N], 1, 'w'), variable([N], 2, 'b'), variable([N, N], 3, 'w2')];
  const vars = [w, b, w2];
  const parts = [13, 5, 9].map((m, k) => ({
    x: randomTensor([m, K], 10 + k) as tf.Tensor2D,
    up: randomTensor([m, N], 20 + k),
  }));
  let acc: Record<string, Tensor> | undefined;
  const sunk = new Set<string>();
  const passes: Record<string, Tensor>[] = [];
  for (const { x, up } of parts) {
    const pass = () => passGradients(lossOf(x, w, b, w2, up, twice), vars);
    if (sinks) {
      const before = acc;
      const { pass: done, sums } = accumulatePass(acc, vars, pass);
      // A sink's gradient is the running sum itself (added into by the product), before any addInto.
      if (before)
        for (const name of Object.keys(done.grads))
          if (done.grads[name] === before[name]) sunk.add(name.split('#')[1]!);
      acc = sums;
    } else passes.push(pass().grads);
  }
  const sums: Record<string, Float32Array> = {};
  for (const v of vars) {
    const t = sinks ? acc![v.name]! : tf.tidy(() => tf.addN(passes.map((g) => g[v.name]!)));
    sums[v.name.split('#')[1]!] = t.dataSync() as Float32Array;
    t.dispose();
  }
  tf.dispose([...vars, ...parts.flatMap((p) => [p.x, p.up]), ...passes.flatMap((g) => Object.values(g))]);
  return { sums, sunk: [...sunk].sort() };
}

const backends = ['cpu', 'wasm', ...(loadBlas().ok ? ['blas' as const] : [])] as const;
for (const backend of backends) {
  test(`accumulatePass: the sums of three micro-batches' gradients, sinks where the product can add [${backend}]`, async () => {
    await initBackend({ prefer: backend });
    for (const twice of [false, true]) {
      const before = tf.memory().numTensors;
      const got = run(twice, true);
      assert.equal(tf.memory().numTensors, before, 'no tensor leaked');
      const want = run(twice, false);
      for (const [name, g] of Object.entries(want.sums)) {
        const scale = Math.max(...Array.from(g, Math.abs));
        const worst = Math.max(...Array.from(g, (v, i) => Math.abs(v - got.sums[name]![i]!)));
        assert.ok(worst <= 1e-6 * scale, `${name} (W reached ${twice ? 'twice' : 'once'}): off by ${worst}`);
      }
      // The dense weights' sums are added into by the products on the BLAS backend only; b is a sum over rows.
      assert.deepEqual(got.sunk, backend === 'blas' ? ['w', 'w2'] : [], `sums added into in place (twice: ${twice})`);
      assert.deepEqual(run(twice, true).sums, got.sums, 'same inputs, same bits');
    }
  });
}

test('a sink is taken once per pass, matched by the weight data id; sinks do not nest and close on errors', async () => {
  await initBackend({ prefer: 'cpu' });
  const [w, sum] = [tf.zeros([2, 2]), tf.ones([2, 2])];
  const alias = tf.clone(w); // a saved tensor: a clone sharing the weight's bytes
  withGradientSinks([[w, sum]], () => {
    assert.equal(takeGradientSink(alias), sum);
    assert.equal(takeGradientSink(w), undefined, 'taken already');
    assert.throws(() => withGradientSinks([], () => 0), /do not nest/);
  });
  assert.throws(() =>
    withGradientSinks([[w, sum]], () => {
      throw new Error('boom');
    }),
  );
  assert.equal(takeGradientSink(w), undefined, 'closed after the error');
  tf.dispose([w, sum, alias]);
});
