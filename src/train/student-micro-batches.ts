/**
 * A student step cut into micro-batches (`run.microBatchTokens`), with the same gradient as the whole batch.
 *
 * The KD terms are means over the batch's first sub-tokens: each micro-batch takes its share of them (`kdWeight`).
 * The MMD terms are not sums over rows, so they are linearised by the chain rule. Write
 * G(Y) = alpha' MMD_M + beta' MMD_L as a function of the student's [CLS] rows Y (on target for MMD_L, on source for
 * MMD_M) of the WHOLE batch. Then dG/dtheta = sum_parts <dG/dY_part, dY_part/dtheta>, so:
 *
 *   1. a first pass off the tape computes the whole batch's student [CLS] rows (every micro-batch with the dropout
 *      seed the loop will give it), G's value and its gradient dG/dY with respect to them (a constant); it keeps
 *      each micro-batch's frozen-prefix states, which step 2 would compute again identically;
 *   2. each micro-batch then adds <dG/dY_part, Y_part(theta)> to its loss, whose gradient is exactly its rows'
 *      share of dG/dtheta (Y_part(theta) is recomputed with the same dropout seeds, so it is the Y the gradient
 *      was taken at);
 *   3. the first micro-batch also adds the constant G - sum_parts <dG/dY_part, Y_part>, so the parts' losses add up
 *      to L_final, and reports the whole batch's MMD values.
 */
import type { MsdConfig } from '../config.js';
import { finalLoss } from '../losses/final.js';
import type { LossResult } from '../losses/terms.js';
import { clsSlice } from '../model/cls.js';
import type { NerModel } from '../model/ner-model.js';
import { tf } from '../tf.js';
import { firstPieceMask } from '../tokenizer/align.js';
import { chunkBatch, splitBatch, type Batch } from '../tokenizer/batching.js';
import { batchToTensors } from '../tokenizer/tensors.js';
import type { MicroBatch } from './loop.js';
import { studentSourceForward, teacherCls } from './student-cls.js';
import type { BertOutput } from '../model/bert.js';
import type { StudentBatch, TeacherOutputs } from './student.js';

/** What one micro-batch of a student step needs from the whole batch (see the header). */
export interface MicroBatchShare {
  /** This micro-batch's share of the batch's first sub-tokens (the KD terms' weight). */
  kdWeight: number;
  /** dG/dY for this micro-batch's student [CLS] rows on target (MMD_L) and on source (MMD_M): constants. */
  mmdGradTarget?: tf.Tensor2D;
  mmdGradSource?: tf.Tensor2D;
  /** First micro-batch only: the whole batch's MMD values, and G - sum_parts <dG/dY, Y> (the constant of step 3). */
  wholeBatch?: { perTerm: Record<string, number>; offset: number };
  /**
   * The frozen prefix's states (embeddings and frozen layers) of this micro-batch's target and source rows, kept from
   * step 1's pass, which ran them with the same dropout seeds: step 2 continues from them instead of recomputing
   * them (`ForwardOptions.frozenPrefix`; with the paper's freezing, 4 of 13 blocks of every micro-batch's forward).
   */
  targetPrefix?: tf.Tensor3D[];
  sourcePrefix?: tf.Tensor3D[];
}

/** The loss of one micro-batch: its share of L_stu plus its linearised share of the MMD terms. */
export function microBatchLoss(
  share: MicroBatchShare,
  stu: LossResult,
  studentClsTarget: tf.Tensor2D | undefined,
  studentClsSource: tf.Tensor2D | undefined,
): LossResult {
  const w = share.kdWeight;
  const perTerm: Record<string, tf.Scalar> = {};
  for (const [name, t] of Object.entries(stu.perTerm)) perTerm[name] = tf.mul(t, w) as tf.Scalar;
  perTerm.stu = tf.mul(stu.total, w) as tf.Scalar;
  const parts: tf.Scalar[] = [perTerm.stu];
  if (share.mmdGradTarget && studentClsTarget)
    parts.push(tf.sum(tf.mul(share.mmdGradTarget, studentClsTarget)) as tf.Scalar);
  if (share.mmdGradSource && studentClsSource)
    parts.push(tf.sum(tf.mul(share.mmdGradSource, studentClsSource)) as tf.Scalar);
  if (share.wholeBatch) {
    parts.push(tf.scalar(share.wholeBatch.offset));
    for (const [name, v] of Object.entries(share.wholeBatch.perTerm)) perTerm[name] = tf.scalar(v);
  }
  return { total: tf.addN(parts) as tf.Scalar, perTerm };
}

/** A student batch cut into n micro-batches: target and source rows each in n consecutive groups. */
interface StudentCut {
  targets: Batch[];
  sources: Batch[];
  /** Each micro-batch's share of the KD terms (its first sub-tokens over the batch's); MMD parts added later. */
  shares: MicroBatchShare[];
}

/**
 * Cuts a student batch whose target or source part exceeds `run.microBatchTokens` into n micro-batches (target and
 * source rows each in n consecutive groups), and, when an MMD term is on, runs step 1 of the header: one forward of
 * every micro-batch off the tape, with the dropout seeds the loop will give them (`seedOf`). One micro-batch: the
 * batch as it is.
 */
export function studentMicroBatches(cfg: MsdConfig, student: NerModel, outputs: TeacherOutputs) {
  const s = cfg.student;
  const sIndex = new Map(outputs.sourceWindows.map((w, k) => [w, k]));
  return (batch: StudentBatch, seedOf: (k: number, n: number) => number): MicroBatch<StudentBatch>[] => {
    const cut = cutStudentBatch(cfg, student, batch);
    if (!cut) return [{ part: batch, weight: 1 }];
    const { targets, sources, shares } = cut;
    const useM = batch.source !== undefined && !s.ablation.noMmdM;
    const useL = batch.source !== undefined && !s.ablation.noMmdL;
    if (useM || useL) {
      const seeds = targets.map((_, k) => seedOf(k, targets.length));
      const [clsTarget, clsSource] = wholeBatchCls(cfg, student, outputs.clsLayer, cut, seeds, useL, useM);
      const teacherClsSource = teacherCls(outputs.cls!, outputs.hiddenSize, batch.source!, sIndex);
      try {
        addMmdShares(cfg, cut, teacherClsSource, clsTarget, clsSource);
      } finally {
        tf.dispose([teacherClsSource, ...[clsTarget, clsSource].filter((t) => t !== undefined)]);
      }
    }
    // Every micro-batch has weight 1 in the loop's sum: its loss already carries its share (kdWeight, the MMD
    // linearisation).
    return shares.map((micro, k) => ({ part: { target: targets[k]!, source: sources[k], micro }, weight: 1 }));
  };
}

/** The cut of `batch` under `run.microBatchTokens`, or undefined when it fits in one pass. */
function cutStudentBatch(cfg: MsdConfig, student: NerModel, batch: StudentBatch): StudentCut | undefined {
  const budget = cfg.run.microBatchTokens;
  const pad = student.tokenizer.padId;
  // The target and (for MMD_M) the source forward share one tape: each gets half of the bound.
  const bound =
    batch.source && !cfg.student.ablation.noMmdM && budget > 0 ? Math.max(1, Math.floor(budget / 2)) : budget;
  const wanted = Math.max(
    splitBatch(batch.target, bound, pad).length,
    batch.source ? splitBatch(batch.source, bound, pad).length : 1,
  );
  const n = Math.min(wanted, batch.target.items.length, batch.source?.items.length ?? Infinity);
  if (n === 1) return undefined;
  const targets = chunkBatch(batch.target, n, pad);
  const sources = batch.source ? chunkBatch(batch.source, n, pad) : [];
  const kdTokens = targets.map((t) =>
    t.items.reduce((c, w) => c + firstPieceMask(w.wordIndex).reduce((a, b) => a + b, 0), 0),
  );
  const kdTotal = kdTokens.reduce((a, b) => a + b, 0);
  const shares = targets.map((_, k) => ({ kdWeight: kdTotal > 0 ? kdTokens[k]! / kdTotal : 1 / n }));
  return { targets, sources, shares };
}

/**
 * Step 1: the whole batch's student [CLS] rows on target (for MMD_L) and source (MMD_M), micro-batch by micro-batch,
 * off the tape; each micro-batch's frozen-prefix states are kept on its share (`targetPrefix`, `sourcePrefix`).
 */
function wholeBatchCls(
  cfg: MsdConfig,
  student: NerModel,
  clsLayer: number,
  { targets, sources, shares }: StudentCut,
  seeds: number[],
  useL: boolean,
  useM: boolean,
): [tf.Tensor2D | undefined, tf.Tensor2D | undefined] {
  const s = cfg.student;
  const blocks = s.freezeEmbeddings ? 1 + s.freezeLayers : 0;
  // Nothing to keep when the embeddings train (the whole forward is then on the tape).
  const keepPrefix = (out: BertOutput) => (blocks > 0 ? out.hidden.slice(0, blocks).map((h) => tf.keep(h)) : undefined);
  return tf.tidy(() => {
    const targetCls = (target: Batch, k: number) => {
      const out = student.encoder.forward(batchToTensors(target), {
        training: true,
        dropoutSeed: seeds[k]!,
        frozen: s,
      });
      shares[k]!.targetPrefix = keepPrefix(out);
      return clsSlice(out.hidden[clsLayer]!);
    };
    const sourceCls = (src: Batch, k: number) => {
      const out = studentSourceForward(student, src, seeds[k]!, s);
      shares[k]!.sourcePrefix = keepPrefix(out);
      return clsSlice(out.hidden[clsLayer]!);
    };
    return [
      useL ? tf.keep(tf.concat(targets.map(targetCls)) as tf.Tensor2D) : undefined,
      useM ? tf.keep(tf.concat(sources.map(sourceCls)) as tf.Tensor2D) : undefined,
    ];
  });
}

/**
 * Steps 2 and 3's constants: G and dG/dY at the whole batch's [CLS] rows, dG/dY split into each micro-batch's rows
 * (`mmdGradTarget`, `mmdGradSource`), and on the first share the batch's MMD values and G - sum_parts <dG/dY, Y>.
 */
function addMmdShares(
  cfg: MsdConfig,
  { targets, sources, shares }: StudentCut,
  teacherClsSource: tf.Tensor2D,
  clsTarget: tf.Tensor2D | undefined,
  clsSource: tf.Tensor2D | undefined,
): void {
  const s = cfg.student;
  const useL = clsTarget !== undefined;
  const useM = clsSource !== undefined;
  /** G(Y) = alpha' MMD_M + beta' MMD_L of the whole batch, as a function of the student's [CLS] rows. */
  const mmdLoss = (target: tf.Tensor | undefined, source: tf.Tensor | undefined) =>
    finalLoss({
      student: { total: tf.scalar(0), perTerm: {} },
      teacherClsSource,
      studentClsSource: source,
      studentClsTarget: target,
      alphaPrime: s.alphaPrime,
      betaPrime: s.betaPrime,
      ablate: { mmdM: !useM, mmdL: !useL },
    });
  const whole = tf.tidy(() => {
    const r = mmdLoss(clsTarget, clsSource);
    return {
      total: r.total.dataSync()[0]!,
      perTerm: Object.fromEntries(
        ['mmd_M', 'mmd_L'].filter((k) => r.perTerm[k]).map((k) => [k, r.perTerm[k]!.dataSync()[0]!]),
      ),
    };
  });
  const clsRows = [clsTarget, clsSource].filter((t): t is tf.Tensor2D => t !== undefined);
  const grads = tf.grads(
    (...rows: tf.Tensor[]) => mmdLoss(useL ? rows[0] : undefined, useM ? rows[useL ? 1 : 0] : undefined).total,
  )(clsRows);
  const [gradTarget, gradSource] = useL ? [grads[0], useM ? grads[1] : undefined] : [undefined, grads[0]];
  // sum_parts <dG/dY_part, Y_part> over the whole batch: G minus this is the constant of step 3.
  const linearPart = tf.tidy(() =>
    clsRows.reduce<number>((acc, y, i) => acc + tf.sum(tf.mul(grads[i]!, y)).dataSync()[0]!, 0),
  );
  const rowCounts = (batches: Batch[]) => batches.map((b) => b.items.length);
  const splitRows = (g: tf.Tensor | undefined, rows: number[]) => (g ? tf.split(g, rows) : undefined);
  const gradTargetParts = splitRows(gradTarget, rowCounts(targets));
  const gradSourceParts = splitRows(gradSource, rowCounts(sources));
  tf.dispose(grads);
  shares.forEach((p, k) => {
    p.mmdGradTarget = gradTargetParts?.[k] as tf.Tensor2D | undefined;
    p.mmdGradSource = gradSourceParts?.[k] as tf.Tensor2D | undefined;
  });
  shares[0]!.wholeBatch = { perTerm: whole.perTerm, offset: whole.total - linearPart };
}

/** Frees the MMD gradients and frozen-prefix states attached by studentMicroBatches. */
export function releaseMicroBatchShares(parts: MicroBatch<StudentBatch>[]): void {
  for (const { part } of parts) {
    const m = part.micro;
    if (!m) continue;
    tf.dispose([m.mmdGradTarget, m.mmdGradSource].filter((t): t is tf.Tensor2D => t !== undefined));
    tf.dispose([...(m.targetPrefix ?? []), ...(m.sourcePrefix ?? [])]);
  }
}
