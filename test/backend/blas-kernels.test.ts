/**
 * The 'blas' backend (wasm with BatchMatMul/_FusedMatMul on the system BLAS) must compute what the cpu backend
 * computes: every transpose combination, 2-D and batched, broadcast batch dimensions, empty and 1-sized dimensions,
 * forward and gradient, and the fused bias/activation epilogue. Skipped, with the reason, where no BLAS loads.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tf, initBackend } from '../../src/index.js';
import { loadBlas } from '../../src/backend/blas.js';
import { blasMatMulActive, fillRows } from '../../src/backend/blas-kernels.js';
import { createRng } from '../../src/rng.js';

const blas = loadBlas();
const skip = blas.ok ? false : `no BLAS here: ${blas.reason}`;

type Case = { a: number[]; b: number[]; ta: boolean; tb: boolean };

/** Random float32 values from a seeded stream, so both backends see the same inputs. */
function values(shape: number[], seed: number): Float32Array {
  const r = createRng(seed);
  const n = shape.reduce((x, y) => x * y, 1);
  return Float32Array.from({ length: n }, () => r.next() * 2 - 1);
}

/** Runs `fn` on a backend and returns plain numbers (they survive the backend switch). */
async function on(
  backend: 'cpu' | 'blas' | 'wasm',
  fn: () => tf.Tensor[],
): Promise<{ shape: number[]; data: number[] }[]> {
  await initBackend({ prefer: backend });
  const before = tf.memory().numTensors;
  const outs = tf.tidy(fn);
  const plain = outs.map((t) => ({ shape: t.shape, data: Array.from(t.dataSync()) }));
  tf.dispose(outs);
  assert.equal(tf.memory().numTensors, before, `${backend}: tensors leaked`);
  return plain;
}

function assertClose(
  got: { shape: number[]; data: number[] }[],
  want: { shape: number[]; data: number[] }[],
  what: string,
  tol = 1e-4,
): void {
  assert.equal(got.length, want.length);
  for (let i = 0; i < want.length; i++) {
    assert.deepEqual(got[i]!.shape, want[i]!.shape, `${what}: shape of output ${i}`);
    let worst = 0;
    for (let j = 0; j < want[i]!.data.length; j++) {
      const scale = Math.max(1, Math.abs(want[i]!.data[j]!));
      worst = Math.max(worst, Math.abs(got[i]!.data[j]! - want[i]!.data[j]!) / scale);
    }
    assert.ok(worst <= tol, `${what}: output ${i} differs from cpu by ${worst}`);
  }
}

/**
 * op(A) x op(B) with shapes given before the transposes, plus both gradients of sum(C * W) where tfjs defines them:
 * tfjs-core 4.22's BatchMatMul gradient does not reduce over broadcast batch dimensions (the cpu backend throws), so
 * broadcast cases are checked forward only.
 */
function productAndGrads(c: Case, seed: number): () => tf.Tensor[] {
  return () => {
    const a = tf.tensor(values(c.a, seed), c.a);
    const b = tf.tensor(values(c.b, seed + 1), c.b);
    const y = tf.matMul(a, b, c.ta, c.tb);
    if (c.a.length !== c.b.length || c.a.slice(0, -2).some((d, i) => d !== c.b[i])) return [y];
    const w = tf.tensor(values(y.shape, seed + 2), y.shape);
    const grads = tf.grads((x: tf.Tensor, z: tf.Tensor) => tf.sum(tf.mul(tf.matMul(x, z, c.ta, c.tb), w)))([a, b]);
    return [y, ...grads];
  };
}

const shapes: Case[] = [];
for (const ta of [false, true]) {
  for (const tb of [false, true]) {
    const mk = (batch: number[], m: number, k: number, n: number, bBatch = batch): Case => ({
      a: [...batch, ...(ta ? [k, m] : [m, k])],
      b: [...bBatch, ...(tb ? [n, k] : [k, n])],
      ta,
      tb,
    });
    shapes.push(
      mk([], 7, 5, 3), // 2-D
      mk([], 1, 9, 1), // 1-sized dimensions
      mk([], 33, 64, 17),
      mk([4], 6, 8, 5), // batched
      mk([3], 5, 4, 2, []), // shared B (a weight matrix), one tall GEMM when A is not transposed
      mk([], 5, 4, 2, [3]), // shared A broadcast against batched B
      mk([2, 1], 3, 4, 5, [3]), // [2,1] x [3] -> [2,3] (tfjs's rule: entry i reads i % batch of each side)
      mk([1, 3], 2, 6, 2, [2, 1]), // [1,3] x [2,1] -> [2,3]
    );
  }
}

test(
  'BatchMatMul on BLAS equals the cpu backend: every transpose, batch and broadcast form, forward and gradient',
  { skip },
  async () => {
    for (const [i, c] of shapes.entries()) {
      const want = await on('cpu', productAndGrads(c, 100 + i));
      const got = await on('blas', productAndGrads(c, 100 + i));
      assert.ok(blasMatMulActive(), 'the blas backend must route matmuls to the BLAS');
      assertClose(got, want, `a ${c.a} b ${c.b} ta ${c.ta} tb ${c.tb}`);
    }
  },
);

test(
  'empty dimensions: m = 0 and n = 0 give empty outputs, k = 0 gives zeros (also in gradients)',
  { skip },
  async () => {
    for (const c of [
      { a: [0, 4], b: [4, 3], ta: false, tb: false },
      { a: [2, 4], b: [4, 0], ta: false, tb: false },
      { a: [2, 0], b: [0, 3], ta: false, tb: false },
      { a: [0, 2], b: [3, 0], ta: true, tb: true },
      { a: [3, 2, 0], b: [0, 5], ta: false, tb: false },
    ] satisfies Case[]) {
      const run = () => {
        const a = tf.tensor(values(c.a, 1), c.a);
        const b = tf.tensor(values(c.b, 2), c.b);
        return [tf.matMul(a, b, c.ta, c.tb)];
      };
      const want = await on('cpu', run);
      const got = await on('blas', run);
      assertClose(got, want, `a ${c.a} b ${c.b}`);
      if (c.a.includes(0) && c.b.includes(0) && want[0]!.data.length > 0) assert.ok(got[0]!.data.every((v) => v === 0));
    }
  },
);

test(
  '_FusedMatMul on BLAS: bias (rank 1 and broadcast) and every fusable activation, forward and gradient',
  { skip },
  async () => {
    const cases: { act: tf.fused.Activation; biasShape: number[] | null; batch: number[] }[] = [
      { act: 'linear', biasShape: [5], batch: [] },
      { act: 'relu', biasShape: [5], batch: [2] },
      { act: 'relu6', biasShape: [4, 5], batch: [] },
      { act: 'elu', biasShape: [1], batch: [] },
      { act: 'sigmoid', biasShape: [2, 1, 5], batch: [2] },
      { act: 'leakyrelu', biasShape: null, batch: [] },
      { act: 'prelu', biasShape: [5], batch: [] },
    ];
    for (const [i, c] of cases.entries()) {
      const run = () => {
        const a = tf.tensor(values([...c.batch, 4, 6], 10 + i), [...c.batch, 4, 6]);
        const b = tf.tensor(values([6, 5], 20 + i), [6, 5]).mul(3);
        const bias = c.biasShape ? tf.tensor(values(c.biasShape, 30 + i), c.biasShape) : undefined;
        const prelu = c.act === 'prelu' ? tf.tensor(values([5], 40 + i), [5]) : undefined;
        const f = (x: tf.Tensor) =>
          tf.fused.matMul({
            a: x as tf.Tensor3D,
            b: b as tf.Tensor2D,
            bias,
            activation: c.act,
            preluActivationWeights: prelu,
            leakyreluAlpha: 0.3,
          });
        const y = f(a);
        const outs: tf.Tensor[] = [y];
        // tfjs defines gradients for linear and relu-style fused activations; check them where it does.
        if (c.act === 'linear' || c.act === 'relu')
          outs.push(tf.grad((x: tf.Tensor) => tf.sum(tf.mul(f(x), tf.onesLike(y))))(a));
        return outs;
      };
      const want = await on('cpu', run);
      const got = await on('blas', run);
      assertClose(got, want, `fused ${c.act} bias ${c.biasShape}`);
    }
  },
);

test('switching back to the plain wasm backend restores its own matmul kernels', { skip }, async () => {
  await initBackend({ prefer: 'blas' });
  assert.equal(blasMatMulActive(), true);
  const info = await initBackend({ prefer: 'wasm' });
  assert.equal(info.name, 'wasm');
  assert.equal(blasMatMulActive(), false);
  const c: Case = { a: [3, 4], b: [5, 4], ta: false, tb: true };
  const want = await on('cpu', productAndGrads(c, 7));
  const got = await on('wasm', productAndGrads(c, 7));
  assertClose(got, want, 'stock wasm after blas');
});

test('automatic choice prefers blas over wasm when a BLAS loads, and says where it came from', { skip }, async () => {
  const saved = process.env.MSD_BACKEND;
  delete process.env.MSD_BACKEND;
  try {
    await initBackend({ prefer: 'cpu' });
    // A fresh automatic choice after an explicit one: request blas explicitly to check its summary, then auto.
    const info = await initBackend({ prefer: 'blas' });
    assert.equal(info.name, 'blas');
    assert.equal(info.tfBackend, 'wasm');
    assert.match(
      info.summary,
      /^backend: blas \[tfjs 'wasm' from @tensorflow\/tfjs-backend-wasm \+ .+ via koffi \(small products [^)]+\)\]/,
    );
  } finally {
    if (saved !== undefined) process.env.MSD_BACKEND = saved;
  }
});

test(
  'Sum on the blas backend: leading axes through BLAS, every other reduction as the cpu backend',
  { skip },
  async () => {
    const cases: { shape: number[]; axis: number | number[]; keepDims: boolean }[] = [
      { shape: [37, 5], axis: 0, keepDims: false }, // a bias gradient
      { shape: [4, 6, 3], axis: [0, 1], keepDims: false }, // [b, t, H] -> [H]
      { shape: [4, 6, 3], axis: [1, 0], keepDims: true },
      { shape: [4, 6, 3], axis: -1, keepDims: false }, // innermost: the stock kernel
      { shape: [4, 6, 3], axis: 1, keepDims: true }, // middle: the stock kernel
      { shape: [4, 6], axis: [0, 1], keepDims: false }, // everything: the stock kernel
      { shape: [0, 3], axis: 0, keepDims: false }, // no rows: zeros
    ];
    for (const [i, c] of cases.entries()) {
      const run = () => [tf.sum(tf.tensor(values(c.shape, 50 + i), c.shape), c.axis, c.keepDims)];
      assertClose(await on('blas', run), await on('cpu', run), `sum ${c.shape} axis ${c.axis} keepDims ${c.keepDims}`);
    }
    // int32 sums are not float32 BLAS work: the stock kernel keeps them exact.
    const ints = () => [tf.sum(tf.tensor2d([1, 2, 3, 4], [2, 2], 'int32'), 0)];
    assert.deepEqual((await on('blas', ints))[0]!.data, [4, 6]);
  },
);

test('without a BLAS the automatic choice falls back to wasm and says why (child process, MSD_BLAS pointing nowhere)', async () => {
  const { spawnSync } = await import('node:child_process');
  const script =
    "import { initBackend } from './src/backend/init.ts'; const i = await initBackend(); console.log(JSON.stringify(i));";
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    encoding: 'utf8',
    env: { ...process.env, MSD_BLAS: '/nonexistent/libopenblas.so.0', MSD_BACKEND: '' },
  });
  assert.equal(r.status, 0, r.stderr.slice(-1000));
  const info = JSON.parse(r.stdout.trim().split('\n').pop()!) as { name: string; summary: string };
  assert.equal(info.name, 'wasm');
  assert.match(
    info.summary,
    /skipped .*blas \(no BLAS library found \(tried \/nonexistent\/libopenblas\.so\.0: no such file\); on Debian\/Ubuntu: apt-get install libopenblas0-pthread/,
  );
  // Asking for it explicitly is an error with the same reason, never a silent fallback.
  const r2 = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    encoding: 'utf8',
    env: { ...process.env, MSD_BLAS: '/nonexistent/libopenblas.so.0', MSD_BACKEND: 'blas' },
  });
  assert.notEqual(r2.status, 0);
  assert.match(r2.stderr, /Backend 'blas' was requested \(MSD_BACKEND\) but is not available: no BLAS library found/);
});

test('fillRows sets every row to the bias row, for any number of rows (the doubling copies)', () => {
  for (const rows of [0, 1, 2, 3, 5, 8, 13]) {
    const n = 3;
    const row = Float32Array.from([1.5, -2, 7, 99]); // one value past n that must not be copied
    const c = new Float32Array(rows * n).fill(NaN);
    fillRows(c, row, n);
    const want = Array.from({ length: rows * n }, (_, i) => row[i % n]);
    assert.deepEqual(Array.from(c), want, `${rows} rows`);
  }
});
