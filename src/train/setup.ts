/**
 * What every training step of a run needs before it starts: the backend, the pretrained encoder directory, the
 * tokenizer, the data splits (with the demo limits applied) and fresh models. Each function does one thing so a
 * notebook can call them one by one.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { initBackend, type BackendInfo } from '../backend/init.js';
import type { MsdConfig } from '../config.js';
import { datasetPath, loadDataset, type Dataset, type DatasetName, type Split } from '../data/registry.js';
import type { LabelSchema } from '../data/types.js';
import type { NamedVariable } from '../model/bert.js';
import { loadBert } from '../model/checkpoint.js';
import { LayerHeads } from '../model/heads.js';
import { resolveModelDir } from '../model/hub.js';
import type { NerModel } from '../model/ner-model.js';
import { writeTinyCheckpoint } from '../model/tiny.js';
import { pruneVocabulary } from '../model/prune.js';
import { loadTokenizer } from '../tokenizer/load.js';
import { RunDir } from './runs.js';

/** Initialises the backend the config asks for (`run.backend`, '' = automatic). */
export function backendFor(cfg: MsdConfig): Promise<BackendInfo> {
  return initBackend(cfg.run.backend ? { prefer: cfg.run.backend } : {});
}

/**
 * The directory of the encoder every model of the run starts from. `paper`: mBERT from a local directory or the
 * Hub cache (downloaded when `model.allowRemote`). `tiny`: a small random BERT written once into `<run>/pretrained`
 * from the run seed, with the vocabulary and tokenizer files of `model.pretrained`, so that the teacher and every
 * student start from the same "pretrained" weights, as with mBERT.
 */
export async function pretrainedDir(cfg: MsdConfig): Promise<string> {
  const dir = await unprunedDir(cfg);
  if (!cfg.model.pruneVocab) return dir;
  // model.pruneVocab: the vocabulary of the run's training text only (src/model/prune.ts), written once.
  const pruned = join(cfg.run.teacherDir || cfg.run.outDir, 'pretrained-pruned'); // a shared teacher's vocabulary
  if (!existsSync(join(pruned, 'config.json'))) {
    const text = [loadSplit(cfg, cfg.data.source, 'train').sentences, ...cfg.data.targets.map((l) => loadSplit(cfg, l, 'train').sentences)];
    pruneVocabulary(dir, text, pruned);
  }
  return pruned;
}

async function unprunedDir(cfg: MsdConfig): Promise<string> {
  if (cfg.model.tiny.enabled) {
    const dir = join(cfg.run.teacherDir || cfg.run.outDir, 'pretrained'); // a shared teacher's run holds the same weights
    if (!existsSync(join(dir, 'model.safetensors'))) {
      const vocab = join(resolve(cfg.model.pretrained), 'vocab.txt');
      if (!existsSync(vocab)) throw new Error(`model.pretrained: ${vocab} not found; the tiny preset takes the vocabulary of a local model directory`);
      const t = cfg.model.tiny;
      writeTinyCheckpoint(dir, { seed: cfg.run.seed, hiddenSize: t.hiddenSize, numLayers: t.numLayers, numHeads: t.numHeads, intermediateSize: t.intermediateSize, vocab });
    }
    return dir;
  }
  return resolveModelDir(cfg.model.pretrained, { cacheDir: cfg.model.cacheDir || undefined, allowRemote: cfg.model.allowRemote });
}

/** One split of a corpus with the config's sentence limit applied (the first N sentences, deterministic). */
export function loadSplit(cfg: MsdConfig, lang: string, split: Split): Dataset {
  const ds = loadDataset(cfg.data.corpus as DatasetName, lang, split, { root: cfg.data.root || undefined });
  const limit = cfg.data.limit[split];
  return limit > 0 && ds.sentences.length > limit ? { ...ds, sentences: ds.sentences.slice(0, limit) } : ds;
}

/** The split used for final scores: `test` where the corpus ships one, else `dev` (WikiAnn/MultiCoNER copies here). */
export function evalSplit(cfg: MsdConfig, lang: string): Split {
  return existsSync(datasetPath(cfg.data.corpus as DatasetName, lang, 'test', cfg.data.root || undefined)) ? 'test' : 'dev';
}

export function headLayerList(cfg: MsdConfig): number[] {
  const [first, last] = cfg.model.headLayers;
  return Array.from({ length: last - first + 1 }, (_, i) => first + i);
}

let modelCount = 0;

/** A fresh NER model: the pretrained encoder plus new per-layer heads (seeded). */
export function newModel(name: string, dir: string, schema: LabelSchema, cfg: MsdConfig, seed: number): NerModel {
  const { encoder } = loadBert(dir, { seed });
  const heads = new LayerHeads({
    hiddenSize: encoder.config.hiddenSize,
    numLabels: schema.tags.length,
    numLayers: encoder.config.numLayers,
    layers: headLayerList(cfg),
    dropout: cfg.model.classifierDropout,
    seed,
    initializerRange: encoder.config.initializerRange,
  });
  return { name, encoder, heads, tokenizer: loadTokenizer(dir), schema, maxLength: cfg.data.maxLength };
}

/** A process-unique name for a learned-lambda variable (tfjs variable names are global). */
export function lambdaName(task: string): string {
  return `${task}/lambda#${modelCount++}`;
}

/** The trainable variables of a model under stable names (`encoder/...`, `heads/...`), frozen parts left out. */
export function trainableVars(model: NerModel, freeze: { freezeEmbeddings: boolean; freezeLayers: number }): NamedVariable[] {
  return [
    ...model.encoder.trainableVariables(freeze).map((v) => ({ name: `encoder/${v.name}`, variable: v.variable })),
    ...model.heads.variables().map((v) => ({ name: `heads/${v.name}`, variable: v.variable })),
  ];
}

export function runDir(cfg: MsdConfig): RunDir {
  return new RunDir(cfg.run.outDir, cfg.run.teacherDir || undefined);
}
