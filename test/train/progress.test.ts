/** liveProgress: what a notebook cell shows while training, and how often it is redrawn. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { liveProgress, type ProgressEvent } from '../../src/train/progress.js';

test('liveProgress: steps at most once per interval, every other event at once, the last events kept above the step', () => {
  const shown: string[] = [];
  let clock = 0;
  const onProgress = liveProgress({ text: (t) => shown.push(t) }, { minIntervalMs: 1000, keep: 2, now: () => clock });
  const step = (n: number): ProgressEvent => ({ task: 'teacher', kind: 'step', step: n, totalSteps: 10, loss: 1 / n });
  onProgress(step(1)); // first step: shown
  clock = 500;
  onProgress(step(2)); // within the interval: skipped
  clock = 1200;
  onProgress(step(3)); // shown
  assert.equal(shown.length, 2);
  for (const msg of ['epoch 1 done', 'dev F1 50', 'dev F1 60'])
    onProgress({ task: 'teacher', kind: 'eval', step: 3, totalSteps: 10, message: msg });
  assert.equal(shown.length, 5, 'non-step events are never throttled');
  clock = 1300;
  onProgress(step(4)); // 100 ms after the last redraw: skipped
  clock = 2400;
  onProgress(step(5));
  const last = shown.at(-1)!.split('\n');
  assert.equal(last.length, 3, 'keep = 2 events plus the current step');
  assert.match(last[0]!, /dev F1 50/);
  assert.match(last[1]!, /dev F1 60/);
  assert.match(last[2]!, /5\/10|step 5/);
});
