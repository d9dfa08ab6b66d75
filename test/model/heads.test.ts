import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tf } from '../../src/tf.js';
import { LayerHeads, resolveHeadLayers } from '../../src/model/heads.js';
import { initBackend } from '../../src/backend/init.js';
import { recordForward } from '../../src/backend/backprop.js';

const layerCases: [string, Parameters<typeof resolveHeadLayers>[0], number, number[] | RegExp][] = [
  ['default on 12 layers = 4..12', undefined, 12, [4, 5, 6, 7, 8, 9, 10, 11, 12]],
  ["'default' explicitly", 'default', 12, [4, 5, 6, 7, 8, 9, 10, 11, 12]],
  ["'all' = 1..12", 'all', 12, Array.from({ length: 12 }, (_, i) => i + 1)],
  ['default on a 2-layer model = its last layer', undefined, 2, [2]],
  ['explicit list, deduplicated and sorted', [12, 6, 6], 12, [6, 12]],
  ['layer 0 rejected', [0, 12], 12, /layer 0 is out of range; heads sit on layers 1..12/],
  ['layer 13 rejected', [13], 12, /layer 13 is out of range/],
  ['empty list rejected', [], 12, /must not be empty/],
];
for (const [what, layers, n, want] of layerCases) {
  test(`head layers: ${what}`, () => {
    if (want instanceof RegExp) assert.throws(() => resolveHeadLayers(layers, n), want);
    else assert.deepEqual(resolveHeadLayers(layers, n), want);
  });
}

test('logits: one [b, t, C] tensor per head layer from its own hidden state, separate weights, no leaks', () => {
  const H = 6,
    C = 5,
    L = 4;
  const heads = new LayerHeads({ hiddenSize: H, numLabels: C, numLayers: L, layers: 'all', seed: 1 });
  assert.equal(heads.mainLayer, 4);
  assert.equal(heads.variables().length, 2 * L);
  const hidden = Array.from({ length: L + 1 }, (_, m) => tf.randomNormal([2, 3, H], 0, 1, 'float32', m) as tf.Tensor3D);
  const before = tf.memory().numTensors;
  const logits = heads.logits(hidden, { training: false });
  assert.deepEqual([...logits.keys()], [1, 2, 3, 4]);
  for (const [m, t] of logits) {
    assert.deepEqual(t.shape, [2, 3, C]);
    // Reference: hidden[m] @ W_m + b_m for that layer's own weights.
    const w = heads.getWeights();
    const k = w.get(`classifier.layer_${m}.kernel`)!,
      b = w.get(`classifier.layer_${m}.bias`)!;
    const h = hidden[m].dataSync(),
      got = t.dataSync();
    for (let r = 0; r < 6; r++)
      for (let c = 0; c < C; c++) {
        let s = b[c];
        for (let j = 0; j < H; j++) s += h[r * H + j] * k[j * C + c];
        assert.ok(Math.abs(s - got[r * C + c]) < 1e-5);
      }
  }
  const k1 = heads.getWeights().get('classifier.layer_1.kernel')!,
    k2 = heads.getWeights().get('classifier.layer_2.kernel')!;
  assert.notDeepEqual(k1, k2);
  assert.equal(tf.memory().numTensors, before + L);
  tf.dispose([...logits.values()]);

  // Dropout only when training, reproducible with a seed.
  const a = heads.logits(hidden, { training: true, dropoutSeed: 3 });
  const b = heads.logits(hidden, { training: true, dropoutSeed: 3 });
  const e = heads.logits(hidden, { training: false });
  assert.deepEqual(a.get(4)!.dataSync(), b.get(4)!.dataSync());
  assert.notDeepEqual(a.get(4)!.dataSync(), e.get(4)!.dataSync());
  tf.dispose([...a.values(), ...b.values(), ...e.values(), ...hidden]);
  heads.dispose();
  assert.equal(tf.memory().numTensors, before - (L + 1) - 2 * L);
});

test('logits rejects hidden states that do not fit', () => {
  const heads = new LayerHeads({ hiddenSize: 4, numLabels: 3, numLayers: 12 });
  const few = [tf.zeros([1, 2, 4]) as tf.Tensor3D, tf.zeros([1, 2, 4]) as tf.Tensor3D];
  assert.throws(() => heads.logits(few, { training: false }), /no hidden state for layer 4 \(got 1 layers\)/);
  assert.throws(
    () => new LayerHeads({ hiddenSize: 4, numLabels: 0, numLayers: 12 }),
    /numLabels must be a positive integer/,
  );
  tf.dispose(few);
  heads.dispose();
});

for (const backend of ['cpu', 'wasm'] as const) {
  test(`training logits: the tape keeps the dropped hidden states, not the hidden states themselves [${backend}]`, async () => {
    await initBackend({ prefer: backend });
    const H = 8;
    const heads = new LayerHeads({ hiddenSize: H, numLabels: 3, numLayers: 2, layers: 'all', seed: 1, dropout: 0.5 });
    const hidden = [0, 1, 2].map((m) => tf.randomNormal([2, 4, H], 0, 1, 'float32', m) as tf.Tensor3D);
    const ids = hidden.map((h) => h.dataId);
    const rec = recordForward(() => [...heads.logits(hidden, { training: true, dropoutSeed: 9 }).values()]);
    tf.dispose([...rec.value, ...hidden]);
    // A reshape on the tape keeps its input for the backward pass: before dropout, that was each whole hidden state.
    ids.forEach((id, m) => assert.equal(tf.backend().refCount(id), 0, `hidden[${m}] still held by the tape`));
    rec.release();
    heads.dispose();
  });
}
