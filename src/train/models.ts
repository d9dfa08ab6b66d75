/**
 * The models of a run: the encoder directory every model starts from, a fresh model (that encoder plus new
 * per-layer heads), and which of its variables train.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { checkLayerCount, headLayerList, type MsdConfig } from '../config.js';
import type { LabelSchema } from '../data/types.js';
import type { NamedVariable } from '../model/bert.js';
import { loadBert } from '../model/checkpoint.js';
import { mapClassifier } from '../model/classifier-labels.js';
import { modelConfigPath } from '../model/config.js';
import { LayerHeads } from '../model/heads.js';
import { resolveModelDir, resolveTokenizerDir } from '../model/hub.js';
import type { NerModel } from '../model/ner-model.js';
import { pruneVocabulary } from '../model/prune.js';
import { writeTinyCheckpoint } from '../model/tiny.js';
import { loadTokenizer } from '../tokenizer/load.js';
import { runDir } from '../run/dir.js';
import { loadSplit } from './data.js';
import { streamSeed } from '../rng.js';

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
  const pruned = runDir(cfg).prunedPretrained; // a shared teacher's vocabulary
  if (!existsSync(modelConfigPath(pruned))) {
    const text = [
      loadSplit(cfg, cfg.data.source, 'train').sentences,
      ...cfg.data.targets.map((l) => loadSplit(cfg, l, 'train').sentences),
    ];
    pruneVocabulary(dir, text, pruned);
  }
  return pruned;
}

async function unprunedDir(cfg: MsdConfig): Promise<string> {
  if (cfg.model.tiny.enabled) {
    const dir = runDir(cfg).pretrained; // a shared teacher's run holds the same weights
    if (!existsSync(join(dir, 'model.safetensors'))) {
      const tokDir = await resolveTokenizerDir(cfg.model.pretrained, {
        cacheDir: cfg.model.cacheDir || undefined,
        allowRemote: cfg.model.allowRemote,
      });
      const vocab = join(tokDir, 'vocab.txt');
      if (!existsSync(vocab))
        throw new Error(
          `model.pretrained: ${vocab} not found; the tiny preset takes the vocabulary (vocab.txt) of ${tokDir}`,
        );
      const t = cfg.model.tiny;
      const seed = streamSeed(cfg.run.seed, 'pretrained');
      writeTinyCheckpoint(dir, {
        seed,
        hiddenSize: t.hiddenSize,
        numLayers: t.numLayers,
        numHeads: t.numHeads,
        intermediateSize: t.intermediateSize,
        dropout: t.dropout,
        vocab,
      });
    }
    return dir;
  }
  return resolveModelDir(cfg.model.pretrained, {
    cacheDir: cfg.model.cacheDir || undefined,
    allowRemote: cfg.model.allowRemote,
  });
}

export interface NewModelOptions {
  /**
   * Start the main head from the checkpoint's token classifier (a transformers `BertForTokenClassification`:
   * `classifier.weight/bias` with `id2label`), its rows reordered into `schema` by label name; tags the checkpoint
   * lacks and the auxiliary heads start fresh. Without a classifier in the checkpoint every head is fresh.
   */
  mainHeadFromCheckpoint?: boolean;
  /** Told what was loaded (the label mapping). */
  log?: (message: string) => void;
}

/** A fresh NER model: the pretrained encoder plus new heads on `model.headLayers` (seeded). */
export function newModel(
  name: string,
  dir: string,
  schema: LabelSchema,
  cfg: MsdConfig,
  seed: number,
  opts: NewModelOptions = {},
): NerModel {
  const loaded = loadBert(dir, { seed });
  const { encoder } = loaded;
  loaded.heads?.dispose(); // a saved model's own heads: a new model of the run starts its heads anew
  try {
    checkLayerCount(cfg, encoder.config.numLayers, modelConfigPath(dir));
  } catch (err) {
    encoder.dispose();
    throw err;
  }
  const headOpts = {
    hiddenSize: encoder.config.hiddenSize,
    numLabels: schema.tags.length,
    numLayers: encoder.config.numLayers,
    layers: headLayerList(cfg.model),
    dropout: cfg.model.classifierDropout,
    seed,
    initializerRange: encoder.config.initializerRange,
  };
  let heads = new LayerHeads(headOpts);
  if (opts.mainHeadFromCheckpoint && loaded.classifier) {
    const main = heads.mainLayer;
    try {
      if (main !== encoder.config.numLayers)
        throw new Error(
          `${dir}: its classifier reads layer ${encoder.config.numLayers}, but model.headLayers puts the main head on layer ${main}`,
        );
      const w = heads.getWeights();
      const k = `classifier.layer_${main}.kernel`;
      const b = `classifier.layer_${main}.bias`;
      const mapped = mapClassifier(loaded.classifier, schema, modelConfigPath(dir), {
        kernel: w.get(k)!,
        bias: w.get(b)!,
      });
      w.set(k, mapped.kernel);
      w.set(b, mapped.bias);
      heads.dispose();
      heads = new LayerHeads(headOpts, new Map([...w].filter(([n]) => n === k || n === b)));
      opts.log?.(
        `main head (layer ${main}) from ${dir}'s classifier: ${[...mapped.from].map(([tag, l]) => (tag === l ? tag : `${l}->${tag}`)).join(' ')}` +
          (mapped.fresh.length ? `; fresh: ${mapped.fresh.join(' ')}` : '') +
          `; auxiliary heads fresh`,
      );
    } catch (err) {
      heads.dispose();
      encoder.dispose();
      throw err;
    }
  }
  return { name, encoder, heads, tokenizer: loadTokenizer(dir), schema, maxLength: cfg.data.maxLength };
}

let lambdaCount = 0;

/** A process-unique name for a learned-lambda variable (tfjs variable names are global). */
export function lambdaName(task: string): string {
  return `${task}/lambda#${lambdaCount++}`;
}

/** The trainable variables of a model under stable names (`encoder/...`, `heads/...`), frozen parts left out. */
export function trainableVars(
  model: NerModel,
  freeze: { freezeEmbeddings: boolean; freezeLayers: number },
): NamedVariable[] {
  return [
    ...model.encoder.trainableVariables(freeze).map((v) => ({ name: `encoder/${v.name}`, variable: v.variable })),
    ...model.heads.variables().map((v) => ({ name: `heads/${v.name}`, variable: v.variable })),
  ];
}
