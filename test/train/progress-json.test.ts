/** JSON progress messages for a parent process (src/train/progress-json.ts): what the child sends, what the parent reads. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ProgressEvent } from '../../src/train/progress.js';
import {
  progressOfMessage,
  PROGRESS_JSON_ENV,
  withJsonProgress,
  type JsonProgressMessage,
} from '../../src/train/progress-json.js';

const step = (n: number): ProgressEvent => ({ task: 'student:nl', kind: 'step', step: n, totalSteps: 3, etaSec: 7 });
const on = { [PROGRESS_JSON_ENV]: '1' };

test('withJsonProgress: without the variable, the human callback alone', () => {
  const human = (_e: ProgressEvent) => {};
  for (const env of [{}, { [PROGRESS_JSON_ENV]: '' }, { [PROGRESS_JSON_ENV]: '0' }])
    assert.equal(withJsonProgress(human, env), human);
});

test('withJsonProgress: a message per event, every event to the human callback, steps throttled', () => {
  const seen: ProgressEvent[] = [];
  const sent: JsonProgressMessage[] = [];
  const onProgress = withJsonProgress((e) => seen.push(e), on, {
    minIntervalMs: 60_000,
    send: (m, done) => (sent.push(JSON.parse(JSON.stringify(m)) as JsonProgressMessage), done(null)),
  });
  const info: ProgressEvent = { task: 'cache:nl', kind: 'info', step: 0, totalSteps: 0, message: 'teacher [CLS]' };
  for (const e of [info, step(1), step(2), step(3)]) onProgress(e);
  assert.equal(seen.length, 4, 'the human display gets every event');
  // step 2 falls within the interval after step 1; the last step is always sent.
  assert.deepEqual(sent[1], { event: 'progress', ...step(1) });
  assert.deepEqual(sent.map(progressOfMessage), [info, step(1), step(3)]);
});

test('withJsonProgress: a send that fails stops the messages, not the training', () => {
  let sends = 0;
  const seen: ProgressEvent[] = [];
  const onProgress = withJsonProgress((e) => seen.push(e), on, {
    minIntervalMs: 0,
    send: (_m, done) => (sends++, done(new Error('channel closed'))),
  });
  const stderr = process.stderr.write;
  process.stderr.write = () => true;
  try {
    for (const n of [1, 2, 3]) onProgress(step(n));
  } finally {
    process.stderr.write = stderr;
  }
  assert.deepEqual([sends, seen.length], [1, 3]);
});

test('withJsonProgress: the variable without an IPC channel, or another value, is an error naming it', () => {
  // This test process has no IPC channel to a parent (node --test runs files without one).
  if (typeof process.send !== 'function')
    assert.throws(() => withJsonProgress(() => {}, on), /MSD_PROGRESS_JSON=1: expected 1 with an IPC channel .*none/);
  assert.throws(
    () => withJsonProgress(() => {}, { [PROGRESS_JSON_ENV]: 'yes' }, { send: () => {} }),
    /MSD_PROGRESS_JSON=yes: expected 1 with an IPC channel/,
  );
});

test('progressOfMessage: only progress events', () => {
  assert.equal(progressOfMessage('[student:nl]  33%  step 1/3  ETA 7s'), undefined);
  assert.equal(progressOfMessage({ event: 'other', task: 'x', kind: 'step', step: 1 }), undefined);
  assert.equal(progressOfMessage({ event: 'progress', kind: 'step', step: 1 }), undefined);
  assert.equal(progressOfMessage(null), undefined);
});
