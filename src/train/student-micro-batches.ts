/**
 * A student step cut into micro-batches (`run.microBatchTokens`), with the same gradient as the whole batch.
 *
 * The KD terms are means over the batch's first sub-tokens: each micro-batch takes its share of them (`kdWeight`).
 * The MMD terms are not sums over rows, so they are linearised by the chain rule. Write
 * G(Y) = alpha' MMD_M + beta' MMD_L as a function of the student's [CLS] rows Y (on target for MMD_L, on source for
 * MMD_M) of the WHOLE batch, Y = (Y_0, ..., Y_{n-1}) by micro-batch. Then dG/dtheta = sum_k <dG/dY_k, dY_k/dtheta>,
 * so:
 *
 *   1. a first pass off the tape computes the [CLS] rows Y_1..Y_{n-1} of every micro-batch but the first, each with
 *      the dropout seed the loop will give it, and keeps their frozen-prefix states, which step 3 would compute
 *      again identically;
 *   2. micro-batch 0 runs first: its loss takes G itself, on the tape, with its own rows Y_0(theta) and the others
 *      as constants, so its backward pass carries <dG/dY_0, dY_0/dtheta>, and it reports the whole batch's MMD
 *      values; from the same point it computes dG/dY_k for k >= 1 (constants, handed to those micro-batches);
 *   3. each micro-batch k >= 1 adds <dG/dY_k, Y_k(theta)> - <dG/dY_k, Y_k> to its loss: 0 in value (Y_k(theta) is
 *      recomputed with the same seed and prefix, so it is the Y_k of step 1), exactly its rows' share of dG/dtheta
 *      in gradient. The parts' losses add up to L_final.
 *
 * Micro-batch 0 needs no pass off the tape: n - 1 extra forwards per step, not n.
 */
import type { MsdConfig } from '../config.js';
import { finalLoss } from '../losses/final.js';
import type { LossResult } from '../losses/terms.js';
import { readHeads } from '../model/inference.js';
import type { NerModel } from '../model/ner-model.js';
import { tf } from '../tf.js';
import { firstPieceMask } from '../tokenizer/align.js';
import { chunkBatch, splitBatch, type Batch } from '../tokenizer/batching.js';
import type { MicroBatch } from './loop.js';
import { sourceSeed, teacherCls } from './student-cls.js';
import type { StudentBatch, TeacherOutputs } from './student.js';

/** What one micro-batch of a student step needs from the whole batch (see the header). */
export interface MicroBatchShare {
  /** This micro-batch's share of the batch's first sub-tokens (the KD terms' weight). */
  kdWeight: number;
  /**
   * Micro-batches k >= 1: dG/dY_k for their student [CLS] rows on target (MMD_L) and on source (MMD_M), and
   * -<dG/dY_k, Y_k>: constants, set by micro-batch 0's loss (step 2), which runs first.
   */
  mmdGradTarget?: tf.Tensor2D;
  mmdGradSource?: tf.Tensor2D;
  offset?: number;
  /** Micro-batch 0 only: what G needs besides its own rows (step 2). */
  wholeBatch?: WholeBatchMmd;
  /**
   * The frozen prefix's states (embeddings and frozen layers) of this micro-batch's target and source rows, kept from
   * step 1's pass, which ran them with the same dropout seeds: step 3 continues from them instead of recomputing
   * them (`ForwardOptions.frozenPrefix`; with the paper's freezing, 4 of 13 blocks of the forward).
   */
  targetPrefix?: tf.Tensor3D[];
  sourcePrefix?: tf.Tensor3D[];
}

/** Micro-batch 0's view of the whole batch: the other rows (constants) and where their gradients go. */
export interface WholeBatchMmd {
  /** G of the whole batch's rows (alpha' MMD_M + beta' MMD_L; its perTerm has mmd_M and mmd_L). */
  loss: (clsTarget: tf.Tensor | undefined, clsSource: tf.Tensor | undefined) => LossResult;
  useL: boolean;
  useM: boolean;
  /** The [CLS] rows of micro-batches 1..n-1 from step 1 (target when MMD_L is on, source when MMD_M is). */
  restTarget?: tf.Tensor2D;
  restSource?: tf.Tensor2D;
  /** The teacher's [CLS] rows of the whole source batch (a constant G holds). */
  teacherClsSource: tf.Tensor2D;
  /** The shares of micro-batches 1..n-1, which receive their dG/dY and offsets; their row counts. */
  rest: MicroBatchShare[];
  rowsTarget: number[];
  rowsSource: number[];
}

/**
 * The loss of one micro-batch: its share of L_stu plus, for micro-batch 0, G on the tape (step 2), and for the
 * others their linearised share of it (step 3). `clsTarget`/`clsSource` are this micro-batch's student [CLS] rows
 * on the tape (when MMD_L / MMD_M is on).
 */
export function microBatchLoss(
  share: MicroBatchShare,
  stu: LossResult,
  clsTarget: tf.Tensor2D | undefined,
  clsSource: tf.Tensor2D | undefined,
): LossResult {
  const w = share.kdWeight;
  const perTerm: Record<string, tf.Scalar> = {};
  for (const [name, t] of Object.entries(stu.perTerm)) perTerm[name] = tf.mul(t, w) as tf.Scalar;
  perTerm.stu = tf.mul(stu.total, w) as tf.Scalar;
  const parts: tf.Scalar[] = [perTerm.stu];
  const whole = share.wholeBatch;
  if (whole) {
    const mmd = whole.loss(
      whole.useL ? tf.concat([clsTarget!, whole.restTarget!]) : undefined,
      whole.useM ? tf.concat([clsSource!, whole.restSource!]) : undefined,
    );
    parts.push(mmd.total);
    for (const name of ['mmd_M', 'mmd_L']) if (mmd.perTerm[name]) perTerm[name] = mmd.perTerm[name]!;
    handOutRestGradients(whole, clsTarget, clsSource);
  } else {
    if (share.mmdGradTarget && clsTarget) parts.push(tf.sum(tf.mul(share.mmdGradTarget, clsTarget)) as tf.Scalar);
    if (share.mmdGradSource && clsSource) parts.push(tf.sum(tf.mul(share.mmdGradSource, clsSource)) as tf.Scalar);
    if (share.offset) parts.push(tf.scalar(share.offset));
  }
  return { total: tf.addN(parts) as tf.Scalar, perTerm };
}

/** Whether a micro-batch's loss needs its student [CLS] rows on target (MMD_L's). */
export function needsTargetCls(share: MicroBatchShare): boolean {
  return share.wholeBatch ? share.wholeBatch.useL : share.mmdGradTarget !== undefined;
}

/**
 * Step 2's second half: dG/dY_k for k >= 1 at the whole batch's rows, with micro-batch 0's rows read back as
 * constants (so nothing here is on a path from the parameters: the tape prunes it), handed to each share with its
 * offset -<dG/dY_k, Y_k>.
 */
function handOutRestGradients(
  whole: WholeBatchMmd,
  clsTarget: tf.Tensor2D | undefined,
  clsSource: tf.Tensor2D | undefined,
): void {
  tf.tidy(() => {
    const constant = (t: tf.Tensor2D) => tf.tensor2d(t.dataSync() as Float32Array, t.shape);
    const y0Target = whole.useL ? constant(clsTarget!) : undefined;
    const y0Source = whole.useM ? constant(clsSource!) : undefined;
    const rest = [whole.useL ? whole.restTarget : undefined, whole.useM ? whole.restSource : undefined].filter(
      (t): t is tf.Tensor2D => t !== undefined,
    );
    const grads = tf.grads((...rows: tf.Tensor[]) => {
      const target = whole.useL ? tf.concat([y0Target!, rows[0]!]) : undefined;
      const source = whole.useM ? tf.concat([y0Source!, rows[whole.useL ? 1 : 0]!]) : undefined;
      return whole.loss(target, source).total;
    })(rest);
    const gradTarget = whole.useL ? tf.split(grads[0]!, whole.rowsTarget) : undefined;
    const gradSource = whole.useM ? tf.split(grads[whole.useL ? 1 : 0]!, whole.rowsSource) : undefined;
    const restTarget = whole.useL ? tf.split(whole.restTarget!, whole.rowsTarget) : undefined;
    const restSource = whole.useM ? tf.split(whole.restSource!, whole.rowsSource) : undefined;
    whole.rest.forEach((share, k) => {
      let dot = 0;
      if (gradTarget) {
        share.mmdGradTarget = tf.keep(gradTarget[k]!) as tf.Tensor2D;
        dot += tf.sum(tf.mul(gradTarget[k]!, restTarget![k]!)).dataSync()[0]!;
      }
      if (gradSource) {
        share.mmdGradSource = tf.keep(gradSource[k]!) as tf.Tensor2D;
        dot += tf.sum(tf.mul(gradSource[k]!, restSource![k]!)).dataSync()[0]!;
      }
      share.offset = -dot;
    });
  });
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
 * micro-batches 1..n-1 off the tape, with the dropout seeds the loop will give them (`seedOf`). One micro-batch:
 * the batch as it is.
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
      const [restTarget, restSource] = restCls(cfg, student, outputs.clsLayer, cut, seeds, useL, useM);
      const teacherClsSource = tf.keep(teacherCls(outputs.cls!, outputs.hiddenSize, batch.source!, sIndex));
      const rows = (batches: Batch[]) => batches.slice(1).map((b) => b.items.length);
      shares[0]!.wholeBatch = {
        loss: (clsTarget, clsSource) =>
          finalLoss({
            student: { total: tf.scalar(0), perTerm: {} },
            teacherClsSource,
            studentClsSource: clsSource,
            studentClsTarget: clsTarget,
            alphaPrime: s.alphaPrime,
            betaPrime: s.betaPrime,
            ablate: { mmdM: !useM, mmdL: !useL },
          }),
        useL,
        useM,
        restTarget,
        restSource,
        teacherClsSource,
        rest: shares.slice(1),
        rowsTarget: rows(targets),
        rowsSource: rows(sources),
      };
    }
    // Every micro-batch has weight 1 in the loop's sum: its loss already carries its share (kdWeight, G or its
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
 * Step 1: the student [CLS] rows of micro-batches 1..n-1 on target (for MMD_L) and source (MMD_M), off the tape;
 * each one's frozen-prefix states are kept on its share (`targetPrefix`, `sourcePrefix`). These forwards are
 * independent, so they go through `readHeads` (model/inference.ts), which shares them with the inference worker
 * thread on single-threaded backends: the same forwards, with the same seeds, so the same values on either thread.
 */
function restCls(
  cfg: MsdConfig,
  student: NerModel,
  clsLayer: number,
  { targets, sources, shares }: StudentCut,
  seeds: number[],
  useL: boolean,
  useM: boolean,
): [tf.Tensor2D | undefined, tf.Tensor2D | undefined] {
  const s = cfg.student;
  // Nothing to keep when the embeddings train (the whole forward is then on the tape).
  const blocks = s.freezeEmbeddings ? 1 + s.freezeLayers : 0;
  const H = student.encoder.config.hiddenSize;
  // The forwards of step 1, in order: micro-batch k's target rows (dropout seed seeds[k]), then its source rows
  // (`sourceSeed` of it, as studentSourceForward gives it).
  const jobs: { batch: Batch; k: number; side: 'target' | 'source'; seed: number }[] = [];
  for (let k = 1; k < targets.length; k++) {
    if (useL) jobs.push({ batch: targets[k]!, k, side: 'target', seed: seeds[k]! });
    if (useM) jobs.push({ batch: sources[k]!, k, side: 'source', seed: sourceSeed(seeds[k]!) });
  }
  const out = readHeads(
    student,
    jobs.map((j) => j.batch),
    {
      layers: [],
      clsOf: [clsLayer],
      dropout: {
        seeds: jobs.map((j) => j.seed),
        frozen: { freezeEmbeddings: s.freezeEmbeddings, freezeLayers: s.freezeLayers },
      },
      prefixBlocks: blocks,
    },
  );
  const rows = { target: [] as Float32Array[], source: [] as Float32Array[] };
  jobs.forEach(({ batch, k, side }, i) => {
    const [b, t] = batch.shape;
    rows[side].push(out[i]!.cls!);
    if (blocks > 0) {
      const prefix = out[i]!.prefix!;
      const states = Array.from({ length: blocks }, (_, j) =>
        tf.keep(tf.tensor3d(prefix.subarray(j * b * t * H, (j + 1) * b * t * H), [b, t, H])),
      );
      if (side === 'target') shares[k]!.targetPrefix = states;
      else shares[k]!.sourcePrefix = states;
    }
  });
  const stack = (parts: Float32Array[]) => {
    const all = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
    parts.reduce((at, p) => (all.set(p, at), at + p.length), 0);
    return tf.keep(tf.tensor2d(all, [all.length / H, H]));
  };
  return [useL ? stack(rows.target) : undefined, useM ? stack(rows.source) : undefined];
}

/** Frees the MMD gradients, [CLS] rows and frozen-prefix states attached by studentMicroBatches. */
export function releaseMicroBatchShares(parts: MicroBatch<StudentBatch>[]): void {
  for (const { part } of parts) {
    const m = part.micro;
    if (!m) continue;
    const w = m.wholeBatch;
    tf.dispose(
      [m.mmdGradTarget, m.mmdGradSource, w?.restTarget, w?.restSource, w?.teacherClsSource].filter(
        (t): t is tf.Tensor2D => t !== undefined,
      ),
    );
    tf.dispose([...(m.targetPrefix ?? []), ...(m.sourcePrefix ?? [])]);
  }
}
