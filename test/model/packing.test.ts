/**
 * src/model/packing.ts and src/backend/head-layout-kernels.ts, on every backend: the encoder on the real tokens' rows
 * gives the padded layout's hidden states at the real tokens and its gradients (zeros at padded positions, nothing
 * leaked); the wasm kernels equal the cpu backend's composition of tfjs ops bit for bit, forward and gradient, with
 * the SIMD module (memory.copy) and without it (JavaScript copies, checked in a child process under MSD_SIMD=off); a
 * position outside the batch is an error that names the kernel. The attention's segments: where a batch is cut
 * (table-driven), and the segment kernels equal the cpu composition bit for bit too.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { tf } from '../../src/tf.js';
import { initBackend } from '../../src/backend/init.js';
import { loadBlas } from '../../src/backend/blas.js';
import { BertEncoder, type BertInput } from '../../src/model/bert.js';
import { bertConfig } from '../../src/model/config.js';
import { attentionSegments, packingOf, withPacking, withSegments } from '../../src/model/packing.js';
import { rowsToHeadsOp, rowsToSegmentsOp } from '../../src/backend/head-layout-kernels.js';
import { activeNativeKernels } from '../../src/backend/simd-kernels.js';
import { randomTensor } from '../random-tensor.js';
import { runModule } from '../child-module.js';

const cfg = bertConfig({
  vocabSize: 60,
  hiddenSize: 16,
  numLayers: 2,
  numHeads: 4,
  intermediateSize: 32,
  maxPositions: 32,
  layerNormEps: 1e-12,
});

const values = randomTensor;

/** Rows of these lengths padded to `len` (a sentence of 0 tokens is all padding). */
function batchOf(lengths: number[], len: number): BertInput {
  const ids = lengths.map((n, r) => Array.from({ length: len }, (_, i) => (i < n ? 2 + ((7 * r + 3 * i) % 50) : 0)));
  const mask = lengths.map((n) => Array.from({ length: len }, (_, i) => (i < n ? 1 : 0)));
  return { inputIds: tf.tensor2d(ids, undefined, 'int32'), attentionMask: tf.tensor2d(mask, undefined, 'int32') };
}

interface Run {
  hidden: Float32Array[];
  grads: Map<string, Float32Array>;
}

/** Hidden states and the gradients of sum(hidden[L] * u * mask) for every variable (dropout off). */
function run(enc: BertEncoder, batch: BertInput, packed: boolean): Run {
  return withPacking(packed, () => {
    const [b, t] = batch.inputIds.shape;
    const u = values([b, t, cfg.hiddenSize], 9);
    const mask = tf.tidy(() => tf.expandDims(tf.cast(batch.attentionMask, 'float32'), 2));
    const vars = enc.variables();
    const { value, grads } = tf.variableGrads(
      () => {
        const { hidden } = enc.forward(batch, { training: false });
        return tf.sum(tf.mul(tf.mul(hidden[cfg.numLayers]!, u), mask)) as tf.Scalar;
      },
      vars.map((v) => v.variable),
    );
    const { hidden } = enc.forward(batch, { training: false });
    const out: Run = {
      hidden: hidden.map((h) => h.dataSync() as Float32Array),
      grads: new Map(vars.map((v) => [v.variable.name, grads[v.variable.name]!.dataSync() as Float32Array])),
    };
    tf.dispose([value, u, mask, ...hidden, ...Object.values(grads)]);
    return out;
  });
}

const backends = ['cpu', 'wasm', ...(loadBlas().ok ? ['blas' as const] : [])] as const;
for (const backend of backends) {
  test(`the packed encoder gives the padded layout's states at real tokens and its gradients [${backend}]`, async () => {
    await initBackend({ prefer: backend });
    const enc = BertEncoder.random(cfg, 3);
    // Padding at the ends of rows, a row without padding and a row that is all padding.
    const lengths = [5, 7, 2, 0];
    const batch = batchOf(lengths, 7);
    // The packed run's attention runs in segments ([5, 7], [2], [0]: every cut that saves a quarter of the work, as
    // this small model needs); the padded layout's in one.
    const anyCut = { minMacs: 0 };
    assert.equal(
      withSegments(anyCut, () => tf.tidy(() => packingOf(batch.attentionMask, cfg.hiddenSize).segments.length)),
      3,
    );
    const before = tf.memory().numTensors;
    const packed = withSegments(anyCut, () => run(enc, batch, true));
    const paddedRun = run(enc, batch, false);
    assert.equal(tf.memory().numTensors, before, 'no tensor leaked');
    const H = cfg.hiddenSize;
    for (let m = 0; m <= cfg.numLayers; m++) {
      let worst = 0;
      lengths.forEach((n, r) => {
        for (let i = 0; i < 7; i++)
          for (let j = 0; j < H; j++) {
            const at = (r * 7 + i) * H + j;
            if (i < n) worst = Math.max(worst, Math.abs(packed.hidden[m]![at]! - paddedRun.hidden[m]![at]!));
            // The layers' outputs are zeros at padding (the embeddings, m = 0, are computed everywhere).
            else if (m > 0) assert.equal(packed.hidden[m]![at], 0, `layer ${m}: padded position (${r}, ${i})`);
          }
      });
      assert.ok(worst < 1e-5, `layer ${m}: real tokens differ by ${worst}`);
    }
    let checked = 0;
    for (const [name, g] of packed.grads) {
      const ref = paddedRun.grads.get(name)!;
      const scale = Math.max(1e-3, ...Array.from(ref, Math.abs));
      for (let i = 0; i < g.length; i++)
        assert.ok(Math.abs(g[i]! - ref[i]!) <= 1e-5 * scale, `${name}[${i}]: ${g[i]} vs ${ref[i]}`);
      checked += g.length;
    }
    assert.ok(checked === enc.numParameters(), 'every parameter has a gradient');
    assert.ok(
      Array.from(packed.grads.get(enc.variable('layer.0.attention.query.kernel').name)!).some((v) => v !== 0),
      'the gradients are not all zero',
    );
    tf.dispose([batch.inputIds, batch.attentionMask]);
    enc.dispose();
  });
}

/** Reads every position of the first two items and position 0 of the rest (a student pass's target and source). */
const firstTwo = (item: number, position: number) => item < 2 || position === 0;

/**
 * `lastLayerReads`: hidden[L] and the gradients of a loss that reads the positions `reads` accepts (all without it)
 * and layer 1, with the last layer narrowed and whole.
 */
function narrowRun(enc: BertEncoder, batch: BertInput, reads: typeof firstTwo | undefined, training = false): Run {
  const [b, t] = batch.inputIds.shape;
  const H = enc.config.hiddenSize;
  const keep = tf.tidy(() => {
    const m = batch.attentionMask.arraySync().map((row, r) => row.map((v, i) => (firstTwo(r, i) ? v : 0)));
    return tf.expandDims(tf.tensor2d(m, [b, t], 'float32'), 2);
  });
  const mask = tf.tidy(() => tf.expandDims(tf.cast(batch.attentionMask, 'float32'), 2));
  const [u, u1] = [values([b, t, H], 9), values([b, t, H], 4)];
  const vars = enc.variables();
  const opts = { training, dropoutSeed: 3, lastLayerReads: reads };
  const { value, grads } = tf.variableGrads(
    () => {
      const { hidden } = enc.forward(batch, opts);
      const last = tf.sum(tf.mul(tf.mul(hidden[enc.config.numLayers]!, u), keep));
      return tf.add(last, tf.sum(tf.mul(tf.mul(hidden[1]!, u1), mask))) as tf.Scalar;
    },
    vars.map((v) => v.variable),
  );
  const { hidden } = enc.forward(batch, opts);
  const out: Run = {
    hidden: hidden.map((h) => h.dataSync() as Float32Array),
    grads: new Map(vars.map((v) => [v.variable.name, grads[v.variable.name]!.dataSync() as Float32Array])),
  };
  tf.dispose([value, u, u1, keep, mask, ...hidden, ...Object.values(grads)]);
  return out;
}

for (const backend of backends) {
  test(`lastLayerReads: the narrowed last layer gives the whole layer's values and gradients at the read rows [${backend}]`, async () => {
    await initBackend({ prefer: backend });
    const enc = BertEncoder.random(cfg, 5);
    const lengths = [5, 7, 6, 4, 7];
    const batch = batchOf(lengths, 7);
    const H = cfg.hiddenSize;
    const L = cfg.numLayers;
    for (const cuts of [false, { minMacs: 0 }] as const) {
      const before = tf.memory().numTensors;
      const [narrow, whole] = withSegments(cuts, () => [
        narrowRun(enc, batch, firstTwo),
        narrowRun(enc, batch, undefined),
      ]);
      assert.equal(tf.memory().numTensors, before, 'no tensor leaked');
      for (let m = 0; m < L; m++) assert.deepEqual(narrow.hidden[m], whole.hidden[m], `layer ${m}: the same bits`);
      let left = 0;
      lengths.forEach((n, r) => {
        for (let i = 0; i < n; i++)
          for (let j = 0; j < H; j++) {
            const at = (r * 7 + i) * H + j;
            const [a, w] = [narrow.hidden[L]![at]!, whole.hidden[L]![at]!];
            if (r < 2 || i === 0) assert.ok(Math.abs(a - w) < 1e-5, `kept (${r}, ${i}, ${j}): ${a} vs ${w}`);
            else if (a === 0 && w !== 0) left++;
          }
      });
      assert.equal(left, (6 - 1 + 4 - 1 + 7 - 1) * H, 'zeros at every left-out position');
      for (const [name, g] of narrow.grads) {
        const ref = whole.grads.get(name)!;
        const scale = Math.max(1e-3, ...Array.from(ref, Math.abs));
        for (let i = 0; i < g.length; i++)
          assert.ok(Math.abs(g[i]! - ref[i]!) <= 1e-5 * scale, `${name}[${i}]: ${g[i]} vs ${ref[i]}`);
      }
    }
    // Reading every position, or none (a batch without a labelled token), runs the whole layer.
    for (const reads of [() => true, () => false])
      assert.deepEqual(narrowRun(enc, batch, reads).hidden[L], narrowRun(enc, batch, undefined).hidden[L]);
    tf.dispose([batch.inputIds, batch.attentionMask]);
    enc.dispose();
  });
}

test('lastLayerReads leaves nothing out where the hidden dropout is on in training (its masks are drawn by position)', async () => {
  await initBackend({ prefer: 'cpu' });
  const enc = BertEncoder.random(bertConfig({ ...cfg, hiddenDropout: 0.1 }), 5);
  const batch = batchOf([5, 7, 6], 7);
  const [narrow, whole] = [narrowRun(enc, batch, firstTwo, true), narrowRun(enc, batch, undefined, true)];
  assert.deepEqual(narrow.hidden[cfg.numLayers], whole.hidden[cfg.numLayers]);
  assert.ok(narrow.hidden[cfg.numLayers]!.slice(2 * 7 * cfg.hiddenSize + cfg.hiddenSize).some((v) => v !== 0));
  tf.dispose([batch.inputIds, batch.attentionMask]);
  enc.dispose();
});

/** toHeads and fromHeads of random rows, and the gradient of each, as arrays. */
function layoutOf(lengths: number[], len: number, heads: number): Float32Array[] {
  const batch = batchOf(lengths, len);
  const rows = lengths.reduce((a, n) => a + n, 0);
  const out = tf.tidy(() => {
    const packing = packingOf(batch.attentionMask);
    assert.equal(packing.rows, rows);
    const x = values([rows, heads * 4], 1) as tf.Tensor2D;
    const y = values([lengths.length * heads, len, 4], 2) as tf.Tensor3D;
    const up = packing.toHeads(x, heads);
    const down = packing.fromHeads(y, heads);
    const gUp = tf.grad((a: tf.Tensor) => tf.sum(tf.mul(packing.toHeads(a as tf.Tensor2D, heads), y)))(x);
    const gDown = tf.grad((a: tf.Tensor) => tf.sum(tf.mul(packing.fromHeads(a as tf.Tensor3D, heads), x)))(y);
    return [up, down, gUp, gDown].map((t) => t.dataSync() as Float32Array);
  });
  tf.dispose([batch.inputIds, batch.attentionMask]);
  return out;
}

test('wasm layout kernels equal the cpu composition of tfjs ops bit for bit, forward and gradient', async () => {
  const cases: [number[], number, number][] = [
    [[3, 5, 1], 5, 4], // Q, K, V: four heads of 4
    [[3, 5, 1], 5, 1], // hidden states: one head
    [[4, 4], 4, 2], // no padding (the kernels replace the transposes)
    [[2, 0, 3], 3, 2], // a row that is all padding
  ];
  for (const [lengths, len, heads] of cases) {
    await initBackend({ prefer: 'cpu' });
    const cpu = layoutOf(lengths, len, heads);
    await initBackend({ prefer: 'wasm' });
    // The kernels' native copies where the library is built (npm run build), else a fallback (the children below).
    const off = process.env.MSD_NATIVE?.trim() === 'off';
    assert.equal(activeNativeKernels() === undefined, off, 'the native library should be loaded');
    const wasm = layoutOf(lengths, len, heads);
    ['toHeads', 'fromHeads', 'toHeads gradient', 'fromHeads gradient'].forEach((what, i) =>
      assert.deepEqual(wasm[i], cpu[i], `${what}, lengths ${lengths}, ${heads} heads`),
    );
    assert.ok(wasm.every((a) => a.some((v) => v !== 0)));
  }
});

test('attentionSegments cuts rows where that saves a quarter of the attention work and 2^24 multiply-adds', () => {
  // A width at which every cut of a quarter is worth its multiply-adds, and mBERT's and the tiny preset's.
  const [ANY, MBERT, TINY] = [1 << 30, 768, 64];
  const cases: [number[], number, number, [number, number, number][]][] = [
    // [lengths, seqLen, width, expected segments as [firstRow, batch, seqLen]]
    [[30, 31, 32, 33], 33, ANY, [[0, 4, 33]]], // a bucketed batch: one segment, the batch's length
    [
      [3, 3, 3, 92, 92],
      92,
      ANY,
      [
        [0, 3, 3],
        [3, 2, 92],
      ],
    ], // a merged student pass: short target, long source rows
    [
      [3, 3, 11, 11, 92, 92],
      92,
      ANY,
      [
        [0, 2, 3],
        [2, 2, 11],
        [4, 2, 92],
      ],
    ], // cut again inside the first part
    [[6, 8], 8, ANY, [[0, 2, 8]]], // 36 + 64 > 0.75 * 128: not worth a cut
    [
      [4, 8],
      8,
      ANY,
      [
        [0, 1, 4],
        [1, 1, 8],
      ],
    ], // 16 + 64 <= 0.75 * 128
    [
      [8, 4],
      8,
      ANY,
      [
        [0, 1, 8],
        [1, 1, 4],
      ],
    ], // the order of the rows is kept
    [
      [0, 0, 9],
      9,
      ANY,
      [
        [0, 2, 1],
        [2, 1, 9],
      ],
    ], // rows of padding only: a segment of length 1
    [[5], 7, ANY, [[0, 1, 7]]], // one row
    [[], 4, ANY, [[0, 0, 4]]], // no rows
    // 42,320 -> 16,955 rows x length^2: 25,365 saved x 768 >= 2^24; x 64 is not.
    [
      [3, 3, 3, 92, 92],
      92,
      MBERT,
      [
        [0, 3, 3],
        [3, 2, 92],
      ],
    ],
    [[3, 3, 3, 92, 92], 92, TINY, [[0, 5, 92]]],
    // 33,856 -> 16,946: 16,910 saved x 768 < 2^24, though more than a quarter.
    [[3, 3, 92, 92], 92, MBERT, [[0, 4, 92]]],
  ];
  for (const [lengths, seqLen, width, want] of cases)
    assert.deepEqual(
      attentionSegments(lengths, seqLen, width).map((s) => [s.firstRow, s.batch, s.seqLen]),
      want,
      `lengths ${lengths}, width ${width}`,
    );
  assert.deepEqual(
    withSegments(false, () => attentionSegments([3, 3, 3, 92, 92], 92, ANY)),
    [{ firstRow: 0, batch: 5, seqLen: 92 }],
    'withSegments(false): one segment',
  );
  assert.deepEqual(
    withSegments({ minMacs: 0 }, () => attentionSegments([3, 3, 3, 92, 92], 92, TINY)).length,
    2,
    'withSegments({ minMacs: 0 }): every cut of a quarter',
  );
});

/** toSegments and fromSegments of random rows, and the gradient of each, as arrays (all segments' values in turn). */
function segmentLayoutOf(lengths: number[], len: number, heads: number, segments: number): Float32Array[] {
  const batch = batchOf(lengths, len);
  const rows = lengths.reduce((a, n) => a + n, 0);
  const out = tf.tidy(() => {
    const packing = withSegments({ minMacs: 0 }, () => packingOf(batch.attentionMask, heads * 4));
    assert.equal(packing.segments.length, segments, `lengths ${lengths}: segments`);
    const x = values([rows, heads * 4], 1) as tf.Tensor2D;
    const ys = packing.segments.map((s, i) => values([s.batch * heads, s.seqLen, 4], 2 + i) as tf.Tensor3D);
    const flat = (ts: tf.Tensor[]) => tf.concat(ts.map((t) => tf.reshape(t, [-1])));
    const up = flat(packing.toSegments(x, heads));
    const down = packing.fromSegments(ys, heads);
    const gUp = tf.grad((a: tf.Tensor) =>
      tf.addN(packing.toSegments(a as tf.Tensor2D, heads).map((t, i) => tf.sum(tf.mul(t, ys[i]!)))),
    )(x);
    const gDown = tf.grads((...as: tf.Tensor[]) => tf.sum(tf.mul(packing.fromSegments(as as tf.Tensor3D[], heads), x)))(
      ys,
    );
    return [up, down, gUp, flat(gDown)].map((t) => t.dataSync() as Float32Array);
  });
  tf.dispose([batch.inputIds, batch.attentionMask]);
  return out;
}

test('wasm segment kernels equal the cpu composition of tfjs ops bit for bit, forward and gradient', async () => {
  const cases: [number[], number, number, number][] = [
    [[2, 2, 9, 8], 9, 4, 2], // short rows, then long rows: four heads of 4
    [[5, 7, 2, 0], 7, 2, 3], // three segments, one of a row that is all padding
    [[3, 3, 11, 11, 20, 20], 20, 1, 3], // one head
  ];
  for (const [lengths, len, heads, segments] of cases) {
    await initBackend({ prefer: 'cpu' });
    const cpu = segmentLayoutOf(lengths, len, heads, segments);
    await initBackend({ prefer: 'wasm' });
    const wasm = segmentLayoutOf(lengths, len, heads, segments);
    ['toSegments', 'fromSegments', 'toSegments gradient', 'fromSegments gradient'].forEach((what, i) =>
      assert.deepEqual(wasm[i], cpu[i], `${what}, lengths ${lengths}, ${heads} heads`),
    );
    assert.ok(wasm.every((a) => a.some((v) => v !== 0)));
  }
});

test('a segment kernel given a position outside its segment or rows that do not add up says so', async () => {
  await initBackend({ prefer: 'wasm' });
  const attrs = { heads: 2, batches: [1, 1], seqLens: [2, 3], rowCounts: [1, 2] };
  assert.throws(
    () => tf.tidy(() => rowsToSegmentsOp(tf.zeros([3, 8]), tf.tensor1d([0, 1, 3], 'int32'), attrs)),
    /MsdRowsToSegments: segment 1's rowIndex holds 3, outside \[0, 3\)/,
  );
  assert.throws(
    () => tf.tidy(() => rowsToSegmentsOp(tf.zeros([2, 8]), tf.tensor1d([0, 1], 'int32'), attrs)),
    /MsdRowsToSegments: rowCounts add up to 3 rows, rowIndex lists 2/,
  );
});

test('a layout kernel given a position outside the batch says which kernel and what was expected', async () => {
  await initBackend({ prefer: 'wasm' });
  assert.throws(
    () =>
      tf.tidy(() => rowsToHeadsOp(tf.zeros([2, 8]), tf.tensor1d([0, 6], 'int32'), { batch: 2, seqLen: 3, heads: 2 })),
    /MsdRowsToHeads: rowIndex holds 6, outside \[0, 6\)/,
  );
});

test(
  'the layout kernels and row gathers find tensors above 2 GiB of wasm heap (as an mBERT student has), child process',
  {
    skip: process.env.MSD_NATIVE === 'off' ? 'this is a child' : false,
  },
  () => {
    // Byte offsets past 2^31 once went through a signed shift (>> 2) to a negative address, and the native copy crashed.
    const script = `
    import { tf } from './src/tf.js';
    import { initBackend } from './src/backend/init.js';
    import { rowsToHeadsOp, headsToRowsOp } from './src/backend/head-layout-kernels.js';
    await initBackend({ prefer: 'wasm' });
    const filler = tf.zeros([600_000_000]);
    const x = tf.tensor2d(Float32Array.from({ length: 4 * 8 }, (_, i) => i + 1), [4, 8]);
    const rowIndex = tf.tensor1d([0, 1, 3, 5], 'int32');
    const attrs = { batch: 2, seqLen: 3, heads: 2 };
    const heads = rowsToHeadsOp(x, rowIndex, attrs);
    const back = headsToRowsOp(heads, rowIndex, attrs);
    const table = tf.tensor2d(Float32Array.from({ length: 6 * 5 }, (_, i) => i), [6, 5]);
    const rows = tf.gather(table, tf.tensor1d([5, 0, 2], 'int32'));
    console.log(JSON.stringify({ heads: Array.from(heads.dataSync()), back: Array.from(back.dataSync()), rows: Array.from(rows.dataSync()), filler: filler.size }));
  `;
    const r = runModule<{ heads: number[]; back: number[]; rows: number[] }>(script);
    assert.deepEqual(
      r.back,
      Array.from({ length: 32 }, (_, i) => i + 1),
      'rows -> heads -> rows',
    );
    assert.deepEqual(r.heads.slice(0, 8), [1, 2, 3, 4, 9, 10, 11, 12], 'batch 0, head 0: rows 0 and 1');
    assert.deepEqual(r.rows, [25, 26, 27, 28, 29, 0, 1, 2, 3, 4, 10, 11, 12, 13, 14]);
  },
);

// Where the native library is built the layout kernels run there; these children run the two fallbacks: the SIMD
// module's copies (MSD_NATIVE=off) and the copies from JavaScript (MSD_SIMD=off as well).
for (const [what, env] of [
  ['the SIMD module (MSD_NATIVE=off)', { MSD_NATIVE: 'off' }],
  ['JavaScript (MSD_NATIVE=off, MSD_SIMD=off)', { MSD_NATIVE: 'off', MSD_SIMD: 'off' }],
] as const) {
  test(
    `the same checks with the layout kernels copying in ${what}, child process`,
    { skip: process.env.MSD_NATIVE === 'off' ? 'this is a child' : false },
    () => {
      const child = spawnSync(process.execPath, ['--import', 'tsx', '--test', fileURLToPath(import.meta.url)], {
        // NODE_TEST_CONTEXT would make the child report to this runner instead of printing TAP.
        env: { ...process.env, ...env, NODE_TEST_CONTEXT: undefined },
        encoding: 'utf8',
      });
      assert.equal(child.status, 0, child.stdout + child.stderr);
      // The child ran every test but these.
      assert.match(child.stdout, /# pass ([89]|1[0-3])\b/);
      assert.match(child.stdout, /# fail 0\b/);
    },
  );
}
