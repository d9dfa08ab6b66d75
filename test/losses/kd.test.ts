import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tf } from '../../src/tf.js';
import { headLayerList, PAPER } from '../../src/config.js';
import { LossInputError } from '../../src/losses/check.js';
import { kdLayerLoss, studentLoss, type StudentLossInput } from '../../src/losses/kd.js';
import { layerWeights } from '../../src/losses/lambda.js';
import { readTerms } from '../../src/losses/terms.js';

/** The paper's layers and weight, from their one home (the config): main head 12, auxiliary 4..11, beta 1. */
const HEADS = headLayerList(PAPER.model);
const MAIN = HEADS[HEADS.length - 1]!;
const AUX = HEADS.slice(0, -1);
const BETA = PAPER.student.beta;
import { kdMse64, randn, rng, rows, softmax64 } from './helpers.js';

const B = 3;
const T = 4;
const C = 5;

/** Teacher probabilities (softmax of random logits, float32-rounded) and student logits for one layer. */
function layerData(seed: number): { teacher: number[]; student: number[] } {
  const teacher = rows(randn(B * T * C, seed, 2), C).flatMap((z) => softmax64(z).map(Math.fround));
  return { teacher, student: randn(B * T * C, seed + 1, 2) };
}

function randomMask(seed: number): number[] {
  const r = rng(seed);
  return Array.from({ length: B * T }, () => (r() < 0.6 ? 1 : 0));
}

test('L_m^KD equals nn.MSELoss(mean) on the masked [|P|, C] probability rows (float64 reference)', () => {
  for (const seed of [1, 2, 3]) {
    const { teacher, student } = layerData(seed);
    const mask = randomMask(seed + 50);
    const want = kdMse64(rows(teacher, C), rows(student, C), mask);
    for (const dtype of ['bool', 'int32', 'float32'] as const) {
      const got = tf.tidy(
        () =>
          kdLayerLoss(
            tf.tensor(teacher, [B, T, C]),
            tf.tensor(student, [B, T, C]),
            tf.tensor(mask, [B, T], dtype),
          ).dataSync()[0],
      );
      assert.ok(Math.abs(got - want) < 1e-6, `seed ${seed} mask ${dtype}: ${got} vs ${want}`);
    }
  }
});

test('L_m^KD is 0 when the student matches the teacher, 0 (not NaN) with an empty mask, and ignores masked-out rows', () => {
  const { teacher, student } = layerData(9);
  const mask = randomMask(10);
  tf.tidy(() => {
    const logits = tf.tensor(student, [B, T, C]);
    const same = kdLayerLoss(tf.softmax(logits), logits, tf.ones([B, T])).dataSync()[0];
    assert.ok(Math.abs(same) < 1e-12);
    const empty = kdLayerLoss(tf.tensor(teacher, [B, T, C]), logits, tf.zeros([B, T])).dataSync()[0];
    assert.equal(empty, 0);
    // Changing the teacher at masked-out positions changes nothing.
    const changed = teacher.map((p, i) => (mask[Math.floor(i / C)] ? p : 1 - p));
    const a = kdLayerLoss(tf.tensor(teacher, [B, T, C]), logits, tf.tensor(mask, [B, T])).dataSync()[0];
    const b = kdLayerLoss(tf.tensor(changed, [B, T, C]), logits, tf.tensor(mask, [B, T])).dataSync()[0];
    assert.equal(a, b);
    assert.ok(a > 0);
  });
});

test('L_stu = L_12^KD + beta * sum_m lambda_m L_m^KD (float64), the config beta 1, no-aux ablation', () => {
  assert.deepEqual([MAIN, AUX, BETA], [12, [4, 5, 6, 7, 8, 9, 10, 11], 1]);
  const layers = [...AUX, MAIN];
  const data = new Map(layers.map((l) => [l, layerData(l * 7)] as const));
  const teacherProbs = new Map(layers.map((l) => [l, tf.tensor(data.get(l)!.teacher, [B, T, C])] as const));
  const studentLogits = new Map(layers.map((l) => [l, tf.tensor(data.get(l)!.student, [B, T, C])] as const));
  const maskArr = randomMask(77);
  const mask = tf.tensor(maskArr, [B, T], 'bool');
  const kd = (l: number) => kdMse64(rows(data.get(l)!.teacher, C), rows(data.get(l)!.student, C), maskArr);
  const weights = [3, 1, 4, 1, 5, 9, 2, 6].map((x) => x / 31);
  for (const beta of [BETA, 0.5, 2]) {
    const terms = tf.tidy(() =>
      readTerms(
        studentLoss({
          teacherProbs,
          studentLogits,
          mask,
          lambda: layerWeights(weights, 8),
          beta,
          mainLayer: MAIN,
          auxLayers: AUX,
        }),
      ),
    );
    const aux = AUX.reduce((s, m, i) => s + weights[i] * kd(m), 0);
    const want = kd(12) + beta * aux;
    assert.ok(Math.abs(terms.total - want) < 1e-6, `beta ${beta}: ${terms.total} vs ${want}`);
    assert.ok(Math.abs(terms.aux - aux) < 1e-6);
    for (const m of layers) assert.ok(Math.abs(terms[`kd_${m}`] - kd(m)) < 1e-6, `kd_${m}`);
  }
  const only12 = tf.tidy(() =>
    readTerms(
      studentLoss({
        teacherProbs,
        studentLogits,
        mask,
        lambda: layerWeights('uniform', 0),
        beta: BETA,
        mainLayer: MAIN,
        auxLayers: [],
      }),
    ),
  );
  // No default layers or weight hide here: a caller that omits them is told (their one home is the config).
  const omitted = {
    teacherProbs,
    studentLogits,
    mask,
    lambda: layerWeights('uniform', 0),
    mainLayer: MAIN,
  } as unknown as StudentLossInput;
  assert.throws(() => studentLoss({ ...omitted, auxLayers: [] }), /beta is undefined; expected a finite number/);
  assert.throws(() => studentLoss({ ...omitted, beta: 1 }), /auxLayers is undefined; expected a list of layers/);
  assert.ok(Math.abs(only12.total - kd(12)) < 1e-6);
  assert.deepEqual(Object.keys(only12), ['total', 'kd_12', 'aux']);
  tf.dispose([...teacherProbs.values(), ...studentLogits.values(), mask]);
});

test('KD gradients reach the student heads (not the teacher inputs) and nothing leaks', () => {
  const layers = [4, 5, 12];
  const teacherProbs = new Map(layers.map((l) => [l, tf.tensor(layerData(l).teacher, [B, T, C])] as const));
  const students = new Map(
    layers.map(
      (l) => [l, tf.variable(tf.tensor(layerData(l).student, [B, T, C]), true, `test/kd_student_${l}`)] as const,
    ),
  );
  const mask = tf.tensor(randomMask(5), [B, T]);
  const lambda = layerWeights('learned', 2, { name: 'test/kd_lambda' });
  const before = tf.memory().numTensors;
  const varList = [...students.values(), lambda.variable!];
  const { value, grads } = tf.variableGrads(
    () =>
      studentLoss({
        teacherProbs,
        studentLogits: students,
        mask,
        lambda,
        beta: BETA,
        mainLayer: MAIN,
        auxLayers: [4, 5],
      }).total,
    varList,
  );
  for (const v of varList) {
    const g = Array.from(grads[v.name].dataSync());
    assert.ok(g.every(Number.isFinite) && g.some((x) => x !== 0), v.name);
  }
  tf.dispose([value, ...Object.values(grads)]);
  assert.equal(tf.memory().numTensors, before);
  lambda.dispose();
  tf.dispose([...teacherProbs.values(), ...students.values(), mask]);
});

test('KD losses reject mismatched shapes and missing layers', () => {
  const p = tf.zeros([B, T, C]);
  const cases: [() => unknown, RegExp][] = [
    [
      () => kdLayerLoss(p, tf.zeros([B, T, C + 1]), tf.ones([B, T])),
      /kdLayerLoss: teacherProbs \[3,4,5\] and studentLogits \[3,4,6\] differ/,
    ],
    [() => kdLayerLoss(p, p, tf.ones([B, T + 1])), /mask \[3,5\] does not match studentLogits \[3,4,5\]/],
    [
      () => kdLayerLoss(tf.zeros([B, T, C], 'int32'), p, tf.ones([B, T])),
      /teacherProbs has dtype int32; expected float32/,
    ],
    [
      () =>
        studentLoss({
          teacherProbs: new Map([[12, p]]),
          studentLogits: new Map([
            [12, p],
            [4, p],
          ]),
          mask: tf.ones([B, T]),
          lambda: layerWeights('uniform', 1),
          beta: BETA,
          mainLayer: MAIN,
          auxLayers: [4],
        }),
      /studentLoss: teacherProbs \(auxLayers\): no tensor for layer 4/,
    ],
  ];
  for (const [fn, re] of cases)
    assert.throws(fn, (e: Error) => e instanceof LossInputError && re.test(e.message), String(re));
  p.dispose();
});
