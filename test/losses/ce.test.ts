import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tf } from '../../src/tf.js';
import { tokenCrossEntropy } from '../../src/losses/ce.js';
import { LossInputError } from '../../src/losses/check.js';
import { crossEntropy64, randn, rng, rows, softmax64 } from './helpers.js';

function randomLabels(n: number, classes: number, seed: number, ignoredShare = 0.3): number[] {
  const r = rng(seed);
  return Array.from({ length: n }, () => (r() < ignoredShare ? -100 : Math.floor(r() * classes)));
}

test('token cross-entropy matches a float64 computation over non-ignored positions', () => {
  for (const [shape, seed] of [
    [[2, 5, 4], 1],
    [[3, 7, 9], 2],
    [[6, 3], 3], // rank 2: [N, C] with labels [N]
  ] as [number[], number][]) {
    const classes = shape[shape.length - 1];
    const positions = shape.slice(0, -1).reduce((a, b) => a * b, 1);
    const logits = randn(positions * classes, seed, 2);
    const labels = randomLabels(positions, classes, seed + 10);
    const got = tf.tidy(
      () => tokenCrossEntropy(tf.tensor(logits, shape), tf.tensor(labels, shape.slice(0, -1), 'int32')).dataSync()[0],
    );
    const want = crossEntropy64(rows(logits, classes), labels);
    assert.ok(Math.abs(got - want) < 1e-5, `shape ${shape}: ${got} vs ${want}`);
  }
});

test('cross-entropy is 0, not NaN, with finite gradient when nothing is labelled', () => {
  const logits = tf.tensor(randn(2 * 3 * 4, 5), [2, 3, 4]);
  const labels = tf.fill([2, 3], -100, 'int32');
  const { value, grads } = tf.tidy(() => {
    const g = tf.valueAndGrad((z: tf.Tensor) => tokenCrossEntropy(z, labels));
    const r = g(logits);
    return { value: r.value.dataSync()[0], grads: Array.from(r.grad.dataSync()) };
  });
  assert.equal(value, 0);
  assert.ok(grads.every((x) => x === 0));
  tf.dispose([logits, labels]);
});

test('gradient is (softmax - onehot) / count on labelled positions and 0 elsewhere', () => {
  const classes = 5;
  const logits = randn(2 * 4 * classes, 7);
  const labels = [0, -100, 3, 4, -100, -100, 1, 2];
  const count = labels.filter((y) => y !== -100).length;
  const grad = tf.tidy(() =>
    Array.from(
      tf
        .grad((z: tf.Tensor) => tokenCrossEntropy(z, tf.tensor(labels, [2, 4], 'int32')))(
          tf.tensor(logits, [2, 4, classes]),
        )
        .dataSync(),
    ),
  );
  rows(logits, classes).forEach((z, i) => {
    const p = softmax64(z);
    for (let c = 0; c < classes; c++) {
      const want = labels[i] === -100 ? 0 : (p[c] - (c === labels[i] ? 1 : 0)) / count;
      assert.ok(
        Math.abs(grad[i * classes + c] - want) < 1e-6,
        `pos ${i} class ${c}: ${grad[i * classes + c]} vs ${want}`,
      );
    }
  });
});

test('cross-entropy rejects bad inputs with a message naming file, function and expectation', () => {
  const logits = tf.zeros([2, 3, 4]);
  const cases: [string, () => unknown, RegExp][] = [
    [
      'label out of range',
      () =>
        tokenCrossEntropy(
          logits,
          tf.tensor(
            [
              [0, 1, 4],
              [0, 0, 0],
            ],
            [2, 3],
            'int32',
          ),
        ),
      /label 4 at flat position 2 is outside \[0, 4\)/,
    ],
    [
      'negative label',
      () =>
        tokenCrossEntropy(
          logits,
          tf.tensor(
            [
              [0, -1, 0],
              [0, 0, 0],
            ],
            [2, 3],
            'int32',
          ),
        ),
      /label -1/,
    ],
    ['float labels', () => tokenCrossEntropy(logits, tf.zeros([2, 3])), /dtype float32; expected int32/],
    [
      'shape mismatch',
      () => tokenCrossEntropy(logits, tf.zeros([2, 4], 'int32')),
      /expected logits = labels shape \+ \[C\]/,
    ],
  ];
  for (const [name, fn, re] of cases) {
    assert.throws(
      fn,
      (err: Error) =>
        err instanceof LossInputError && /losses\/ce\.ts: tokenCrossEntropy/.test(err.message) && re.test(err.message),
      name,
    );
  }
  // Another ignore index is honoured.
  const v = tf.tidy(
    () =>
      tokenCrossEntropy(
        logits,
        tf.tensor(
          [
            [0, -1, 0],
            [0, 0, 0],
          ],
          [2, 3],
          'int32',
        ),
        { ignoreIndex: -1 },
      ).dataSync()[0],
  );
  assert.ok(Math.abs(v - Math.log(4)) < 1e-6);
  logits.dispose();
});

test('cross-entropy leaks no tensors', () => {
  const logits = tf.tensor(randn(24, 9), [2, 3, 4]);
  const labels = tf.tensor([0, 1, -100, 3, 2, -100], [2, 3], 'int32');
  const before = tf.memory().numTensors;
  for (let i = 0; i < 3; i++) tokenCrossEntropy(logits, labels).dispose();
  tf.grad((z: tf.Tensor) => tokenCrossEntropy(z, labels))(logits).dispose();
  assert.equal(tf.memory().numTensors, before);
  tf.dispose([logits, labels]);
});
