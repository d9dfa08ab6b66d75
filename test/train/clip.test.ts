import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tf } from '../../src/tf.js';
import { clipByGlobalNorm } from '../../src/train/optim.js';

function data(n: number, seed: number, scale: number): number[] {
  let s = seed >>> 0;
  return Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return Math.fround((s / 2147483648 - 1) * scale);
  });
}

const norm64 = (arrays: number[][]) => Math.sqrt(arrays.flat().reduce((s, x) => s + x * x, 0));

test('clips to maxNorm with torch scale maxNorm / (norm + 1e-6) when the norm is larger', () => {
  for (const [scale, maxNorm] of [
    [3, 1],
    [0.5, 0.1],
    [10, 2.5],
  ]) {
    const a = data(12, 1, scale);
    const b = data(7, 2, scale);
    const grads = { 'w/kernel': tf.tensor(a, [3, 4]), 'w/bias': tf.tensor(b) };
    const before = tf.memory().numTensors;
    const r = clipByGlobalNorm(grads, maxNorm);
    const norm = norm64([a, b]);
    assert.ok(norm > maxNorm, 'test data must need clipping');
    assert.ok(Math.abs(r.norm - norm) < 1e-5 * norm, `norm ${r.norm} vs ${norm}`);
    const wantScale = maxNorm / (norm + 1e-6);
    assert.ok(Math.abs(r.scale - wantScale) < 1e-6 * wantScale);
    const outA = Array.from(r.grads['w/kernel'].dataSync());
    const outB = Array.from(r.grads['w/bias'].dataSync());
    outA.forEach((x, i) => assert.ok(Math.abs(x - a[i] * wantScale) < 1e-6 * scale));
    outB.forEach((x, i) => assert.ok(Math.abs(x - b[i] * wantScale) < 1e-6 * scale));
    assert.ok(Math.abs(norm64([outA, outB]) - maxNorm) < 1e-5 * maxNorm, 'clipped norm equals maxNorm');
    assert.equal(tf.memory().numTensors, before + 2, 'only the two outputs are new');
    tf.dispose([...Object.values(grads), ...Object.values(r.grads)]);
  }
});

test('leaves gradients unchanged (as new tensors) when the norm is within maxNorm', () => {
  const a = data(10, 3, 0.1);
  const g = new Map([['only', tf.tensor(a)]]);
  const r = clipByGlobalNorm(g, 1);
  assert.equal(r.scale, 1);
  assert.ok(Math.abs(r.norm - norm64([a])) < 1e-6);
  const out = r.grads.get('only')!;
  assert.notEqual(out, g.get('only'));
  g.get('only')!.dispose();
  assert.deepEqual(Array.from(out.dataSync()), a, 'output survives disposing the input');
  out.dispose();
});

test('empty gradients, non-finite norms and bad maxNorm', () => {
  const empty = clipByGlobalNorm({}, 1);
  assert.equal(empty.norm, 0);
  assert.deepEqual(empty.grads, {});
  const inf = { x: tf.tensor([1, Infinity]) };
  const r = clipByGlobalNorm(inf, 1);
  assert.equal(r.norm, Infinity);
  tf.dispose(Object.values(r.grads));
  assert.throws(() => clipByGlobalNorm(inf, 1, { errorIfNonfinite: true }), /total gradient norm is Infinity/);
  assert.throws(() => clipByGlobalNorm(inf, 0), /maxNorm is 0; expected a finite number > 0/);
  assert.throws(
    () => clipByGlobalNorm({ i: tf.tensor([1], [1], 'int32') }, 1),
    /gradient 'i' has dtype int32; expected float32/,
  );
  inf.x.dispose();
});
