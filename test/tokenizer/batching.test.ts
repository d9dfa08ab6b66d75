/** Bucketed, seeded batches with dynamic padding; tensors without leaks; the seeded RNG. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tf } from '../../src/tf.js';
import { loadDataset, unlabelled } from '../../src/data/index.js';
import {
  batchRows,
  fixedPaddingEfficiency,
  makeBatches,
  padBatch,
  paddingEfficiency,
  type Batch,
} from '../../src/tokenizer/batching.js';
import { batchToTensors, disposeBatchTensors } from '../../src/tokenizer/tensors.js';
import { createRng, mixSeed } from '../../src/rng.js';
import { encodeDataset } from '../../src/tokenizer/dataset.js';
import { IGNORE_LABEL, type Encoded } from '../../src/tokenizer/align.js';
import { DATA_ROOT, mbert } from './helpers.js';

const es = loadDataset('conll2002', 'es', 'train', { root: DATA_ROOT });
const { encoded } = encodeDataset(mbert(), es.sentences, { schema: es.schema });

function order(batches: Batch[]): string {
  return batches.map((b) => b.items.map((e) => `${e.sentenceId}/${e.window.index}`).join(',')).join('|');
}

function checkBatch(b: Batch): void {
  const [rows, t] = b.shape;
  assert.equal(rows, b.items.length);
  assert.equal(t, Math.max(...b.items.map((e) => e.inputIds.length)), 'padded to the longest row, not to 128');
  for (const arr of [b.inputIds, b.attentionMask, b.tokenTypeIds, b.wordIndex, b.labels!])
    assert.equal(arr.length, rows * t);
  b.items.forEach((e, r) => {
    const n = e.inputIds.length;
    assert.deepEqual(b.inputIds.subarray(r * t, r * t + n), e.inputIds);
    assert.deepEqual(b.labels!.subarray(r * t, r * t + n), e.labels);
    assert.deepEqual(b.wordIndex.subarray(r * t, r * t + n), e.wordIndex);
    for (let j = 0; j < t; j++) {
      const pad = j >= n;
      assert.equal(b.attentionMask[r * t + j], pad ? 0 : 1);
      if (pad) {
        assert.equal(b.inputIds[r * t + j], 0);
        assert.equal(b.labels![r * t + j], IGNORE_LABEL);
        assert.equal(b.wordIndex[r * t + j], -1);
      }
    }
  });
  assert.ok(
    b.tokenTypeIds.every((v) => v === 0),
    'single segment',
  );
}

test('every sequence lands in exactly one batch, correctly padded', () => {
  const batches = makeBatches(encoded, { batchSize: 32, seed: 3 });
  const seen = new Set<Encoded>();
  for (const b of batches) {
    assert.ok(b.items.length <= 32, 'batch size respected');
    for (const e of b.items) {
      assert.ok(!seen.has(e), 'no sequence twice');
      seen.add(e);
    }
  }
  assert.equal(seen.size, encoded.length);
  batches.slice(0, 20).forEach(checkBatch);
});

test('same seed and epoch give the same batches; another seed or epoch another order', () => {
  const a = order(makeBatches(encoded, { seed: 1, epoch: 2 }));
  assert.equal(order(makeBatches(encoded, { seed: 1, epoch: 2 })), a);
  assert.notEqual(order(makeBatches(encoded, { seed: 1, epoch: 3 })), a);
  assert.notEqual(order(makeBatches(encoded, { seed: 2, epoch: 2 })), a);
});

test('without shuffling, bucketing sorts by length; without bucketing, input order is kept', () => {
  const lengths = makeBatches(encoded, { shuffle: false }).flatMap((b) => b.items.map((e) => e.inputIds.length));
  assert.deepEqual(
    lengths,
    [...lengths].sort((x, y) => x - y),
  );
  const plain = makeBatches(encoded.slice(0, 100), { shuffle: false, bucket: false, batchSize: 7 });
  assert.deepEqual(
    plain.flatMap((b) => b.items),
    encoded.slice(0, 100),
  );
  assert.equal(plain.length, Math.ceil(100 / 7));
});

test('a token budget bounds rows x longest row', () => {
  const budget = 2048;
  const batches = makeBatches(encoded, { tokenBudget: budget, seed: 5 });
  for (const b of batches)
    assert.ok(b.shape[0] * b.shape[1] <= budget || b.shape[0] === 1, `batch ${b.shape} over budget`);
  assert.equal(
    batches.reduce((n, b) => n + b.items.length, 0),
    encoded.length,
  );
  const both = makeBatches(encoded, { tokenBudget: budget, batchSize: 8, seed: 5 });
  for (const b of both)
    assert.ok(b.shape[0] <= 8 && (b.shape[0] * b.shape[1] <= budget || b.shape[0] === 1), 'both limits');
  assert.throws(() => makeBatches(encoded, { batchSize: 0 }), /batchSize must be a positive integer/);
});

test('padding efficiency on CoNLL-2002 es train (batch 32) is far above fixed padding to 128', () => {
  const eff = paddingEfficiency(makeBatches(encoded, { batchSize: 32, seed: 0 }));
  const lengths = es.sentences.map((s) => s.tokens.reduce((n, w) => n + mbert().tokenizeWord(w).ids.length, 2));
  const fixed = fixedPaddingEfficiency(lengths, 128);
  assert.ok(eff > 0.9, `bucketed efficiency ${eff}`);
  assert.ok(eff > 2 * fixed, `bucketed ${eff} vs fixed ${fixed}`);
  const unbucketed = paddingEfficiency(makeBatches(encoded, { batchSize: 32, seed: 0, bucket: false }));
  assert.ok(eff > unbucketed, `bucketing helps: ${eff} vs ${unbucketed}`);
  assert.equal(fixedPaddingEfficiency([64, 200], 128), (64 + 128) / 256);
});

test('batches of unlabelled sentences have no labels; mixing is refused', () => {
  const plain = encodeDataset(mbert(), unlabelled(es.sentences.slice(0, 50))).encoded;
  const [b] = makeBatches(plain, { batchSize: 64 });
  assert.equal(b!.labels, undefined);
  assert.throws(() => padBatch([encoded[0]!, plain[0]!]), /1 of 2 sequences have labels/);
});

test('batchToTensors gives int32 tensors of shape [b, t] and leaks nothing', async () => {
  await tf.setBackend('cpu');
  const [batch] = makeBatches(encoded, { batchSize: 16, seed: 9 });
  const before = tf.memory().numTensors;
  const t = batchToTensors(batch!);
  assert.equal(tf.memory().numTensors, before + 5);
  for (const [name, tensor] of Object.entries(t)) {
    assert.equal(tensor.dtype, 'int32', name);
    assert.deepEqual(tensor.shape, batch!.shape, name);
  }
  assert.deepEqual(t.inputIds.dataSync(), batch!.inputIds);
  assert.deepEqual(t.labels!.dataSync(), batch!.labels);
  assert.deepEqual(t.attentionMask.dataSync(), batch!.attentionMask);
  disposeBatchTensors(t);
  assert.equal(tf.memory().numTensors, before);
});

test('batchRows pairs each row of a flat [b, t] array with its sequence', () => {
  const [batch] = makeBatches(encoded, { batchSize: 4, seed: 1 });
  const flat = Int32Array.from({ length: batch!.shape[0] * batch!.shape[1] }, (_, i) => i);
  const rows = batchRows(batch!, flat);
  rows.forEach(([e, row], r) => {
    assert.equal(e, batch!.items[r]);
    assert.equal(row[0], r * batch!.shape[1]);
    assert.equal(row.length, batch!.shape[1]);
  });
  assert.throws(() => batchRows(batch!, new Int32Array(3)), /expected \d+ x \d+ = \d+ values, got 3/);
});

test('createRng: deterministic, in range, shuffles are permutations', () => {
  const a = createRng(42);
  const b = createRng(42);
  const xs = Array.from({ length: 1000 }, () => a.next());
  assert.deepEqual(
    Array.from({ length: 1000 }, () => b.next()),
    xs,
  );
  assert.ok(
    xs.every((x) => x >= 0 && x < 1),
    'next() in [0, 1)',
  );
  const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
  assert.ok(Math.abs(mean - 0.5) < 0.05, `mean ${mean}`);
  assert.notDeepEqual(
    Array.from({ length: 10 }, () => createRng(43).next()),
    xs.slice(0, 10),
  );
  const r = createRng(1);
  const ints = Array.from({ length: 500 }, () => r.int(7));
  assert.ok(
    ints.every((i) => Number.isInteger(i) && i >= 0 && i < 7) && new Set(ints).size === 7,
    'int(7) covers 0..6',
  );
  const perm = createRng(5).shuffle(Array.from({ length: 50 }, (_, i) => i));
  assert.deepEqual(
    [...perm].sort((x, y) => x - y),
    Array.from({ length: 50 }, (_, i) => i),
  );
  assert.notDeepEqual(
    perm,
    Array.from({ length: 50 }, (_, i) => i),
  );
  assert.notEqual(mixSeed(1, 0), mixSeed(1, 1));
  assert.equal(mixSeed(1, 5), mixSeed(1, 5));
  assert.throws(() => createRng(Number.NaN), /seed must be a finite number/);
});

test('splitBatch: groups within the token budget, re-padded, every row once and in order', async () => {
  const { splitBatch, padBatch: pad } = await import('../../src/tokenizer/batching.js');
  const item = (n: number, id: string) => ({
    inputIds: Int32Array.from({ length: n }, (_, i) => 100 + i),
    wordIndex: Int32Array.from({ length: n }, (_, i) => (i === 0 || i === n - 1 ? -1 : i - 1)),
    labels: Int32Array.from({ length: n }, (_, i) => (i === 0 || i === n - 1 ? -100 : 1)),
    sentenceId: id,
    window: { index: 0, count: 1, wordStart: 0, wordEnd: n - 2, decodeStart: 0, decodeEnd: n - 2 },
  });
  const items = [item(10, 'a'), item(12, 'b'), item(30, 'c'), item(5, 'd'), item(6, 'e')];
  const batch = pad(items as never);
  assert.deepEqual(splitBatch(batch, 0), [batch]);
  assert.deepEqual(splitBatch(batch, 1000), [batch]);
  const parts = splitBatch(batch, 40);
  // Every part within budget unless a single row exceeds it; rows in order, each exactly once.
  for (const p of parts) assert.ok(p.shape[0] * p.shape[1] <= 40 || p.shape[0] === 1, `part ${p.shape}`);
  assert.deepEqual(
    parts.flatMap((p) => p.items.map((e) => e.sentenceId)),
    ['a', 'b', 'c', 'd', 'e'],
  );
  // Re-padded to their own longest row, labels and masks carried over.
  for (const p of parts) {
    assert.equal(p.shape[1], Math.max(...p.items.map((e) => e.inputIds.length)));
    assert.equal(
      p.attentionMask.reduce((s, v) => s + v, 0),
      p.items.reduce((s, e) => s + e.inputIds.length, 0),
    );
    assert.ok(p.labels);
  }
  assert.throws(() => splitBatch(batch, -1), /maxTokens must be an integer >= 0/);
});
