import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tf } from '../../src/tf.js';
import { headLayerList, PAPER } from '../../src/config.js';
import { LossInputError } from '../../src/losses/check.js';
import { layerWeights, type LambdaMode } from '../../src/losses/lambda.js';
import { teacherLoss, type TeacherLossInput } from '../../src/losses/teacher.js';
import { readTerms } from '../../src/losses/terms.js';

/** The paper's layers and weight, from their one home (the config): main head 12, auxiliary 4..11, alpha 0.1. */
const HEADS = headLayerList(PAPER.model);
const MAIN = HEADS[HEADS.length - 1]!;
const AUX = HEADS.slice(0, -1);
const ALPHA = PAPER.teacher.alpha;
import { crossEntropy64, randn, rows } from './helpers.js';

const B = 2;
const T = 5;
const C = 4;
const LABELS = [0, 1, -100, 3, 2, -100, -100, 1, 0, 3];

function layerLogits(
  layers: readonly number[],
  seed: number,
): { tensors: Map<number, tf.Tensor>; values: Map<number, number[]> } {
  const tensors = new Map<number, tf.Tensor>();
  const values = new Map<number, number[]>();
  for (const l of layers) {
    const v = randn(B * T * C, seed * 100 + l, 1.5);
    values.set(l, v);
    tensors.set(l, tf.tensor(v, [B, T, C]));
  }
  return { tensors, values };
}

test('L_tea = L_main + alpha * sum_m lambda_m L_aux_m against float64, for each lambda mode and alpha', () => {
  const layers = [...AUX, MAIN];
  const { tensors, values } = layerLogits(layers, 1);
  const labels = tf.tensor(LABELS, [B, T], 'int32');
  const ce = (l: number) => crossEntropy64(rows(values.get(l)!, C), LABELS);
  const explicit = [0, 1, 2, 3, 4, 5, 6, 7].map((x) => x / 10);
  for (const [mode, alpha] of [
    ['uniform', 0.1],
    [explicit, 0.1],
    ['learned', 0.3],
    ['uniform', 0],
  ] as [LambdaMode, number][]) {
    const lambda = layerWeights(mode, 8, { seed: 5, name: 'test/teacher_lambda' });
    const weights = lambda.values();
    const terms = tf.tidy(() =>
      readTerms(teacherLoss({ logits: tensors, labels, lambda, alpha, mainLayer: MAIN, auxLayers: AUX })),
    );
    const aux = AUX.reduce((s, m, i) => s + weights[i] * ce(m), 0);
    const want = ce(12) + alpha * aux;
    assert.ok(Math.abs(terms.total - want) < 1e-5, `${JSON.stringify(mode)} alpha ${alpha}: ${terms.total} vs ${want}`);
    assert.ok(Math.abs(terms.ce_12 - ce(12)) < 1e-5);
    assert.ok(Math.abs(terms.aux - aux) < 1e-5);
    for (const m of AUX) assert.ok(Math.abs(terms[`ce_${m}`] - ce(m)) < 1e-5, `ce_${m}`);
    assert.deepEqual(Object.keys(terms), ['total', 'ce_12', ...AUX.map((m) => `ce_${m}`), 'aux']);
    lambda.dispose();
  }
  tf.dispose([...tensors.values(), labels]);
});

test('the config alpha is 0.1 and must be given; no auxiliary layers trains the main head only; other main layer', () => {
  assert.deepEqual([MAIN, AUX, ALPHA], [12, [4, 5, 6, 7, 8, 9, 10, 11], 0.1]);
  const { tensors, values } = layerLogits([4, 8, 12], 2);
  const labels = tf.tensor(LABELS, [B, T], 'int32');
  const ce = (l: number) => crossEntropy64(rows(values.get(l)!, C), LABELS);
  const lambda = layerWeights('uniform', 2);
  const def = tf.tidy(() =>
    readTerms(teacherLoss({ logits: tensors, labels, lambda, alpha: ALPHA, mainLayer: MAIN, auxLayers: [4, 8] })),
  );
  assert.ok(Math.abs(def.total - (ce(12) + (0.1 * (ce(4) + ce(8))) / 2)) < 1e-5);
  // No default layers or weight hide here: a caller that omits them is told (their one home is the config).
  const omitted = { logits: tensors, labels, lambda, mainLayer: MAIN } as unknown as TeacherLossInput;
  assert.throws(() => teacherLoss({ ...omitted, auxLayers: [4, 8] }), /alpha is undefined; expected a finite number/);
  assert.throws(() => teacherLoss({ ...omitted, alpha: ALPHA }), /auxLayers is undefined; expected a list of layers/);
  const none = tf.tidy(() =>
    readTerms(
      teacherLoss({
        logits: tensors,
        labels,
        lambda: layerWeights('uniform', 0),
        alpha: ALPHA,
        mainLayer: MAIN,
        auxLayers: [],
      }),
    ),
  );
  assert.ok(Math.abs(none.total - ce(12)) < 1e-6);
  const main8 = tf.tidy(() =>
    readTerms(
      teacherLoss({ logits: tensors, labels, lambda: layerWeights([1], 1), auxLayers: [4], mainLayer: 8, alpha: 0.5 }),
    ),
  );
  assert.ok(Math.abs(main8.total - (ce(8) + 0.5 * ce(4))) < 1e-5);
  tf.dispose([...tensors.values(), labels]);
});

test('gradients reach every head and the learned lambda; nothing leaks', () => {
  const layers = [...AUX, MAIN];
  const vars = new Map(
    layers.map(
      (l) => [l, tf.variable(tf.tensor(randn(B * T * C, l), [B, T, C]), true, `test/teacher_logits_${l}`)] as const,
    ),
  );
  const labels = tf.tensor(LABELS, [B, T], 'int32');
  const lambda = layerWeights('learned', 8, { name: 'test/teacher_grad_lambda' });
  const before = tf.memory().numTensors;
  const varList = [...vars.values(), lambda.variable!];
  const { value, grads } = tf.variableGrads(
    () => teacherLoss({ logits: vars, labels, lambda, alpha: ALPHA, mainLayer: MAIN, auxLayers: AUX }).total,
    varList,
  );
  for (const [name, g] of Object.entries(grads)) {
    const a = Array.from(g.dataSync());
    assert.ok(a.every(Number.isFinite), name);
    assert.ok(
      a.some((x) => x !== 0),
      `${name} got no gradient`,
    );
  }
  assert.deepEqual(Object.keys(grads).sort(), [...[...vars.values()].map((v) => v.name), lambda.variable!.name].sort());
  tf.dispose([value, ...Object.values(grads)]);
  assert.equal(tf.memory().numTensors, before);
  lambda.dispose();
  tf.dispose([...vars.values(), labels]);
});

test('teacher loss rejects missing layers, main among aux and a lambda of the wrong size', () => {
  const { tensors } = layerLogits([4, 5, 12], 3);
  const labels = tf.tensor(LABELS, [B, T], 'int32');
  const cases: [() => unknown, RegExp][] = [
    [
      () =>
        teacherLoss({
          logits: tensors,
          labels,
          lambda: layerWeights('uniform', 8),
          alpha: ALPHA,
          mainLayer: MAIN,
          auxLayers: AUX,
        }),
      /auxLayers: no tensor for layer 6 \(layers given: 4, 5, 12\)/,
    ],
    [
      () =>
        teacherLoss({
          logits: tensors,
          labels,
          lambda: layerWeights('uniform', 2),
          alpha: ALPHA,
          mainLayer: MAIN,
          auxLayers: [4, 12],
        }),
      /contains the main layer 12/,
    ],
    [
      () =>
        teacherLoss({
          logits: tensors,
          labels,
          lambda: layerWeights('uniform', 3),
          alpha: ALPHA,
          mainLayer: MAIN,
          auxLayers: [4, 5],
        }),
      /lambda weighs 3 layers; expected 2/,
    ],
    [
      () =>
        teacherLoss({
          logits: tensors,
          labels,
          lambda: layerWeights('uniform', 2),
          alpha: ALPHA,
          auxLayers: [4, 5],
          mainLayer: 11,
        }),
      /mainLayer: no tensor for layer 11/,
    ],
    [
      () =>
        teacherLoss({
          logits: tensors,
          labels,
          lambda: layerWeights('uniform', 2),
          auxLayers: [4, 5],
          mainLayer: MAIN,
          alpha: -1,
        }),
      /alpha is -1/,
    ],
  ];
  for (const [fn, re] of cases)
    assert.throws(
      fn,
      (e: Error) => e instanceof LossInputError && /teacher\.ts: teacherLoss/.test(e.message) && re.test(e.message),
      String(re),
    );
  tf.dispose([...tensors.values(), labels]);
});
