/**
 * The teacher's loss on labelled source sentences: cross-entropy of the main head plus a weighted mixture of the
 * auxiliary (short-channel) heads on intermediate layers.
 *
 *   L_tea = L_main + alpha * sum_{m in aux} lambda_m * L_aux_m
 *
 * L_main is the cross-entropy of the head on layer 12 (`mainLayer`), L_aux_m that of the head on layer m
 * (paper: m = 4..11), each the mean over labelled positions (see ce.ts). lambda comes from lambda.ts
 * (`'learned'` softmax weights as the reference code, `'uniform'`, or explicit). The layers and alpha are inputs
 * with no default here: their one home is the run config (src/config.ts: model.headLayers, teacher.alpha = 0.1).
 *
 * Differences from the public reference code (`my_BertsoftmaxNER_unit`):
 * - Positions are selected by label != -100 only; the reference first selects attention_mask == 1 and then relies
 *   on CrossEntropyLoss's ignore_index, which selects the same positions.
 * - Main and auxiliary layers are parameters (the reference hard-codes hidden_states[4:12] and 8 heads).
 */
import { tf } from '../tf.js';
import type { Scalar, Tensor } from '../tf.js';
import { LossInputError, expectFiniteNumber, expectLayerList, expectLayers } from './check.js';
import { tokenCrossEntropy } from './ce.js';
import type { CrossEntropyOptions } from './ce.js';
import { weightedSum } from './lambda.js';
import type { LayerWeights } from './lambda.js';
import type { LossResult } from './terms.js';

export interface TeacherLossInput {
  /** Logits per layer, each float32 [b, t, C]; must hold `mainLayer` and every auxiliary layer. */
  logits: ReadonlyMap<number, Tensor>;
  /** Gold tag ids int32 [b, t], -100 where not labelled. */
  labels: Tensor;
  /** lambda over `auxLayers` (same order). */
  lambda: LayerWeights;
  /** Weight of the auxiliary mixture (config teacher.alpha; paper 0.1). */
  alpha: number;
  /** The main head's layer (the last of model.headLayers; paper 12). */
  mainLayer: number;
  /** The auxiliary layers (paper 4..11); `[]` trains the main head only (the "no auxiliary distillers" ablation). */
  auxLayers: readonly number[];
  ce?: CrossEntropyOptions;
}

/**
 * L_tea with its parts: `perTerm` holds `ce_<main>`, `ce_<m>` for each auxiliary layer, and `aux`
 * (= sum_m lambda_m L_aux_m, before multiplying by alpha).
 */
export function teacherLoss(input: TeacherLossInput): LossResult {
  const where = 'teacher.ts: teacherLoss';
  const { alpha, mainLayer, auxLayers } = input;
  expectFiniteNumber(where, 'alpha', alpha, { min: 0 });
  expectLayerList(where, 'auxLayers', auxLayers);
  expectLayers(where, 'mainLayer', input.logits, [mainLayer]);
  expectLayers(where, 'auxLayers', input.logits, auxLayers);
  if (auxLayers.includes(mainLayer)) {
    throw new LossInputError(where, `auxLayers contains the main layer ${mainLayer}; expected it only as mainLayer`);
  }
  if (input.lambda.count !== auxLayers.length) {
    throw new LossInputError(
      where,
      `lambda weighs ${input.lambda.count} layers; expected ${auxLayers.length} (auxLayers ${auxLayers.join(',')})`,
    );
  }
  // Validate labels once, not once per head.
  const ceMain = tokenCrossEntropy(input.logits.get(mainLayer)!, input.labels, input.ce);
  const ceOpts: CrossEntropyOptions = { ...input.ce, validateLabels: false };
  const perTerm: Record<string, Scalar> = { [`ce_${mainLayer}`]: ceMain };
  const auxTerms = auxLayers.map((m) => {
    const t = tokenCrossEntropy(input.logits.get(m)!, input.labels, ceOpts);
    perTerm[`ce_${m}`] = t;
    return t;
  });
  const aux = weightedSum(input.lambda, auxTerms);
  perTerm.aux = aux;
  const total = tf.tidy(() => tf.add(ceMain, tf.mul(aux, tf.scalar(alpha))) as Scalar);
  return { total, perTerm };
}
