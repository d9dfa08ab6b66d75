/**
 * The SIMD kernels (src/backend/simd-kernels.wat): the committed module is the assembled source; MsdGelu and
 * MsdGeluGrad on wasm equal the composite of tfjs ops on the cpu backend (the same formula) and a float64
 * reference, for sizes that exercise the vector loop and the one-lane tail, and for extreme values; the gradient
 * reaches the tape; nothing leaks.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tf } from '../../src/tf.js';
import { initBackend } from '../../src/backend/init.js';
import { gelu } from '../../src/model/bert.js';
import { GELU, GELU_GRAD, GELU_TRAIN, hasKernel } from '../../src/backend/simd-kernels.js';
import { loadBlas } from '../../src/backend/blas.js';
import { SIMD_KERNELS_WASM_BASE64 } from '../../src/backend/simd-kernels.wasm.js';
import { assembleSimdKernels, moduleSource } from '../../kernel-setup/build-wasm.js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createRng } from '../../src/rng.js';
import { runModule } from '../child-module.js';

test('the committed module is src/backend/simd-kernels.wat assembled (run `npm run build:wasm` after editing it)', async () => {
  const bytes = await assembleSimdKernels();
  assert.deepEqual(Buffer.from(SIMD_KERNELS_WASM_BASE64, 'base64'), Buffer.from(bytes));
  const committed = readFileSync(
    join(import.meta.dirname, '..', '..', 'src', 'backend', 'simd-kernels.wasm.ts'),
    'utf8',
  );
  assert.equal(committed, moduleSource(bytes));
});

/** erf in float64 by its Taylor series (|x| <= 6; beyond, erf is +-1 in float64). */
function erf64(z: number): number {
  const s = Math.sign(z);
  const a = Math.abs(z);
  if (a > 6) return s;
  let sum = a;
  let term = a;
  for (let k = 1; k < 500 && Math.abs(term) > 1e-17 * Math.abs(sum); k++) {
    term *= (-a * a) / k;
    sum += term / (2 * k + 1);
  }
  return ((s * 2) / Math.sqrt(Math.PI)) * sum;
}

function inputs(n: number, seed: number): Float32Array {
  const r = createRng(seed);
  const v = Float32Array.from({ length: n }, () => (r.next() - 0.5) * 12);
  const special = [0, -0, 30, -30, 1e-20, -1e-20, 3.4e38, -3.4e38, 5.5, -5.5, 1, -1];
  for (let i = 0; i < Math.min(n, special.length); i++) v[i] = special[i]!;
  return v;
}

/** GELU and its derivative on `backend` for the given values (plain arrays, so they survive the switch). */
async function run(backend: 'cpu' | 'wasm', x: Float32Array): Promise<{ y: number[]; dx: number[] }> {
  await initBackend({ prefer: backend });
  const before = tf.memory().numTensors;
  const xt = tf.tensor1d(x);
  const dyt = tf.tensor1d(Float32Array.from(x, (_, i) => 1 + (i % 3) * 0.5));
  const y = gelu(xt);
  const dx = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(gelu(t), dyt)))(xt);
  const out = { y: Array.from(y.dataSync()), dx: Array.from(dx.dataSync()) };
  tf.dispose([xt, dyt, y, dx]);
  assert.equal(tf.memory().numTensors, before, `${backend}: tensors leaked`);
  return out;
}

test('MsdGelu and its gradient equal the composite on cpu and a float64 reference (vector loop and tail)', async () => {
  await initBackend({ prefer: 'wasm' });
  assert.ok(hasKernel(GELU), 'the wasm backend should run MsdGelu');
  for (const n of [0, 1, 3, 4, 5, 12, 1027, 4096]) {
    const x = inputs(n, n + 1);
    const simd = await run('wasm', x);
    const cpu = await run('cpu', x);
    for (let i = 0; i < n; i++) {
      const v = x[i]!;
      const Phi = 0.5 * (1 + erf64(v / Math.SQRT2));
      const g = (1 + (i % 3) * 0.5) * (Phi + (v * Math.exp((-v * v) / 2)) / Math.sqrt(2 * Math.PI));
      const want = [v * Phi, g];
      const got = [simd.y[i]!, simd.dx[i]!];
      const comp = [cpu.y[i]!, cpu.dx[i]!];
      for (let j = 0; j < 2; j++) {
        const what = `${j ? 'dx' : 'y'}[${i}] of ${n} at x = ${v}`;
        const tol = 1e-6 * Math.max(1, Math.abs(want[j]!));
        assert.ok(Math.abs(got[j]! - want[j]!) <= tol, `${what}: simd ${got[j]} vs float64 ${want[j]}`);
        assert.ok(Math.abs(got[j]! - comp[j]!) <= tol, `${what}: simd ${got[j]} vs cpu composite ${comp[j]}`);
      }
    }
  }
});

test('under the tape gelu runs MsdGeluTrain: the value of MsdGelu and the gradient of MsdGeluGrad, bit for bit', async () => {
  for (const backend of ['wasm', ...(loadBlas().ok ? ['blas' as const] : [])] as const) {
    await initBackend({ prefer: backend });
    for (const n of [1, 3, 4, 5, 1027]) {
      const before = tf.memory().numTensors;
      const x = tf.tensor1d(inputs(n, 50 + n));
      const dy = tf.tensor1d(Float32Array.from({ length: n }, (_, i) => 1 + (i % 5) * 0.25 - (i % 2) * 3));
      const plainY = tf.engine().runKernel(GELU, { x }) as tf.Tensor;
      const plainDx = tf.engine().runKernel(GELU_GRAD, { x, dy }) as tf.Tensor;
      const { value, grad } = tf.valueAndGrad((t: tf.Tensor) => tf.sum(tf.mul(gelu(t), dy)))(x);
      let taped: tf.Tensor | undefined;
      tf.grad((t: tf.Tensor) => {
        taped = tf.keep(gelu(t));
        return tf.sum(taped);
      })(x).dispose();
      const what = `${backend}, n = ${n}`;
      assert.deepEqual(grad.dataSync(), plainDx.dataSync(), `${what}: gradient`);
      assert.deepEqual(taped!.dataSync(), plainY.dataSync(), `${what}: value under the tape`);
      tf.dispose([x, dy, plainY, plainDx, value, grad, taped!]);
      assert.equal(tf.memory().numTensors, before, `${what}: tensors leaked`);
    }
    // which kernel runs where: MsdGeluTrain under the tape, MsdGelu without it (inference needs no derivative)
    const x = tf.tensor2d(inputs(64, 9), [8, 8]);
    const names = async (f: () => tf.TensorContainer) => (await tf.profile(f)).kernelNames;
    const underTape = await names(() => tf.grad((t: tf.Tensor) => tf.sum(gelu(t)))(x));
    const inference = await names(() => gelu(x));
    assert.ok(underTape.includes(GELU_TRAIN) && !underTape.includes(GELU_GRAD), `${backend}: ${underTape}`);
    assert.deepEqual(inference, [GELU], `${backend}: ${inference}`);
    x.dispose();
  }
});

test('MsdGelu is not a kernel of the cpu backend: gelu there is the composite of tfjs ops', async () => {
  await initBackend({ prefer: 'cpu' });
  assert.equal(hasKernel(GELU), false);
});

test('MSD_SIMD=off: gelu runs as tfjs ops and the backend summary says so (child process)', async () => {
  const script =
    "import { initBackend } from './src/backend/init.ts'; import { GELU, hasKernel } from './src/backend/simd-kernels.ts';" +
    ' const i = await initBackend(); console.log(JSON.stringify({ summary: i.summary, gelu: hasKernel(GELU) }));';
  const run = (simd: string) =>
    runModule<{ summary: string; gelu: boolean }>(script, { MSD_SIMD: simd, MSD_BACKEND: 'wasm' });
  const off = run('off');
  assert.equal(off.gelu, false);
  assert.match(off.summary, /tfjs-backend-wasm \(SIMD kernels off: MSD_SIMD=off\)/);
  const on = run('');
  assert.equal(on.gelu, true);
  assert.doesNotMatch(on.summary, /SIMD kernels off/);
});
