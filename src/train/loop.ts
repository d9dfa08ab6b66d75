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
import { addInto } from '../backend/host-memory.js';
import { withGradientSinks } from '../backend/gradient-sinks.js';
import type { ProgressCallback, ProgressEvent } from './progress.js';
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
  /**
   * A step whose micro-batches are coupled (a term of the whole batch that is not a sum over them: the student's
   * MMD, train/student-micro-batches.ts) computes its loss, terms and gradients itself; the loop then calls this
   * instead of `loss` and `microBatches`.
   */
  gradients?(batch: B, stepSeed: number, variables: Variable[]): StepGradients;
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

/** What one optimizer step computed: its loss, its logged terms (`total` among them) and the gradients by name. */
export interface StepGradients {
  loss: number;
  terms: Record<string, number>;
  grads: Record<string, Tensor>;
}

/**
 * `grads` added into `acc` by name, in place in the heap where possible (`addInto`: no new buffer per parameter per
 * micro-batch); `acc` undefined: `grads` itself. A name only one side has keeps its tensor. A gradient that is its
 * sum already (a gradient sink's, see `accumulatePass`) is taken as it is: the sum itself, or a new tensor that
 * replaced the sum (which the pass then consumed).
 */
export function accumulateGradients(
  acc: Record<string, Tensor> | undefined,
  grads: Record<string, Tensor>,
): Record<string, Tensor> {
  if (!acc) return grads;
  const out: Record<string, Tensor> = { ...acc };
  for (const [name, g] of Object.entries(grads)) {
    const sum = out[name];
    out[name] = !sum || sum === g || sum.isDisposed ? g : addInto(sum, g);
  }
  return out;
}

/**
 * One pass's gradients (`pass`, e.g. `passGradients`) added into the running sums `acc` (undefined: the first pass,
 * whose gradients start them). While `pass` runs, the sums are open as gradient sinks (backend/gradient-sinks.ts):
 * a dense layer's weight gradient is added into its sum by its product (beta 1) and comes back as the sum itself,
 * so neither a zeroed product nor an `addInto` pass is needed for it.
 */
export function accumulatePass<P extends { grads: Record<string, Tensor> }>(
  acc: Record<string, Tensor> | undefined,
  variables: readonly Variable[],
  pass: () => P,
): { pass: P; sums: Record<string, Tensor> } {
  if (!acc) {
    const first = pass();
    return { pass: first, sums: first.grads };
  }
  const sinks = variables.flatMap((v) => (acc[v.name] ? [[v, acc[v.name]!] as const] : []));
  const done = withGradientSinks(sinks, pass);
  return { pass: done, sums: accumulateGradients(acc, done.grads) };
}

/**
 * Loss, logged terms and gradients of one pass: `loss` run on a tape (`tf.variableGrads`), its terms read there;
 * `loss` is the value of the returned total times `weight`, `terms` are the unweighted ones.
 */
export function passGradients(loss: () => LossResult, variables: Variable[], weight = 1): StepGradients {
  let terms: Record<string, number> = {};
  const { value, grads } = tf.variableGrads(() => {
    const result = loss();
    terms = readTerms(result);
    return weight === 1 ? result.total : (tf.mul(result.total, weight) as Scalar);
  }, variables);
  const total = value.dataSync()[0]!;
  value.dispose();
  return { loss: total, terms, grads };
}

/**
 * Loss, logged terms and gradients of one optimizer step, accumulated over the batch's micro-batches:
 *   L = sum_k w_k L_k,  grad L = sum_k w_k grad L_k,  terms = sum_k w_k terms_k.
 * Each micro-batch's tape is released before the next one runs, so memory holds one micro-batch's activations.
 */
function stepGradients<B>(spec: LoopSpec<B>, batch: B, stepSeed: number, variables: Variable[]): StepGradients {
  if (spec.gradients) return spec.gradients(batch, stepSeed, variables);
  const parts = spec.microBatches?.(batch, (k, n) => microBatchSeed(stepSeed, k, n)) ?? [{ part: batch, weight: 1 }];
  if (parts.length === 1) return passGradients(() => spec.loss(parts[0]!.part, stepSeed), variables);
  let loss = 0;
  const terms: Record<string, number> = {};
  let acc: Record<string, Tensor> | undefined;
  parts.forEach(({ part, weight }, k) => {
    const seed = microBatchSeed(stepSeed, k, parts.length);
    const { pass, sums } = accumulatePass(acc, variables, () =>
      passGradients(() => spec.loss(part, seed), variables, weight),
    );
    loss += pass.loss;
    for (const [name, v] of Object.entries(pass.terms)) terms[name] = (terms[name] ?? 0) + weight * v;
    acc = sums;
  });
  return { loss, terms, grads: acc! };
}

export interface LoopResult {
  state: TrainerState;
  /** Steps taken in this call. */
  steps: number;
  lastLoss: number;
}

export class NonFiniteLossError extends Error {}

/**
 * A step that ran out of the wasm heap (at most 4 GiB). tfjs-wasm cannot report an allocation that fails: the kernel
 * then writes past the heap, and WebAssembly stops it with a RuntimeError "memory access out of bounds". That is how
 * a too-large pass shows (an mBERT student keeping 4096 tokens of 128-token rows, README "Gradient accumulation"),
 * so the loop says which settings bound a step's memory.
 */
export class OutOfHeapError extends Error {}

/** `err` as an OutOfHeapError when it is WebAssembly's out-of-bounds RuntimeError, else undefined. */
export function outOfHeap(err: unknown, where: string, lastCheckpoint: string): OutOfHeapError | undefined {
  // The runtime's WebAssembly (the compiler's libraries here do not declare it).
  const wasm = (globalThis as { WebAssembly?: { RuntimeError: abstract new () => Error } }).WebAssembly;
  if (!wasm || !(err instanceof wasm.RuntimeError) || !/memory access out of bounds/.test(err.message))
    return undefined;
  return new OutOfHeapError(
    `${where} ran out of the wasm heap (at most 4 GiB; WebAssembly reports it as "${err.message}"). Lower ` +
      `run.microBatchTokens (the padded tokens of one pass) or, for a student, run.keptTapeTokens (the tokens whose ` +
      `tapes a step keeps at once), and resume; the last good checkpoint is ${lastCheckpoint}. The backend's heap ` +
      `may be corrupt now: restart the process (in JupyterLab, the kernel).`,
    { cause: err },
  );
}

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
    const run = new LoopRun(spec, variables, optimizer, startState(spec, optimizer));
    const { state } = run;
    while (!state.finished && state.epoch < spec.optim.epochs) {
      const batches = run.epochBatches[state.epoch]!;
      while (state.stepInEpoch < batches.length) {
        if (spec.maxSteps !== undefined && run.steps >= spec.maxSteps) return run.result();
        await run.stopIfRequested();
        const loss = run.step(batches[state.stepInEpoch]!);
        if (run.afterStep(batches.length, loss)) break;
      }
    }
    if (state.bestStep < 0) {
      // No evaluation happened (no training step at all): the model as it is is the best there is.
      run.evaluate();
      state.finished = true;
      run.checkpoint();
    }
    run.progress({
      kind: 'done',
      message: `done: ${state.globalStep} steps, best dev F1 ${formatPercent(state.bestScore)} at step ${state.bestStep}`,
    });
    return run.result();
  } finally {
    optimizer.dispose();
  }
}

/** The trainer state to start from: the last checkpoint's when resuming (its log cut to its step), else a fresh one. */
function startState<B>(spec: LoopSpec<B>, optimizer: AdamW): TrainerState {
  if (spec.resume && existsSync(spec.paths.last)) {
    const { state } = loadTrainingCheckpoint(spec.paths.last, spec.vars, optimizer);
    truncateLog(spec.paths.metrics, state.globalStep);
    spec.onProgress?.({
      task: spec.task,
      kind: 'info',
      step: state.globalStep,
      totalSteps: 0,
      message: `resumed from ${spec.paths.last} at step ${state.globalStep}`,
    });
    return state;
  }
  if (existsSync(spec.paths.metrics)) writeFileAtomic(spec.paths.metrics, ''); // a fresh run starts a fresh log
  return freshState();
}

/** One call of the loop: the state it advances, the schedule, and what each step does (update, log, evaluate, save). */
class LoopRun<B> {
  /** Every epoch's batches, built once: their counts give the schedule's length, and the loop walks them. */
  readonly epochBatches: B[][];
  readonly totalSteps: number;
  private readonly schedule: (step: number) => number;
  private readonly started = Date.now();
  /** Optimizer steps taken in this call. */
  steps = 0;
  private lastLoss = Number.NaN;
  /** Tokens and start time of the current log window (for tokens/s). */
  private windowTokens = 0;
  private windowStart = Date.now();

  constructor(
    private readonly spec: LoopSpec<B>,
    private readonly variables: Variable[],
    private readonly optimizer: AdamW,
    readonly state: TrainerState,
  ) {
    this.epochBatches = Array.from({ length: spec.optim.epochs }, (_, e) => spec.batches(e));
    this.totalSteps = this.epochBatches.reduce((n, b) => n + b.length, 0);
    this.schedule = linearWarmupDecay({
      totalSteps: Math.max(1, this.totalSteps),
      warmupRatio: spec.optim.warmupRatio,
    });
  }

  result(): LoopResult {
    return { state: this.state, steps: this.steps, lastLoss: this.lastLoss };
  }

  /** A progress event of this task at the current step. */
  progress(event: Omit<ProgressEvent, 'task' | 'step' | 'totalSteps'>): void {
    this.spec.onProgress?.({
      task: this.spec.task,
      step: this.state.globalStep,
      totalSteps: this.totalSteps,
      ...event,
    });
  }

  checkpoint(): void {
    saveTrainingCheckpoint(this.spec.paths.last, this.spec.vars, this.optimizer, this.state, this.spec.meta);
  }

  /** Dev score now; the best so far is saved. */
  evaluate(): void {
    const { spec, state } = this;
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
    const best = improved ? ' (best, saved)' : ` (best ${formatPercent(state.bestScore)} at step ${state.bestStep})`;
    this.progress({ kind: 'eval', message: `step ${state.globalStep}: dev F1 ${formatPercent(score)}${best}` });
  }

  /** On an interrupt: a checkpoint at this step, then InterruptedError. */
  async stopIfRequested(): Promise<void> {
    if (!(await stopRequested())) return;
    this.checkpoint();
    const message = `${this.spec.task} stopped at step ${this.state.globalStep} of ${this.totalSteps}; checkpoint ${this.spec.paths.last} written: run again with resume to continue`;
    this.progress({ kind: 'info', message: `interrupted: ${message}` });
    throw new InterruptedError(message);
  }

  /** The step's gradients; running out of the wasm heap becomes an OutOfHeapError that names the settings. */
  gradients(batch: B, stepSeed: number): StepGradients {
    const { spec, state } = this;
    try {
      return stepGradients(spec, batch, stepSeed, this.variables);
    } catch (err) {
      const where = `${spec.task}: step ${state.globalStep + 1} (epoch ${state.epoch + 1}, batch ${state.stepInEpoch + 1})`;
      const last = existsSync(spec.paths.last) ? spec.paths.last : '(none written yet)';
      throw outOfHeap(err, where, last) ?? err;
    }
  }

  /** One optimizer step on `batch` (gradients, the NaN check, clipping, AdamW), logged; returns the loss. */
  step(batch: B): number {
    const { spec, state } = this;
    const lr = spec.optim.lr * this.schedule(state.globalStep + 1);
    const stepSeed = streamSeed(spec.seed, `${spec.task}/dropout`, state.globalStep);
    const { loss, terms, grads } = this.gradients(batch, stepSeed);
    if (!Number.isFinite(loss)) {
      tf.dispose(Object.values(grads));
      throw new NonFiniteLossError(
        `${spec.task}: loss is ${loss} at step ${state.globalStep + 1} (epoch ${state.epoch + 1}, batch ${state.stepInEpoch + 1}); ` +
          `training stopped; the last good checkpoint is ${existsSync(spec.paths.last) ? spec.paths.last : '(none written yet)'}. Terms: ${JSON.stringify(terms)}`,
      );
    }
    // Clipping as a factor that AdamW applies in its fused pass (no scaled copy of the gradients).
    const clipped = clipScale(grads, spec.optim.maxGradNorm);
    this.optimizer.step(grads, lr, clipped.scale);
    tf.dispose(Object.values(grads));
    this.lastLoss = loss;
    this.steps++;
    state.globalStep++;
    state.stepInEpoch++;
    this.windowTokens += spec.tokens(batch);
    this.logStep(loss, terms, lr, clipped.norm);
    return loss;
  }

  /** The step's metrics line (every `logEvery` steps and at the last) and its progress event. */
  private logStep(loss: number, terms: Record<string, number>, lr: number, gradNorm: number): void {
    const { spec, state } = this;
    const now = Date.now();
    const tokensPerSec = (1000 * this.windowTokens) / Math.max(1, now - this.windowStart);
    const elapsedSec = (now - this.started) / 1000;
    const etaSec = (elapsedSec / this.steps) * (this.totalSteps - state.globalStep);
    if (state.globalStep % spec.logEvery === 0 || state.globalStep === this.totalSteps) {
      appendJsonl(spec.paths.metrics, {
        kind: 'step',
        step: state.globalStep,
        epoch: state.epoch,
        loss,
        terms,
        lr,
        gradNorm,
        tokensPerSec: Math.round(tokensPerSec),
        // What the rate is made of, so rates over several log windows can be combined exactly (sum / sum).
        tokens: this.windowTokens,
        ms: now - this.windowStart,
      });
      this.windowTokens = 0;
      this.windowStart = now;
    }
    const epochs = spec.optim.epochs;
    this.progress({ kind: 'step', epoch: state.epoch + 1, epochs, loss, terms, lr, tokensPerSec, elapsedSec, etaSec });
  }

  /**
   * What follows a step: the epoch's end, evaluation and checkpoint when due. Returns whether the epoch (of
   * `epochLength` batches) ended.
   */
  afterStep(epochLength: number, loss: number): boolean {
    const { spec, state } = this;
    const endOfEpoch = state.stepInEpoch === epochLength;
    if (endOfEpoch) {
      state.epoch++;
      state.stepInEpoch = 0;
      state.finished = state.epoch >= spec.optim.epochs;
    }
    if ((spec.evalEvery > 0 && state.globalStep % spec.evalEvery === 0) || (endOfEpoch && spec.evalEvery === 0))
      this.evaluate();
    if ((spec.checkpointEvery > 0 && state.globalStep % spec.checkpointEvery === 0) || endOfEpoch) this.checkpoint();
    if (endOfEpoch) {
      const message = `epoch ${state.epoch}/${spec.optim.epochs} done, loss ${loss.toFixed(4)}`;
      this.progress({ kind: 'epoch', epoch: state.epoch, epochs: spec.optim.epochs, message });
    }
    return endOfEpoch;
  }
}
