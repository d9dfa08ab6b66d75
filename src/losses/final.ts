/**
 * The student's full objective: distillation plus two alignments of the [CLS] representation.
 *
 *   L_final = L_stu + alpha' * MMD^2(T_src, S_src) + beta' * MMD^2(T_src, S_tgt)
 *                       \______ MMD_M ________/          \______ MMD_L _______/
 *
 * T_src: the teacher's [CLS] vectors on source sentences (precomputed, constant), S_src: the student's [CLS] on the
 * same source sentences (MMD_M, model alignment), S_tgt: the student's [CLS] on target sentences (MMD_L, language
 * alignment). MMD^2 is mmd.ts. alpha' and beta' are inputs with no default here; their one home is the run config
 * (src/config.ts: student.alphaPrime = student.betaPrime = 0.001, as the reference code's `mmd / 1000` each).
 * Which layer's [CLS] is used is the caller's choice (default there: the last layer).
 *
 * Ablations: `ablate.mmdM` / `ablate.mmdL` drop a term; it is then not computed and absent from `perTerm`, and its
 * student input may be omitted (saving the extra forward pass). The "no auxiliary distillers" ablation is
 * `auxLayers: []` in studentLoss (kd.ts).
 *
 * Difference from the public reference code: the reference adds the MMD terms to the KD loss inside the model's
 * forward pass with the [CLS] vectors after dropout; here they are explicit inputs, so the caller decides.
 */
import { tf } from '../tf.js';
import type { Scalar, Tensor } from '../tf.js';
import { LossInputError, expectFiniteNumber, fmtShape, sameShape } from './check.js';
import { mmd } from './mmd.js';
import type { MmdOptions } from './mmd.js';
import type { LossResult } from './terms.js';

export interface FinalLossInput {
  /** L_stu and its parts (studentLoss in kd.ts). */
  student: LossResult;
  /** Teacher [CLS] on source sentences [n, d]; needed unless both MMD terms are dropped. */
  teacherClsSource?: Tensor;
  /** Student [CLS] on the same source sentences [n, d]; needed unless `ablate.mmdM`. */
  studentClsSource?: Tensor;
  /** Student [CLS] on target sentences [m, d]; needed unless `ablate.mmdL`. */
  studentClsTarget?: Tensor;
  /** Weight of MMD_M (config student.alphaPrime; paper 0.001). */
  alphaPrime: number;
  /** Weight of MMD_L (config student.betaPrime; paper 0.001). */
  betaPrime: number;
  ablate?: { mmdM?: boolean; mmdL?: boolean };
  mmd?: MmdOptions;
}

/** L_final; `perTerm` = the student's parts plus `stu`, and `mmd_M`, `mmd_L` unless dropped (unweighted values). */
export function finalLoss(input: FinalLossInput): LossResult {
  const where = 'final.ts: finalLoss';
  const { alphaPrime, betaPrime } = input;
  expectFiniteNumber(where, 'alphaPrime', alphaPrime, { min: 0 });
  expectFiniteNumber(where, 'betaPrime', betaPrime, { min: 0 });
  const useM = !(input.ablate?.mmdM ?? false);
  const useL = !(input.ablate?.mmdL ?? false);
  const need = (name: keyof FinalLossInput, why: string): Tensor => {
    const t = input[name] as Tensor | undefined;
    if (!t)
      throw new LossInputError(
        where,
        `${name} is missing; expected a tensor for ${why} (or drop the term with ablate)`,
      );
    return t;
  };
  const perTerm: Record<string, Scalar> = { ...input.student.perTerm, stu: input.student.total };
  const weighted: Scalar[] = [];
  if (useM) {
    const tea = need('teacherClsSource', 'MMD_M');
    const stu = need('studentClsSource', 'MMD_M');
    if (!sameShape(tea.shape, stu.shape)) {
      throw new LossInputError(
        where,
        `teacherClsSource ${fmtShape(tea.shape)} and studentClsSource ${fmtShape(stu.shape)} differ; expected the same source sentences`,
      );
    }
    perTerm.mmd_M = mmd(tea, stu, input.mmd);
    weighted.push(tf.tidy(() => tf.mul(perTerm.mmd_M, tf.scalar(alphaPrime)) as Scalar));
  }
  if (useL) {
    perTerm.mmd_L = mmd(need('teacherClsSource', 'MMD_L'), need('studentClsTarget', 'MMD_L'), input.mmd);
    weighted.push(tf.tidy(() => tf.mul(perTerm.mmd_L, tf.scalar(betaPrime)) as Scalar));
  }
  const total = tf.tidy(() => tf.addN([input.student.total, ...weighted]) as Scalar);
  weighted.forEach((t) => t.dispose());
  return { total, perTerm };
}
