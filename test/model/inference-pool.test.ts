/**
 * Inference on two threads (src/model/inference-pool.ts): on every single-threaded backend, `runHeads` with a worker
 * thread gives the one-thread loop's tag ids and probabilities bit for bit, and `readHeads` its tag distributions and
 * [CLS] vectors, with the worker really taking batches;
 * the worker follows new weights from job to job; nothing leaks; a process that used it exits by itself; and the
 * thread choice follows `threads`, MSD_INFERENCE_THREADS and the size of the job.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initBackend } from '../../src/backend/init.js';
import { loadBlas } from '../../src/backend/blas.js';
import { labelSchema } from '../../src/data/schema.js';
import type { Sentence } from '../../src/data/types.js';
import { runHeads } from '../../src/eval/predict.js';
import { loadBert } from '../../src/model/checkpoint.js';
import { LayerHeads } from '../../src/model/heads.js';
import {
  closeInferencePool,
  inferenceThreads,
  lastPoolJob,
  MIN_WORK,
  startInferenceWorker,
} from '../../src/model/inference-pool.js';
import type { NerModel } from '../../src/model/ner-model.js';
import { inferenceBatches, readHeads } from '../../src/model/inference.js';
import { encodeDataset } from '../../src/tokenizer/dataset.js';
import { writeTinyCheckpoint } from '../../src/model/tiny.js';
import { createRng } from '../../src/rng.js';
import { tf } from '../../src/tf.js';
import { loadTokenizer } from '../../src/tokenizer/load.js';

const schema = labelSchema(['PER', 'LOC', 'ORG', 'MISC']);
const dir = mkdtempSync(join(tmpdir(), 'msd-pool-model-'));
writeTinyCheckpoint(dir, { seed: 5, hiddenSize: 32, numLayers: 3, numHeads: 2, intermediateSize: 64 });

function model(): NerModel {
  const { encoder } = loadBert(dir);
  const heads = new LayerHeads({ hiddenSize: 32, numLabels: schema.tags.length, numLayers: 3, layers: 'all', seed: 7 });
  return { name: 'tiny', encoder, heads, tokenizer: loadTokenizer(dir), schema, maxLength: 24 };
}

const words = 'la casa de Juan en Madrid tiene un jardin muy grande y bonito con flores rojas ONU'.split(' ');
const rng = createRng(11);
const sentences: Sentence[] = Array.from({ length: 60 }, (_, i) => {
  const tokens = Array.from({ length: 1 + Math.floor(rng.next() * 30) }, () => words[Math.floor(rng.next() * 17)]!);
  return { id: `s${i}`, lang: 'es', tokens, tags: tokens.map(() => 'O'), source: { file: 'mem', line: i + 1 } };
});

after(() => closeInferencePool());

/**
 * Runs a two-thread job until the worker has read a batch of it (on a loaded machine this thread can read every
 * batch before the worker wakes up), at most 5 times; returns every run's result, for the caller to check them all.
 */
function withWorker<T>(job: () => T): T[] {
  const outs: T[] = [];
  for (let i = 0; i < 5; i++) {
    outs.push(job());
    if (lastPoolJob()!.byWorker > 0) return outs;
  }
  assert.fail(`the worker read no batch in 5 jobs (${JSON.stringify(lastPoolJob())})`);
}

const backends = ['cpu', 'wasm', ...(loadBlas().ok ? ['blas' as const] : [])] as const;
for (const backend of backends) {
  test(`two threads give the one-thread readout bit for bit, and follow new weights [${backend}]`, async () => {
    await initBackend({ prefer: backend });
    assert.equal(await startInferenceWorker(), true, 'the worker started');
    const m = model();
    const before = tf.memory().numTensors;
    const opts = { probs: true, batchSize: 4 };
    const one = runHeads(m, sentences, { ...opts, threads: 1 });
    const two = runHeads(m, sentences, { ...opts, threads: 2 });
    const again = withWorker(() => runHeads(m, sentences, { ...opts, threads: 2 }));
    const job = lastPoolJob()!;
    assert.ok(job.byWorker < job.batches, 'this thread read no batch');
    for (const out of [two, ...again]) {
      assert.deepEqual(out.labels, one.labels);
      assert.deepEqual(out.probs, one.probs);
    }
    // The other readouts: every head's distribution (the KD cache) and [CLS] vectors (MMD, diagnostics).
    const { encoded } = encodeDataset(m.tokenizer, sentences, { maxLength: m.maxLength });
    const batches = inferenceBatches(encoded, m.tokenizer.padId, 4);
    const readout = { layers: [], softmaxOf: [1, 3], clsOf: [0, 2] };
    const here = readHeads(m, batches, readout, { threads: 1 });
    // The worker reads softmax / [CLS] batches too, and they are the same.
    for (const shared of withWorker(() => readHeads(m, batches, readout, { threads: 2 })))
      assert.deepEqual(shared, here);
    const [rows, len] = batches[0]!.shape;
    assert.equal(here[0]!.softmax!.length, 2 * rows * len * schema.tags.length);
    assert.equal(here[0]!.cls!.length, 2 * rows * 32);
    // New weights: the worker must use them, not the copy it holds.
    const w = m.heads.variables()[0]!.variable;
    tf.tidy(() => w.assign(tf.mul(w, -3)));
    // The worker reads batches with the new weights.
    const changed = withWorker(() => runHeads(m, sentences, { ...opts, threads: 2 }));
    const reference = runHeads(m, sentences, { ...opts, threads: 1 });
    assert.notDeepEqual(reference.labels, one.labels, 'the new weights change the tags');
    for (const out of changed) {
      assert.deepEqual(out.labels, reference.labels);
      assert.deepEqual(out.probs, reference.probs);
    }
    assert.equal(tf.memory().numTensors, before, 'no tensor leaks');
    m.encoder.dispose();
    m.heads.dispose();
  });
}

test('thread choice: threads, MSD_INFERENCE_THREADS, then the size of the job', async () => {
  await closeInferencePool();
  const m = model();
  const small = [{ shape: [4, 8] as [number, number] }, { shape: [4, 8] as [number, number] }];
  const perToken = 3 * (4 * 32 * 32 + 2 * 32 * 64);
  const big = Array.from({ length: 2 }, () => ({ shape: [1, Math.ceil(MIN_WORK / perToken / 2)] as [number, number] }));
  const saved = process.env.MSD_INFERENCE_THREADS;
  try {
    delete process.env.MSD_INFERENCE_THREADS;
    assert.equal(inferenceThreads(m, small), 1, 'a small job stays here');
    assert.equal(inferenceThreads(m, big), 2, 'a big one is shared');
    assert.equal(inferenceThreads(m, big.slice(0, 1)), 1, 'one batch cannot be shared');
    assert.equal(inferenceThreads(m, small, 2), 2);
    process.env.MSD_INFERENCE_THREADS = '1';
    assert.equal(inferenceThreads(m, big), 1);
    assert.equal(inferenceThreads(m, small, 2), 2, 'the argument wins over the variable');
    process.env.MSD_INFERENCE_THREADS = 'two';
    assert.throws(() => inferenceThreads(m, big), /MSD_INFERENCE_THREADS: expected a whole number >= 1, got two/);
    assert.throws(() => inferenceThreads(m, big, 0), /threads: expected a whole number >= 1, got 0/);
  } finally {
    if (saved === undefined) delete process.env.MSD_INFERENCE_THREADS;
    else process.env.MSD_INFERENCE_THREADS = saved;
    m.encoder.dispose();
    m.heads.dispose();
  }
});

test('a process that used the worker exits by itself', () => {
  const script = `
    import { initBackend } from './src/backend/init.js';
    import { runHeads } from './src/eval/predict.js';
    import { lastPoolJob, startInferenceWorker } from './src/model/inference-pool.js';
    import { loadBert } from './src/model/checkpoint.js';
    import { LayerHeads } from './src/model/heads.js';
    import { labelSchema } from './src/data/schema.js';
    import { loadTokenizer } from './src/tokenizer/load.js';
    await initBackend({ prefer: 'wasm' });
    const schema = labelSchema(['PER']);
    const { encoder } = loadBert(${JSON.stringify(dir)});
    const heads = new LayerHeads({ hiddenSize: 32, numLabels: schema.tags.length, numLayers: 3, seed: 1 });
    const model = { name: 't', encoder, heads, tokenizer: loadTokenizer(${JSON.stringify(dir)}), schema, maxLength: 24 };
    const s = Array.from({ length: 40 }, (_, i) => ({ id: 's' + i, lang: 'es', tokens: ['la', 'casa', 'de', 'Juan'], tags: ['O', 'O', 'O', 'O'], source: { file: 'm', line: i } }));
    if (!(await startInferenceWorker())) throw new Error('the worker did not start');
    // Until the worker has read a batch (this thread may read them all first on a loaded machine).
    for (let i = 0; i < 10 && !(lastPoolJob()?.byWorker > 0); i++) runHeads(model, s, { threads: 2, batchSize: 2 });
    console.log(JSON.stringify(lastPoolJob()));
  `;
  const t0 = Date.now();
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    cwd: join(import.meta.dirname, '..', '..'),
    encoding: 'utf8',
    timeout: 120_000,
  });
  assert.equal(r.status, 0, `exit status ${r.status} (signal ${r.signal}); stderr: ${r.stderr}`);
  const job = JSON.parse(r.stdout.trim().split('\n').pop()!) as { batches: number; byWorker: number };
  assert.equal(job.batches, 20);
  assert.ok(job.byWorker > 0, 'the worker took part');
  assert.ok(Date.now() - t0 < 60_000, 'it did not wait for the idle timeout');
});
