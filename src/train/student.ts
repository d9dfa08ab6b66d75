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
 * (cache.ts); the teacher itself is released before the student trains.
 */
import { join } from 'node:path';
import type { MsdConfig } from '../config.js';
import { unlabelled } from '../data/unlabelled.js';
import type { UnlabelledSentence } from '../data/types.js';
import { finalLoss } from '../losses/final.js';
import { studentLoss } from '../losses/kd.js';
import { layerWeights } from '../losses/lambda.js';
import { writeJsonAtomic } from '../model/atomic.js';
import { disposeNerModel, loadNerModel, type NerModel } from '../model/ner-model.js';
import { tf } from '../tf.js';
import { firstPieceMask, type Encoded } from '../tokenizer/align.js';
import { makeBatches, type Batch } from '../tokenizer/batching.js';
import { encodeDataset } from '../tokenizer/dataset.js';
import { batchToTensors } from '../tokenizer/tensors.js';
import { computeCls, computeTargetProbs, loadCls, loadTargetProbs, saveCls, saveTargetProbs, teacherCacheKey, windowsFingerprint, type TargetProbs } from './cache.js';
import { runSettings, trainLoop, type LoopResult, type TrainOptions } from './loop.js';
import { streamSeed } from './seeds.js';
import { backendFor, lambdaName, loadSplit, newModel, pretrainedDir, runDir, trainableVars } from './setup.js';
import { devScore, realTokens } from './teacher.js';

interface StudentBatch {
  target: Batch;
  /** Source batch for the MMD terms (absent when both MMD terms are ablated). */
  source?: Batch;
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

/** Teacher [CLS] vectors of a source batch's windows, [b, H]. */
function batchCls(cls: Float32Array, H: number, batch: Batch, index: Map<Encoded, number>): tf.Tensor2D {
  const out = new Float32Array(batch.items.length * H);
  batch.items.forEach((w, r) => {
    const k = index.get(w)!;
    out.set(cls.subarray(k * H, (k + 1) * H), r * H);
  });
  return tf.tensor2d(out, [batch.items.length, H]);
}

/** [CLS] of a hidden state [b, t, H] -> [b, H]. */
function clsOf(hidden: tf.Tensor3D): tf.Tensor2D {
  const [b, , H] = hidden.shape;
  return tf.reshape(tf.slice(hidden, [0, 0, 0], [b, 1, H]), [b, H]);
}

/**
 * Distils the student of one target language (or resumes it). Needs the teacher's selected model in the run
 * directory (trainTeacher). `target` defaults to the target language's training split made unlabelled.
 */
export async function distillStudent(cfg: MsdConfig, lang: string, opts: TrainOptions & { target?: readonly UnlabelledSentence[] } = {}): Promise<StudentResult> {
  await backendFor(cfg);
  const run = runDir(cfg);
  run.init(cfg, { resume: true });
  const s = cfg.student;
  const task = `student:${lang}`;
  const paths = run.student(lang);
  const teacherDir = run.teacher().best;
  const dir = await pretrainedDir(cfg);
  const source = loadSplit(cfg, cfg.data.source, 'train');
  const target: readonly UnlabelledSentence[] = opts.target ?? unlabelled(loadSplit(cfg, lang, 'train'));
  const selectOn = s.selectOn === 'target-dev' ? loadSplit(cfg, lang, 'dev') : loadSplit(cfg, cfg.data.source, 'dev');

  // 1. Teacher outputs, from the cache or computed now (then the teacher is released).
  let teacher: NerModel | undefined = loadNerModel(teacherDir, { name: 'teacher' });
  const encodeOpts = { maxLength: cfg.data.maxLength };
  const targetWindows = encodeDataset(teacher.tokenizer, target, encodeOpts).encoded;
  const sourceWindows = encodeDataset(teacher.tokenizer, source.sentences, encodeOpts).encoded;
  const clsLayer = s.clsLayer < 0 ? teacher.encoder.config.numLayers : s.clsLayer;
  const key = teacherCacheKey(teacherDir, { maxLength: cfg.data.maxLength, clsLayer, heads: teacher.heads.layers });
  const cacheDir = run.cacheDir(key);
  const tFp = windowsFingerprint(targetWindows);
  const sFp = windowsFingerprint(sourceWindows);
  const H = teacher.encoder.config.hiddenSize;
  const schema = teacher.schema;
  const needMmd = !(s.ablation.noMmdM && s.ablation.noMmdL);
  let probs = loadTargetProbs(join(cacheDir, `target-${lang}-train.safetensors`), tFp);
  let cls = needMmd ? loadCls(join(cacheDir, `source-${cfg.data.source}-train-cls${clsLayer}.safetensors`), sFp) : undefined;
  try {
    if (!probs) {
      opts.onProgress?.({ task: `cache:${lang}`, kind: 'info', step: 0, totalSteps: 0, message: `teacher probabilities on ${targetWindows.length} ${lang} windows` });
      probs = computeTargetProbs(teacher, targetWindows, s.batchSize);
      saveTargetProbs(join(cacheDir, `target-${lang}-train.safetensors`), probs, tFp);
    }
    if (needMmd && !cls) {
      opts.onProgress?.({ task: `cache:${lang}`, kind: 'info', step: 0, totalSteps: 0, message: `teacher [CLS] on ${sourceWindows.length} ${cfg.data.source} windows` });
      cls = computeCls(teacher, sourceWindows, clsLayer, s.batchSize);
      saveCls(join(cacheDir, `source-${cfg.data.source}-train-cls${clsLayer}.safetensors`), cls, H, sFp);
    }
  } finally {
    if (s.initFrom !== 'teacher') {
      disposeNerModel(teacher);
      teacher = undefined;
    }
  }

  // 2. The student: the pretrained encoder with fresh heads (paper), or a copy of the teacher.
  const student: NerModel = teacher ? { ...teacher, name: task } : newModel(task, dir, schema, cfg, streamSeed(cfg.run.seed, `${task}/init`));
  const main = student.heads.mainLayer;
  const aux = s.ablation.noAux ? [] : student.heads.layers.filter((m) => m !== main);
  const lambda = layerWeights(s.lambda, aux.length, { seed: streamSeed(cfg.run.seed, `${task}/lambda`), name: lambdaName(task) });
  const vars = [...trainableVars(student, s), ...(lambda.variable ? [{ name: 'lambda', variable: lambda.variable }] : [])];
  const tIndex = new Map(targetWindows.map((w, k) => [w, k]));
  const sIndex = new Map(sourceWindows.map((w, k) => [w, k]));
  const tp = probs;
  const kdLayers: TargetProbs = { ...tp, layers: [main, ...aux] };
  try {
    const result = trainLoop<StudentBatch>({
      task,
      vars,
      optim: s,
      seed: cfg.run.seed,
      batches: (epoch) => {
        const tb = makeBatches(targetWindows, { batchSize: s.batchSize, seed: streamSeed(cfg.run.seed, `${task}/target-batches`), epoch, padId: student.tokenizer.padId });
        if (!needMmd) return tb.map((target) => ({ target }));
        const sb = makeBatches(sourceWindows, { batchSize: s.batchSize, seed: streamSeed(cfg.run.seed, `${task}/source-batches`), epoch, padId: student.tokenizer.padId });
        return tb.map((target, i) => ({ target, source: sb[i % sb.length]! }));
      },
      tokens: (b) => realTokens(b.target) + (b.source ? realTokens(b.source) : 0),
      loss: ({ target, source }, stepSeed) => {
        const x = batchToTensors(target);
        const { hidden } = student.encoder.forward(x, { training: true, dropoutSeed: stepSeed, frozen: s });
        const studentLogits = student.heads.logits(hidden, { training: true, dropoutSeed: stepSeed });
        const stu = studentLoss({
          teacherProbs: batchTeacherProbs(kdLayers, target, tIndex),
          studentLogits,
          mask: batchKdMask(target),
          lambda,
          beta: s.beta,
          mainLayer: main,
          auxLayers: aux,
        });
        if (!needMmd || !source) return stu;
        let studentClsSource: tf.Tensor2D | undefined;
        if (!s.ablation.noMmdM) {
          const xs = batchToTensors(source);
          studentClsSource = clsOf(student.encoder.forward(xs, { training: true, dropoutSeed: streamSeed(stepSeed, 'mmd-source'), frozen: s }).hidden[clsLayer]!);
        }
        return finalLoss({
          student: stu,
          teacherClsSource: batchCls(cls!, H, source, sIndex),
          studentClsSource,
          studentClsTarget: s.ablation.noMmdL ? undefined : clsOf(hidden[clsLayer]!),
          alphaPrime: s.alphaPrime,
          betaPrime: s.betaPrime,
          ablate: { mmdM: s.ablation.noMmdM, mmdL: s.ablation.noMmdL },
        });
      },
      evaluate: () => {
        const r = devScore(student, { sentences: selectOn.sentences, split: 'dev', lang: selectOn.lang });
        return { score: r.score, log: { ...r.log, selectOn: s.selectOn, lambda: lambda.values() } };
      },
      ...runSettings(cfg, task, paths, student, dir, opts),
    });
    writeJsonAtomic(join(paths.dir, 'train-report.json'), {
      lang,
      targetSentences: target.length,
      targetWindows: targetWindows.length,
      steps: result.state.globalStep,
      bestStep: result.state.bestStep,
      bestDevF1: result.state.bestScore,
      selectOn: s.selectOn,
      zeroShot: s.selectOn === 'source-dev',
      cache: cacheDir,
      lambda: lambda.values(),
    });
    return { ...result, lang, bestDir: paths.best, zeroShot: s.selectOn === 'source-dev' };
  } finally {
    lambda.dispose();
    disposeNerModel(student);
  }
}
