/**
 * The fused LayerNorm (with its residual add) and attention-softmax gradient kernels (MsdLayerNorm,
 * MsdLayerNormGrad, MsdAttentionSoftmaxGrad, src/backend/simd-kernels.wat), the native attention softmax
 * (MsdAttentionSoftmax, also against float64) and the SIMD dropout mask (MsdDropoutMask) against the composite of
 * tfjs ops on the cpu backend: values and
 * the gradient of every input, for widths that exercise the vector loop and the one-by-one tail, with and without a
 * residual or a mask; a fully masked row and large scores; same input, same bits; nothing leaks.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tf } from '../../src/tf.js';
import { initBackend } from '../../src/backend/init.js';
import { attentionSoftmax, layerNorm } from '../../src/model/bert-ops.js';
import { ATTENTION_SOFTMAX_GRAD, DROPOUT_MASK, LAYER_NORM, hasKernel } from '../../src/backend/simd-kernels.js';
import { dropoutMask } from '../../src/model/dropout.js';
import { MASK_BIAS } from '../../src/model/bert.js';
import { createRng } from '../../src/rng.js';
import { ATTENTION_SOFTMAX, attentionSoftmaxOp } from '../../src/backend/attention-softmax-kernel.js';
import { runModule } from '../child-module.js';

const nativeOff = process.env.MSD_NATIVE?.trim() === 'off' || process.env.MSD_SIMD === 'off';

function values(n: number, seed: number, scale = 2, offset = 0): Float32Array {
  const r = createRng(seed);
  return Float32Array.from({ length: n }, () => offset + (r.next() - 0.5) * scale);
}

function assertClose(got: number[], want: number[], tol: number, what: string): void {
  assert.equal(got.length, want.length, `${what}: length`);
  for (let i = 0; i < got.length; i++) {
    const err = Math.abs(got[i]! - want[i]!);
    assert.ok(err <= tol * (1 + Math.abs(want[i]!)), `${what}[${i}]: ${got[i]} vs ${want[i]} (error ${err})`);
  }
}

/** Value and gradients of sum(w * f(...)) on `backend`, as plain arrays. */
async function grads(
  backend: 'cpu' | 'wasm',
  inputs: { data: Float32Array; shape: number[] }[],
  f: (...xs: tf.Tensor[]) => tf.Tensor,
): Promise<number[][]> {
  await initBackend({ prefer: backend });
  const before = tf.memory().numTensors;
  const xs = inputs.map(({ data, shape }) => tf.tensor(data, shape));
  const y = f(...xs);
  const w = tf.tensor(values(y.size, 99, 2, 0.5), y.shape);
  const gs = tf.grads((...a: tf.Tensor[]) => tf.sum(tf.mul(f(...a), w)))(xs);
  const out = [Array.from(y.dataSync()), ...gs.map((g) => Array.from(g.dataSync()))];
  tf.dispose([...xs, y, w, ...gs]);
  assert.equal(tf.memory().numTensors, before, `${backend}: tensors leaked`);
  return out;
}

test('MsdLayerNorm (with and without a residual) and its gradient equal the composite on cpu', async () => {
  await initBackend({ prefer: 'wasm' });
  assert.ok(hasKernel(LAYER_NORM), 'the wasm backend should run MsdLayerNorm');
  for (const [rows, cols] of [
    [1, 1],
    [3, 3],
    [2, 4],
    [5, 7],
    [4, 768],
    [3, 771],
  ] as const) {
    for (const withResidual of [false, true]) {
      const inputs = [
        { data: values(rows * cols, cols, 6, 1), shape: [rows, cols] },
        { data: values(cols, 7 * cols, 1, 1), shape: [cols] },
        { data: values(cols, 11 * cols, 1), shape: [cols] },
        ...(withResidual ? [{ data: values(rows * cols, 13 * cols, 4), shape: [rows, cols] }] : []),
      ];
      const f = (x: tf.Tensor, g: tf.Tensor, b: tf.Tensor, r?: tf.Tensor) => layerNorm(x, g, b, 1e-12, r);
      const simd = await grads('wasm', inputs, f);
      const cpu = await grads('cpu', inputs, f);
      const names = ['y', 'dx', 'dgamma', 'dbeta', 'dresidual'];
      // Float32 sums over a row (and dgamma over rows) in another order: a few ulps of the row's scale.
      simd.forEach((v, i) => assertClose(v, cpu[i]!, 2e-5, `${names[i]} ${rows}x${cols} residual=${withResidual}`));
      if (withResidual) assert.deepEqual(simd[4], simd[1], 'the residual gets dx');
    }
  }
});

test('the attention softmax (scale, mask bias) and its gradient by MsdAttentionSoftmaxGrad equal the composite on cpu', async () => {
  await initBackend({ prefer: 'wasm' });
  assert.ok(hasKernel(ATTENTION_SOFTMAX_GRAD), 'the wasm backend should run MsdAttentionSoftmaxGrad');
  for (const [b, heads, tq, tk] of [
    [1, 1, 1, 1],
    [2, 3, 5, 5],
    [2, 2, 4, 8],
    [3, 2, 6, 13],
    [3, 2, 3, 64],
    [3, 1, 2, 130],
  ] as const) {
    const maskValues = new Float32Array(b * tk);
    // Entry 0 keeps every key; entry 1 masks the last third; entry 2 masks all keys (a uniform row, as the composite).
    for (let j = 0; j < tk; j++) {
      if (b > 1 && j >= tk - Math.floor(tk / 3)) maskValues[tk + j] = MASK_BIAS;
      if (b > 2) maskValues[2 * tk + j] = MASK_BIAS;
    }
    const scores = values(b * heads * tq * tk, tk, 40);
    scores[0] = 300; // large scores: the max subtraction keeps exp finite
    const inputs = [{ data: scores, shape: [b * heads, tq, tk] }];
    const f = (s: tf.Tensor) =>
      tf.tidy(() => attentionSoftmax(s as tf.Tensor3D, tf.tensor(maskValues, [b, 1, 1, tk]), 0.125));
    const simd = await grads('wasm', inputs, f);
    const cpu = await grads('cpu', inputs, f);
    assertClose(simd[0]!, cpu[0]!, 3e-6, `probs ${[b, heads, tq, tk]}`);
    assertClose(simd[1]!, cpu[1]!, 3e-6, `dscores ${[b, heads, tq, tk]}`);
    const again = await grads('wasm', inputs, f);
    assert.deepEqual(again, simd, 'same input, same bits');
  }
});

test(
  'MsdAttentionSoftmax (native) is softmax within 4 float32 ulps of float64, 0 at masked keys, on any threads',
  {
    skip: nativeOff && 'no native library',
  },
  async () => {
    await initBackend({ prefer: 'wasm' });
    assert.ok(hasKernel(ATTENTION_SOFTMAX), 'initBackend registers MsdAttentionSoftmax with the native library');
    for (const [b, heads, tq, tk] of [
      [1, 1, 1, 1],
      [2, 2, 3, 7],
      [2, 3, 5, 8],
      [3, 2, 4, 61],
      [2, 12, 3, 128],
    ] as const) {
      const mask = new Float32Array(b * tk);
      for (let j = 0; j < tk; j++) if (b > 1 && j % 3 === 2) mask[tk + j] = MASK_BIAS;
      const scores = values(b * heads * tq * tk, tk + heads, 60);
      const scale = 0.125;
      const got = tf.tidy(() =>
        attentionSoftmaxOp(tf.tensor3d(scores, [b * heads, tq, tk]), tf.tensor(mask, [b, 1, 1, tk]), scale).dataSync(),
      );
      let worst = 0;
      for (let row = 0; row < b * heads * tq; row++) {
        const m = mask.subarray(Math.floor(row / (heads * tq)) * tk);
        const z = Array.from({ length: tk }, (_, j) => Math.fround(Math.fround(scores[row * tk + j]! * scale) + m[j]!));
        const top = Math.max(...z);
        const e = z.map((v) => Math.exp(v - top));
        const sum = e.reduce((x, y) => x + y, 0);
        for (let j = 0; j < tk; j++) {
          const p = got[row * tk + j]!;
          if (m[j] === MASK_BIAS) assert.equal(p, 0, `[${[b, heads, tq, tk]}] row ${row} key ${j} is masked`);
          const want = e[j]! / sum;
          worst = Math.max(worst, Math.abs(p - want) / Math.max(want, 1e-30));
        }
      }
      assert.ok(worst <= 4 * 2 ** -23, `[${[b, heads, tq, tk]}]: relative error ${worst} over 4 ulps`);
    }
    const script = `
    import { createHash } from 'node:crypto';
    import { tf } from './src/tf.js';
    import { initBackend } from './src/backend/init.js';
    import { attentionSoftmaxOp } from './src/backend/attention-softmax-kernel.js';
    await initBackend({ prefer: 'wasm' });
    const [b, h, t] = [4, 12, 96];
    const s = tf.tensor3d(Float32Array.from({ length: b * h * t * t }, (_, i) => Math.sin(i * 0.7) * 30), [b * h, t, t]);
    const m = tf.tensor(Float32Array.from({ length: b * t }, (_, i) => (i % 7 === 3 ? -1e4 : 0)), [b, 1, 1, t]);
    const p = attentionSoftmaxOp(s, m, 0.125).dataSync();
    console.log(JSON.stringify(createHash('sha256').update(new Uint8Array(Float32Array.from(p).buffer)).digest('hex')));
  `;
    assert.equal(
      runModule<string>(script, { MSD_NATIVE_THREADS: '1' }),
      runModule<string>(script, { MSD_NATIVE_THREADS: '2' }),
    );
  },
);

test('MsdDropoutMask gives the bits of the JavaScript mask (cpu) for any size, seed and rate', async () => {
  const cases: [number[], number, number][] = [
    [[0], 0.1, 1],
    [[1], 0.1, 2],
    [[3], 0.5, 3],
    [[2, 2], 0.1, 4],
    [[5], 0.25, 2 ** 32 - 1],
    [[7, 147], 0.1, 123456789],
    [[3, 4099], 0.9, 42],
    [[64], 0.999999, 7],
    [[9], 0, 8],
  ];
  const masks = async (backend: 'cpu' | 'wasm') => {
    await initBackend({ prefer: backend });
    assert.equal(hasKernel(DROPOUT_MASK), backend === 'wasm', `${backend}: MsdDropoutMask registered`);
    return cases.map(([shape, rate, seed]) => {
      const m = dropoutMask(shape, rate, seed);
      const v = Float32Array.from(m.dataSync());
      assert.deepEqual(m.shape, shape);
      m.dispose();
      return v;
    });
  };
  const simd = await masks('wasm');
  const js = await masks('cpu');
  cases.forEach(([shape, rate, seed], i) =>
    assert.deepEqual(simd[i], js[i], `mask [${shape}] rate ${rate} seed ${seed}: the same bits`),
  );
  assert.ok(js[5]!.some((v) => v === 0) && js[5]!.some((v) => v > 1), 'a mask with kept and dropped positions');
});
