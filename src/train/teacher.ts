/**
 * The teacher: mBERT + a classifier on every layer m in 4..12, trained on the labelled source language with
 *
 *   L_tea = CE(layer 12) + alpha * sum_{m=4..11} lambda_m * CE(layer m)          (src/losses/teacher.ts)
 *
 * selected on the SOURCE dev set (zero-shot: no target label is read).
 */
import type { MsdConfig } from '../config.js';
import { writeJsonAtomic } from '../run/io.js';
import { layerWeights } from '../losses/lambda.js';
import { teacherLoss } from '../losses/teacher.js';
import { disposeNerModel } from '../model/ner-model.js';
import { devScore } from '../eval/evaluate.js';
import { encodeDataset } from '../tokenizer/dataset.js';
import { makeBatches, realTokens, splitBatch, type Batch } from '../tokenizer/batching.js';
import { IGNORE_INDEX } from '../losses/ce.js';
import { batchToTensors } from '../tokenizer/tensors.js';
import { runSettings, trainLoop, weighByCount, type LoopResult, type TrainOptions } from './loop.js';
import { streamSeed } from '../rng.js';
import { backendFor } from './backend.js';
import { ensureRunData, loadSplit } from './data.js';
import { lambdaName, newModel, pretrainedDir, trainableVars } from './models.js';
import { runDir } from '../run/dir.js';

export interface TeacherResult extends LoopResult {
  /** Directory of the selected teacher (loadNerModel). */
  bestDir: string;
}

/** Positions that carry a label (first sub-tokens of words): the positions the CE terms average over. */
function labelledTokens(batch: Batch): number {
  let n = 0;
  for (const l of batch.labels ?? []) if (l !== IGNORE_INDEX) n++;
  return n;
}

/** Trains the teacher of a run (or resumes it) and returns where the selected model is. */
export async function trainTeacher(cfg: MsdConfig, opts: TrainOptions = {}): Promise<TeacherResult> {
  await ensureRunData(cfg);
  await backendFor(cfg);
  const run = runDir(cfg);
  run.init(cfg, { resume: opts.resume, force: opts.force });
  const paths = run.teacher();
  const dir = await pretrainedDir(cfg);
  const train = loadSplit(cfg, cfg.data.source, 'train');
  const dev = loadSplit(cfg, cfg.data.source, 'dev');
  // A token-classification checkpoint (transformers, the Hub, `msd export --format hf`) gives the main head too.
  const model = newModel('teacher', dir, train.schema, cfg, streamSeed(cfg.run.seed, 'teacher/init'), {
    mainHeadFromCheckpoint: true,
    log: (message) => opts.onProgress?.({ task: 'teacher', kind: 'info', step: 0, totalSteps: 0, message }),
  });
  const t = cfg.teacher;
  const heads = model.heads.layers;
  const main = model.heads.mainLayer;
  const aux = heads.filter((m) => m !== main);
  // A head on the last layer reads it at the labelled positions only (its cross-entropy): the layer runs on those.
  const lastLayerHead = heads.includes(model.encoder.config.numLayers);
  const lambda = layerWeights(t.lambda, aux.length, {
    seed: streamSeed(cfg.run.seed, 'teacher/lambda'),
    name: lambdaName('teacher'),
  });
  const { encoded } = encodeDataset(model.tokenizer, train.sentences, {
    schema: train.schema,
    maxLength: cfg.data.maxLength,
    labelAllSubtokens: cfg.data.labelAllSubtokens,
  });
  const vars = [
    ...trainableVars(model, t),
    ...(lambda.variable ? [{ name: 'lambda', variable: lambda.variable }] : []),
  ];
  try {
    const result = await trainLoop<Batch>({
      task: 'teacher',
      vars,
      optim: t,
      seed: cfg.run.seed,
      batches: (epoch) =>
        makeBatches(encoded, {
          batchSize: t.batchSize,
          seed: streamSeed(cfg.run.seed, 'teacher/batches'),
          epoch,
          padId: model.tokenizer.padId,
        }),
      tokens: realTokens,
      loss: (batch, stepSeed) => {
        const x = batchToTensors(batch); // created inside variableGrads: freed with the step's intermediates
        const reads = lastLayerHead ? labelledPositions(batch) : undefined;
        const forward = { training: true, dropoutSeed: stepSeed, frozen: t, lastLayerReads: reads };
        const { hidden } = model.encoder.forward(x, forward);
        const logits = model.heads.logits(hidden, { training: true, dropoutSeed: stepSeed });
        return teacherLoss({ logits, labels: x.labels!, lambda, alpha: t.alpha, mainLayer: main, auxLayers: aux });
      },
      // Every CE term is a mean over the labelled positions, so a micro-batch carries its share of those positions.
      microBatches: (batch) =>
        weighByCount(splitBatch(batch, cfg.run.microBatchTokens, model.tokenizer.padId), labelledTokens),
      evaluate: () => {
        const r = devScore(model, { sentences: dev.sentences, split: 'dev', lang: dev.lang });
        return { score: r.score, log: { ...r.log, lambda: lambda.values() } };
      },
      ...runSettings(cfg, 'teacher', paths, model, dir, opts),
    });
    writeJsonAtomic(paths.trainReport, {
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

/** The labelled positions of a batch (item, position), the rows the teacher's loss reads (bert.ts `lastLayerReads`). */
function labelledPositions(batch: Batch): (item: number, position: number) => boolean {
  return (item, position) => batch.items[item]!.labels![position] !== IGNORE_INDEX;
}
