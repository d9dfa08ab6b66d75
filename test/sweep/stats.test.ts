import { test } from 'node:test';
import assert from 'node:assert/strict';
import { describe as describeStats, mean, std, tTest } from '../../src/sweep/stats.js';

const close = (a: number, b: number, tol = 1e-9) => assert.ok(Math.abs(a - b) <= tol, `${a} vs ${b} (tol ${tol})`);

test('mean and sample std against hand-computed values', () => {
  close(mean([1, 2, 3, 4]), 2.5);
  // squared deviations 2.25 + 0.25 + 0.25 + 2.25 = 5, / (n-1) = 5/3
  close(std([1, 2, 3, 4]), Math.sqrt(5 / 3));
  // y = 2,4,6,9: mean 5.25, squared deviations 10.5625 + 1.5625 + 0.5625 + 14.0625 = 26.75
  close(std([2, 4, 6, 9]), Math.sqrt(26.75 / 3));
  assert.ok(Number.isNaN(std([0.5])), 'one seed has no spread estimate');
  assert.ok(Number.isNaN(mean([])));
  const d = describeStats([0.2, 0.4, 0.3]);
  assert.deepEqual([d.n, d.min, d.max], [3, 0.2, 0.4]);
  close(d.mean, 0.3, 1e-12);
  close(d.std, 0.1, 1e-12);
});

test('Student t-test with df = 2 against the closed-form t(2) distribution', () => {
  // x = 0,2 and y = 3,5: means 1 and 4, variances 2 and 2, pooled 2, se = sqrt(2 (1/2 + 1/2)) = sqrt(2), t = -3/sqrt(2).
  // t with 2 df: P(|T| >= |t|) = 1 - |t| / sqrt(2 + t^2).
  const t = -3 / Math.sqrt(2);
  const r = tTest([0, 2], [3, 5], { variance: 'equal' });
  assert.equal(r.method, 'student');
  close(r.t, t, 1e-12);
  close(r.df, 2);
  close(r.p, 1 - Math.abs(t) / Math.sqrt(2 + t * t), 1e-9);
  // Welch with equal n and equal variances has the same t and df = 2(n - 1) = 2.
  const w = tTest([0, 2], [3, 5]);
  assert.equal(w.method, 'welch');
  close(w.df, 2, 1e-12);
  close(w.p, r.p, 1e-9);
});

test('Welch t and Welch-Satterthwaite df against hand-computed values; Student differs', () => {
  // a = s_x^2/n_x = (5/3)/4, b = s_y^2/n_y = (26.75/3)/4; t = (2.5 - 5.25)/sqrt(a + b); df = (a+b)^2 / (a^2/3 + b^2/3)
  const a = 5 / 12;
  const b = 26.75 / 12;
  const w = tTest([1, 2, 3, 4], [2, 4, 6, 9]);
  close(w.t, -2.75 / Math.sqrt(a + b), 1e-12);
  close(w.df, (a + b) ** 2 / (a ** 2 / 3 + b ** 2 / 3), 1e-9);
  assert.ok(w.p > 0.1 && w.p < 0.2, `p ${w.p}`);
  const s = tTest([1, 2, 3, 4], [2, 4, 6, 9], { variance: 'equal' });
  close(s.df, 6);
  assert.ok(s.p < w.p, 'Student (df 6) gives a smaller p than Welch (df 4.08) for the same t');
  // Symmetric in the two samples.
  close(tTest([2, 4, 6, 9], [1, 2, 3, 4]).p, w.p, 1e-12);
});

test('degenerate samples: too few values, no spread', () => {
  const one = tTest([0.5], [0.4, 0.6]);
  assert.ok(Number.isNaN(one.p));
  assert.match(one.note ?? '', /at least 2 values/);
  assert.equal(tTest([0.5, 0.5], [0.5, 0.5]).p, 1);
  assert.equal(tTest([0.5, 0.5], [0.4, 0.4]).p, 0);
});
