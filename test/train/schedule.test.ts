import { test } from 'node:test';
import assert from 'node:assert/strict';
import { linearWarmupDecay } from '../../src/train/optim.js';

test('linear warmup then linear decay: edges and midpoints (hand-computed)', () => {
  // T = 100, ratio 0.1 -> W = 10: rises 0, 0.1, ..., reaches 1 at s = 10, then falls by 1/90 per step to 0 at s = 100.
  const table: [number, number][] = [
    [0, 0],
    [1, 0.1],
    [5, 0.5],
    [9, 0.9],
    [10, 1],
    [11, 89 / 90],
    [55, 0.5],
    [99, 1 / 90],
    [100, 0],
    [150, 0],
  ];
  const sched = linearWarmupDecay({ totalSteps: 100 });
  assert.equal(sched.warmupSteps, 10);
  assert.equal(sched.totalSteps, 100);
  for (const [step, want] of table)
    assert.ok(Math.abs(sched(step) - want) < 1e-12, `step ${step}: ${sched(step)} vs ${want}`);
});

test('warmup steps from the ratio are floor(T * ratio), as the reference code int(t_total * warmup_ratio)', () => {
  for (const [total, ratio, want] of [
    [30, 0.1, 3],
    [25, 0.1, 2],
    [9, 0.1, 0],
    [7, 0.5, 3],
    [10, 1, 10],
  ] as const) {
    assert.equal(linearWarmupDecay({ totalSteps: total, warmupRatio: ratio }).warmupSteps, want, `${total} x ${ratio}`);
  }
});

test('explicit warmup steps; W = 0 starts at 1; W = T ends warmup at 0', () => {
  const noWarm = linearWarmupDecay({ totalSteps: 4, warmupSteps: 0 });
  assert.deepEqual([0, 1, 2, 3, 4].map(noWarm), [1, 0.75, 0.5, 0.25, 0]);
  const allWarm = linearWarmupDecay({ totalSteps: 4, warmupSteps: 4 });
  assert.deepEqual([0, 1, 2, 3, 4].map(allWarm), [0, 0.25, 0.5, 0.75, 0]);
  const explicit = linearWarmupDecay({ totalSteps: 10, warmupSteps: 2, warmupRatio: 0.9 });
  assert.equal(explicit.warmupSteps, 2, 'warmupSteps wins over warmupRatio');
  assert.equal(explicit(2), 1);
  assert.equal(explicit(6), 0.5);
});

test('schedule rejects bad arguments', () => {
  for (const [opts, re] of [
    [{ totalSteps: 0 }, /totalSteps is 0; expected an integer > 0/],
    [{ totalSteps: 2.5 }, /totalSteps is 2.5/],
    [{ totalSteps: 10, warmupSteps: 11 }, /warmupSteps is 11; expected an integer in \[0, totalSteps = 10\]/],
    [{ totalSteps: 10, warmupRatio: 1.5 }, /warmupRatio is 1.5/],
  ] as const) {
    assert.throws(() => linearWarmupDecay(opts), re);
  }
  assert.throws(() => linearWarmupDecay({ totalSteps: 10 })(-1), /step is -1/);
});
