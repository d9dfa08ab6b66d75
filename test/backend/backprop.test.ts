/**
 * src/backend/backprop.ts: on every backend, the freeing backward walk gives tfjs's gradients bit for bit (a BERT
 * student-like step: two forwards through the same weights on one tape, dropout, a frozen prefix; a gradient
 * function that returns its dy; one tensor returned for two inputs; a dy passed in; gradients nested in a function
 * being differentiated), leaks nothing, and holds far less at the end of its walk than tfjs's walk does.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tf } from '../../src/tf.js';
import { initBackend } from '../../src/backend/init.js';
import { loadBlas } from '../../src/backend/blas.js';
import { recordForward, withTfjsBackprop } from '../../src/backend/backprop.js';
import { BertEncoder } from '../../src/model/bert.js';
import { bertConfig } from '../../src/model/config.js';
import { createRng } from '../../src/rng.js';
import { randomTensor } from '../random-tensor.js';

const values = randomTensor;

/** Gradients as arrays, with both walks; the tensors are freed. */
function both(run: () => tf.Tensor[]): { ours: Float32Array[]; tfjs: Float32Array[] } {
  const read = (ts: tf.Tensor[]) => {
    const out = ts.map((t) => t.dataSync() as Float32Array);
    tf.dispose(ts);
    return out;
  };
  return { ours: read(run()), tfjs: read(withTfjsBackprop(run)) };
}

/** A custom-gradient function typed as tfjs's declaration wants it (its inputs typed as tensors or the save function). */
const asGrad = <F>(f: F) => f as unknown as Parameters<typeof tf.customGrad>[0];

/** A gradient function that hands its dy back unchanged: the same tensor object becomes the input's gradient. */
const passThrough = tf.customGrad(
  asGrad((x: tf.Tensor, save: tf.GradSaveFunc) => {
    save([]);
    return { value: tf.clone(x), gradFunc: (dy: tf.Tensor | tf.Tensor[]) => dy as tf.Tensor };
  }),
);
/** a + b whose gradient returns one tensor object for both inputs. */
const sharedGrad = tf.customGrad(
  asGrad((a: tf.Tensor, b: tf.Tensor, save: tf.GradSaveFunc) => {
    save([]);
    return { value: tf.add(a, b), gradFunc: (dy: tf.Tensor | tf.Tensor[]) => [dy as tf.Tensor, dy as tf.Tensor] };
  }),
);

const cfg = bertConfig({
  vocabSize: 60,
  hiddenSize: 16,
  numLayers: 3,
  numHeads: 4,
  intermediateSize: 32,
  maxPositions: 32,
  layerNormEps: 1e-12,
});

/** A batch of b rows of t random token ids (seeded), every position attended. */
function randomBatch(seed: number, b: number, t: number): { inputIds: tf.Tensor2D; attentionMask: tf.Tensor2D } {
  const rng = createRng(seed);
  const ids = Int32Array.from({ length: b * t }, () => 1 + Math.floor(rng.next() * 59));
  return { inputIds: tf.tensor2d(ids, [b, t], 'int32'), attentionMask: tf.ones([b, t], 'int32') as tf.Tensor2D };
}

const backends = ['cpu', 'wasm', ...(loadBlas().ok ? ['blas' as const] : [])] as const;
for (const backend of backends) {
  test(`the freeing walk gives tfjs's gradients bit for bit and leaks nothing [${backend}]`, async () => {
    await initBackend({ prefer: backend });
    const enc = BertEncoder.random(cfg, 4);
    const frozen = { freezeEmbeddings: true, freezeLayers: 1 };
    const vars = enc.trainableVariables(frozen).map((v) => v.variable);
    const [target, source] = [randomBatch(1, 3, 9), randomBatch(2, 2, 7)];
    const before = tf.memory().numTensors;
    try {
      // A student-like step: target and source forwards through the same weights on one tape, with dropout.
      const bert = both(() => {
        const { value, grads } = tf.variableGrads(() => {
          const opts = { training: true, dropoutSeed: 7, frozen };
          const t = enc.forward(target, opts).hidden;
          const s = enc.forward(source, { ...opts, dropoutSeed: 8 }).hidden;
          const cls = (h: tf.Tensor3D) => tf.squeeze(tf.slice(h, [0, 0, 0], [-1, 1, -1]), [1]);
          return tf.add(tf.mean(tf.square(t[3]!)), tf.sum(tf.mul(cls(t[2]!), tf.mean(cls(s[3]!), 0)))) as tf.Scalar;
        }, vars);
        value.dispose();
        return vars.map((v) => grads[v.name]!);
      });
      assert.equal(bert.ours.length, vars.length);
      bert.ours.forEach((g, i) => assert.deepEqual(g, bert.tfjs[i], `gradient of ${vars[i]!.name}`));

      // Aliased gradients: a dy handed back as the input's gradient, one object for two inputs.
      const x = values([4, 5], 3);
      const aliased = both(() => [
        tf.grad((v: tf.Tensor) => {
          const p = passThrough(tf.mul(v, 2));
          const q = sharedGrad(tf.mul(p, 3), tf.sin(v));
          return tf.sum(tf.mul(q, q));
        })(x),
      ]);
      assert.deepEqual(aliased.ours, aliased.tfjs);

      // A dy passed in stays the caller's; gradients nested in a function being differentiated.
      const dy = values([4, 5], 4);
      const withDy = both(() => [tf.grad((v: tf.Tensor) => tf.mul(tf.tanh(v), v))(x, dy)]);
      assert.deepEqual(withDy.ours, withDy.tfjs);
      assert.equal(dy.isDisposed, false, 'the dy passed in was freed');
      const w = tf.tidy(() => tf.variable(values([5, 3], 5)));
      const nested = both(() => {
        const { value, grads } = tf.variableGrads(() => {
          const h = tf.matMul(x, w);
          // As the student's micro-batches do: a gradient at h's values read back as a constant.
          const inner = tf.grad((u: tf.Tensor) => tf.sum(tf.square(tf.tanh(u))))(tf.tensor(h.dataSync(), h.shape));
          return tf.sum(tf.mul(h, inner)) as tf.Scalar;
        }, [w]);
        value.dispose();
        return [grads[w.name]!];
      });
      assert.deepEqual(nested.ours, nested.tfjs);
      tf.dispose([x, dy, w]);
      assert.equal(tf.memory().numTensors, before, 'no tensor leaks');
    } finally {
      tf.dispose([target.inputIds, target.attentionMask, source.inputIds, source.attentionMask]);
      enc.dispose();
    }
  });
}

for (const backend of backends) {
  test(`recordForward: forwards walked later from several outputs give the one-tape gradients [${backend}]`, async () => {
    await initBackend({ prefer: backend });
    const enc = BertEncoder.random(cfg, 5);
    const frozen = { freezeEmbeddings: true, freezeLayers: 1 };
    const vars = enc.trainableVariables(frozen).map((v) => v.variable);
    const [target, source] = [randomBatch(3, 3, 9), randomBatch(4, 2, 7)];
    const opts = { training: true, dropoutSeed: 11, frozen };
    const cls = (h: tf.Tensor3D) => tf.squeeze(tf.slice(h, [0, 0, 0], [-1, 1, -1]), [1]) as tf.Tensor2D;
    // A loss local to the target forward plus a term coupling both forwards' [CLS] rows (as the MMD terms do).
    const local = (h: tf.Tensor3D[]) => tf.mean(tf.square(h[3]!)) as tf.Scalar;
    const coupling = (ct: tf.Tensor, cs: tf.Tensor) =>
      tf.add(tf.sum(tf.mul(ct, tf.mean(cs, 0))), tf.mean(tf.square(ct))) as tf.Scalar;
    const before = tf.memory().numTensors;
    try {
      const oneTape = tf.variableGrads(() => {
        const t = enc.forward(target, opts).hidden;
        const s = enc.forward(source, { ...opts, dropoutSeed: 12 }).hidden;
        return tf.add(local(t), coupling(cls(t[2]!), cls(s[3]!))) as tf.Scalar;
      }, vars);
      // The same with each forward on a tape of its own, walked once the coupling's gradient is known.
      const rt = recordForward(() => {
        const t = enc.forward(target, opts).hidden;
        return { loss: local(t), cls: cls(t[2]!) };
      });
      const rs = recordForward(() => ({ cls: cls(enc.forward(source, { ...opts, dropoutSeed: 12 }).hidden[3]!) }));
      const constant = (x: tf.Tensor) => tf.tensor(x.dataSync(), x.shape);
      const [yt, ys] = [constant(rt.value.cls), constant(rs.value.cls)];
      const [gt, gs] = tf.grads((a: tf.Tensor, b: tf.Tensor) => coupling(a, b))([yt, ys]);
      const one = tf.scalar(1);
      // A variable no path reaches gets undefined.
      const unused = tf.tidy(() => tf.variable(tf.zeros([2])));
      const fromT = rt.backward(
        [
          [rt.value.loss, one],
          [rt.value.cls, gt!],
        ],
        [...vars, unused],
      );
      const fromS = rs.backward([[rs.value.cls, gs!]], [...vars, unused]);
      assert.equal(fromT.length, vars.length + 1);
      assert.equal(fromT[vars.length] ?? fromS[vars.length], undefined, 'an unreached variable gets undefined');
      unused.dispose();
      assert.equal(gt!.isDisposed || gs!.isDisposed || one.isDisposed, false, "the seeds stay the caller's");
      assert.throws(() => rs.backward([[rs.value.cls, gs!]], vars), /already walked/);
      vars.forEach((v, i) => {
        const sum = fromS[i] ? tf.add(fromT[i]!, fromS[i]!) : fromT[i]!;
        assert.deepEqual(sum.dataSync(), oneTape.grads[v.name]!.dataSync(), `gradient of ${v.name}`);
        if (fromS[i]) sum.dispose();
      });
      tf.dispose([...fromT, ...fromS].filter((g): g is tf.Tensor => g !== undefined));
      tf.dispose([rt.value.loss, rt.value.cls, rs.value.cls, yt, ys, gt!, gs!, one, oneTape.value]);
      tf.dispose(Object.values(oneTape.grads));
      // A forward released without a walk frees its saved tensors.
      const unwalked = recordForward(() => local(enc.forward(target, opts).hidden));
      unwalked.release();
      unwalked.value.dispose();
      assert.throws(() => unwalked.backward([], vars), /already walked or released/);
      assert.equal(tf.memory().numTensors, before, 'no tensor leaks');
    } finally {
      tf.dispose([target.inputIds, target.attentionMask, source.inputIds, source.attentionMask]);
      enc.dispose();
    }
  });
}

test('at the end of the walk the freeing one holds a fraction of what tfjs holds', async () => {
  await initBackend({ prefer: 'wasm' });
  // A probe whose gradient runs last in the walk (it is the first op of the forward) and records the live bytes.
  let live = 0;
  const probe = tf.customGrad(
    asGrad((x: tf.Tensor, save: tf.GradSaveFunc) => {
      save([]);
      return {
        value: tf.clone(x),
        gradFunc: (dy: tf.Tensor | tf.Tensor[]) => {
          live = tf.memory().numBytes;
          return tf.clone(dy as tf.Tensor);
        },
      };
    }),
  );
  const ws = tf.tidy(() => Array.from({ length: 20 }, (_, i) => tf.variable(values([64, 64], 10 + i))));
  const x = tf.tidy(() => tf.variable(values([64, 64], 9)));
  const base = tf.memory().numBytes;
  const step = () => {
    const { value, grads } = tf.variableGrads(() => {
      let h: tf.Tensor = probe(x);
      for (const w of ws) h = tf.add(tf.tanh(tf.matMul(h, w)), h);
      return tf.sum(tf.mul(h, h)) as tf.Scalar;
    });
    tf.dispose([value, ...Object.values(grads)]);
    return live - base;
  };
  const ours = step();
  const tfjs = withTfjsBackprop(step);
  // tfjs's walk still holds every saved activation (2 per layer) and every intermediate gradient (about 3 per
  // layer), 16 KiB each; the freeing walk only the weights' gradients and the few in flight.
  assert.ok(tfjs > 80 * 64 * 64 * 4, `tfjs's walk held ${tfjs} bytes`);
  assert.ok(ours < tfjs / 3, `the freeing walk held ${ours} bytes at the end against tfjs's ${tfjs}`);
  tf.dispose([x, ...ws]);
});
