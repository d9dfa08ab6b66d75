/**
 * Token cross-entropy as kernels on the wasm backend (src/backend/cross-entropy-kernels.ts), through the loss
 * function of src/losses/ce.ts: the value and the gradient against float64 computations of the formula (within
 * float32 rounding) and against the tfjs-op composition on the cpu backend, over ranks, class counts, ignored
 * positions, a batch with nothing labelled and an out-of-range label when validation is off; nothing leaks.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tf } from '../../src/tf.js';
import { initBackend } from '../../src/backend/init.js';
import { hasKernel } from '../../src/backend/simd-kernels.js';
import { CROSS_ENTROPY } from '../../src/backend/cross-entropy-kernels.js';
import { tokenCrossEntropy } from '../../src/losses/ce.js';
import { crossEntropy64, randn, rng, rows, softmax64 } from '../losses/helpers.js';

/** [shape of the logits, share of ignored positions] */
const CASES: [number[], number][] = [
  [[1, 2], 0],
  [[6, 3], 0.3],
  [[2, 5, 4], 0.3],
  [[16, 64, 9], 0.2],
  [[3, 7, 9], 1], // nothing labelled: 0 and a zero gradient
];

function labelsFor(n: number, classes: number, seed: number, ignored: number): number[] {
  const r = rng(seed);
  return Array.from({ length: n }, () => (r() < ignored ? -100 : Math.floor(r() * classes)));
}

/** Value and gradient of the loss on `backend`, as plain numbers. */
async function lossAndGrad(
  backend: 'cpu' | 'wasm',
  logits: number[],
  shape: number[],
  labels: number[],
  validateLabels = true,
): Promise<{ value: number; grad: number[] }> {
  await initBackend({ prefer: backend });
  const before = tf.memory().numTensors;
  const z = tf.tensor(logits, shape);
  const y = tf.tensor(labels, shape.slice(0, -1), 'int32');
  const { value, grad } = tf.valueAndGrad((x: tf.Tensor) => tokenCrossEntropy(x, y, { validateLabels }))(z);
  const out = { value: value.dataSync()[0]!, grad: Array.from(grad.dataSync()) };
  tf.dispose([z, y, value, grad]);
  assert.equal(tf.memory().numTensors, before, `${backend}: tensors leaked`);
  return out;
}

test('the wasm backend runs the cross-entropy kernel', async () => {
  await initBackend({ prefer: 'wasm' });
  assert.ok(hasKernel(CROSS_ENTROPY));
});

test('value and gradient: the float64 formula within float32 rounding, and the cpu composition', async () => {
  for (const [shape, ignored] of CASES) {
    const classes = shape[shape.length - 1]!;
    const n = shape.slice(0, -1).reduce((a, b) => a * b, 1);
    const logits = randn(n * classes, n + classes, 3);
    const labels = labelsFor(n, classes, n * 7 + classes, ignored);
    const wasm = await lossAndGrad('wasm', logits, shape, labels);
    const cpu = await lossAndGrad('cpu', logits, shape, labels);
    const want = crossEntropy64(rows(logits, classes), labels);
    assert.ok(Math.abs(wasm.value - want) <= 1e-7 * (1 + Math.abs(want)), `[${shape}]: ${wasm.value} vs ${want}`);
    assert.ok(Math.abs(wasm.value - cpu.value) <= 1e-5 * (1 + Math.abs(want)), `[${shape}]: vs cpu ${cpu.value}`);
    const count = Math.max(1, labels.filter((l) => l !== -100).length);
    for (let i = 0; i < n; i++) {
      const p = softmax64(logits.slice(i * classes, (i + 1) * classes));
      for (let c = 0; c < classes; c++) {
        const g = labels[i] === -100 ? 0 : (p[c]! - (c === labels[i] ? 1 : 0)) / count;
        const at = i * classes + c;
        assert.ok(
          Math.abs(wasm.grad[at]! - g) <= 1e-7 * (1 + Math.abs(g)),
          `[${shape}] dz[${at}] ${wasm.grad[at]} vs ${g}`,
        );
        assert.ok(Math.abs(wasm.grad[at]! - cpu.grad[at]!) <= 1e-6, `[${shape}] dz[${at}] vs cpu ${cpu.grad[at]}`);
      }
    }
    if (ignored === 1) {
      assert.ok(Object.is(wasm.value, 0) && wasm.grad.every((v) => v === 0), 'nothing labelled: +0, zero gradient');
    }
  }
});

test('a label out of range with validation off counts and contributes 0, as the composition', async () => {
  const shape = [4, 3];
  const logits = randn(12, 5, 2);
  const labels = [0, 7, -100, 2];
  const wasm = await lossAndGrad('wasm', logits, shape, labels, false);
  const cpu = await lossAndGrad('cpu', logits, shape, labels, false);
  assert.ok(Math.abs(wasm.value - cpu.value) <= 1e-6, `${wasm.value} vs ${cpu.value}`);
  for (let i = 0; i < 12; i++) assert.ok(Math.abs(wasm.grad[i]! - cpu.grad[i]!) <= 1e-6, `dz[${i}]`);
  assert.ok(
    wasm.grad.slice(3, 6).every((v) => v === 0),
    'the out-of-range row has no gradient',
  );
});
