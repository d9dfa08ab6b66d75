/**
 * The training loop on a toy problem (fit w to targets with a squared loss), where every number can be checked:
 * resume after an interruption is bit-identical, a NaN loss stops with the last good checkpoint kept, the metrics
 * log has one line per step even after a resume, and no tensor accumulates across steps.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initBackend } from '../../src/backend/init.js';
import type { OptimConfig } from '../../src/config.js';
import { tf } from '../../src/tf.js';
import { trainLoop, NonFiniteLossError, OutOfHeapError, type LoopSpec } from '../../src/train/loop.js';
import { runDir } from '../../src/run/dir.js';
import { readJsonl } from '../../src/run/io.js';
import type { LossResult } from '../../src/losses/terms.js';
import { defaultNoDecay } from '../../src/train/adamw.js';
import { InterruptedError } from '../../src/interrupt.js';

const optim: OptimConfig = {
  batchSize: 1,
  epochs: 3,
  lr: 0.1,
  weightDecay: 0.01,
  eps: 1e-8,
  warmupRatio: 0.1,
  maxGradNorm: 1.0,
  freezeEmbeddings: false,
  freezeLayers: 0,
};

let counter = 0;

function toySpec(
  dir: string,
  overrides: Partial<LoopSpec<number>> = {},
): { spec: LoopSpec<number>; w: tf.Variable; dispose(): void } {
  const w = tf.variable(tf.zeros([4]), true, `toy-w-${counter++}`);
  const target = tf.tensor1d([1, -2, 3, 0.5]);
  const data = [0, 1, 2, 3, 4, 5, 6];
  let best = Number.NEGATIVE_INFINITY;
  const spec: LoopSpec<number> = {
    task: 'toy',
    vars: [{ name: 'w', variable: w }],
    optim,
    seed: 1,
    // A seeded order per epoch, as makeBatches gives.
    batches: (epoch) => data.map((_, i) => data[(i * 3 + epoch) % data.length]!),
    tokens: () => 1,
    loss: (batch, stepSeed): LossResult => {
      const noise = tf.randomNormal([4], 0, 0.1, 'float32', stepSeed); // stands in for dropout
      const diff = tf.sub(tf.add(w, noise), tf.mul(target, 1 + batch / 10));
      const total = tf.mean(tf.square(diff)) as tf.Scalar;
      return { total, perTerm: { mse: total } };
    },
    evaluate: () => {
      const score = -tf.tidy(() => tf.sum(tf.square(tf.sub(w, target))).dataSync()[0]!);
      best = Math.max(best, score);
      return { score };
    },
    saveBest: () => undefined,
    paths: runDir(dir).teacher(),
    resume: false,
    evalEvery: 0,
    checkpointEvery: 4,
    logEvery: 1,
    ...overrides,
  };
  return { spec, w, dispose: () => tf.dispose([w, target]) };
}

test('a run interrupted mid-epoch and resumed ends bit-identical to an uninterrupted one', async () => {
  await initBackend({ prefer: 'cpu' });
  const full = mkdtempSync(join(tmpdir(), 'msd-loop-full-'));
  const a = toySpec(full);
  const ra = await trainLoop(a.spec);
  const wFull = Array.from(a.w.dataSync());
  a.dispose();

  const cut = mkdtempSync(join(tmpdir(), 'msd-loop-cut-'));
  const b = toySpec(cut, { maxSteps: 10 }); // step 10 of 21 is mid epoch 2; the last checkpoint is at step 8
  const rb = await trainLoop(b.spec);
  assert.equal(rb.steps, 10);
  assert.equal(rb.state.finished, false);
  b.dispose();
  // A new process would rebuild everything from scratch: so do we (fresh variable, fresh optimizer).
  const c = toySpec(cut, { resume: true });
  const rc = await trainLoop(c.spec);
  assert.equal(rc.steps, 21 - 8, 'resumed from the step-8 checkpoint');
  assert.deepEqual(Array.from(c.w.dataSync()), wFull);
  assert.equal(rc.lastLoss, ra.lastLoss);
  assert.deepEqual(rc.state, ra.state);
  c.dispose();

  const logFull = readJsonl<{ step: number; loss?: number; kind: string }>(join(full, 'teacher', 'metrics.jsonl'));
  const logCut = readJsonl<{ step: number; loss?: number; kind: string }>(join(cut, 'teacher', 'metrics.jsonl'));
  assert.deepEqual(
    logCut.map((r) => [r.kind, r.step, r.loss]),
    logFull.map((r) => [r.kind, r.step, r.loss]),
    'the resumed log has every step once, with the same losses',
  );
  // The dev score improves at every evaluation (one per epoch) on this problem.
  const scores = readJsonl<{ kind: string; score?: number }>(join(full, 'teacher', 'metrics.jsonl'))
    .filter((r) => r.kind === 'eval')
    .map((r) => r.score!);
  assert.equal(scores.length, 3);
  assert.ok(scores[0]! < scores[1]! && scores[1]! < scores[2]!, `dev scores ${scores.join(', ')}`);
});

test('SIGINT (Ctrl-C, Kernel > Interrupt) stops at the next step with a checkpoint; a resume ends bit-identical', async () => {
  await initBackend({ prefer: 'cpu' });
  const full = mkdtempSync(join(tmpdir(), 'msd-loop-full-'));
  const a = toySpec(full);
  await trainLoop(a.spec);
  const wFull = Array.from(a.w.dataSync());
  a.dispose();

  // Someone else's SIGINT listener (tslab's) is set aside while the loop runs and put back after.
  let theirs = 0;
  const tslabLike = () => theirs++;
  process.on('SIGINT', tslabLike);
  const cut = mkdtempSync(join(tmpdir(), 'msd-loop-sigint-'));
  const b = toySpec(cut);
  const good = b.spec.loss;
  let calls = 0;
  const events: string[] = [];
  b.spec.onProgress = (e) => e.kind === 'info' && events.push(e.message ?? '');
  b.spec.loss = (batch, seed) => {
    if (++calls === 10) process.kill(process.pid, 'SIGINT'); // during step 10 (mid epoch 2; checkpoints at 4, 8)
    return good(batch, seed);
  };
  try {
    await assert.rejects(
      () => trainLoop(b.spec),
      (err: Error) => {
        assert.ok(err instanceof InterruptedError, String(err));
        assert.match(
          err.message,
          /^toy stopped at step 10 of 21; checkpoint .*last\.safetensors written: run again with resume/,
        );
        assert.equal(err.stack, `Interrupted: ${err.message}`, 'no stack trace under the message');
        return true;
      },
    );
  } finally {
    process.off('SIGINT', tslabLike);
  }
  assert.equal(calls, 10, 'no step after the interrupted one');
  assert.equal(theirs, 0, 'the other listener did not see the interrupt the loop handled');
  assert.deepEqual(process.listeners('SIGINT'), [], 'listeners restored');
  assert.match(events.at(-1)!, /^interrupted: toy stopped at step 10/);
  assert.match(
    readFileSync(join(cut, 'teacher', 'checkpoints', 'last.safetensors'))
      .subarray(0, 2000)
      .toString('latin1'),
    /"globalStep\\":10/,
  );
  const logged = readJsonl<{ step: number; kind: string }>(join(cut, 'teacher', 'metrics.jsonl'));
  assert.equal(Math.max(...logged.map((r) => r.step)), 10, 'the log stops at the interrupted step');
  b.dispose();

  const c = toySpec(cut, { resume: true });
  const rc = await trainLoop(c.spec);
  assert.equal(rc.steps, 21 - 10, 'resumed from the step-10 checkpoint written on interrupt');
  assert.deepEqual(Array.from(c.w.dataSync()), wFull);
  c.dispose();
});

/** `loss` whose 6th call returns `sixth(result)` instead of the result (or throws there). */
function atSixthCall(loss: LoopSpec<number>['loss'], sixth: (r: LossResult) => LossResult): LoopSpec<number>['loss'] {
  let calls = 0;
  return (batch, seed) => {
    const r = loss(batch, seed);
    return ++calls === 6 ? sixth(r) : r;
  };
}

/** `trainLoop(spec)` rejects with an error of class `kind` whose message matches `message`; returns the error. */
async function stopsWith(spec: LoopSpec<number>, kind: new (...a: never[]) => Error, message: RegExp): Promise<Error> {
  let caught: unknown;
  await assert.rejects(
    () => trainLoop(spec),
    (err) => ((caught = err), true),
  );
  assert.ok(caught instanceof kind, `expected a ${kind.name}, got ${String(caught)}`);
  assert.match(caught.message, message);
  return caught;
}

test('a NaN loss stops the run with a clear error and keeps the last good checkpoint', async () => {
  await initBackend({ prefer: 'cpu' });
  const dir = mkdtempSync(join(tmpdir(), 'msd-loop-nan-'));
  const t = toySpec(dir);
  t.spec.loss = atSixthCall(t.spec.loss, (r) => ({ total: tf.div(r.total, 0).mul(0) as tf.Scalar, perTerm: {} }));
  await stopsWith(
    t.spec,
    NonFiniteLossError,
    /toy: loss is NaN at step 6 \(epoch 1, batch 6\); training stopped; the last good checkpoint is .*last\.safetensors/,
  );
  const ckpt = join(dir, 'teacher', 'checkpoints', 'last.safetensors');
  assert.ok(existsSync(ckpt));
  assert.match(readFileSync(ckpt).subarray(0, 2000).toString('latin1'), /"globalStep\\":4/);
  t.dispose();
});

test('a step that runs out of the wasm heap stops with an error naming the settings that bound its memory', async () => {
  await initBackend({ prefer: 'cpu' });
  const dir = mkdtempSync(join(tmpdir(), 'msd-loop-heap-'));
  const t = toySpec(dir);
  // What tfjs-wasm gives when an allocation fails: WebAssembly's out-of-bounds RuntimeError, from inside a kernel.
  const fail = (message: string) => () => {
    throw new WebAssembly.RuntimeError(message);
  };
  t.spec.loss = atSixthCall(t.spec.loss, fail('memory access out of bounds'));
  const err = await stopsWith(
    t.spec,
    OutOfHeapError,
    /^toy: step 6 \(epoch 1, batch 6\) ran out of the wasm heap .*"memory access out of bounds".*run\.microBatchTokens.*run\.keptTapeTokens.*the last good checkpoint is .*last\.safetensors/,
  );
  assert.ok(err.cause instanceof WebAssembly.RuntimeError, 'the original error is its cause');
  // Any other error passes through unchanged.
  const other = toySpec(mkdtempSync(join(tmpdir(), 'msd-loop-heap-other-')));
  other.spec.loss = atSixthCall(other.spec.loss, fail('unreachable'));
  await assert.rejects(
    () => trainLoop(other.spec),
    (err: Error) => err instanceof WebAssembly.RuntimeError,
  );
  t.dispose();
  other.dispose();
});

test('no tensor growth across steps', async () => {
  await initBackend({ prefer: 'cpu' });
  const dir = mkdtempSync(join(tmpdir(), 'msd-loop-mem-'));
  const counts: number[] = [];
  const t = toySpec(dir, {
    optim: { ...optim, epochs: 8 },
    onProgress: (e) => e.kind === 'step' && counts.push(tf.memory().numTensors),
  });
  await trainLoop(t.spec);
  assert.ok(counts.length >= 50);
  assert.equal(counts[49], counts[0], `tensors after step 1: ${counts[0]}, after step 50: ${counts[49]}`);
  t.dispose();
});

test('training decays exactly the variables defaultNoDecay says (one rule for AdamW and the loop)', async () => {
  await initBackend({ prefer: 'cpu' });
  const dir = mkdtempSync(join(tmpdir(), 'msd-loop-decay-'));
  const names = [
    'encoder/layer.0.output.dense.bias',
    'encoder/layer.0.output.layer_norm.gamma',
    'encoder/attention.bias_proj.kernel',
    'heads/classifier.layer_4.kernel',
    'lambda',
  ];
  const vars = names.map((name) => ({ name, variable: tf.variable(tf.ones([2]), true, `decay-${counter++}`) }));
  const t = toySpec(dir, {
    vars,
    optim: { ...optim, epochs: 1, weightDecay: 0.5, warmupRatio: 0 },
    batches: () => [0, 1], // two steps: the linear decay reaches lr 0 only at the last one
    // A zero gradient: Adam leaves every parameter where it is, so only the decoupled weight decay moves it.
    loss: (): LossResult => {
      const total = tf.mul(tf.addN(vars.map((v) => tf.sum(v.variable))), 0) as tf.Scalar;
      return { total, perTerm: {} };
    },
  });
  await trainLoop(t.spec);
  for (const { name, variable } of vars) {
    const moved = variable.dataSync()[0] !== 1;
    assert.equal(moved, !defaultNoDecay(name), `${name}: ${moved ? 'decayed' : 'not decayed'}`);
  }
  t.dispose();
  tf.dispose(vars.map((v) => v.variable));
});

test('progress lines give F1 in percent with its sign (fractions stay in metrics.jsonl)', async () => {
  await initBackend({ prefer: 'cpu' });
  const dir = mkdtempSync(join(tmpdir(), 'msd-loop-units-'));
  const lines: string[] = [];
  const t = toySpec(dir, {
    optim: { ...optim, epochs: 1 },
    evaluate: () => ({ score: 0.0117 }),
    onProgress: (e) => e.kind !== 'step' && lines.push(e.message ?? ''),
  });
  await trainLoop(t.spec);
  assert.ok(lines.includes('step 7: dev F1 1.17% (best, saved)'), lines.join('\n'));
  assert.ok(lines.includes('done: 7 steps, best dev F1 1.17% at step 7'), lines.join('\n'));
  const evals = readJsonl<{ kind: string; score?: number }>(join(dir, 'teacher', 'metrics.jsonl')).filter(
    (r) => r.kind === 'eval',
  );
  assert.equal(evals[0]!.score, 0.0117);
  t.dispose();
});
