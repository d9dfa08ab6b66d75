/**
 * The student's distillation loss on unlabelled target sentences (paper, per layer):
 *
 *   L_m^KD = (1 / |P|) * sum_{i in P} MSE(p_m^tea(i), p_m^stu(i)),   MSE(a, b) = (1 / C) * sum_c (a_c - b_c)^2
 *   L_stu  = L_12^KD + beta * sum_{m in aux} lambda'_m * L_m^KD
 *
 * p_m = softmax of the layer-m head's logits, P the real first sub-tokens of the batch (a mask the caller builds
 * from the tokenisation, never from target labels), C the number of tags. Averaging over classes and then over
 * positions is exactly PyTorch's `nn.MSELoss(reduction='mean')` on the selected [|P|, C] probability rows, which is
 * what the public reference code computes; note it is 1/C of the "sum over classes" squared L2 distance.
 * The teacher probabilities are inputs (precomputed once and cached), so no gradient reaches the teacher.
 *
 * beta: the issue writes `beta * sum`, the paper's formula has no factor (beta = 1). It is an input with no default
 * here, like the layers: their one home is the run config (src/config.ts: student.beta = 1, model.headLayers).
 *
 * Deliberate differences from the public reference code (`my_BertsoftmaxNER_unit`):
 * - Every auxiliary layer is distilled from the teacher's head on the same layer, as in the paper. The reference
 *   computes these per-layer MSEs but then trains on per-layer cross-entropy against the target file's labels;
 *   here target labels never enter the loss.
 * - Positions with no real first sub-token give 0, not NaN.
 */
import { tf } from '../tf.js';
import type { Scalar, Tensor } from '../tf.js';
import {
  LossInputError,
  expectFiniteNumber,
  expectFloat,
  expectLayerList,
  expectLayers,
  fmtShape,
  sameShape,
} from './check.js';
import { weightedSum } from './lambda.js';
import type { LayerWeights } from './lambda.js';
import type { LossResult } from './terms.js';

/**
 * L_m^KD for one layer.
 * @param teacherProbs float32 [..., C] softmax probabilities of the teacher's head (constant)
 * @param studentLogits float32, same shape, logits of the student's head on the same layer
 * @param mask [...] (shape without C): bool, int32 or float32; non-zero marks a real first sub-token
 * @returns scalar mean over masked positions of the per-position mean squared difference; 0 if the mask is empty
 */
export function kdLayerLoss(teacherProbs: Tensor, studentLogits: Tensor, mask: Tensor): Scalar {
  const where = 'kd.ts: kdLayerLoss';
  expectFloat(where, 'teacherProbs', teacherProbs);
  expectFloat(where, 'studentLogits', studentLogits);
  if (!sameShape(teacherProbs.shape, studentLogits.shape)) {
    throw new LossInputError(
      where,
      `teacherProbs ${fmtShape(teacherProbs.shape)} and studentLogits ${fmtShape(studentLogits.shape)} differ; expected the same [b, t, C]`,
    );
  }
  if (studentLogits.rank < 2 || !sameShape(mask.shape, studentLogits.shape.slice(0, -1))) {
    throw new LossInputError(
      where,
      `mask ${fmtShape(mask.shape)} does not match studentLogits ${fmtShape(studentLogits.shape)}; expected the logits shape without the class axis`,
    );
  }
  const numClasses = studentLogits.shape[studentLogits.rank - 1];
  return tf.tidy(() => {
    const m = tf.cast(tf.notEqual(tf.cast(mask, 'float32'), tf.scalar(0)), 'float32');
    const diff = tf.sub(tf.softmax(studentLogits), teacherProbs);
    const perPosition = tf.div(tf.sum(tf.square(diff), -1), tf.scalar(numClasses));
    const count = tf.maximum(tf.sum(m), tf.scalar(1));
    return tf.div(tf.sum(tf.mul(perPosition, m)), count) as Scalar;
  });
}

export interface StudentLossInput {
  /** Teacher probabilities per layer, float32 [b, t, C]: `mainLayer` and every auxiliary layer. */
  teacherProbs: ReadonlyMap<number, Tensor>;
  /** Student logits per layer, float32 [b, t, C]. */
  studentLogits: ReadonlyMap<number, Tensor>;
  /** Real first sub-tokens [b, t] (bool / 0-1). */
  mask: Tensor;
  /** lambda' over `auxLayers` (same order). */
  lambda: LayerWeights;
  /** Weight of the auxiliary sum (config student.beta; 1 in the paper's formula). */
  beta: number;
  /** The main head's layer (the last of model.headLayers; paper 12). */
  mainLayer: number;
  /** The auxiliary layers (paper 4..11); `[]` distils the main layer only (the "no auxiliary distillers" ablation). */
  auxLayers: readonly number[];
}

/**
 * L_stu with its parts: `perTerm` holds `kd_<main>`, `kd_<m>` per auxiliary layer and `aux`
 * (= sum_m lambda'_m L_m^KD, before multiplying by beta).
 */
export function studentLoss(input: StudentLossInput): LossResult {
  const where = 'kd.ts: studentLoss';
  const beta = input.beta;
  const { mainLayer, auxLayers } = input;
  expectLayerList(where, 'auxLayers', auxLayers);
  expectFiniteNumber(where, 'beta', beta, { min: 0 });
  for (const [name, map] of [
    ['teacherProbs', input.teacherProbs],
    ['studentLogits', input.studentLogits],
  ] as const) {
    expectLayers(where, `${name} (mainLayer)`, map, [mainLayer]);
    expectLayers(where, `${name} (auxLayers)`, map, auxLayers);
  }
  if (auxLayers.includes(mainLayer)) {
    throw new LossInputError(where, `auxLayers contains the main layer ${mainLayer}; expected it only as mainLayer`);
  }
  if (input.lambda.count !== auxLayers.length) {
    throw new LossInputError(
      where,
      `lambda weighs ${input.lambda.count} layers; expected ${auxLayers.length} (auxLayers ${auxLayers.join(',')})`,
    );
  }
  const kd = (m: number) => kdLayerLoss(input.teacherProbs.get(m)!, input.studentLogits.get(m)!, input.mask);
  const main = kd(mainLayer);
  const perTerm: Record<string, Scalar> = { [`kd_${mainLayer}`]: main };
  const auxTerms = auxLayers.map((m) => {
    const t = kd(m);
    perTerm[`kd_${m}`] = t;
    return t;
  });
  const aux = weightedSum(input.lambda, auxTerms);
  perTerm.aux = aux;
  const total = tf.tidy(() => tf.add(main, tf.mul(aux, tf.scalar(beta))) as Scalar);
  return { total, perTerm };
}
