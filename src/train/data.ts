/** The data of a run: the config's corpus, languages and sentence limits applied to the dataset registry. */
import { existsSync } from 'node:fs';
import type { MsdConfig } from '../config.js';
import { datasetPath, loadDataset, type Dataset, type DatasetName, type Split } from '../data/registry.js';

/** One split of a corpus with the config's sentence limit applied (the first N sentences, deterministic). */
export function loadSplit(cfg: MsdConfig, lang: string, split: Split): Dataset {
  const ds = loadDataset(cfg.data.corpus as DatasetName, lang, split, { root: cfg.data.root || undefined });
  const limit = cfg.data.limit[split];
  return limit > 0 && ds.sentences.length > limit ? { ...ds, sentences: ds.sentences.slice(0, limit) } : ds;
}

/** The split used for final scores: `test` where the corpus ships one, else `dev` (WikiAnn/MultiCoNER copies here). */
export function evalSplit(cfg: MsdConfig, lang: string): Split {
  return existsSync(datasetPath(cfg.data.corpus as DatasetName, lang, 'test', cfg.data.root || undefined))
    ? 'test'
    : 'dev';
}
