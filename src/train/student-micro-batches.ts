/**
 * A student step cut into micro-batches (`run.microBatchTokens`), with the same gradient as the whole batch.
 *
 * The KD terms are means over the batch's first sub-tokens: each micro-batch takes its share of them (`kdWeight`).
 * The MMD terms are not sums over rows. Write G(Y) = alpha' MMD_M + beta' MMD_L as a function of the student's [CLS]
 * rows Y (on target for MMD_L, on source for MMD_M) of the WHOLE batch, Y = (Y_0, ..., Y_{n-1}) by micro-batch.
 * Then dG/dtheta = sum_k <dG/dY_k, dY_k/dtheta>: each micro-batch's backward pass needs dG/dY_k, which depends on
 * every micro-batch's rows. The first micro-batches, as many as fit in `run.keptTapeTokens` (the first always), keep
 * their tapes until all rows are known; the others, when a batch is larger than that, run their forward twice:
 *
 *   1. a pass off the tape computes the rows Y_k of the micro-batches that keep no tape, each with the dropout seed
 *      the loop gives it, and keeps their frozen-prefix states, which step 5 would compute again identically;
 *   2. each kept micro-batch runs its forward on a tape of its own (`recordForward`, backend/backprop.ts), giving its
 *      share of L_stu and its rows Y_k;
 *   3. G and dG/dY at the whole batch's rows, read back as constants (a small function of [rows, H] matrices);
 *   4. each kept micro-batch walks its tape back from its share of L_stu (dy = 1) and from its rows (dy = dG/dY_k);
 *   5. each other micro-batch runs forward and backward on one tape with the loss w_k L_stu,k + <dG/dY_k, Y_k(theta)>:
 *      Y_k(theta) is recomputed with the same seed and prefix, so it is step 1's Y_k, and the second term carries
 *      exactly its rows' share of dG/dtheta. (Where the pass's last layer runs on the rows its losses read alone,
 *      student-pass.ts, which it does where the hidden dropout is off, Y_k agrees with step 1's to float rounding.)
 *
 * The step's loss and terms are those of one pass: sum_k w_k L_stu,k + G. What the kept tapes cost is memory (the
 * saved activations of all kept micro-batches at once, as one pass of their tokens would hold); what step 1 costs is
 * time (a second forward of the trained layers, about 30% of an mBERT student step when every micro-batch but the
 * first took it; README, "The CPU path").
 */
import type { MsdConfig } from '../config.js';
import { recordForward, type RecordedForward } from '../backend/backprop.js';
import { finalLoss } from '../losses/final.js';
import { readTerms, type LossResult } from '../losses/terms.js';
import { readHeads } from '../model/inference.js';
import type { NerModel } from '../model/ner-model.js';
import { tf } from '../tf.js';
import type { Tensor, Variable } from '../tf.js';
import { firstPieceMask } from '../tokenizer/align.js';
import { chunkBatch, splitBatch, type Batch } from '../tokenizer/batching.js';
import { accumulatePass, microBatchSeed, passGradients, type StepGradients } from './loop.js';
import { teacherCls } from './student-cls.js';
import { passForward, type PassForward } from './student-pass.js';
import type { StudentBatch, TeacherOutputs } from './student.js';

/** What one micro-batch of a student step needs from the whole batch (see the header). */
export interface MicroBatchShare {
  /** This micro-batch's share of the batch's first sub-tokens (the KD terms' weight). */
  kdWeight: number;
  /** A kept micro-batch (steps 2 and 4): which [CLS] rows its loss returns, on target (MMD_L) and on source (MMD_M). */
  rows?: { target: boolean; source: boolean };
  /** The others (step 5): dG/dY_k for their [CLS] rows on target and on source, constants from step 3. */
  mmdGradTarget?: tf.Tensor2D;
  mmdGradSource?: tf.Tensor2D;
  /**
   * The frozen prefix's states (embeddings and frozen layers) of this micro-batch's pass (student-pass.ts), kept from
   * step 1's forward, which ran it with the same dropout seed: step 5 continues from them instead of recomputing them
   * (`ForwardOptions.frozenPrefix`; with the paper's freezing, 4 of 13 blocks of the forward).
   */
  prefix?: tf.Tensor3D[];
}

/** One micro-batch's loss; a kept micro-batch's also holds its [CLS] rows, the other outputs its walk starts from. */
export interface MicroBatchLoss extends LossResult {
  clsTarget?: tf.Tensor2D;
  clsSource?: tf.Tensor2D;
}

/**
 * The loss of one micro-batch: its share of L_stu, and for a micro-batch that keeps no tape its linearised share of
 * G (step 5). `clsTarget`/`clsSource` are its student [CLS] rows on the tape (when MMD_L / MMD_M is on).
 */
export function microBatchLoss(
  share: MicroBatchShare,
  stu: LossResult,
  clsTarget: tf.Tensor2D | undefined,
  clsSource: tf.Tensor2D | undefined,
): MicroBatchLoss {
  const w = share.kdWeight;
  const perTerm: Record<string, tf.Scalar> = {};
  for (const [name, t] of Object.entries(stu.perTerm)) perTerm[name] = tf.mul(t, w) as tf.Scalar;
  perTerm.stu = tf.mul(stu.total, w) as tf.Scalar;
  if (share.rows) {
    return {
      total: perTerm.stu,
      perTerm,
      clsTarget: share.rows.target ? clsTarget : undefined,
      clsSource: share.rows.source ? clsSource : undefined,
    };
  }
  const parts: tf.Scalar[] = [perTerm.stu];
  if (share.mmdGradTarget && clsTarget) parts.push(tf.sum(tf.mul(share.mmdGradTarget, clsTarget)) as tf.Scalar);
  if (share.mmdGradSource && clsSource) parts.push(tf.sum(tf.mul(share.mmdGradSource, clsSource)) as tf.Scalar);
  return { total: parts.length === 1 ? parts[0]! : (tf.addN(parts) as tf.Scalar), perTerm };
}

/** Whether a micro-batch's loss needs its student [CLS] rows on target (MMD_L's). */
export function needsTargetCls(share: MicroBatchShare): boolean {
  return share.rows ? share.rows.target : share.mmdGradTarget !== undefined;
}

/** A student batch cut into n micro-batches: target and source rows each in n consecutive groups. */
interface StudentCut {
  targets: Batch[];
  sources: Batch[];
  /** Each micro-batch's share of the KD terms (its first sub-tokens over the batch's); MMD parts added later. */
  shares: MicroBatchShare[];
}

/** A micro-batch of a cut batch as the step's loss takes it. */
function part(cut: StudentCut, k: number): StudentBatch {
  return { target: cut.targets[k]!, source: cut.sources[k], micro: cut.shares[k] };
}

/** Gradients by variable name, as `tf.variableGrads` names them; a variable no path reaches is left out. */
function named(variables: Variable[], grads: (Tensor | undefined)[]): Record<string, Tensor> {
  const out: Record<string, Tensor> = {};
  variables.forEach((v, i) => {
    if (grads[i]) out[v.name] = grads[i]!;
  });
  return out;
}

/** The loss, terms and gradients of a step, summed over its micro-batches. */
class StepSum {
  readonly terms: Record<string, number> = {};
  private grads: Record<string, Tensor> | undefined;

  constructor(private readonly variables: readonly Variable[]) {}

  /**
   * Runs a micro-batch's backward pass and adds its terms (their `total` left out) and gradients (with the sums open
   * as gradient sinks while it runs: loop.ts `accumulatePass`).
   */
  add(pass: () => { terms: Record<string, number>; grads: Record<string, Tensor> }): void {
    const { pass: done, sums } = accumulatePass(this.grads, this.variables, pass);
    for (const [name, v] of Object.entries(done.terms))
      if (name !== 'total') this.terms[name] = (this.terms[name] ?? 0) + v;
    this.grads = sums;
  }

  /** L = the summed shares of L_stu + `whole` (G, whose terms are `wholeTerms`). */
  result(whole: number, wholeTerms: Record<string, number>): StepGradients {
    const total = this.terms.stu! + whole;
    return { loss: total, terms: { ...this.terms, ...wholeTerms, total }, grads: this.grads! };
  }
}

/**
 * The gradients of a student step (the loop's `gradients`): one pass when the batch fits in `run.microBatchTokens`,
 * else the micro-batches of the header, the same loss, terms and gradient as one pass.
 */
export function studentStepGradients(
  cfg: MsdConfig,
  student: NerModel,
  outputs: TeacherOutputs,
  loss: (batch: StudentBatch, stepSeed: number) => MicroBatchLoss,
): (batch: StudentBatch, stepSeed: number, variables: Variable[]) => StepGradients {
  const s = cfg.student;
  const sIndex = new Map(outputs.sourceWindows.map((w, k) => [w, k]));
  return (batch, stepSeed, variables) => {
    const cut = cutStudentBatch(cfg, student, batch);
    if (!cut) return passGradients(() => loss(batch, stepSeed), variables);
    const seeds = cut.targets.map((_, k) => microBatchSeed(stepSeed, k, cut.targets.length));
    const step: CoupledStep = {
      cfg,
      student,
      outputs,
      cut,
      seeds,
      loss,
      variables,
      useM: batch.source !== undefined && !s.ablation.noMmdM,
      useL: batch.source !== undefined && !s.ablation.noMmdL,
    };
    try {
      if (!step.useM && !step.useL) {
        // KD only: a sum over the micro-batches.
        const sum = new StepSum(variables);
        cut.shares.forEach((_, k) => sum.add(() => passGradients(() => loss(part(cut, k), seeds[k]!), variables)));
        return sum.result(0, {});
      }
      const teacherClsSource = teacherCls(outputs.cls!, outputs.hiddenSize, batch.source!, sIndex);
      try {
        return coupledGradients(step, teacherClsSource);
      } finally {
        teacherClsSource.dispose();
      }
    } finally {
      for (const share of cut.shares) tf.dispose(share.prefix ?? []);
    }
  };
}

/** What steps 1-5 of the header work on. */
interface CoupledStep {
  cfg: MsdConfig;
  student: NerModel;
  outputs: TeacherOutputs;
  cut: StudentCut;
  /** The dropout seed of each micro-batch. */
  seeds: number[];
  loss: (batch: StudentBatch, stepSeed: number) => MicroBatchLoss;
  variables: Variable[];
  useM: boolean;
  useL: boolean;
}

/** Steps 1-5 of the header: a cut batch with at least one MMD term on. */
function coupledGradients(step: CoupledStep, teacherClsSource: tf.Tensor2D): StepGradients {
  const { cfg, cut, seeds, loss, variables, useL, useM } = step;
  const n = cut.targets.length;
  const kept = keptMicroBatches(cfg, useM ? cut : { targets: cut.targets, sources: [] });
  const recorded: RecordedForward<MicroBatchLoss>[] = [];
  let mmd: ReturnType<typeof wholeBatchMmd> | undefined;
  const sum = new StepSum(variables);
  try {
    // Step 1 (the micro-batches past the kept ones), then step 2.
    const rest = restCls(cfg, step.student, step.outputs.clsLayer, cut, seeds, kept, useL, useM);
    for (let k = 0; k < kept; k++) {
      cut.shares[k]!.rows = { target: useL, source: useM };
      recorded.push(recordForward(() => loss(part(cut, k), seeds[k]!)));
    }
    // Step 3.
    const rowsOf = (side: 'clsTarget' | 'clsSource', restRows: Float32Array[]) => [
      ...recorded.map((r) => r.value[side]!.dataSync() as Float32Array),
      ...restRows,
    ];
    mmd = wholeBatchMmd(
      cfg,
      teacherClsSource,
      useL ? rowsOf('clsTarget', rest.target) : undefined,
      useM ? rowsOf('clsSource', rest.source) : undefined,
      step.outputs.hiddenSize,
      cut,
    );
    // Step 4.
    recorded.forEach((r, k) => {
      const one = tf.scalar(1);
      const seedsOf: [Tensor, Tensor][] = [[r.value.total, one]];
      if (useL) seedsOf.push([r.value.clsTarget!, mmd!.gradTarget![k]!]);
      if (useM) seedsOf.push([r.value.clsSource!, mmd!.gradSource![k]!]);
      sum.add(() => ({ terms: readTerms(r.value), grads: named(variables, r.backward(seedsOf, variables)) }));
      one.dispose();
    });
    // Step 5.
    for (let k = kept; k < n; k++) {
      cut.shares[k]!.mmdGradTarget = mmd.gradTarget?.[k];
      cut.shares[k]!.mmdGradSource = mmd.gradSource?.[k];
      sum.add(() => passGradients(() => loss(part(cut, k), seeds[k]!), variables));
    }
    return sum.result(mmd.total, mmd.terms);
  } finally {
    for (const r of recorded) {
      r.release();
      tf.dispose(r.value as unknown as tf.TensorContainer);
    }
    tf.dispose([...(mmd?.gradTarget ?? []), ...(mmd?.gradSource ?? [])]);
  }
}

/**
 * How many leading micro-batches keep their tapes (steps 2 and 4): as many as fit, with their target and source
 * rows' padded tokens (each side at its own length), in `run.keptTapeTokens`, and at least the first. `sources`: the
 * source rows the passes run (none when MMD_M is off). The attention of a pass whose sides differ much in length runs
 * in segments at each side's own length (model/packing.ts), as this count assumes.
 */
export function keptMicroBatches(cfg: MsdConfig, cut: Pick<StudentCut, 'targets' | 'sources'>): number {
  const tokens = (b: Batch | undefined) => (b ? b.shape[0] * b.shape[1] : 0);
  let used = 0;
  let k = 0;
  while (k < cut.targets.length) {
    used += tokens(cut.targets[k]) + tokens(cut.sources[k]);
    if (k > 0 && used > cfg.run.keptTapeTokens) break;
    k++;
  }
  return k;
}

/**
 * Step 3: G = alpha' MMD_M + beta' MMD_L at the whole batch's [CLS] rows (`target`, `source`: each micro-batch's
 * rows in order, as numbers), its terms (`mmd_M`, `mmd_L`) and dG/dY split by micro-batch.
 */
function wholeBatchMmd(
  cfg: MsdConfig,
  teacherClsSource: tf.Tensor2D,
  target: Float32Array[] | undefined,
  source: Float32Array[] | undefined,
  H: number,
  cut: StudentCut,
): { total: number; terms: Record<string, number>; gradTarget?: tf.Tensor2D[]; gradSource?: tf.Tensor2D[] } {
  const s = cfg.student;
  const stack = (parts: Float32Array[]) => {
    const all = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
    parts.reduce((at, p) => (all.set(p, at), at + p.length), 0);
    return tf.tensor2d(all, [all.length / H, H]);
  };
  const rows = [target && stack(target), source && stack(source)];
  let read: Record<string, number> = {};
  try {
    const grads = tf.grads((...ys: tf.Tensor[]) => {
      const [yt, ys_] = target ? [ys[0], ys[1]] : [undefined, ys[0]];
      const r = finalLoss({
        student: { total: tf.scalar(0), perTerm: {} },
        teacherClsSource,
        studentClsTarget: yt,
        studentClsSource: ys_,
        alphaPrime: s.alphaPrime,
        betaPrime: s.betaPrime,
        ablate: { mmdM: !source, mmdL: !target },
      });
      read = readTerms(r);
      return r.total;
    })(rows.filter((t): t is tf.Tensor2D => t !== undefined));
    const split = (g: tf.Tensor | undefined, batches: Batch[]) => {
      if (!g) return undefined;
      const out = tf.split(
        g,
        batches.map((b) => b.items.length),
      ) as tf.Tensor2D[];
      g.dispose();
      return out;
    };
    const terms: Record<string, number> = {};
    for (const name of ['mmd_M', 'mmd_L']) if (read[name] !== undefined) terms[name] = read[name]!;
    return {
      total: read.total!,
      terms,
      gradTarget: split(target ? grads[0] : undefined, cut.targets),
      gradSource: split(source ? grads[target ? 1 : 0] : undefined, cut.sources),
    };
  } finally {
    tf.dispose(rows.filter((t): t is tf.Tensor2D => t !== undefined));
  }
}

/** The cut of `batch` under `run.microBatchTokens`, or undefined when it fits in one pass. */
function cutStudentBatch(cfg: MsdConfig, student: NerModel, batch: StudentBatch): StudentCut | undefined {
  const bound = cfg.run.microBatchTokens;
  const pad = student.tokenizer.padId;
  // The target and (for MMD_M) the source forward of a pass share one tape, each within the bound.
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
 * Step 1: the student [CLS] rows of micro-batches kept..n-1 on target (for MMD_L) and source (MMD_M), off the tape,
 * by micro-batch: the forward of each one's pass (student-pass.ts: its target rows and, when MMD_M is on, its source
 * rows) with its dropout seed, as step 5 runs it; its frozen-prefix states are kept on the share (`prefix`). These forwards go through `readHeads` (model/inference.ts) on this thread: shared with the inference
 * worker, a job copies the weights (trained since the last step) into it first, and with most micro-batches kept,
 * what is left for the worker costs less than that copy (README, "Gradient accumulation").
 */
function restCls(
  cfg: MsdConfig,
  student: NerModel,
  clsLayer: number,
  { targets, sources, shares }: StudentCut,
  seeds: number[],
  kept: number,
  useL: boolean,
  useM: boolean,
): { target: Float32Array[]; source: Float32Array[] } {
  const rows = { target: [] as Float32Array[], source: [] as Float32Array[] };
  if (kept >= targets.length) return rows;
  const s = cfg.student;
  // Nothing to keep when the embeddings train (the whole forward is then on the tape).
  const blocks = s.freezeEmbeddings ? 1 + s.freezeLayers : 0;
  const H = student.encoder.config.hiddenSize;
  const jobs: (PassForward & { k: number })[] = [];
  for (let k = kept; k < targets.length; k++)
    jobs.push({ ...passForward(targets[k]!, useM ? sources[k] : undefined, seeds[k]!, student.tokenizer.padId), k });
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
    { threads: 1 },
  );
  jobs.forEach(({ batch, k, targetRows, sourceRows }, i) => {
    const [b, t] = batch.shape;
    const cls = out[i]!.cls!;
    // The forward's rows: the target's first, then the source's.
    if (useL && targetRows > 0) rows.target.push(cls.slice(0, targetRows * H));
    if (useM && sourceRows > 0) rows.source.push(cls.slice(targetRows * H, (targetRows + sourceRows) * H));
    if (blocks > 0) {
      const prefix = out[i]!.prefix!;
      shares[k]!.prefix = Array.from({ length: blocks }, (_, j) =>
        tf.keep(tf.tensor3d(prefix.subarray(j * b * t * H, (j + 1) * b * t * H), [b, t, H])),
      );
    }
  });
  return rows;
}
