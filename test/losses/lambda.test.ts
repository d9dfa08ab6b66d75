import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tf } from '../../src/tf.js';
import { LossInputError } from '../../src/losses/check.js';
import { layerWeights, weightedSum } from '../../src/losses/lambda.js';
import { softmax64 } from './helpers.js';

test('uniform and explicit weights are what they say', () => {
  for (const n of [1, 3, 8]) {
    const w = layerWeights('uniform', n);
    assert.equal(w.mode, 'uniform');
    assert.equal(w.variable, null);
    assert.deepEqual(w.values(), new Array(n).fill(1 / n));
    const t = w.weights();
    assert.deepEqual(Array.from(t.dataSync()), new Array(n).fill(Math.fround(1 / n)));
    t.dispose();
  }
  const explicit = layerWeights([0.5, 0, 2], 3);
  assert.equal(explicit.mode, 'explicit');
  assert.deepEqual(explicit.values(), [0.5, 0, 2]); // not renormalised
});

test('learned weights are softmax of a seeded trainable U(-1,1) variable', () => {
  const a = layerWeights('learned', 8, { seed: 3, name: 'test/lambda_a' });
  const b = layerWeights('learned', 8, { seed: 3, name: 'test/lambda_b' });
  const c = layerWeights('learned', 8, { seed: 4, name: 'test/lambda_c' });
  try {
    assert.ok(a.variable && a.variable.trainable);
    assert.deepEqual(a.variable.shape, [8]);
    const omega = Array.from(a.variable.dataSync());
    assert.ok(omega.every((x) => x > -1 && x < 1));
    assert.deepEqual(omega, Array.from(b.variable!.dataSync()), 'same seed, same init');
    assert.notDeepEqual(omega, Array.from(c.variable!.dataSync()), 'other seed, other init');
    const want = softmax64(omega);
    a.values().forEach((v, i) => assert.ok(Math.abs(v - want[i]) < 1e-6));
    // The weights are differentiable with respect to omega.
    const { grads } = tf.variableGrads(() => tf.sum(tf.mul(a.weights(), tf.range(0, 8))) as tf.Scalar, [a.variable!]);
    const g = Array.from(grads[a.variable!.name].dataSync());
    assert.ok(g.every(Number.isFinite) && g.some((x) => Math.abs(x) > 1e-4));
    tf.dispose(grads);
  } finally {
    [a, b, c].forEach((w) => w.dispose());
  }
});

test('learned weights with a taken name, bad lists and counts are rejected clearly', () => {
  const a = layerWeights('learned', 2, { name: 'test/dup' });
  try {
    assert.throws(
      () => layerWeights('learned', 2, { name: 'test/dup' }),
      /lambda\.ts.*could not create variable 'test\/dup'.*distinct name/,
    );
  } finally {
    a.dispose();
  }
  const cases: [() => unknown, RegExp][] = [
    [() => layerWeights([1, 2], 3), /explicit lambda has 2 weights; expected 3/],
    [() => layerWeights([1, -0.5], 2), /lambda\[1\] is -0.5; expected a finite number >= 0/],
    [() => layerWeights([1, NaN], 2), /lambda\[1\] is NaN/],
    [() => layerWeights('uniform', -1), /count is -1/],
    [() => layerWeights('softmax' as 'learned', 2), /expected 'learned', 'uniform' or a number\[\]/],
  ];
  for (const [fn, re] of cases)
    assert.throws(fn, (e: Error) => e instanceof LossInputError && re.test(e.message), String(re));
});

test('zero auxiliary layers give an empty weight vector in every mode, and weightedSum 0', () => {
  for (const mode of ['learned', 'uniform', []] as const) {
    const w = layerWeights(mode, 0);
    assert.equal(w.count, 0);
    assert.equal(w.variable, null);
    const s = weightedSum(w, []);
    assert.equal(s.dataSync()[0], 0);
    s.dispose();
  }
});

test('weightedSum is sum_m lambda_m * term_m and checks the count', () => {
  const w = layerWeights([0.25, 1, 3], 3);
  const terms = [2, 5, 7].map((x) => tf.scalar(x));
  const s = weightedSum(w, terms);
  assert.ok(Math.abs(s.dataSync()[0] - (0.5 + 5 + 21)) < 1e-5);
  assert.throws(() => weightedSum(w, terms.slice(1)), /2 terms for 3 layer weights/);
  tf.dispose([s, ...terms]);
});
