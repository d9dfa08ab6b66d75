import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tf } from '../../src/tf.js';
import { LossInputError } from '../../src/losses/check.js';
import { mmd, mmdBandwidths, type MmdOptions } from '../../src/losses/mmd.js';
import { stopGradient } from '../../src/losses/stop-gradient.js';
import { mmd64, randn, rows } from './helpers.js';
import type { Mmd64Options } from './helpers.js';

function value(x: number[], n: number, y: number[], m: number, d: number, opts?: MmdOptions): number {
  return tf.tidy(() => mmd(tf.tensor(x, [n, d]), tf.tensor(y, [m, d]), opts).dataSync()[0]);
}

test('MMD^2 matches a float64 computation on random data within 1e-5', () => {
  const cases: [number, number, number, MmdOptions, Mmd64Options][] = [
    [8, 8, 16, {}, {}],
    [5, 11, 32, {}, {}], // source and target sets of different sizes
    [12, 7, 64, {}, {}],
    [6, 9, 8, { estimator: 'unbiased' }, { unbiased: true }],
    [6, 4, 8, { kernelNum: 3, kernelMul: 3 }, { kernelNum: 3, kernelMul: 3 }],
    [7, 7, 8, { fixedBandwidth: 20 }, { fixedBandwidth: 20 }],
    [7, 5, 8, { bandwidths: [1, 10, 100] }, { bandwidths: [1, 10, 100] }],
  ];
  cases.forEach(([n, m, d, opts, opts64], i) => {
    const x = randn(n * d, 10 + i);
    const y = randn(m * d, 20 + i, 1.3, 0.4);
    const got = value(x, n, y, m, d, opts);
    const want = mmd64(rows(x, d), rows(y, d), opts64);
    assert.ok(Math.abs(got - want) < 1e-5, `case ${i} (${n},${m},${d},${JSON.stringify(opts)}): ${got} vs ${want}`);
    assert.ok(Math.abs(want) > 1e-3, `case ${i}: the test data must not be trivially close (${want})`);
  });
});

test('MMD^2 is 0 for identical sets and symmetric in its arguments', () => {
  for (const [n, d, seed] of [
    [4, 3, 1],
    [16, 32, 2],
  ]) {
    const x = randn(n * d, seed);
    // (The unbiased estimator is not 0 here: its cross term keeps the i = j pairs that its within-set terms drop.)
    assert.equal(value(x, n, x, n, d), 0, `identical n=${n}`);
  }
  for (const [n, m, d] of [
    [6, 6, 8],
    [3, 10, 5],
  ]) {
    const x = randn(n * d, n + m);
    const y = randn(m * d, n + m + 1, 1, 0.7);
    const xy = value(x, n, y, m, d);
    const yx = value(y, m, x, n, d);
    assert.ok(Math.abs(xy - yx) < 1e-6, `(${n},${m}): ${xy} vs ${yx}`);
  }
});

test('MMD^2 grows with the shift between the means', () => {
  const n = 10;
  const d = 6;
  const x = randn(n * d, 31);
  let prev = -Infinity;
  for (const shift of [0, 0.25, 0.5, 1, 2, 4]) {
    const v = value(
      x,
      n,
      x.map((b) => b + shift),
      n,
      d,
    );
    assert.ok(v > prev, `shift ${shift}: ${v} <= ${prev}`);
    prev = v;
  }
});

test('MMD^2 gradients are finite, flow to both sets, and not through the bandwidth', () => {
  const [n, m, d] = [6, 9, 12];
  const xv = randn(n * d, 41);
  const yv = randn(m * d, 42, 1, 0.5);
  const x = tf.tensor(xv, [n, d]);
  const y = tf.tensor(yv, [m, d]);
  const before = tf.memory().numTensors;
  const [gx, gy] = tf.grads((a: tf.Tensor, b: tf.Tensor) => mmd(a, b))([x, y]);
  for (const g of [gx, gy]) {
    const a = Array.from(g.dataSync());
    assert.ok(a.every(Number.isFinite) && a.some((v) => Math.abs(v) > 1e-6));
  }
  // With the same bandwidths given as constants the gradient must be identical: the bandwidth is detached.
  const fixed = mmdBandwidths(x, y);
  const [fx, fy] = tf.grads((a: tf.Tensor, b: tf.Tensor) => mmd(a, b, { bandwidths: fixed }))([x, y]);
  const diff = tf.tidy(() => tf.max(tf.abs(tf.sub(gx, fx))).dataSync()[0]);
  assert.ok(diff < 1e-6, `gradient differs from the constant-bandwidth one by ${diff}`);
  // And it differs from a gradient that would include d(bandwidth)/dx: central finite differences of the float64
  // objective (bandwidth recomputed from the data) on one coordinate.
  const h = 1e-4;
  const bump = (k: number, s: number) => xv.map((v, i) => (i === k ? v + s : v));
  const fd = (mmd64(rows(bump(0, h), d), rows(yv, d)) - mmd64(rows(bump(0, -h), d), rows(yv, d))) / (2 * h);
  assert.ok(Math.abs(gx.dataSync()[0] - fd) > 1e-4, 'the detached gradient should differ from the full derivative');
  tf.dispose([gx, gy, fx, fy]);
  assert.equal(tf.memory().numTensors, before);
  tf.dispose([x, y]);
});

test('stopGradient passes the value and blocks the gradient', () => {
  const x = tf.tensor1d([1, -2, 3]);
  const [v, g] = tf.tidy(() => {
    const r = tf.valueAndGrad((a: tf.Tensor) => tf.sum(tf.mul(stopGradient(a), a)) as tf.Scalar)(x);
    return [r.value.dataSync()[0], Array.from(r.grad.dataSync())];
  });
  assert.equal(v, 14);
  assert.deepEqual(g, [1, -2, 3]); // d/da (c * a) with c = a held constant; 2a if the gradient leaked through
  x.dispose();
});

test('stopGradient leaves no node on the gradient tape, so nothing computed from it is differentiated', () => {
  const x = tf.tensor1d([1, -2, 3]);
  const tape = () => (tf.engine() as unknown as { state: { activeTape: unknown[] } }).state.activeTape.length;
  const lengths: number[] = [];
  const g = tf.grad((a: tf.Tensor) => {
    const before = tape();
    const c = stopGradient(a);
    lengths.push(tape() - before);
    return tf.sum(tf.mul(c, a)) as tf.Scalar;
  })(x);
  assert.deepEqual(lengths, [0]);
  assert.deepEqual(Array.from(g.dataSync()), [1, -2, 3]);
  tf.dispose([x, g]);
});

test('all points equal: bandwidth floored, MMD^2 = 0 rather than NaN', () => {
  const x = new Array(4 * 3).fill(0.5);
  assert.equal(value(x, 4, x.slice(0, 6), 2, 3), 0);
});

test('mmd rejects malformed inputs', () => {
  const x = tf.zeros([4, 3]);
  const cases: [() => unknown, RegExp][] = [
    [() => mmd(x, tf.zeros([4, 5])), /differ in width/],
    [() => mmd(x, tf.zeros([4])), /y has shape \[4\] \(rank 1\); expected rank 2/],
    [() => mmd(x, tf.zeros([1, 3]), { estimator: 'unbiased' }), /unbiased estimator needs at least 2 rows/],
    [() => mmd(x, x, { bandwidths: [1, -1] }), /bandwidths\[1\] is -1/],
    [() => mmd(x, x, { fixedBandwidth: 0 }), /fixedBandwidth is 0/],
    [() => mmd(x, x, { kernelNum: 0 }), /kernelNum is 0/],
    [() => mmd(x, tf.zeros([0, 3])), /expected at least 1 each/],
  ];
  for (const [fn, re] of cases)
    assert.throws(
      fn,
      (e: Error) => e instanceof LossInputError && /mmd\.ts: mmd/.test(e.message) && re.test(e.message),
      String(re),
    );
  x.dispose();
});
