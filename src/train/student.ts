/**
 * A student per target language, distilled from the teacher on UNLABELLED target text (paper, section 3):
 *
 *   L_m^KD  = mean_i MSE(p_m^teacher(x_i), p_m^student(x_i))          per head layer m, first sub-tokens x_i
 *   L_stu   = L_12^KD + beta * sum_{m=4..11} lambda'_m L_m^KD
 *   MMD_M   = MMD^2(H_cls^teacher(source), H_cls^student(same source sentences))
 *   MMD_L   = MMD^2(H_cls^teacher(source), H_cls^student(target))
 *   L_final = L_stu + alpha' MMD_M + beta' MMD_L
 *
 * The target side enters only as `UnlabelledSentence[]` (no tags, at run time and in the types): unlike the public
 * reference code, no target label reaches the loss. The teacher's outputs come from the on-disk cache
 * (cache.ts); the teacher itself is released before the student trains. A batch larger than `run.microBatchTokens` is
 * cut into micro-batches with the same gradient (student-micro-batches.ts; `studentStepLoss` then takes its share).
 * A step's target rows and, for MMD_M, its source rows go through the encoder as one pass (student-pass.ts).
 */
import { rmSync } from 'node:fs';
import type { MsdConfig } from '../config.js';
import { unlabelled } from '../data/unlabelled.js';
import type { AnySentence, LabelSchema, UnlabelledSentence } from '../data/types.js';
import { finalLoss } from '../losses/final.js';
import { studentLoss } from '../losses/kd.js';
import { layerWeights, type LayerWeights } from '../losses/lambda.js';
import type { LossResult } from '../losses/terms.js';
import { writeJsonAtomic } from '../run/io.js';
import { resolveLayer } from '../model/cls.js';
import { disposeNerModel, loadNerModel, type NerModel } from '../model/ner-model.js';
import { tf } from '../tf.js';
import { firstPieceMask, type Encoded } from '../tokenizer/align.js';
import { makeBatches, realTokens, type Batch } from '../tokenizer/batching.js';
import { encodeDataset } from '../tokenizer/dataset.js';
import {
  computeCls,
  computeTargetProbs,
  loadCls,
  loadTargetProbs,
  saveCls,
  saveTargetProbs,
  teacherCacheKey,
  windowsFingerprint,
  type TargetProbs,
} from './cache.js';
import { runSettings, trainLoop, type LoopResult, type TrainOptions } from './loop.js';
import type { ProgressCallback } from './progress.js';
import { runDir, type RunDir } from '../run/dir.js';
import { streamSeed } from '../rng.js';
import { teacherCls } from './student-cls.js';
import { studentPass } from './student-pass.js';
import {
  microBatchLoss,
  needsTargetCls,
  studentStepGradients,
  type MicroBatchLoss,
  type MicroBatchShare,
} from './student-micro-batches.js';
import { devScore } from '../eval/evaluate.js';
import { backendFor } from './backend.js';
import { ensureRunData, loadSplit } from './data.js';
import { lambdaName, newModel, pretrainedDir, trainableVars } from './models.js';

export interface StudentBatch {
  target: Batch;
  /** Source batch for the MMD terms (absent when both MMD terms are ablated). */
  source?: Batch;
  /** Set on the micro-batches of a batch cut by `run.microBatchTokens` (student-micro-batches.ts). */
  micro?: MicroBatchShare;
}

export interface StudentResult extends LoopResult {
  lang: string;
  bestDir: string;
  /** Whether checkpoint selection read target labels (selectOn 'target-dev': the paper's protocol, not zero-shot). */
  zeroShot: boolean;
}

/** Teacher probabilities of a batch as [b, t, C] per layer (zeros off the first sub-tokens). */
function batchTeacherProbs(tp: TargetProbs, batch: Batch, index: Map<Encoded, number>): Map<number, tf.Tensor3D> {
  const [b, len] = batch.shape;
  const C = tp.numLabels;
  const out = new Map<number, tf.Tensor3D>();
  const masks = batch.items.map((w) => firstPieceMask(w.wordIndex));
  for (const m of tp.layers) {
    const src = tp.probs.get(m)!;
    const dst = new Float32Array(b * len * C);
    batch.items.forEach((w, r) => {
      let row = tp.offsets[index.get(w)!]!;
      const mask = masks[r]!;
      for (let t = 0; t < mask.length; t++) {
        if (!mask[t]) continue;
        dst.set(src.subarray(row * C, (row + 1) * C), (r * len + t) * C);
        row++;
      }
    });
    out.set(m, tf.tensor3d(dst, [b, len, C]));
  }
  return out;
}

/** First sub-token positions of a batch, [b, t] float (the KD positions). */
function batchKdMask(batch: Batch): tf.Tensor2D {
  const [b, len] = batch.shape;
  const mask = new Float32Array(b * len);
  batch.items.forEach((w, r) => mask.set(firstPieceMask(w.wordIndex), r * len));
  return tf.tensor2d(mask, [b, len]);
}

/** What the student trains on, from the teacher: its outputs on the run's windows (cached on disk). */
export interface TeacherOutputs {
  targetWindows: Encoded[];
  sourceWindows: Encoded[];
  /** p_m^teacher at every first sub-token of every target window, per head layer. */
  probs: TargetProbs;
  /** H_cls^teacher of every source window, [windows, hiddenSize] (absent when both MMD terms are ablated). */
  cls?: Float32Array;
  /** The hidden layer the [CLS] vectors come from (student.clsLayer, -1 resolved). */
  clsLayer: number;
  hiddenSize: number;
  schema: LabelSchema;
  cacheDir: string;
  /** The loaded teacher, kept only for `student.initFrom: 'teacher'` (the caller then owns it). */
  teacher?: NerModel;
}

/**
 * Step 1: the teacher's outputs the student needs, read from the run's cache or computed now (and cached). The
 * teacher is released before returning (kept only for `initFrom: 'teacher'`), and on any error.
 */
export function teacherOutputs(
  cfg: MsdConfig,
  run: RunDir,
  lang: string,
  source: readonly AnySentence[],
  target: readonly UnlabelledSentence[],
  onProgress?: ProgressCallback,
): TeacherOutputs {
  const s = cfg.student;
  const teacherDir = run.teacher().best;
  const teacher = loadNerModel(teacherDir, { name: 'teacher' });
  try {
    const encodeOpts = { maxLength: cfg.data.maxLength };
    const targetWindows = encodeDataset(teacher.tokenizer, target, encodeOpts).encoded;
    const sourceWindows = encodeDataset(teacher.tokenizer, source, encodeOpts).encoded;
    const clsLayer = resolveLayer(s.clsLayer, teacher.encoder.config.numLayers);
    // The directory changes with the teacher's weights and these settings; each file also checks its windows.
    const cacheKey = teacherCacheKey(teacherDir, {
      maxLength: cfg.data.maxLength,
      clsLayer,
      heads: teacher.heads.layers,
    });
    const cacheDir = run.cacheDir(cacheKey);
    const hiddenSize = teacher.encoder.config.hiddenSize;
    const probsPath = run.cachedTargetProbs(cacheKey, lang);
    const clsPath = run.cachedSourceCls(cacheKey, cfg.data.source, clsLayer);
    const tFp = windowsFingerprint(targetWindows);
    const sFp = windowsFingerprint(sourceWindows);
    let probs = loadTargetProbs(probsPath, tFp);
    if (!probs) {
      onProgress?.({
        task: `cache:${lang}`,
        kind: 'info',
        step: 0,
        totalSteps: 0,
        message: `teacher probabilities on ${targetWindows.length} ${lang} windows`,
      });
      probs = computeTargetProbs(teacher, targetWindows, s.batchSize);
      saveTargetProbs(probsPath, probs, tFp);
    }
    let cls: Float32Array | undefined;
    if (!(s.ablation.noMmdM && s.ablation.noMmdL)) {
      cls = loadCls(clsPath, sFp);
      if (!cls) {
        onProgress?.({
          task: `cache:${lang}`,
          kind: 'info',
          step: 0,
          totalSteps: 0,
          message: `teacher [CLS] on ${sourceWindows.length} ${cfg.data.source} windows`,
        });
        cls = computeCls(teacher, sourceWindows, clsLayer, s.batchSize);
        saveCls(clsPath, cls, hiddenSize, sFp);
      }
    }
    const keep = s.initFrom === 'teacher';
    if (!keep) disposeNerModel(teacher);
    return {
      targetWindows,
      sourceWindows,
      probs,
      cls,
      clsLayer,
      hiddenSize,
      schema: teacher.schema,
      cacheDir,
      teacher: keep ? teacher : undefined,
    };
  } catch (err) {
    disposeNerModel(teacher);
    throw err;
  }
}

/** Step 2: the student, the pretrained encoder with fresh heads (paper) or the teacher itself (`initFrom: 'teacher'`). */
export function studentModel(cfg: MsdConfig, task: string, pretrained: string, outputs: TeacherOutputs): NerModel {
  return outputs.teacher
    ? { ...outputs.teacher, name: task }
    : newModel(task, pretrained, outputs.schema, cfg, streamSeed(cfg.run.seed, `${task}/init`));
}

/**
 * Step 3: the loss of one step, L_final = L_stu + alpha' MMD_M + beta' MMD_L (src/losses/final.ts), each ablation
 * dropping exactly its term: `noAux` the auxiliary KD layers, `noMmdM` / `noMmdL` one MMD term (and the forward
 * pass it needs).
 */
export function studentStepLoss(
  cfg: MsdConfig,
  student: NerModel,
  outputs: TeacherOutputs,
  lambda: LayerWeights,
): (batch: StudentBatch, stepSeed: number) => MicroBatchLoss {
  const s = cfg.student;
  const main = student.heads.mainLayer;
  const aux = s.ablation.noAux ? [] : student.heads.layers.filter((m) => m !== main);
  const kdLayers: TargetProbs = { ...outputs.probs, layers: [main, ...aux] };
  const tIndex = new Map(outputs.targetWindows.map((w, k) => [w, k]));
  const sIndex = new Map(outputs.sourceWindows.map((w, k) => [w, k]));
  const { clsLayer, hiddenSize: H } = outputs;
  return ({ target, source, micro }, stepSeed) => {
    // One pass over the target rows and, for MMD_M, the source rows (student-pass.ts). A micro-batch continues from
    // the frozen-prefix states its whole-batch [CLS] pass kept (same seed: same values).
    const mmdSource = s.ablation.noMmdM ? undefined : source;
    const pass = studentPass(student, target, mmdSource, {
      seed: stepSeed,
      frozen: s,
      prefix: micro?.prefix,
      layers: student.heads.layers,
      clsLayer,
      cls: { target: micro ? needsTargetCls(micro) : !s.ablation.noMmdL, source: mmdSource !== undefined },
    });
    const studentLogits = student.heads.logits(pass.target, { training: true, dropoutSeed: stepSeed });
    const stu = studentLoss({
      teacherProbs: batchTeacherProbs(kdLayers, target, tIndex),
      studentLogits,
      mask: batchKdMask(target),
      lambda,
      beta: s.beta,
      mainLayer: main,
      auxLayers: aux,
    });
    if (micro) return microBatchLoss(micro, stu, pass.clsTarget, pass.clsSource);
    return finalLoss({
      student: stu,
      // No source batch when both MMD terms are ablated: L_final is then L_stu (logged the same way, as `stu`).
      teacherClsSource: source ? teacherCls(outputs.cls!, H, source, sIndex) : undefined,
      studentClsSource: pass.clsSource,
      studentClsTarget: pass.clsTarget,
      alphaPrime: s.alphaPrime,
      betaPrime: s.betaPrime,
      ablate: { mmdM: s.ablation.noMmdM, mmdL: s.ablation.noMmdL },
    });
  };
}

/**
 * The student batches of an epoch: target windows in a seeded order, each paired (when an MMD term needs the
 * teacher's [CLS] vectors) with a source batch of its own seeded order, the source cycled if it has fewer batches.
 */
function studentBatches(
  cfg: MsdConfig,
  task: string,
  outputs: TeacherOutputs,
  padId: number,
  epoch: number,
): StudentBatch[] {
  const batchSize = cfg.student.batchSize;
  const tb = makeBatches(outputs.targetWindows, {
    batchSize,
    seed: streamSeed(cfg.run.seed, `${task}/target-batches`),
    epoch,
    padId,
  });
  if (outputs.cls === undefined) return tb.map((target) => ({ target }));
  const sb = makeBatches(outputs.sourceWindows, {
    batchSize,
    seed: streamSeed(cfg.run.seed, `${task}/source-batches`),
    epoch,
    padId,
  });
  return tb.map((target, i) => ({ target, source: sb[i % sb.length]! }));
}

/**
 * Distils the student of one target language (or resumes it). Needs the teacher's selected model in the run
 * directory (trainTeacher). `target` defaults to the target language's training split made unlabelled.
 */
export async function distillStudent(
  cfg: MsdConfig,
  lang: string,
  opts: TrainOptions & { target?: readonly UnlabelledSentence[] } = {},
): Promise<StudentResult> {
  await ensureRunData(cfg, [cfg.data.source, lang]);
  await backendFor(cfg);
  const run = runDir(cfg);
  run.init(cfg, { resume: true });
  const s = cfg.student;
  const task = `student:${lang}`;
  const paths = run.student(lang);
  // force: this student starts clean (the run's teacher and other students stay; `trainTeacher` with force clears all).
  if (opts.force && !opts.resume) rmSync(paths.dir, { recursive: true, force: true });
  const dir = await pretrainedDir(cfg);
  const source = loadSplit(cfg, cfg.data.source, 'train');
  const target: readonly UnlabelledSentence[] = opts.target ?? unlabelled(loadSplit(cfg, lang, 'train'));
  // Selection reads target labels only under the paper's (not zero-shot) protocol.
  const selectOn = s.selectOn === 'target-dev' ? loadSplit(cfg, lang, 'dev') : loadSplit(cfg, cfg.data.source, 'dev');

  const outputs = teacherOutputs(cfg, run, lang, source.sentences, target, opts.onProgress);
  const student = studentModel(cfg, task, dir, outputs);
  // noAux: no auxiliary layer, so nothing to weigh (an explicit lambda list is for the full set of layers).
  const lambda = s.ablation.noAux
    ? layerWeights('uniform', 0)
    : layerWeights(s.lambda, student.heads.layers.length - 1, {
        seed: streamSeed(cfg.run.seed, `${task}/lambda`),
        name: lambdaName(task),
      });
  const vars = [
    ...trainableVars(student, s),
    ...(lambda.variable ? [{ name: 'lambda', variable: lambda.variable }] : []),
  ];
  try {
    const result = await trainLoop<StudentBatch>({
      task,
      vars,
      optim: s,
      seed: cfg.run.seed,
      batches: (epoch) => studentBatches(cfg, task, outputs, student.tokenizer.padId, epoch),
      tokens: (b) => realTokens(b.target) + (b.source ? realTokens(b.source) : 0),
      loss: studentStepLoss(cfg, student, outputs, lambda),
      gradients: studentStepGradients(cfg, student, outputs, studentStepLoss(cfg, student, outputs, lambda)),
      evaluate: () => {
        const r = devScore(student, { sentences: selectOn.sentences, split: 'dev', lang: selectOn.lang });
        return { score: r.score, log: { ...r.log, selectOn: s.selectOn, lambda: lambda.values() } };
      },
      ...runSettings(cfg, task, paths, student, dir, opts),
    });
    writeJsonAtomic(paths.trainReport, {
      lang,
      targetSentences: target.length,
      targetWindows: outputs.targetWindows.length,
      steps: result.state.globalStep,
      bestStep: result.state.bestStep,
      bestDevF1: result.state.bestScore,
      selectOn: s.selectOn,
      zeroShot: s.selectOn === 'source-dev',
      cache: outputs.cacheDir,
      lambda: lambda.values(),
    });
    return { ...result, lang, bestDir: paths.best, zeroShot: s.selectOn === 'source-dev' };
  } finally {
    lambda.dispose();
    disposeNerModel(student);
  }
}
