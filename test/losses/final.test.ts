import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tf } from '../../src/tf.js';
import { PAPER } from '../../src/config.js';
import { LossInputError } from '../../src/losses/check.js';
import { finalLoss, type FinalLossInput } from '../../src/losses/final.js';
import { mmd } from '../../src/losses/mmd.js';
import { readTerms, type LossResult } from '../../src/losses/terms.js';
import { mmd64, randn, rows } from './helpers.js';

const [N, M, D] = [6, 8, 10];
const tea = randn(N * D, 1);
const stuSrc = randn(N * D, 2, 1, 0.3);
const stuTgt = randn(M * D, 3, 1.2, -0.2);
const mmdM = mmd64(rows(tea, D), rows(stuSrc, D));
const mmdL = mmd64(rows(tea, D), rows(stuTgt, D));

/** A stand-in L_stu with two parts. */
function student(): LossResult {
  return { total: tf.scalar(0.75), perTerm: { kd_12: tf.scalar(0.5), aux: tf.scalar(0.25) } };
}

function inputs() {
  return {
    teacherClsSource: tf.tensor(tea, [N, D]),
    studentClsSource: tf.tensor(stuSrc, [N, D]),
    studentClsTarget: tf.tensor(stuTgt, [M, D]),
  };
}

/** The paper's weights, from their one home (the config). */
const { alphaPrime: A, betaPrime: Bp } = PAPER.student;

test("L_final = L_stu + alpha' MMD_M + beta' MMD_L with the config's weights (paper 0.001), with the breakdown", () => {
  assert.deepEqual([A, Bp], [0.001, 0.001]);
  for (const [alphaPrime, betaPrime] of [
    [A, Bp],
    [0.1, 0.5],
    [0, 2],
  ] as [number, number][]) {
    const terms = tf.tidy(() => readTerms(finalLoss({ student: student(), ...inputs(), alphaPrime, betaPrime })));
    const want = 0.75 + alphaPrime * mmdM + betaPrime * mmdL;
    assert.ok(Math.abs(terms.total - want) < 1e-6, `${alphaPrime},${betaPrime}: ${terms.total} vs ${want}`);
    assert.ok(Math.abs(terms.mmd_M - mmdM) < 1e-5);
    assert.ok(Math.abs(terms.mmd_L - mmdL) < 1e-5);
    assert.deepEqual(Object.keys(terms), ['total', 'kd_12', 'aux', 'stu', 'mmd_M', 'mmd_L']);
    assert.equal(terms.stu, 0.75);
  }
});

test('ablation flags drop a term, which then needs no input', () => {
  const table: [{ mmdM?: boolean; mmdL?: boolean }, number, string[]][] = [
    [{ mmdM: true }, 0.75 + Bp * mmdL, ['mmd_L']],
    [{ mmdL: true }, 0.75 + A * mmdM, ['mmd_M']],
    [{ mmdM: true, mmdL: true }, 0.75, []],
  ];
  for (const [ablate, want, kept] of table) {
    const terms = tf.tidy(() => {
      const all = inputs();
      return readTerms(
        finalLoss({
          student: student(),
          teacherClsSource: ablate.mmdM && ablate.mmdL ? undefined : all.teacherClsSource,
          studentClsSource: ablate.mmdM ? undefined : all.studentClsSource,
          studentClsTarget: ablate.mmdL ? undefined : all.studentClsTarget,
          alphaPrime: A,
          betaPrime: Bp,
          ablate,
        }),
      );
    });
    assert.ok(Math.abs(terms.total - want) < 1e-6, `${JSON.stringify(ablate)}: ${terms.total} vs ${want}`);
    assert.deepEqual(
      Object.keys(terms).filter((k) => k.startsWith('mmd')),
      kept,
    );
  }
});

test('gradients of L_final reach the student [CLS] inputs; nothing leaks', () => {
  const all = inputs();
  const before = tf.memory().numTensors;
  const [gs, gt] = tf.grads(
    (s: tf.Tensor, t: tf.Tensor) =>
      finalLoss({
        student: student(),
        teacherClsSource: all.teacherClsSource,
        studentClsSource: s,
        studentClsTarget: t,
        alphaPrime: 1,
        betaPrime: 1,
      }).total,
  )([all.studentClsSource, all.studentClsTarget]);
  // d L_final / d S_src is exactly d MMD_M / d S_src here (alpha' = 1).
  const [unused, want] = tf.grads((a: tf.Tensor, b: tf.Tensor) => mmd(a, b))([
    all.teacherClsSource,
    all.studentClsSource,
  ]);
  const diff = tf.tidy(() => tf.max(tf.abs(tf.sub(gs, want))).dataSync()[0]);
  assert.ok(diff < 1e-7, `diff ${diff}`);
  assert.ok(Array.from(gt.dataSync()).every(Number.isFinite));
  tf.dispose([gs, gt, unused, want]);
  assert.equal(tf.memory().numTensors, before);
  tf.dispose(Object.values(all));
});

test('missing inputs and mismatched source sets are explained', () => {
  const all = inputs();
  assert.throws(
    () =>
      finalLoss({
        student: student(),
        teacherClsSource: all.teacherClsSource,
        studentClsTarget: all.studentClsTarget,
        alphaPrime: A,
        betaPrime: Bp,
      }),
    (e: Error) =>
      e instanceof LossInputError &&
      /final\.ts: finalLoss: studentClsSource is missing; expected a tensor for MMD_M/.test(e.message),
  );
  assert.throws(
    () =>
      finalLoss({ student: student(), ...all, studentClsSource: all.studentClsTarget, alphaPrime: A, betaPrime: Bp }),
    /teacherClsSource \[6,10\] and studentClsSource \[8,10\] differ; expected the same source sentences/,
  );
  assert.throws(() => finalLoss({ student: student(), ...all, alphaPrime: A, betaPrime: NaN }), /betaPrime is NaN/);
  // No default weight hides here: a caller that omits one is told (their one home is the config).
  const { alphaPrime: _omitted, ...noAlpha } = { student: student(), ...all, alphaPrime: A, betaPrime: Bp };
  assert.throws(
    () => finalLoss(noAlpha as unknown as FinalLossInput),
    /alphaPrime is undefined; expected a finite number/,
  );
  tf.dispose(Object.values(all));
});
