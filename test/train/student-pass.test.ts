/**
 * A student step's pass (src/train/student-pass.ts): target and source rows as one encoder batch give each side the
 * values of a forward of its own (dropout off), whether its attention runs in one segment or several, and with
 * dropout on, the pass off the tape (`readHeads`, step 1 of a cut student step) and the pass on the tape (step 5,
 * continuing from step 1's frozen prefix) give the same [CLS] rows bit for bit.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { initBackend } from '../../src/backend/init.js';
import type { MsdConfig } from '../../src/config.js';
import { loadBert } from '../../src/model/checkpoint.js';
import { clsSlice } from '../../src/model/cls.js';
import { readHeads } from '../../src/model/inference.js';
import type { NerModel } from '../../src/model/ner-model.js';
import { writeTinyCheckpoint } from '../../src/model/tiny.js';
import { tf } from '../../src/tf.js';
import type { Encoded } from '../../src/tokenizer/align.js';
import { padBatch } from '../../src/tokenizer/batching.js';
import { loadTokenizer } from '../../src/tokenizer/load.js';
import { batchToTensors } from '../../src/tokenizer/tensors.js';
import { packingOf, withSegments } from '../../src/model/packing.js';
import { lastLayerReads, passForward, studentPass } from '../../src/train/student-pass.js';
import { tmpRun } from './helpers.js';

const LAYERS = 3;
const H = 16;

/** A 3-layer random student with the given dropout, its tokenizer the tiny checkpoint's. */
function student(name: string, dropout: number): NerModel {
  const dir = tmpRun(`pass-${name}`);
  writeTinyCheckpoint(dir, { seed: 9, hiddenSize: H, numLayers: LAYERS, numHeads: 2, intermediateSize: 32, dropout });
  return { encoder: loadBert(dir).encoder, tokenizer: loadTokenizer(dir) } as unknown as NerModel;
}

/** Rows of these lengths ([CLS] and [SEP] included) with ids drawn from `seed`. */
function rows(lengths: number[], seed: number): Encoded[] {
  let s = seed;
  const next = () => ((s = (s * 1103515245 + 12345) >>> 0) % 90) + 10;
  return lengths.map((n, r) => ({
    sentenceId: `s${seed}-${r}`,
    sentenceWords: n - 2,
    inputIds: Int32Array.from({ length: n }, (_, i) => (i === 0 ? 2 : i === n - 1 ? 3 : next())),
    wordIndex: Int32Array.from({ length: n }, (_, i) => (i === 0 || i === n - 1 ? -1 : i - 1)),
    window: { index: 0, count: 1, wordStart: 0, wordEnd: n - 2 },
  })) as unknown as Encoded[];
}

const frozen = (layers: number) =>
  ({ freezeEmbeddings: layers >= 0, freezeLayers: Math.max(0, layers) }) as MsdConfig['student'];

const models: NerModel[] = [];
after(() => models.forEach((m) => m.encoder.dispose()));

function maxDiff(a: tf.Tensor, b: tf.Tensor): number {
  assert.deepEqual(a.shape, b.shape);
  const [x, y] = [Array.from(a.dataSync() as Float32Array), Array.from(b.dataSync() as Float32Array)];
  return x.reduce((m, v, i) => Math.max(m, Math.abs(v - y[i]!)), 0);
}

/**
 * Every cut of the attention into segments that saves a quarter of its work (model/packing.ts): at this small
 * model's width none would save enough multiply-adds otherwise.
 */
const anyCut = <T>(fn: () => T): T => withSegments({ minMacs: 0 }, fn);

/** How many attention segments the forward of a pass of these two batches runs in under `anyCut`. */
function segmentsOf(target: ReturnType<typeof padBatch>, source: ReturnType<typeof padBatch>): number {
  const f = passForward(target, source, 1, 0);
  return anyCut(() => tf.tidy(() => packingOf(batchToTensors(f.batch).attentionMask, H).segments.length));
}

for (const backend of ['blas', 'cpu'] as const) {
  test(`studentPass (${backend}): a pass of both sides gives each side its own forward's values`, async () => {
    await initBackend({ prefer: backend });
    const model = student(`off-${backend}`, 0);
    models.push(model);
    // The target longer than the source in one attention segment, then in two, then short target rows with long
    // source rows (two segments), then many rows (two).
    const many = (n: number, rowsOf: number) => Array.from({ length: rowsOf }, () => n);
    for (const [t, s, segments] of [
      [[6, 8, 5], [9, 7], 1],
      [[7, 9, 4], [5, 3, 6, 4], 2],
      [[3, 4], [11, 8, 12], 2],
      [many(12, 40), many(9, 60), 2],
    ] as [number[], number[], number][]) {
      const target = padBatch(rows(t, 1), model.tokenizer.padId);
      const source = padBatch(rows(s, 2), model.tokenizer.padId);
      assert.equal(segmentsOf(target, source), segments, `lengths ${t} / ${s}: attention segments`);
      anyCut(() =>
        tf.tidy(() => {
          const opts = { seed: 5, frozen: frozen(-1), layers: [1, 2, 3], clsLayer: 3 };
          const pass = studentPass(model, target, source, { ...opts, cls: { target: true, source: true } });
          const own = (b: typeof target) =>
            model.encoder.forward(batchToTensors(b), { training: true, dropoutSeed: 5, frozen: opts.frozen }).hidden;
          const [ht, hs] = [own(target), own(source)];
          for (const m of opts.layers.filter((l) => l < LAYERS))
            assert.ok(maxDiff(pass.target[m]!, ht[m]!) < 1e-5, `target rows, layer ${m}`);
          // The last layer at the positions read (first sub-tokens and [CLS]), zeros elsewhere ([SEP], padding).
          const f = passForward(target, source, 5, model.tokenizer.padId);
          const reads = lastLayerReads(f, { ...opts, cls: { target: true, source: true } }, LAYERS)!;
          const [bt, tt] = target.shape;
          const readMask = tf.tensor3d(
            Array.from({ length: bt * tt }, (_, k) => (reads((k / tt) | 0, k % tt) ? 1 : 0)),
            [bt, tt, 1],
          );
          assert.ok(maxDiff(pass.target[LAYERS]!, tf.mul(ht[LAYERS]!, readMask)) < 1e-5, 'target rows, last layer');
          assert.ok(pass.target[LAYERS]!.sum().dataSync()[0] !== 0);
          assert.ok(maxDiff(pass.clsTarget!, clsSlice(ht[3]!)) < 1e-5, 'target [CLS]');
          assert.ok(maxDiff(pass.clsSource!, clsSlice(hs[3]!)) < 1e-5, 'source [CLS]');
          // Without a source side, the pass is the target's own forward.
          const alone = studentPass(model, target, undefined, { ...opts, cls: { target: true, source: false } });
          assert.equal(alone.clsSource, undefined);
          assert.equal(maxDiff(alone.clsTarget!, clsSlice(ht[3]!)), 0);
        }),
      );
    }
  });
}

test('passForward: one batch of both sides, target rows first; the target alone without a source', () => {
  const pad = 0;
  const batch = (lengths: number[], seed: number) => padBatch(rows(lengths, seed), pad);
  const small = batch([5, 7], 1);
  const big = batch(
    Array.from({ length: 70 }, () => 8),
    2,
  );
  assert.deepEqual((({ batch: b, ...f }) => [b === small, f])(passForward(small, undefined, 11, pad)), [
    true,
    { seed: 11, targetRows: 2, sourceRows: 0 },
  ]);
  for (const [t, s] of [
    [small, big],
    [big, small],
  ]) {
    const f = passForward(t!, s, 11, pad);
    assert.deepEqual([f.seed, f.targetRows, f.sourceRows], [11, t!.shape[0], s!.shape[0]]);
    assert.deepEqual(f.batch.items, [...t!.items, ...s!.items], 'target rows first');
    assert.equal(f.batch.shape[1], Math.max(t!.shape[1], s!.shape[1]));
  }
});

for (const [what, targetLengths, sourceLengths, segments] of [
  ['one attention segment', [6, 8, 5], [9, 7], 1],
  ['two attention segments', [3, 4, 3], [21, 24], 2],
  ['many rows', [6, 8, 5].flatMap((l) => Array.from({ length: 90 }, () => l)), [9, 7, 9, 7], 1],
] as [string, number[], number[], number][]) {
  test(`studentPass with dropout (${what}): the pass off the tape (readHeads) and on it, with or without its prefix, agree bit for bit`, async () => {
    await initBackend({ prefer: 'blas' });
    const model = student(`on-${what}`, 0.1);
    models.push(model);
    const target = padBatch(rows(targetLengths, 3), model.tokenizer.padId);
    const source = padBatch(rows(sourceLengths, 4), model.tokenizer.padId);
    assert.equal(segmentsOf(target, source), segments, 'attention segments');
    const fr = frozen(1);
    const offTape = (seed: number) =>
      anyCut(() => {
        const f = passForward(target, source, seed, model.tokenizer.padId);
        const [out] = readHeads(
          model,
          [f.batch],
          {
            layers: [],
            clsOf: [LAYERS],
            dropout: { seeds: [f.seed], frozen: { freezeEmbeddings: true, freezeLayers: 1 } },
            prefixBlocks: 2,
          },
          { threads: 1 },
        );
        const [B, T] = f.batch.shape;
        return {
          cls: Array.from(out!.cls!),
          prefix: [0, 1].map((j) => tf.tensor3d(out!.prefix!.subarray(j * B * T * H, (j + 1) * B * T * H), [B, T, H])),
        };
      });
    const step1 = offTape(7);
    const other = offTape(8);
    tf.dispose(other.prefix);
    assert.notDeepEqual(other.cls, step1.cls, 'another seed, other masks');
    try {
      for (const p of [step1.prefix, undefined]) {
        const got = anyCut(() =>
          tf.tidy(() => {
            const o = { seed: 7, frozen: fr, prefix: p, layers: [LAYERS], clsLayer: LAYERS };
            const pass = studentPass(model, target, source, { ...o, cls: { target: true, source: true } });
            return [...pass.clsTarget!.dataSync(), ...pass.clsSource!.dataSync()];
          }),
        );
        assert.deepEqual(got, step1.cls, p ? 'continuing from the prefix' : 'from the start');
      }
    } finally {
      tf.dispose(step1.prefix);
    }
  });
}
