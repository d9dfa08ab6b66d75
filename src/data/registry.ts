/**
 * `loadDataset(name, lang, split)`: the corpora of the paper's experiments by name, from their standard file names
 * under a data root, read with the right reader and checked against the corpus's type list.
 *
 *   conll2002  <root>/conll2002/{es,nl}/{esp,ned}.{train,testa,testb}      (testa = dev, testb = test)
 *   conll2003  <root>/conll2003/{en,de}/{eng,deu}.{train,testa,testb}
 *   wikiann    <root>/wikiann/<lang>/{train,dev,test}-<lang>.tsv           (XTREME or raw layout)
 *   multiconer <root>/multiconer/<lang>/<lang>_{train,dev,test}.conll
 *
 * Each file is looked for, in this order, under `opts.root` (a run's `data.root`), under `$MSD_DATA_ROOT`, and
 * under the user cache `$MSD_CACHE/data` (else `~/.cache/msd-ner/data`), which `ensureDataset` / `msd data pull`
 * fill from the Hugging Face Hub (src/data/hub.ts; the cache holds the same standard files, so they are read by the
 * same readers with the same reports). `loadDataset` itself never downloads: a file found nowhere is an error that
 * names every place tried and the remedies.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { didYouMean, UserError } from '../errors.js';
import { msdCacheDir } from '../hub/client.js';
import type { ReadOptions } from './collect.js';
import { readConll } from './conll.js';
import { hubCorpus } from './hub-corpora.js';
import { readMulticoner } from './multiconer.js';
import { labelSchema, STANDARD_TYPES } from './schema.js';
import type { LabelSchema, LoadReport, Sentence } from './types.js';
import { readWikiann } from './wikiann.js';

export type DatasetName = 'conll2002' | 'conll2003' | 'wikiann' | 'multiconer';
export type Split = 'train' | 'dev' | 'test';
export const DATASET_NAMES: readonly DatasetName[] = ['conll2002', 'conll2003', 'wikiann', 'multiconer'];
export const SPLITS: readonly Split[] = ['train', 'dev', 'test'];

export interface Dataset {
  name: DatasetName;
  lang: string;
  split: Split;
  sentences: Sentence[];
  report: LoadReport;
  /** The corpus's standard schema (every tag was checked against it on load). */
  schema: LabelSchema;
}

export interface LoadDatasetOptions extends Pick<ReadOptions, 'strict' | 'scheme' | 'encoding'> {
  /** A local data root looked at first (a run's `data.root`); then `$MSD_DATA_ROOT`, then the user cache. */
  root?: string;
}

const CONLL_FILE_LANG: Record<string, Record<string, string>> = {
  conll2002: { es: 'esp', nl: 'ned' },
  conll2003: { en: 'eng', de: 'deu' },
};
const CONLL_SPLIT: Record<Split, string> = { train: 'train', dev: 'testa', test: 'testb' };

/**
 * The languages of each corpus with a fixed set: the CoNLL files above, MultiCoNER 2022's eleven (plus its `multi`
 * and `mix` sets). WikiAnn has 176 (PAN-X) to 282 (raw) codes: a code of the right shape is accepted, and whether
 * its files are there is for the caller to check (datasetPath).
 */
export const CORPUS_LANGUAGES: Readonly<Record<DatasetName, readonly string[] | undefined>> = {
  conll2002: Object.keys(CONLL_FILE_LANG.conll2002!),
  conll2003: Object.keys(CONLL_FILE_LANG.conll2003!),
  wikiann: undefined,
  multiconer: ['bn', 'de', 'en', 'es', 'fa', 'hi', 'ko', 'nl', 'ru', 'tr', 'zh', 'multi', 'mix'],
};

const LANG_CODE = /^[a-z]{2,3}(?:-[a-z0-9]+)*$|^simple$/;

/**
 * Throws unless `name` is a corpus `loadDataset` knows and `lang` (when given) one of its languages; the message
 * names `where` (e.g. `data.corpus`) and the value, lists what is known and suggests the closest.
 */
export function checkCorpus(name: string, lang?: string, where = 'data'): asserts name is DatasetName {
  if (!(DATASET_NAMES as readonly string[]).includes(name))
    throw new UserError(
      `${where}: unknown corpus '${name}'${didYouMean(name, DATASET_NAMES)}; the corpora are ${DATASET_NAMES.join(', ')}`,
    );
  if (lang === undefined) return;
  const known = CORPUS_LANGUAGES[name as DatasetName];
  if (known ? !known.includes(lang) : !LANG_CODE.test(lang))
    throw new UserError(
      `${where}: '${lang}' is not a language of ${name}${known ? didYouMean(lang, known) : ''}; expected ${known ? `one of ${known.join(', ')}` : 'a WikiAnn language code such as en, zh, zh-yue'}`,
    );
}

/** The cache's data root: `$MSD_CACHE/data`, else `~/.cache/msd-ner/data`. */
export function cacheDataRoot(): string {
  return resolve(msdCacheDir(), 'data');
}

/** The first local root of the resolution: `opts.root`, else `$MSD_DATA_ROOT`, else the cache's data root. */
export function defaultDataRoot(root?: string): string {
  const env = process.env.MSD_DATA_ROOT?.trim();
  return resolve(root || env || cacheDataRoot());
}

export type DataSource = 'data.root' | 'MSD_DATA_ROOT' | 'cache';

export interface Located {
  /** The file to read, when found. */
  path?: string;
  source?: DataSource;
  /** Every place looked at, in order, for messages (`data.root (unset)`, `MSD_DATA_ROOT: no /x/...`). */
  tried: string[];
}

/** Where a corpus file resolves: the first of data.root, MSD_DATA_ROOT and the cache that holds it. */
export function locateDataset(name: DatasetName, lang: string, split: Split, root?: string): Located {
  const env = process.env.MSD_DATA_ROOT?.trim();
  const roots: [DataSource, string | undefined][] = [
    ['data.root', root || undefined],
    ['MSD_DATA_ROOT', env || undefined],
    ['cache', cacheDataRoot()],
  ];
  const tried: string[] = [];
  for (const [source, r] of roots) {
    if (!r) {
      tried.push(`${source} (unset)`);
      continue;
    }
    const path = datasetPath(name, lang, split, resolve(r));
    if (existsSync(path)) return { path, source, tried };
    tried.push(`${source === 'cache' ? 'the cache' : source}: no ${path}`);
  }
  return { tried };
}

/** The error for a corpus file found nowhere: what was tried, where the Hub has it (or why not), the remedies. */
export function missingDatasetMessage(
  name: DatasetName,
  lang: string,
  split: Split,
  tried: readonly string[],
  why?: string,
): string {
  const hub = hubCorpus(name, lang);
  const where = hub?.repo
    ? `It is on the Hugging Face Hub as ${hub.repo} (config ${hub.config!(lang)}, split ${hub.splits![split]})`
    : `It is not on the Hugging Face Hub under terms that allow it${hub ? `: ${hub.terms}` : ''}`;
  const pull = hub?.repo
    ? ` or run \`msd data pull ${name} ${lang}\` on a connected machine (it fills the cache),`
    : '';
  return (
    `${name} ${lang} ${split}: not found (tried ${tried.join('; ')})${why ? `; ${why}` : ''}. ${where}. ` +
    `Point MSD_DATA_ROOT (or data.root in the config) at a local folder holding ${datasetPath(name, lang, split, '<root>')},` +
    `${pull} and run again`
  );
}

/** The path `loadDataset` reads for a corpus, language and split (whether or not it exists). */
export function datasetPath(name: DatasetName, lang: string, split: Split, root: string): string {
  if (!SPLITS.includes(split)) throw new Error(`unknown split '${split}'; expected one of ${SPLITS.join(', ')}`);
  switch (name) {
    case 'conll2002':
    case 'conll2003': {
      const prefix = CONLL_FILE_LANG[name]![lang];
      if (!prefix) {
        throw new Error(
          `${name} has no language '${lang}'; expected one of ${Object.keys(CONLL_FILE_LANG[name]!).join(', ')}`,
        );
      }
      return join(root, name, lang, `${prefix}.${CONLL_SPLIT[split]}`);
    }
    case 'wikiann':
      return join(root, 'wikiann', lang, `${split}-${lang}.tsv`);
    case 'multiconer':
      return join(root, 'multiconer', lang, `${lang}_${split}.conll`);
    default:
      throw new Error(`unknown dataset '${name as string}'; expected one of ${DATASET_NAMES.join(', ')}`);
  }
}

function schemaFor(name: DatasetName): LabelSchema {
  return labelSchema(
    name === 'wikiann'
      ? STANDARD_TYPES.wikiann
      : name === 'multiconer'
        ? STANDARD_TYPES.multiconer
        : STANDARD_TYPES.conll,
  );
}

/**
 * Loads one split of a corpus from the first local root that holds it (see the top of this file); a file found
 * nowhere is an error naming each place tried, what the first folder holds and the remedies.
 */
export function loadDataset(name: DatasetName, lang: string, split: Split, opts: LoadDatasetOptions = {}): Dataset {
  datasetPath(name, lang, split, '.'); // unknown corpus, language or split: its own error first
  const found = locateDataset(name, lang, split, opts.root);
  if (!found.path) {
    const first = datasetPath(name, lang, split, defaultDataRoot(opts.root));
    const dir = join(first, '..');
    const present = existsSync(dir) ? readdirSync(dir).sort().join(', ') || 'nothing' : 'does not exist';
    throw new Error(
      `loadDataset: ${missingDatasetMessage(name, lang, split, found.tried, `the folder ${dir} holds: ${present}`)}`,
    );
  }
  const path = found.path;
  const schema = schemaFor(name);
  const read = {
    strict: opts.strict,
    scheme: opts.scheme,
    encoding: opts.encoding,
    lang,
    idPrefix: `${name}/${lang}/${split}`,
    schema,
  };
  const { sentences, report } =
    name === 'wikiann'
      ? readWikiann(path, read)
      : name === 'multiconer'
        ? readMulticoner(path, read)
        : readConll(path, read);
  return { name, lang, split, sentences, report, schema };
}

/** The (language, split) pairs of a corpus present under the root, for listing and for "every file loads". */
export function availableDatasets(
  root: string = defaultDataRoot(),
): { name: DatasetName; lang: string; split: Split; path: string }[] {
  const out: { name: DatasetName; lang: string; split: Split; path: string }[] = [];
  for (const name of DATASET_NAMES) {
    const dir = join(root, name);
    if (!existsSync(dir)) continue;
    for (const lang of readdirSync(dir).sort()) {
      for (const split of SPLITS) {
        let path: string;
        try {
          path = datasetPath(name, lang, split, root);
        } catch {
          continue;
        }
        if (existsSync(path)) out.push({ name, lang, split, path });
      }
    }
  }
  return out;
}
