/** The data of a run: the config's corpus, languages and sentence limits applied to the dataset registry. */
import type { MsdConfig } from '../config.js';
import { ensureDataset } from '../data/hub.js';
import { loadDataset, locateDataset, SPLITS, type Dataset, type DatasetName, type Split } from '../data/registry.js';

/**
 * Resolves every split the run reads (source and targets: train, dev, test) before it starts: found locally
 * (`data.root`, `MSD_DATA_ROOT`, the cache) or downloaded from the Hub into the cache. Idempotent and quick when
 * everything is local; offline with something missing, the error names what was tried and the remedies.
 */
export async function ensureRunData(cfg: MsdConfig, langs?: readonly string[]): Promise<void> {
  const all = langs ?? [cfg.data.source, ...cfg.data.targets];
  for (const lang of new Set(all))
    for (const split of SPLITS)
      await ensureDataset(cfg.data.corpus as DatasetName, lang, split, { root: cfg.data.root || undefined });
}

/** One split of a corpus with the config's sentence limit applied (the first N sentences, deterministic). */
export function loadSplit(cfg: MsdConfig, lang: string, split: Split): Dataset {
  const ds = loadDataset(cfg.data.corpus as DatasetName, lang, split, { root: cfg.data.root || undefined });
  const limit = cfg.data.limit[split];
  return limit > 0 && ds.sentences.length > limit ? { ...ds, sentences: ds.sentences.slice(0, limit) } : ds;
}

/** The split used for final scores: `test` where the corpus ships one, else `dev` (WikiAnn/MultiCoNER copies here). */
export function evalSplit(cfg: MsdConfig, lang: string): Split {
  return locateDataset(cfg.data.corpus as DatasetName, lang, 'test', cfg.data.root || undefined).path ? 'test' : 'dev';
}
