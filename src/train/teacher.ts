/**
 * The teacher: mBERT + a classifier on every layer m in 4..12, trained on the labelled source language with
 *
 *   L_tea = CE(layer 12) + alpha * sum_{m=4..11} lambda_m * CE(layer m)          (src/losses/teacher.ts)
 *
 * selected on the SOURCE dev set (zero-shot: no target label is read).
 */
import { join } from 'node:path';
import type { MsdConfig } from '../config.js';
import { writeJsonAtomic } from '../model/atomic.js';
import { configToJson } from '../config.js';
import { layerWeights } from '../losses/lambda.js';
import { teacherLoss } from '../losses/teacher.js';
import { disposeNerModel, saveNerModel, type NerModel } from '../model/ner-model.js';
import { evaluateRows, type EvalSplit } from '../eval/evaluate.js';
import { encodeDataset } from '../tokenizer/dataset.js';
import { makeBatches, type Batch } from '../tokenizer/batching.js';
import { batchToTensors } from '../tokenizer/tensors.js';
import { trainLoop, type LoopResult } from './loop.js';
import type { ProgressCallback } from './progress.js';
import type { ModelPaths } from './runs.js';
import { backendFor, lambdaName, loadSplit, newModel, pretrainedDir, runDir, trainableVars } from './setup.js';

export interface TrainOptions {
  /** Continue from the last checkpoint of the run directory. */
  resume?: boolean;
  onProgress?: ProgressCallback;
  /** Stop after this many steps (simulates a killed run in tests). */
  maxSteps?: number;
}

export interface TeacherResult extends LoopResult {
  /** Directory of the selected teacher (loadNerModel). */
  bestDir: string;
}

/** Real tokens of a batch (attention mask sum). */
export function realTokens(batch: Batch): number {
  let n = 0;
  for (let i = 0; i < batch.attentionMask.length; i++) n += batch.attentionMask[i]!;
  return n;
}

/** The source dev score used for selection: micro F1 of the main head. */
export function devScore(model: NerModel, dev: EvalSplit): { score: number; log: Record<string, unknown> } {
  const [row] = evaluateRows(model, dev, { layers: [model.heads.mainLayer] });
  return { score: row?.f1 ?? 0, log: { devLang: row?.language, devF1: row?.f1 ?? 0, devPrecision: row?.precision, devRecall: row?.recall } };
}

/** The parts of a loop spec that every model of a run shares: where it writes, how often, and how it saves its best. */
export function runSettings(cfg: MsdConfig, task: string, paths: ModelPaths, model: NerModel, tokenizerDir: string, opts: TrainOptions) {
  return {
    saveBest: () => saveNerModel(paths.best, model, { trainingConfig: JSON.parse(configToJson(cfg)), tokenizerFrom: tokenizerDir }),
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

/** Trains the teacher of a run (or resumes it) and returns where the selected model is. */
export async function trainTeacher(cfg: MsdConfig, opts: TrainOptions = {}): Promise<TeacherResult> {
  await backendFor(cfg);
  const run = runDir(cfg);
  run.init(cfg, { resume: opts.resume });
  const paths = run.teacher();
  const dir = await pretrainedDir(cfg);
  const train = loadSplit(cfg, cfg.data.source, 'train');
  const dev = loadSplit(cfg, cfg.data.source, 'dev');
  const model = newModel('teacher', dir, train.schema, cfg, cfg.run.seed);
  const t = cfg.teacher;
  const heads = model.heads.layers;
  const main = model.heads.mainLayer;
  const aux = heads.filter((m) => m !== main);
  const lambda = layerWeights(t.lambda, aux.length, { seed: cfg.run.seed, name: lambdaName('teacher') });
  const { encoded } = encodeDataset(model.tokenizer, train.sentences, { schema: train.schema, maxLength: cfg.data.maxLength, labelAllSubtokens: cfg.data.labelAllSubtokens });
  const vars = [...trainableVars(model, t), ...(lambda.variable ? [{ name: 'lambda', variable: lambda.variable }] : [])];
  try {
    const result = trainLoop<Batch>({
      task: 'teacher',
      vars,
      optim: t,
      seed: cfg.run.seed,
      batches: (epoch) => makeBatches(encoded, { batchSize: t.batchSize, seed: cfg.run.seed, epoch, padId: model.tokenizer.padId }),
      tokens: realTokens,
      loss: (batch, stepSeed) => {
        const x = batchToTensors(batch); // created inside variableGrads: freed with the step's intermediates
        const { hidden } = model.encoder.forward(x, { training: true, dropoutSeed: stepSeed, frozen: t });
        const logits = model.heads.logits(hidden, { training: true, dropoutSeed: stepSeed });
        return teacherLoss({ logits, labels: x.labels!, lambda, alpha: t.alpha, mainLayer: main, auxLayers: aux });
      },
      evaluate: () => {
        const r = devScore(model, { sentences: dev.sentences, split: 'dev', lang: dev.lang });
        return { score: r.score, log: { ...r.log, lambda: lambda.values() } };
      },
      ...runSettings(cfg, 'teacher', paths, model, dir, opts),
    });
    writeJsonAtomic(join(paths.dir, 'train-report.json'), {
      sentences: train.sentences.length,
      windows: encoded.length,
      steps: result.state.globalStep,
      bestStep: result.state.bestStep,
      bestDevF1: result.state.bestScore,
      lambda: lambda.values(),
    });
    return { ...result, bestDir: paths.best };
  } finally {
    lambda.dispose();
    disposeNerModel(model);
  }
}
