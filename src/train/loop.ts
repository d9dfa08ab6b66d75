/**
 * The one training loop, shared by the teacher and the students (nanoGPT style: read it top to bottom).
 *
 *   for each epoch, for each batch (seeded order):
 *     loss, grads = d/dθ loss(batch)                 (θ = the trainable variables only; frozen ones get nothing)
 *     stop if loss is NaN/Inf                       (the last checkpoint on disk stays the last good one)
 *     grads = clip(grads, maxGradNorm)              (global norm, as torch.nn.utils.clip_grad_norm_)
 *     AdamW step with lr = base lr * schedule(step) (10% linear warmup, then linear decay)
 *     log / evaluate on dev and keep the best / write a resumable checkpoint
 *     on an interrupt (Ctrl-C, Kernel > Interrupt): write a checkpoint and throw InterruptedError
 *
 * Everything random is derived from the run seed and the global step (batch order, dropout masks: streamSeed in src/rng.ts), and the
 * checkpoint holds the weights, the AdamW state and the position in the data, so a killed run resumed with
 * `resume: true` ends with exactly the metrics of an uninterrupted one.
 */
import { existsSync } from 'node:fs';
import type { NamedVariable } from '../model/bert.js';
import type { LossResult } from '../losses/terms.js';
import { readTerms } from '../losses/terms.js';
import { tf } from '../tf.js';
import type { Scalar, Tensor, Variable } from '../tf.js';
import { AdamW, defaultNoDecay } from './adamw.js';
import { freshState, loadTrainingCheckpoint, saveTrainingCheckpoint, type TrainerState } from './checkpoint.js';
import { clipScale } from './clip.js';
import type { ProgressCallback } from './progress.js';
import type { ModelPaths } from '../run/dir.js';
import { appendJsonl, readJsonl, writeFileAtomic } from '../run/io.js';
import { linearWarmupDecay } from './schedule.js';
import { configToJson, type MsdConfig, type OptimConfig } from '../config.js';
import { saveNerModel, type NerModel } from '../model/ner-model.js';
import { streamSeed } from '../rng.js';
import { formatPercent } from '../eval/table.js';
import { interruptible, InterruptedError, stopRequested } from '../interrupt.js';

/** How a training call runs: what the teacher, the students and `runMsd` take besides the config. */
export interface TrainOptions {
  /** Continue from the last checkpoint of the run directory. */
  resume?: boolean;
  /** Delete an existing run directory's artefacts first and start clean (else a finished or other run is refused). */
  force?: boolean;
  onProgress?: ProgressCallback;
  /** Stop after this many steps (simulates a killed run in tests). */
  maxSteps?: number;
}

export interface LoopSpec<B> {
  /** `teacher`, `student:nl`, ... (progress and logs). */
  task: string;
  /** Trainable variables under stable names (frozen ones are simply absent). */
  vars: readonly NamedVariable[];
  optim: OptimConfig;
  /** The run seed; the dropout of step s is seeded by `streamSeed(seed, '<task>/dropout', s)`. */
  seed: number;
  /** The batches of an epoch, deterministic for (seed, epoch). */
  batches(epoch: number): B[];
  /** Real (non-padding) tokens of a batch, for tokens/s. */
  tokens(batch: B): number;
  /** The loss of a batch (or of one micro-batch); `stepSeed` seeds its dropout. Called inside tf.variableGrads. */
  loss(batch: B, stepSeed: number): LossResult;
  /**
   * Gradient accumulation: cuts a batch that does not fit in memory in one pass into micro-batches (a token budget),
   * each with the share of the batch's loss it carries, so that sum_k weight_k * grad(loss(part_k)) is the gradient
   * of the whole batch's loss (exact for losses that are means over tokens, given each part's share of those
   * tokens). `seedOf(k, n)` is the dropout seed the loop gives part k of n. Absent, or one part: one pass, as without it.
   */
  microBatches?(batch: B, seedOf: (k: number, n: number) => number): MicroBatch<B>[];
  /** Frees what `microBatches` attached to its parts, after the step. */
  releaseMicroBatches?(parts: MicroBatch<B>[]): void;
  /** Dev score for checkpoint selection (higher is better), plus anything to log. */
  evaluate(): { score: number; log?: Record<string, unknown> };
  /** Saves the current weights as the best model. */
  saveBest(): void;
  paths: ModelPaths;
  /** Continue from `paths.last` if it exists. */
  resume: boolean;
  /** Evaluate every N steps (0 = at each epoch end), checkpoint every N steps (0 = at each epoch end), log every N. */
  evalEvery: number;
  checkpointEvery: number;
  logEvery: number;
  /** Metadata stored in checkpoints (e.g. the resolved config). */
  meta?: Record<string, string>;
  onProgress?: ProgressCallback;
  /** Stop after this many optimizer steps in this call (tests use it to simulate a killed run). */
  maxSteps?: number;
}

/** One piece of a batch and the fraction of the batch's loss it carries (the weights of a batch sum to 1). */
export interface MicroBatch<B> {
  part: B;
  weight: number;
}

/**
 * Micro-batches weighted by their share of what the loss averages over (`count`: labelled positions, KD positions):
 * for a loss that is a mean over those positions, sum_k weight_k L_k is the whole batch's loss. Parts that hold none
 * of them carry nothing and are dropped (a batch with none at all keeps its parts, equally weighted).
 */
export function weighByCount<B>(parts: B[], count: (part: B) => number): MicroBatch<B>[] {
  const counts = parts.map(count);
  const total = counts.reduce((a, b) => a + b, 0);
  if (total === 0) return parts.map((part) => ({ part, weight: 1 / parts.length }));
  return parts.flatMap((part, k) => (counts[k]! > 0 ? [{ part, weight: counts[k]! / total }] : []));
}

/**
 * The dropout seed of micro-batch k of n in the step seeded `stepSeed`: the step's own seed when the batch is one
 * pass, so turning accumulation on changes nothing for batches that fit.
 */
export function microBatchSeed(stepSeed: number, k: number, n: number): number {
  return n === 1 ? stepSeed : streamSeed(stepSeed, 'micro-batch', k);
}

/**
 * Loss, logged terms and gradients of one optimizer step, accumulated over the batch's micro-batches:
 *   L = sum_k w_k L_k,  grad L = sum_k w_k grad L_k,  terms = sum_k w_k terms_k.
 * Each micro-batch's tape is released before the next one runs, so memory holds one micro-batch's activations.
 */
function stepGradients<B>(
  spec: LoopSpec<B>,
  batch: B,
  stepSeed: number,
  variables: Variable[],
): { loss: number; terms: Record<string, number>; grads: Record<string, Tensor> } {
  const parts = spec.microBatches?.(batch, (k, n) => microBatchSeed(stepSeed, k, n)) ?? [{ part: batch, weight: 1 }];
  try {
    if (parts.length === 1) {
      let terms: Record<string, number> = {};
      const { value, grads } = tf.variableGrads(() => {
        const result = spec.loss(parts[0]!.part, stepSeed);
        terms = readTerms(result);
        return result.total;
      }, variables);
      const loss = value.dataSync()[0]!;
      value.dispose();
      return { loss, terms, grads };
    }
    let loss = 0;
    const terms: Record<string, number> = {};
    let acc: Record<string, Tensor> | undefined;
    parts.forEach(({ part, weight }, k) => {
      let partTerms: Record<string, number> = {};
      const { value, grads } = tf.variableGrads(() => {
        const result = spec.loss(part, microBatchSeed(stepSeed, k, parts.length));
        partTerms = readTerms(result);
        return tf.mul(result.total, weight) as Scalar;
      }, variables);
      loss += value.dataSync()[0]!;
      value.dispose();
      for (const [name, v] of Object.entries(partTerms)) terms[name] = (terms[name] ?? 0) + weight * v;
      if (!acc) acc = grads;
      else {
        const prev: Record<string, Tensor> = acc;
        acc = Object.fromEntries(Object.entries(prev).map(([name, g]) => [name, tf.add(g, grads[name]!)]));
        tf.dispose([...Object.values(prev), ...Object.values(grads)]);
      }
    });
    return { loss, terms, grads: acc! };
  } finally {
    if (spec.microBatches) spec.releaseMicroBatches?.(parts);
  }
}

export interface LoopResult {
  state: TrainerState;
  /** Steps taken in this call. */
  steps: number;
  lastLoss: number;
}

export class NonFiniteLossError extends Error {}

/**
 * The parts of a loop spec that every model of a run shares: where it writes, how often, and how it saves its best
 * (a loadable model directory with the run's config beside it).
 */
export function runSettings(
  cfg: MsdConfig,
  task: string,
  paths: ModelPaths,
  model: NerModel,
  tokenizerDir: string,
  opts: TrainOptions,
) {
  return {
    saveBest: () =>
      saveNerModel(paths.best, model, { trainingConfig: JSON.parse(configToJson(cfg)), tokenizerFrom: tokenizerDir }),
    paths,
    resume: opts.resume ?? false,
    evalEvery: cfg.run.evalEvery,
    checkpointEvery: cfg.run.checkpointEvery,
    logEvery: cfg.run.logEvery,
    meta: { config: configToJson(cfg), task },
    onProgress: opts.onProgress,
    maxSteps: opts.maxSteps,
  };
}

/** Drops log lines past the checkpoint's step: they are re-done after a resume, so none appears twice. */
function truncateLog(path: string, step: number): void {
  if (!existsSync(path)) return;
  const kept = readJsonl<{ step?: number }>(path).filter((r) => (r.step ?? 0) <= step);
  writeFileAtomic(path, kept.map((r) => `${JSON.stringify(r)}\n`).join(''));
}

/**
 * Trains to the end (or `maxSteps`). Between steps it yields to the event loop once, so that an interrupt is seen:
 * it then writes a checkpoint at that step and throws `InterruptedError`; `resume: true` continues from there.
 */
export function trainLoop<B>(spec: LoopSpec<B>): Promise<LoopResult> {
  return interruptible(spec.task, () => trainSteps(spec));
}

async function trainSteps<B>(spec: LoopSpec<B>): Promise<LoopResult> {
  const variables = spec.vars.map((v) => v.variable);
  const nameOf = new Map(spec.vars.map((v) => [v.variable.name, v.name]));
  const optimizer = new AdamW(variables, {
    eps: spec.optim.eps,
    weightDecay: spec.optim.weightDecay,
    // The one no-decay rule (adamw.ts), decided on stable names, not on tfjs's prefixed variable names.
    noDecay: (tfName) => defaultNoDecay(nameOf.get(tfName) ?? tfName),
  });
  try {
    let state = freshState();
    if (spec.resume && existsSync(spec.paths.last)) {
      state = loadTrainingCheckpoint(spec.paths.last, spec.vars, optimizer).state;
      truncateLog(spec.paths.metrics, state.globalStep);
      spec.onProgress?.({
        task: spec.task,
        kind: 'info',
        step: state.globalStep,
        totalSteps: 0,
        message: `resumed from ${spec.paths.last} at step ${state.globalStep}`,
      });
    } else if (existsSync(spec.paths.metrics)) {
      writeFileAtomic(spec.paths.metrics, ''); // a fresh run starts a fresh log
    }
    // Every epoch's batches, built once: their counts give the schedule's length, and the loop walks them.
    const epochBatches = Array.from({ length: spec.optim.epochs }, (_, e) => spec.batches(e));
    const totalSteps = epochBatches.reduce((n, b) => n + b.length, 0);
    const schedule = linearWarmupDecay({ totalSteps: Math.max(1, totalSteps), warmupRatio: spec.optim.warmupRatio });
    const started = Date.now();
    let steps = 0;
    let lastLoss = Number.NaN;
    let windowTokens = 0;
    let windowStart = Date.now();

    const checkpoint = () => saveTrainingCheckpoint(spec.paths.last, spec.vars, optimizer, state, spec.meta);
    const evaluate = () => {
      const { score, log } = spec.evaluate();
      const improved = state.bestStep < 0 || score > state.bestScore;
      if (improved) {
        state.bestScore = score;
        state.bestStep = state.globalStep;
        spec.saveBest();
      }
      appendJsonl(spec.paths.metrics, {
        kind: 'eval',
        step: state.globalStep,
        epoch: state.epoch,
        score,
        best: state.bestScore,
        improved,
        ...log,
      });
      spec.onProgress?.({
        task: spec.task,
        kind: 'eval',
        step: state.globalStep,
        totalSteps,
        message: `step ${state.globalStep}: dev F1 ${formatPercent(score)}${improved ? ' (best, saved)' : ` (best ${formatPercent(state.bestScore)} at step ${state.bestStep})`}`,
      });
    };

    while (!state.finished && state.epoch < spec.optim.epochs) {
      const batches = epochBatches[state.epoch]!;
      while (state.stepInEpoch < batches.length) {
        if (spec.maxSteps !== undefined && steps >= spec.maxSteps) return { state, steps, lastLoss };
        if (await stopRequested()) {
          checkpoint();
          const message = `${spec.task} stopped at step ${state.globalStep} of ${totalSteps}; checkpoint ${spec.paths.last} written: run again with resume to continue`;
          spec.onProgress?.({
            task: spec.task,
            kind: 'info',
            step: state.globalStep,
            totalSteps,
            message: `interrupted: ${message}`,
          });
          throw new InterruptedError(message);
        }
        const batch = batches[state.stepInEpoch]!;
        const lr = spec.optim.lr * schedule(state.globalStep + 1);
        const { loss, terms, grads } = stepGradients(
          spec,
          batch,
          streamSeed(spec.seed, `${spec.task}/dropout`, state.globalStep),
          variables,
        );
        if (!Number.isFinite(loss)) {
          tf.dispose(Object.values(grads));
          throw new NonFiniteLossError(
            `${spec.task}: loss is ${loss} at step ${state.globalStep + 1} (epoch ${state.epoch + 1}, batch ${state.stepInEpoch + 1}); ` +
              `training stopped; the last good checkpoint is ${existsSync(spec.paths.last) ? spec.paths.last : '(none written yet)'}. Terms: ${JSON.stringify(terms)}`,
          );
        }
        // Clipping as a factor that AdamW applies in its fused pass (no scaled copy of the gradients).
        const clipped = clipScale(grads, spec.optim.maxGradNorm);
        optimizer.step(grads, lr, clipped.scale);
        tf.dispose(Object.values(grads));
        lastLoss = loss;
        steps++;
        state.globalStep++;
        state.stepInEpoch++;
        windowTokens += spec.tokens(batch);

        const now = Date.now();
        const tokensPerSec = (1000 * windowTokens) / Math.max(1, now - windowStart);
        const elapsedSec = (now - started) / 1000;
        const etaSec = (elapsedSec / steps) * (totalSteps - state.globalStep);
        if (state.globalStep % spec.logEvery === 0 || state.globalStep === totalSteps) {
          appendJsonl(spec.paths.metrics, {
            kind: 'step',
            step: state.globalStep,
            epoch: state.epoch,
            loss,
            terms,
            lr,
            gradNorm: clipped.norm,
            tokensPerSec: Math.round(tokensPerSec),
            // What the rate is made of, so rates over several log windows can be combined exactly (sum / sum).
            tokens: windowTokens,
            ms: now - windowStart,
          });
          windowTokens = 0;
          windowStart = now;
        }
        spec.onProgress?.({
          task: spec.task,
          kind: 'step',
          step: state.globalStep,
          totalSteps,
          epoch: state.epoch + 1,
          epochs: spec.optim.epochs,
          loss,
          terms,
          lr,
          tokensPerSec,
          elapsedSec,
          etaSec,
        });
        const endOfEpoch = state.stepInEpoch === batches.length;
        if (endOfEpoch) {
          state.epoch++;
          state.stepInEpoch = 0;
          state.finished = state.epoch >= spec.optim.epochs;
        }
        if ((spec.evalEvery > 0 && state.globalStep % spec.evalEvery === 0) || (endOfEpoch && spec.evalEvery === 0))
          evaluate();
        if ((spec.checkpointEvery > 0 && state.globalStep % spec.checkpointEvery === 0) || endOfEpoch) checkpoint();
        if (endOfEpoch) {
          spec.onProgress?.({
            task: spec.task,
            kind: 'epoch',
            step: state.globalStep,
            totalSteps,
            epoch: state.epoch,
            epochs: spec.optim.epochs,
            message: `epoch ${state.epoch}/${spec.optim.epochs} done, loss ${loss.toFixed(4)}`,
          });
          break;
        }
      }
    }
    if (state.bestStep < 0) {
      // No evaluation happened (no training step at all): the model as it is is the best there is.
      evaluate();
      state.finished = true;
      checkpoint();
    }
    spec.onProgress?.({
      task: spec.task,
      kind: 'done',
      step: state.globalStep,
      totalSteps,
      message: `done: ${state.globalStep} steps, best dev F1 ${formatPercent(state.bestScore)} at step ${state.bestStep}`,
    });
    return { state, steps, lastLoss };
  } finally {
    optimizer.dispose();
  }
}
