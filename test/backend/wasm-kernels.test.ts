/**
 * The wasm backend must train embeddings: the gradient of `gather` is `UnsortedSegmentSum`, which tfjs-backend-wasm
 * 4.22 does not ship. These tests compare our kernel with the cpu backend's on random inputs, and its native version
 * (native-kernels.c) with its loop in JavaScript.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tf, initBackend } from '../../src/index.js';
import { activeNativeKernels, useNativeKernels } from '../../src/backend/simd-kernels.js';

/** Runs `fn` on the named backend and returns plain arrays (so results survive the backend switch). */
async function on<T>(backend: 'cpu' | 'wasm', fn: () => T): Promise<T> {
  await initBackend({ prefer: backend });
  return fn();
}

/** 1.5 i - 7 at flat position i (bool: every third position true). */
function ramp(shape: number[], dtype: 'float32' | 'int32' | 'bool'): tf.Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return tf.tensor(
    dtype === 'bool'
      ? Array.from({ length: n }, (_, i) => i % 3 === 0)
      : Array.from({ length: n }, (_, i) => i * 1.5 - 7),
    shape,
    dtype,
  );
}

function randomIds(n: number, vocab: number, seed: number): number[] {
  let s = seed;
  return Array.from({ length: n }, () => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return s % vocab;
  });
}

test('gradient of an embedding lookup on wasm equals cpu within 1e-5', async () => {
  for (const [vocab, dim, b, t, seed] of [
    [50, 8, 2, 4, 1],
    [1000, 64, 4, 33, 2],
    [7, 3, 5, 16, 3], // many repeated ids: accumulation into the same row
  ] as const) {
    const ids = randomIds(b * t, vocab, seed);
    const gradOn = (backend: 'cpu' | 'wasm') =>
      on(backend, () =>
        tf.tidy(() => {
          const table = tf.randomNormal([vocab, dim], 0, 1, 'float32', seed);
          const upstream = tf.randomNormal([b, t, dim], 0, 1, 'float32', seed + 100);
          const idx = tf.tensor2d(ids, [b, t], 'int32');
          // loss = sum(gather(table, idx) * upstream) so d loss / d table = segment sum of upstream rows
          const g = tf.grad((tab: tf.Tensor) => tf.sum(tf.mul(tf.gather(tab, idx), upstream)))(table);
          return { shape: g.shape, values: Array.from(g.dataSync()) };
        }),
      );
    const cpu = await gradOn('cpu');
    const wasm = await gradOn('wasm');
    assert.deepEqual(wasm.shape, cpu.shape);
    let maxDiff = 0;
    for (let i = 0; i < cpu.values.length; i++) maxDiff = Math.max(maxDiff, Math.abs(cpu.values[i] - wasm.values[i]));
    assert.ok(maxDiff < 1e-5, `max |wasm - cpu| = ${maxDiff} for vocab ${vocab}, dim ${dim}`);
    // The gradient is not trivially zero: rows that were looked up received something.
    assert.ok(cpu.values.some((v) => Math.abs(v) > 1e-3));
  }
});

test('unsortedSegmentSum on wasm matches cpu, drops out-of-range ids, leaks no tensors', async () => {
  const run = (backend: 'cpu' | 'wasm') =>
    on(backend, () => {
      const before = tf.memory().numTensors;
      const out = tf.tidy(() => {
        const x = tf.tensor2d([1, 2, 3, 4, 5, 6, 7, 8], [4, 2]);
        const seg = tf.tensor1d([2, 0, 2, 5], 'int32'); // 5 is out of range for numSegments 3
        return tf.unsortedSegmentSum(x, seg, 3);
      });
      const values = Array.from(out.dataSync());
      out.dispose();
      assert.equal(tf.memory().numTensors, before);
      return values;
    });
  const cpu = await run('cpu');
  const wasm = await run('wasm');
  assert.deepEqual(cpu, [3, 4, 0, 0, 6, 8]);
  assert.deepEqual(wasm, cpu);
});

test('unsortedSegmentSum natively (where built) has the bits of the loop in JavaScript', async () => {
  await initBackend({ prefer: 'wasm' });
  const native = activeNativeKernels();
  assert.equal(native === undefined, process.env.MSD_NATIVE?.trim() === 'off', 'npm run build builds the library');
  // Widths with a tail of the eight lanes and several claims of columns; repeated ids and ids out of range.
  for (const [rows, width, segments] of [
    [3000, 67, 5000],
    [40, 768, 30],
    [5, 1, 3],
  ] as const) {
    const ids = randomIds(rows, segments + 3, rows + width).map((v, i) => (i % 17 === 0 ? -1 : v));
    const sum = (): Uint32Array => {
      const out = tf.tidy(() =>
        tf.unsortedSegmentSum(
          tf.randomNormal([rows, width], 0, 3, 'float32', width),
          tf.tensor1d(ids, 'int32'),
          segments,
        ),
      );
      const bits = new Uint32Array(Float32Array.from(out.dataSync()).buffer);
      out.dispose();
      return bits;
    };
    const got = sum();
    useNativeKernels(undefined);
    let js: Uint32Array;
    try {
      js = sum();
    } finally {
      useNativeKernels(native);
    }
    const i = got.findIndex((v, k) => v !== js[k]);
    assert.equal(i, -1, `[${rows}, ${width}] into ${segments}: value ${i} differs from the JavaScript loop's`);
  }
});

test('gathering rows: natively (where built) and in JavaScript, the rows themselves; a bad index named', async () => {
  await initBackend({ prefer: 'wasm' });
  const native = activeNativeKernels();
  const table = tf.randomNormal([300, 67], 0, 1, 'float32', 3);
  const want = table.arraySync() as number[][];
  const ids = randomIds(5000, 300, 11);
  const gather = () => tf.tidy(() => tf.gather(table, tf.tensor1d(ids, 'int32')).arraySync() as number[][]);
  const got = gather();
  useNativeKernels(undefined);
  let js: number[][];
  try {
    js = gather();
  } finally {
    useNativeKernels(native);
  }
  ids.forEach((r, i) => assert.deepEqual(got[i], want[r], `row ${i} (table row ${r})`));
  assert.deepEqual(js, got);
  assert.throws(
    () => tf.tidy(() => tf.gather(table, tf.tensor1d([3, 300], 'int32'))),
    /the index value 300 is not in \[0, 299\]/,
  );
  table.dispose();
});

test('Identity on wasm shares the bytes (the tape clones every saved tensor), and disposal stays correct', async () => {
  await initBackend({ prefer: 'wasm' });
  const before = tf.memory().numTensors;
  const x = tf.tensor2d([1, 2, 3, 4], [2, 2]);
  const y = tf.clone(x);
  // Same data id: no copy of the bytes was made.
  assert.equal(y.dataId, x.dataId);
  x.dispose();
  // The clone still owns a reference: its values survive the original's disposal.
  assert.deepEqual(Array.from(y.dataSync()), [1, 2, 3, 4]);
  y.dispose();
  assert.equal(tf.memory().numTensors, before);
  // A training-shaped use: gradients through ops whose saved inputs are cloned by the tape equal the cpu backend's.
  const grads = async (backend: 'cpu' | 'wasm') =>
    on(backend, () =>
      tf.tidy(() => {
        const w = tf.tensor2d([0.5, -1, 2, 0.25, 1.5, -0.75], [3, 2]);
        const a = tf.tensor2d([1, 2, 3, -1, 0.5, 2], [2, 3]);
        const g = tf.grad((v: tf.Tensor) => tf.sum(tf.square(tf.matMul(a, v))))(w);
        return Array.from(g.dataSync());
      }),
    );
  assert.deepEqual(await grads('wasm'), await grads('cpu'));
});

test('GatherV2 on wasm: rows (embedding lookups) by block copy, other axes by the stock kernel, both equal to cpu', async () => {
  const cases: { shape: number[]; ids: number[]; idShape: number[]; axis: number; dtype: 'float32' | 'int32' }[] = [
    { shape: [50, 8], ids: [3, 0, 49, 3, 7, 7], idShape: [2, 3], axis: 0, dtype: 'float32' },
    { shape: [6, 2, 3], ids: [5, 1], idShape: [2], axis: 0, dtype: 'float32' },
    { shape: [10], ids: [9, 0, 4], idShape: [3], axis: 0, dtype: 'int32' },
    { shape: [4, 5], ids: [4, 0, 2], idShape: [3], axis: 1, dtype: 'float32' }, // not rows: the stock kernel
    { shape: [3, 4], ids: [], idShape: [0], axis: 0, dtype: 'float32' },
  ];
  for (const c of cases) {
    const run = (backend: 'cpu' | 'wasm') =>
      on(backend, () =>
        tf.tidy(() => {
          const x = ramp(c.shape, c.dtype);
          const g = tf.gather(x, tf.tensor(c.ids, c.idShape, 'int32'), c.axis);
          return { shape: g.shape, values: Array.from(g.dataSync()) };
        }),
      );
    assert.deepEqual(await run('wasm'), await run('cpu'), `gather ${c.shape} axis ${c.axis}`);
  }
  await initBackend({ prefer: 'wasm' });
  assert.throws(
    () => tf.tidy(() => tf.gather(tf.zeros([3, 2]), tf.tensor1d([3], 'int32'))),
    /GatherV2: the index value 3 is not in \[0, 2\]/,
  );
});

test('Slice on wasm: copies of contiguous runs over heap views, equal to cpu for every rank and cut', async () => {
  const cases: { shape: number[]; begin: number[]; size: number[]; dtype: 'float32' | 'int32' | 'bool' }[] = [
    { shape: [512, 8], begin: [0, 0], size: [128, 8], dtype: 'float32' }, // position embeddings' first rows
    { shape: [12, 8], begin: [5, 0], size: [3, -1], dtype: 'float32' }, // rows from an offset, -1 = to the end
    { shape: [2, 3, 4], begin: [1, 2, 0], size: [1, 1, 4], dtype: 'int32' }, // one row of one entry
    { shape: [2, 3, 4], begin: [1, 0, 0], size: [1, 3, 4], dtype: 'bool' },
    { shape: [4, 6], begin: [1, 2], size: [2, 3], dtype: 'float32' }, // one run per row
    { shape: [2, 3, 4], begin: [0, 1, 0], size: [2, 2, 4], dtype: 'float32' }, // one run of 2 x 4 per leading index
    { shape: [4, 7, 6], begin: [1, 0, 0], size: [2, 3, -1], dtype: 'float32' }, // a pass's target rows and positions
    { shape: [4, 7, 6], begin: [2, 0, 0], size: [2, 1, 6], dtype: 'float32' }, // [CLS] of the last rows
    { shape: [3, 4, 5], begin: [1, 1, 2], size: [2, 3, 2], dtype: 'int32' }, // every axis cut
    { shape: [2, 3, 4, 5], begin: [1, 0, 1, 1], size: [1, 3, 2, 3], dtype: 'float32' },
    { shape: [2, 3, 2, 2, 3], begin: [0, 1, 0, 1, 0], size: [2, 2, 2, 1, 3], dtype: 'bool' }, // rank 5
    { shape: [5, 4], begin: [2, 0], size: [0, 4], dtype: 'float32' }, // empty
    { shape: [5, 4, 3], begin: [1, 1, 0], size: [3, 0, 3], dtype: 'float32' }, // empty inside
  ];
  for (const c of cases) {
    const run = (backend: 'cpu' | 'wasm') =>
      on(backend, () =>
        tf.tidy(() => {
          const x = ramp(c.shape, c.dtype);
          const s = tf.slice(x, c.begin, c.size);
          return { shape: s.shape, dtype: s.dtype, values: Array.from(s.dataSync()) };
        }),
      );
    const wasm = await run('wasm');
    assert.deepEqual(wasm, await run('cpu'), `slice ${c.shape} at [${c.begin}] size [${c.size}]`);
    if (c.size.every((d) => d !== 0)) assert.ok(wasm.values.length > 0);
  }
});

test('Transpose on wasm: permutations that move only size-1 axes share the bytes, others copy, all equal to cpu', async () => {
  const cases: { shape: number[]; perm: number[]; shares: boolean; dtype: 'float32' | 'int32' | 'bool' }[] = [
    { shape: [6, 4], perm: [0, 1], shares: true, dtype: 'float32' }, // the gather gradient's identity permutation
    { shape: [1, 5, 3], perm: [1, 0, 2], shares: true, dtype: 'float32' },
    { shape: [3, 1, 4], perm: [0, 2, 1], shares: true, dtype: 'int32' },
    { shape: [2, 1, 1, 3], perm: [2, 0, 3, 1], shares: true, dtype: 'bool' },
    { shape: [6, 4], perm: [1, 0], shares: false, dtype: 'float32' },
    { shape: [2, 1, 3], perm: [2, 1, 0], shares: false, dtype: 'float32' },
    { shape: [2, 3, 4], perm: [0, 2, 1], shares: false, dtype: 'int32' },
  ];
  for (const c of cases) {
    const run = (backend: 'cpu' | 'wasm') =>
      on(backend, () =>
        tf.tidy(() => {
          const x = ramp(c.shape, c.dtype);
          const t = tf.transpose(x, c.perm);
          // A stock kernel that transposes inside (a sum over the first axis) still finds the stock transpose.
          const s = c.dtype === 'float32' ? Array.from(tf.sum(x, 0).dataSync()) : [];
          const values = Array.from(t.dataSync());
          return { shape: t.shape, dtype: t.dtype, values, sums: s, shared: t.dataId === x.dataId };
        }),
      );
    const wasm = await run('wasm');
    const cpu = await run('cpu');
    const what = `transpose [${c.shape}] by [${c.perm}]`;
    assert.deepEqual({ ...wasm, shared: undefined }, { ...cpu, shared: undefined }, what);
    assert.equal(wasm.shared, c.shares, `${what}: shares the bytes`);
  }
  // The shared bytes outlive the input, and the gather gradient (two identity transposes) still equals cpu's.
  await initBackend({ prefer: 'wasm' });
  const before = tf.memory().numTensors;
  const x = tf.tensor2d([1, 2, 3, 4, 5, 6], [3, 2]);
  const y = tf.transpose(x, [0, 1]);
  x.dispose();
  assert.deepEqual(Array.from(y.dataSync()), [1, 2, 3, 4, 5, 6]);
  y.dispose();
  assert.equal(tf.memory().numTensors, before);
  const grads = async (backend: 'cpu' | 'wasm') =>
    on(backend, () =>
      tf.tidy(() => {
        const table = ramp([7, 3], 'float32');
        const g = tf.grad((t: tf.Tensor) => tf.sum(tf.square(tf.gather(t, tf.tensor1d([4, 0, 4, 6], 'int32')))))(table);
        return Array.from(g.dataSync());
      }),
    );
  assert.deepEqual(await grads('wasm'), await grads('cpu'));
});
