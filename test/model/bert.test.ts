import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tf } from '../../src/tf.js';
import { BertEncoder, gelu, type BertInput } from '../../src/model/bert.js';
import { bertConfig } from '../../src/model/config.js';
import { withKeyTranspose } from '../../src/model/bert.js';
import { mulberry32 } from '../../src/model/random.js';

const cfg = bertConfig({
  vocabSize: 50,
  hiddenSize: 16,
  numLayers: 3,
  numHeads: 4,
  intermediateSize: 32,
  maxPositions: 64,
  layerNormEps: 1e-12,
});

function input(rows: number[][], len: number, types?: number[][]): BertInput {
  const ids = rows.map((r) => [...r, ...Array(len - r.length).fill(0)]);
  const mask = rows.map((r) => [...r.map(() => 1), ...Array(len - r.length).fill(0)]);
  const batch: BertInput = {
    inputIds: tf.tensor2d(ids, undefined, 'int32'),
    attentionMask: tf.tensor2d(mask, undefined, 'int32'),
  };
  if (types)
    batch.tokenTypeIds = tf.tensor2d(
      types.map((r) => [...r, ...Array(len - r.length).fill(0)]),
      undefined,
      'int32',
    );
  return batch;
}
const disposeInput = (b: BertInput) =>
  tf.dispose([b.inputIds, b.attentionMask, b.tokenTypeIds].filter((t) => t !== undefined));
const maxAbsDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
};

test('creating and disposing an encoder frees every tensor and byte', () => {
  const { numTensors, numBytes } = tf.memory();
  const enc = BertEncoder.random(cfg, 1);
  assert.equal(tf.memory().numTensors, numTensors + enc.variables().length);
  enc.dispose();
  assert.deepEqual([tf.memory().numTensors, tf.memory().numBytes], [numTensors, numBytes]);
});

test('forward: one hidden state per layer plus embeddings, shapes [b, t, H], no leaked tensors', () => {
  const enc = BertEncoder.random(cfg, 1);
  const batch = input(
    [
      [2, 7, 9, 3],
      [2, 5, 3],
    ],
    6,
  );
  const before = tf.memory().numTensors;
  const { hidden } = enc.forward(batch, { training: true, dropoutSeed: 3 });
  assert.equal(hidden.length, cfg.numLayers + 1);
  for (const h of hidden) assert.deepEqual(h.shape, [2, 6, 16]);
  assert.equal(tf.memory().numTensors, before + hidden.length);
  tf.dispose(hidden);
  assert.equal(tf.memory().numTensors, before);
  disposeInput(batch);
  enc.dispose();
  assert.throws(() => enc.forward(batch, { training: false }), /disposed/);
});

test('forward rejects bad inputs with clear errors', () => {
  const enc = BertEncoder.random(cfg, 1);
  const ids = tf.tensor2d([[1, 2]], undefined, 'float32');
  const mask = tf.tensor2d([[1, 1]], undefined, 'int32');
  assert.throws(
    () => enc.forward({ inputIds: ids as tf.Tensor2D, attentionMask: mask }, { training: false }),
    /inputIds must be an int32/,
  );
  const ids2 = tf.tensor2d([[1, 2, 3]], undefined, 'int32');
  assert.throws(
    () => enc.forward({ inputIds: ids2, attentionMask: mask }, { training: false }),
    /attentionMask must be int32 \[1,3\]/,
  );
  const long = tf.zeros([1, 65], 'int32') as tf.Tensor2D;
  assert.throws(
    () => enc.forward({ inputIds: long, attentionMask: long }, { training: false }),
    /exceeds max_position_embeddings 64/,
  );
  tf.dispose([ids, mask, ids2, long]);
  enc.dispose();
});

test('padding to 10 or to 60 gives the same hidden states at the real tokens (1e-5)', () => {
  const enc = BertEncoder.random(cfg, 2);
  const sentence = [2, 11, 12, 13, 14, 3];
  const outs = [10, 60].map((len) => {
    const batch = input([sentence, [2, 4, 3]], len);
    const { hidden } = enc.forward(batch, { training: false });
    const real = hidden.map((h) => tf.tidy(() => tf.slice(h, [0, 0, 0], [1, sentence.length, 16]).dataSync()));
    tf.dispose(hidden);
    disposeInput(batch);
    return real;
  });
  for (let m = 0; m <= cfg.numLayers; m++)
    assert.ok(maxAbsDiff(outs[0][m], outs[1][m]) < 1e-5, `layer ${m}: ${maxAbsDiff(outs[0][m], outs[1][m])}`);
  enc.dispose();
});

test('determinism: same seeds give the same weights and dropout; training=false has no dropout', () => {
  const a = BertEncoder.random(cfg, 5);
  const b = BertEncoder.random(cfg, 5);
  const c = BertEncoder.random(cfg, 6);
  const batch = input([[2, 8, 9, 10, 3]], 5);
  const last = (e: BertEncoder, opts: Parameters<BertEncoder['forward']>[1]) => {
    const { hidden } = e.forward(batch, opts);
    const v = hidden[cfg.numLayers].dataSync().slice();
    tf.dispose(hidden);
    return v;
  };
  assert.deepEqual(last(a, { training: false }), last(b, { training: false }));
  assert.notDeepEqual(last(a, { training: false }), last(c, { training: false }));
  assert.deepEqual(last(a, { training: true, dropoutSeed: 1 }), last(b, { training: true, dropoutSeed: 1 }));
  assert.notDeepEqual(last(a, { training: true, dropoutSeed: 1 }), last(a, { training: true, dropoutSeed: 2 }));
  assert.notDeepEqual(last(a, { training: true, dropoutSeed: 1 }), last(a, { training: false }));
  // Evaluation ignores the dropout seed entirely.
  assert.deepEqual(last(a, { training: false, dropoutSeed: 1 }), last(a, { training: false, dropoutSeed: 2 }));
  disposeInput(batch);
  [a, b, c].forEach((e) => e.dispose());
});

test("withKeyTranspose: 'explicit' (K^T then matMul) equals 'fused' (matMul transposeB, forward's way)", () => {
  const enc = BertEncoder.random(cfg, 9);
  const batch = input(
    [
      [2, 5, 6, 7, 3],
      [2, 9, 3],
    ],
    7,
    [
      [0, 0, 0, 1, 1],
      [0, 1, 1],
    ],
  );
  const x = withKeyTranspose('explicit', () => enc.forward(batch, { training: false }));
  const y = enc.forward(batch, { training: false });
  for (let m = 0; m <= cfg.numLayers; m++) assert.ok(maxAbsDiff(x.hidden[m].dataSync(), y.hidden[m].dataSync()) < 1e-5);
  tf.dispose([...x.hidden, ...y.hidden]);
  disposeInput(batch);
  enc.dispose();
});

// ---- float64 reference for the embeddings and one layer, straight from the BERT equations ----

function erf64(x: number): number {
  // Maclaurin series (|x| < 3) / continued fraction tail: accurate to ~1e-15 where GELU needs it.
  const ax = Math.abs(x);
  if (ax > 6) return Math.sign(x);
  if (ax < 3) {
    let sum = 0,
      term = x;
    for (let n = 0; n < 200; n++) {
      sum += term / (2 * n + 1);
      term *= (-x * x) / (n + 1);
      if (Math.abs(term) < 1e-17) break;
    }
    return (2 / Math.sqrt(Math.PI)) * sum;
  }
  let f = 0;
  for (let n = 60; n >= 1; n--) f = n / 2 / (ax + f);
  const erfc = Math.exp(-ax * ax) / Math.sqrt(Math.PI) / (ax + f);
  return Math.sign(x) * (1 - erfc);
}
const gelu64 = (x: number) => 0.5 * x * (1 + erf64(x / Math.SQRT2));

type Mat = number[][];
const matmul = (a: Mat, w: Float32Array, inDim: number, outDim: number, bias: Float32Array): Mat =>
  a.map((row) =>
    Array.from({ length: outDim }, (_, j) => {
      let s = bias[j];
      for (let k = 0; k < inDim; k++) s += row[k] * w[k * outDim + j];
      return s;
    }),
  );
const layerNorm64 = (a: Mat, g: Float32Array, b: Float32Array, eps: number): Mat =>
  a.map((row) => {
    const mean = row.reduce((s, v) => s + v, 0) / row.length;
    const variance = row.reduce((s, v) => s + (v - mean) ** 2, 0) / row.length;
    return row.map((v, i) => ((v - mean) / Math.sqrt(variance + eps)) * g[i] + b[i]);
  });

test('gelu matches the exact erf form computed in float64 (1e-6)', () => {
  const xs = Array.from({ length: 201 }, (_, i) => -8 + i * 0.08);
  const t = tf.tensor1d(xs);
  const y = gelu(t);
  assert.ok(maxAbsDiff(y.dataSync(), xs.map(gelu64)) < 1e-6);
  // The tanh approximation differs by more than that: this test tells the two apart.
  const tanhGelu = xs.map((x) => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3))));
  assert.ok(maxAbsDiff(tanhGelu, xs.map(gelu64)) > 1e-4);
  // Custom gradient: d/dx x Phi(x) = Phi(x) + x phi(x), against float64.
  const g = tf.grad((x: tf.Tensor) => tf.sum(gelu(x)))(t);
  const dgelu64 = (x: number) =>
    0.5 * (1 + erf64(x / Math.SQRT2)) + (x * Math.exp((-x * x) / 2)) / Math.sqrt(2 * Math.PI);
  assert.ok(maxAbsDiff(g.dataSync(), xs.map(dgelu64)) < 1e-6, `${maxAbsDiff(g.dataSync(), xs.map(dgelu64))}`);
  tf.dispose([t, y, g]);
});

test('embeddings and layer 1 match a float64 reference computation (1e-4)', () => {
  const small = bertConfig({
    vocabSize: 30,
    hiddenSize: 8,
    numLayers: 1,
    numHeads: 2,
    intermediateSize: 12,
    maxPositions: 16,
    layerNormEps: 1e-12,
  });
  const enc = BertEncoder.random(small, 4);
  // Fresh weights are small (std 0.02: attention would be nearly uniform) and LayerNorm/biases are 1/0; make
  // everything O(1) so that a wrong attention, gamma/beta or bias use shows up.
  const rand = mulberry32(99);
  for (const { name, variable } of enc.variables()) {
    const center = name.endsWith('gamma') ? 1 : 0;
    variable.assign(
      tf.tensor(
        Float32Array.from({ length: variable.size }, () => center + (rand() - 0.5) * 1.2),
        variable.shape,
      ),
    );
  }
  const W = enc.getWeights();
  const rows = [
    [2, 7, 8, 9, 3],
    [2, 5, 3],
  ];
  const types = [
    [0, 0, 1, 1, 1],
    [0, 1, 1],
  ];
  const T = 6,
    H = 8,
    NH = 2,
    DH = 4;
  const batch = input(rows, T, types);
  const { hidden } = enc.forward(batch, { training: false });

  const word = W.get('embeddings.word_embeddings')!,
    pos = W.get('embeddings.position_embeddings')!,
    typ = W.get('embeddings.token_type_embeddings')!;
  const w = (n: string) => W.get(`layer.0.${n}`)!;
  for (let b = 0; b < rows.length; b++) {
    const ids = [...rows[b], ...Array(T - rows[b].length).fill(0)];
    const tt = [...types[b], ...Array(T - rows[b].length).fill(0)];
    const mask = ids.map((_, i) => (i < rows[b].length ? 1 : 0));
    const e: Mat = ids.map((id, t) =>
      Array.from({ length: H }, (_, j) => word[id * H + j] + pos[t * H + j] + typ[tt[t] * H + j]),
    );
    const h0 = layerNorm64(
      e,
      W.get('embeddings.layer_norm.gamma')!,
      W.get('embeddings.layer_norm.beta')!,
      small.layerNormEps,
    );
    const q = matmul(h0, w('attention.query.kernel'), H, H, w('attention.query.bias'));
    const k = matmul(h0, w('attention.key.kernel'), H, H, w('attention.key.bias'));
    const v = matmul(h0, w('attention.value.kernel'), H, H, w('attention.value.bias'));
    const ctx: Mat = h0.map(() => Array(H).fill(0));
    for (let hd = 0; hd < NH; hd++) {
      for (let i = 0; i < T; i++) {
        // Padded keys are excluded outright (the limit of the additive mask bias).
        const scores = Array.from({ length: T }, (_, j) => {
          if (!mask[j]) return -Infinity;
          let s = 0;
          for (let d = 0; d < DH; d++) s += q[i][hd * DH + d] * k[j][hd * DH + d];
          return s / Math.sqrt(DH);
        });
        const mx = Math.max(...scores);
        const ex = scores.map((s) => Math.exp(s - mx));
        const z = ex.reduce((a, c) => a + c, 0);
        for (let d = 0; d < DH; d++) ctx[i][hd * DH + d] = ex.reduce((s, p, j) => s + (p / z) * v[j][hd * DH + d], 0);
      }
    }
    const ao = matmul(ctx, w('attention.output.kernel'), H, H, w('attention.output.bias'));
    const a = layerNorm64(
      ao.map((r, i) => r.map((x, j) => x + h0[i][j])),
      w('attention.layer_norm.gamma'),
      w('attention.layer_norm.beta'),
      small.layerNormEps,
    );
    const inter = matmul(a, w('intermediate.kernel'), H, 12, w('intermediate.bias')).map((r) => r.map(gelu64));
    const o = matmul(inter, w('output.kernel'), 12, H, w('output.bias'));
    const h1 = layerNorm64(
      o.map((r, i) => r.map((x, j) => x + a[i][j])),
      w('output.layer_norm.gamma'),
      w('output.layer_norm.beta'),
      small.layerNormEps,
    );

    const got0 = hidden[0].dataSync().slice(b * T * H, (b + 1) * T * H);
    const got1 = hidden[1].dataSync().slice(b * T * H, (b + 1) * T * H);
    // Padded positions are computed too (their values do not matter); compare all real positions.
    const n = rows[b].length * H;
    assert.ok(maxAbsDiff(got0.slice(0, n), h0.flat().slice(0, n)) < 1e-4, 'embeddings');
    assert.ok(
      maxAbsDiff(got1.slice(0, n), h1.flat().slice(0, n)) < 1e-4,
      `layer 1: ${maxAbsDiff(got1.slice(0, n), h1.flat().slice(0, n))}`,
    );
  }
  tf.dispose(hidden);
  disposeInput(batch);
  enc.dispose();
});

// ---- freezing ----

test('frozen parts get no gradient and no optimizer state; the rest train', () => {
  const enc = BertEncoder.random(cfg, 3);
  const batch = input(
    [
      [2, 7, 8, 3],
      [2, 9, 3],
    ],
    5,
  );
  const trainable = enc.trainableVariables({ freezeEmbeddings: true, freezeLayers: 1 });
  const names = trainable.map((v) => v.name);
  assert.ok(names.every((n) => !n.startsWith('embeddings.') && !n.startsWith('layer.0.')));
  assert.equal(names.length, 16 * 2);
  assert.ok(names.includes('layer.1.attention.query.kernel') && names.includes('layer.2.output.layer_norm.beta'));
  assert.equal(enc.trainableVariables().length, enc.variables().length);
  assert.throws(() => enc.trainableVariables({ freezeLayers: 4 }), /freezeLayers must be an integer in \[0, 3\]/);

  const trainedBefore = trainable.map((v) => v.variable.dataSync().slice());
  const frozenBefore = enc
    .variables()
    .filter((v) => !names.includes(v.name))
    .map((v) => v.variable.dataSync().slice());
  const loss = () => {
    const { hidden } = enc.forward(batch, { training: true, dropoutSeed: 1 });
    return tf.mean(tf.square(hidden[cfg.numLayers])) as tf.Scalar;
  };
  const { grads } = tf.variableGrads(
    loss,
    trainable.map((v) => v.variable),
  );
  const gradNames = Object.keys(grads);
  assert.equal(gradNames.length, trainable.length);
  for (const v of enc.variables()) {
    const g = grads[v.variable.name];
    if (names.includes(v.name)) {
      assert.ok(g && g.shape.join() === v.variable.shape.join(), `no gradient for ${v.name}`);
    } else {
      assert.equal(g, undefined, `frozen ${v.name} got a gradient`);
    }
  }
  assert.ok(
    tf.tidy(() => tf.sum(tf.abs(grads[enc.variable('layer.1.attention.query.kernel').name])).dataSync()[0]) > 0,
  );
  tf.dispose(Object.values(grads));

  const opt = tf.train.adam(1e-2);
  for (let s = 0; s < 2; s++)
    tf.dispose(
      opt.minimize(
        loss,
        true,
        trainable.map((v) => v.variable),
      ) ?? [],
    );
  // Adam keeps two slots per trained variable (plus its step counters), none for frozen ones.
  const slots = opt.getWeights().then((ws) => ws.filter((w) => !/iter|beta\d_power/.test(w.name)));
  return slots.then((ws) => {
    assert.equal(ws.length, 2 * trainable.length);
    const frozenAfter = enc
      .variables()
      .filter((v) => !names.includes(v.name))
      .map((v) => v.variable.dataSync().slice());
    assert.deepEqual(frozenAfter, frozenBefore);
    // Every trained kernel moved (LayerNorm of the last layer too); nothing became NaN.
    trainable.forEach((v, i) => {
      if (v.name.endsWith('.kernel'))
        assert.notDeepEqual(v.variable.dataSync(), trainedBefore[i], `${v.name} did not change`);
      assert.ok(v.variable.dataSync().every(Number.isFinite));
    });
    opt.dispose();
    disposeInput(batch);
    enc.dispose();
  });
});

test('forward({ frozen }) runs the frozen prefix off the tape: same outputs and gradients, fewer kept tensors', () => {
  const enc = BertEncoder.random(cfg, 8);
  const batch = input(
    [
      [2, 7, 8, 9, 3],
      [2, 9, 3],
    ],
    6,
  );
  const freeze = { freezeEmbeddings: true, freezeLayers: 2 };
  const vars = enc.trainableVariables(freeze);
  const run = (frozen: typeof freeze | undefined) => {
    let kept = 0;
    const { value, grads } = tf.variableGrads(
      () => {
        const before = tf.memory().numTensors;
        const { hidden } = enc.forward(batch, { training: true, dropoutSeed: 4, frozen });
        kept = tf.memory().numTensors - before;
        return tf.mean(tf.square(hidden[cfg.numLayers])) as tf.Scalar;
      },
      vars.map((v) => v.variable),
    );
    const out = { loss: value.dataSync()[0], grads: vars.map((v) => grads[v.variable.name].dataSync().slice()), kept };
    tf.dispose([value, ...Object.values(grads)]);
    return out;
  };
  const plain = run(undefined);
  const off = run(freeze);
  assert.equal(off.loss, plain.loss);
  off.grads.forEach((g, i) => assert.ok(maxAbsDiff(g, plain.grads[i]) < 1e-7, vars[i].name));
  assert.ok(off.kept < plain.kept - 20, `kept ${off.kept} vs ${plain.kept}`);
  // The hidden states of the frozen part are still returned.
  const h = enc.forward(batch, { training: false, frozen: freeze });
  const p = enc.forward(batch, { training: false });
  for (let m = 0; m <= cfg.numLayers; m++) assert.deepEqual(h.hidden[m].dataSync(), p.hidden[m].dataSync());
  tf.dispose([...h.hidden, ...p.hidden]);
  disposeInput(batch);
  enc.dispose();
});

test('layerNorm: value and hand-written gradient equal autodiff of the plain formula (1e-5), no leaked tensors', async () => {
  const { layerNorm } = await import('../../src/model/bert.js');
  const rand = mulberry32(11);
  const t = (shape: number[], scale = 1) =>
    tf.tensor(
      Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => (rand() * 2 - 1) * scale),
      shape,
    );
  const x = t([3, 5, 8], 3);
  const gamma = t([8]);
  const beta = t([8]);
  const w = t([3, 5, 8]);
  const before = tf.memory().numTensors;
  const plain = (xi: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => {
    const xc = tf.sub(xi, tf.mean(xi, -1, true));
    return tf.add(tf.mul(tf.mul(xc, tf.rsqrt(tf.add(tf.mean(tf.square(xc), -1, true), 1e-12))), g), b);
  };
  const loss = (f: typeof plain) => (xi: tf.Tensor, g: tf.Tensor, b: tf.Tensor) =>
    tf.sum(tf.mul(f(xi, g, b), w)) as tf.Scalar;
  const ours = tf.tidy(() =>
    [layerNorm(x, gamma, beta, 1e-12), ...tf.grads(loss((a, b, c) => layerNorm(a, b, c, 1e-12)))([x, gamma, beta])].map(
      (r) => r.dataSync(),
    ),
  );
  const ref = tf.tidy(() =>
    [plain(x, gamma, beta), ...tf.grads(loss(plain))([x, gamma, beta])].map((r) => r.dataSync()),
  );
  assert.equal(tf.memory().numTensors, before);
  ['value', 'dx', 'dgamma', 'dbeta'].forEach((name, i) =>
    assert.ok(maxAbsDiff(ours[i]!, ref[i]!) < 1e-5, `${name} differs by ${maxAbsDiff(ours[i]!, ref[i]!)}`),
  );
  tf.dispose([x, gamma, beta, w]);
});

test("frozenPrefix: continuing from an earlier forward's frozen-prefix states gives the same states and gradients", () => {
  const enc = BertEncoder.random(cfg, 11);
  const batch = input(
    [
      [2, 8, 9, 10, 3],
      [2, 7, 3],
    ],
    5,
  );
  const frozen = { freezeEmbeddings: true, freezeLayers: 1 };
  const opts = { training: true, dropoutSeed: 4, frozen };
  const vars = enc.trainableVariables(frozen).map((v) => v.variable);
  const before = tf.memory().numTensors;
  const run = (frozenPrefix?: tf.Tensor3D[]) => {
    let states: Float32Array[] = [];
    const { value, grads } = tf.variableGrads(() => {
      const { hidden } = enc.forward(batch, { ...opts, frozenPrefix });
      states = hidden.map((h) => h.dataSync() as Float32Array);
      return tf.sum(tf.square(hidden[cfg.numLayers]!)) as tf.Scalar;
    }, vars);
    const g = Object.values(grads).map((t) => t.dataSync().slice());
    tf.dispose([value, ...Object.values(grads)]);
    return { states, g };
  };
  const { hidden } = enc.forward(batch, opts);
  const prefix = hidden.slice(0, 2); // embeddings and the frozen layer 1
  tf.dispose(hidden.slice(2));
  const full = run();
  const resumed = run(prefix);
  assert.deepEqual(resumed.states, full.states, 'hidden states');
  assert.deepEqual(resumed.g, full.g, 'gradients');
  assert.ok(
    prefix.every((t) => !t.isDisposed),
    "the caller's prefix is still the caller's",
  );
  // A prefix from another dropout seed is taken as given: the layers after it differ (so the test above can fail).
  const other = enc.forward(batch, { ...opts, dropoutSeed: 5 });
  const mixed = enc.forward(batch, { ...opts, frozenPrefix: other.hidden.slice(0, 2) });
  assert.notDeepEqual(mixed.hidden[cfg.numLayers]!.dataSync(), full.states[cfg.numLayers]);
  tf.dispose([...other.hidden, ...mixed.hidden]);
  assert.throws(
    () => enc.forward(batch, { ...opts, frozenPrefix: prefix.slice(0, 1) }),
    /frozenPrefix has 1 states; expected 2/,
  );
  assert.throws(
    () => enc.forward(batch, { training: true, frozenPrefix: prefix }),
    /frozenPrefix needs frozen embeddings/,
  );
  tf.dispose(prefix);
  assert.equal(tf.memory().numTensors, before, 'tensors leaked');
  disposeInput(batch);
  enc.dispose();
});
