/**
 * Gradient accumulation over micro-batches: a batch cut into parts, each weighted by its share of the loss, trains to
 * the same weights and logs the same losses as the batch in one pass (float tolerance), on every backend.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tf } from '../../src/tf.js';
import { initBackend } from '../../src/backend/init.js';
import { runDir } from '../../src/run/dir.js';
import { readJsonl } from '../../src/run/io.js';
import { microBatchSeed, trainLoop, type LoopSpec, type MicroBatch } from '../../src/train/loop.js';
import type { OptimConfig } from '../../src/config.js';
import type { LossResult } from '../../src/losses/terms.js';

const optim: OptimConfig = {
  batchSize: 6,
  epochs: 2,
  lr: 0.05,
  weightDecay: 0.01,
  eps: 1e-8,
  warmupRatio: 0.2,
  maxGradNorm: 1.0,
  freezeEmbeddings: false,
  freezeLayers: 0,
};

/** Rows of a seeded linear-regression problem: x [5], y. */
const X = Array.from({ length: 18 }, (_, i) => Array.from({ length: 5 }, (_, j) => Math.sin(1.3 * i + 0.7 * j)));
const Y = X.map((x, i) => x.reduce((s, v, j) => s + v * (j - 2), 0) + 0.1 * Math.cos(i));

let counter = 0;

async function run(
  split: number | undefined,
  backend: 'cpu' | 'blas' | 'wasm',
): Promise<{ w: number[]; losses: number[] }> {
  const w = tf.variable(tf.zeros([5, 1]), true, `micro-w-${counter++}`);
  const b = tf.variable(tf.zeros([1]), true, `micro-b-${counter++}`);
  const dir = mkdtempSync(join(tmpdir(), `msd-micro-${backend}-`));
  const spec: LoopSpec<number[]> = {
    task: 'toy',
    vars: [
      { name: 'w', variable: w },
      { name: 'bias', variable: b },
    ],
    optim,
    seed: 3,
    batches: (epoch) => [0, 1, 2].map((k) => Array.from({ length: 6 }, (_, i) => (k * 6 + i + epoch * 5) % 18)),
    tokens: (rows) => rows.length,
    // The mean squared error over the rows of a batch (or of one part): a mean over "tokens".
    loss: (rows): LossResult => {
      const x = tf.tensor2d(rows.map((r) => X[r]!));
      const y = tf.tensor2d(rows.map((r) => [Y[r]!]));
      const total = tf.mean(tf.square(tf.sub(tf.add(tf.matMul(x, w), b), y))) as tf.Scalar;
      return { total, perTerm: { mse: total } };
    },
    ...(split
      ? {
          microBatches: (rows: number[]): MicroBatch<number[]>[] => {
            const parts: MicroBatch<number[]>[] = [];
            for (let i = 0; i < rows.length; i += split)
              parts.push({ part: rows.slice(i, i + split), weight: Math.min(split, rows.length - i) / rows.length });
            return parts;
          },
        }
      : {}),
    evaluate: () => ({ score: 0 }),
    saveBest: () => undefined,
    paths: runDir(dir).teacher(),
    resume: false,
    evalEvery: 0,
    checkpointEvery: 0,
    logEvery: 1,
  };
  const before = tf.memory().numTensors;
  await trainLoop(spec);
  assert.equal(tf.memory().numTensors, before, 'no tensor growth across accumulated steps');
  const out = Array.from(w.dataSync());
  const losses = readJsonl<{ kind: string; loss: number }>(spec.paths.metrics)
    .filter((r) => r.kind === 'step')
    .map((r) => r.loss);
  tf.dispose([w, b]);
  return { w: out, losses };
}

for (const backend of ['cpu', 'blas'] as const) {
  test(`micro-batches of 2, 4 (uneven) and 1 row train like one pass (${backend})`, async (t) => {
    try {
      await initBackend({ prefer: backend });
    } catch (err) {
      t.skip(`backend ${backend} unavailable: ${(err as Error).message}`);
      return;
    }
    const whole = await run(undefined, backend);
    assert.equal(whole.losses.length, 6);
    for (const split of [2, 4, 1]) {
      const parts = await run(split, backend);
      for (let i = 0; i < whole.w.length; i++)
        assert.ok(Math.abs(parts.w[i]! - whole.w[i]!) < 1e-5, `split ${split}: w[${i}] ${parts.w[i]} vs ${whole.w[i]}`);
      for (let i = 0; i < whole.losses.length; i++)
        assert.ok(Math.abs(parts.losses[i]! - whole.losses[i]!) < 1e-5, `split ${split}: loss ${i}`);
    }
    // A run that actually learns: the loss falls.
    assert.ok(whole.losses.at(-1)! < whole.losses[0]!);
  });
}

test('one micro-batch keeps the step seed, so accumulation changes nothing for batches that fit', () => {
  assert.equal(microBatchSeed(1234, 0, 1), 1234);
  assert.notEqual(microBatchSeed(1234, 0, 2), 1234);
  assert.notEqual(microBatchSeed(1234, 0, 2), microBatchSeed(1234, 1, 2));
});
