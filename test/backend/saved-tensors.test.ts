/**
 * src/backend/saved-tensors.ts: on every backend, saving tensors for the backward pass through the light `clone`
 * gives tfjs's gradients bit for bit (a BERT training step with dropout, a custom gradient that saves tensors),
 * records no tape node for a saved tensor on cpu and wasm, and leaks nothing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tf } from '../../src/tf.js';
import { initBackend } from '../../src/backend/init.js';
import { loadBlas } from '../../src/backend/blas.js';
import { BertEncoder } from '../../src/model/bert.js';
import { bertConfig } from '../../src/model/config.js';
import { randomTensor } from '../random-tensor.js';

/** tfjs's engine with its own `clone` (on the prototype) and ours (an own property, set by initBackend). */
const engine = tf.engine() as unknown as {
  clone: unknown;
  state: { activeTape: unknown[] | null; numDataBuffers: number };
};

/** Runs `fn` with tfjs's own `clone` (the Identity kernel and a tape node per saved tensor). */
function withTfjsClone<T>(fn: () => T): T {
  const light = Object.getOwnPropertyDescriptor(engine, 'clone');
  assert.ok(light, 'initBackend did not install the light clone');
  delete (engine as { clone?: unknown }).clone;
  try {
    return fn();
  } finally {
    Object.defineProperty(engine, 'clone', light);
  }
}

const cfg = bertConfig({
  vocabSize: 40,
  hiddenSize: 16,
  numLayers: 2,
  numHeads: 4,
  intermediateSize: 32,
  maxPositions: 16,
  layerNormEps: 1e-12,
});

/** x * y whose gradient reads two tensors saved through customGrad's `save`. */
const savedProduct = tf.customGrad(((x: tf.Tensor, y: tf.Tensor, save: tf.GradSaveFunc) => {
  save([x, y]);
  return {
    value: tf.mul(x, y),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => [tf.mul(dy, saved[1]!), tf.mul(dy, saved[0]!)],
  };
}) as unknown as Parameters<typeof tf.customGrad>[0]);

// First in this file, before any test uses the cpu backend: the light clone only looks at backends already
// initialised (tfjs's `findBackend` would start the cpu backend on the first clone).
test('saved tensors on wasm start no other backend', async () => {
  await initBackend({ prefer: 'wasm' });
  const registry = (tf.engine() as unknown as { registry: Record<string, unknown> }).registry;
  const before = Object.keys(registry).sort();
  assert.ok(!before.includes('cpu'), `the cpu backend was started before the test: ${before}`);
  const x = tf.variable(randomTensor([3, 3], 9));
  const { value, grads } = tf.variableGrads(() => tf.sum(tf.mul(x, x)) as tf.Scalar, [x]);
  tf.dispose([value, x, ...Object.values(grads)]);
  assert.deepEqual(Object.keys(registry).sort(), before);
});

const backends = ['cpu', 'wasm', ...(loadBlas().ok ? ['blas' as const] : [])] as const;
for (const backend of backends) {
  test(`saved tensors: tfjs's gradients bit for bit, no tape node per saved tensor, no leak [${backend}]`, async () => {
    await initBackend({ prefer: backend });
    const enc = BertEncoder.random(cfg, 3);
    const vars = enc.trainableVariables().map((v) => v.variable);
    const ids = tf.tensor2d(
      [
        [1, 5, 9, 13, 2],
        [3, 7, 11, 0, 0],
      ],
      [2, 5],
      'int32',
    );
    const mask = tf.tensor2d(
      [
        [1, 1, 1, 1, 1],
        [1, 1, 1, 0, 0],
      ],
      [2, 5],
      'int32',
    );
    const a = randomTensor([3, 4], 1);
    const b = randomTensor([3, 4], 2);
    const before = { tensors: tf.memory().numTensors, buffers: engine.state.numDataBuffers };
    const step = () =>
      tf.tidy(() => {
        const { value, grads } = tf.variableGrads(() => {
          const h = enc.forward({ inputIds: ids, attentionMask: mask }, { training: true, dropoutSeed: 5 }).hidden;
          return tf.mean(tf.square(h[2]!)) as tf.Scalar;
        }, vars);
        const custom = tf.grads((x: tf.Tensor, y: tf.Tensor) => tf.sum(tf.sin(savedProduct(x, y))))([a, b]);
        return [value, ...vars.map((v) => grads[v.name]!), ...custom].map((t) => t.dataSync().slice());
      });
    try {
      const ours = step();
      const tfjs = withTfjsClone(step);
      assert.equal(ours.length, vars.length + 3);
      ours.forEach((g, i) => assert.deepEqual(g, tfjs[i], `output ${i}`));

      // One multiplication saves both inputs: one tape node with the light clone, three with tfjs's.
      const nodes = () => {
        let count = 0;
        tf.tidy(() => {
          tf.variableGrads(() => {
            const start = engine.state.activeTape!.length;
            const p = tf.mul(vars[0]!, vars[0]!);
            count = engine.state.activeTape!.length - start;
            return tf.sum(p) as tf.Scalar;
          }, [vars[0]!]);
        });
        return count;
      };
      assert.equal(withTfjsClone(nodes), 3);
      assert.equal(nodes(), 1);
      assert.equal(tf.memory().numTensors, before.tensors, 'tensors leaked');
      assert.equal(engine.state.numDataBuffers, before.buffers, 'data buffers leaked');
    } finally {
      tf.dispose([ids, mask, a, b]);
      enc.dispose();
    }
  });
}
