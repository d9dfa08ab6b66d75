/**
 * Where each corpus the library names lives on the Hugging Face Hub: one row per corpus (and language where that
 * matters), with the dataset repository, its config for a language, its split names, the columns and the terms.
 * Tag names are never listed here: they are read from each parquet file's own `huggingface` metadata (the
 * `datasets` features, `ner_tags` a Sequence of ClassLabel with its `names`).
 *
 * Repository ids as the Hub lists them today (looked up on huggingface.co, December 2026): the former canonical
 * `conll2002` / `conll2003` live under `eriktks/`, WikiAnn under `unimelb-nlp/`. MultiCoNER 2022 (the paper's,
 * 6 coarse types) has no official Hub release: `MultiCoNER/multiconer_v2` is the 2023 task with 33 fine types (a
 * different tag set), so the table points at `tomaarsen/MultiCoNER`, a community copy of the 2022 data under its
 * CC BY 4.0 licence; it is a script dataset, so its files are the Hub's parquet conversion, when there is one.
 *
 * | corpus     | langs         | Hub repository        | config      | splits (train/dev/test)     | terms
 * |------------|---------------|-----------------------|-------------|-----------------------------|-------------------
 * | conll2002  | es, nl        | eriktks/conll2002     | es / nl     | train / validation / test   | research use
 * | conll2003  | en            | eriktks/conll2003     | conll2003   | train / validation / test   | Reuters terms (research)
 * | conll2003  | de            | not on the Hub        |             |                             | Frankfurter Rundschau text, licensed separately
 * | wikiann    | any (176)     | unimelb-nlp/wikiann   | <lang>      | train / validation / test   | ODC-BY
 * | multiconer | bn de en es fa hi ko nl ru tr zh | tomaarsen/MultiCoNER | <lang> | train / validation / test | CC BY 4.0
 */
import type { DatasetName, Split } from './registry.js';

export interface HubCorpus {
  corpus: DatasetName;
  /** The languages this row covers; undefined: any language that is a config of the repository. */
  langs?: readonly string[];
  /** Dataset repository on the Hub; undefined when the corpus is not there under terms that allow it. */
  repo?: string;
  /** The dataset config for a language. */
  config?: (lang: string) => string;
  /** The Hub's split name for each of ours. */
  splits?: Record<Split, string>;
  tokensColumn?: string;
  tagsColumn?: string;
  /** The terms, or why the corpus is not on the Hub and how to get it. */
  terms: string;
}

const SPLITS = { train: 'train', dev: 'validation', test: 'test' } as const;

export const HUB_CORPORA: readonly HubCorpus[] = [
  {
    corpus: 'conll2002',
    langs: ['es', 'nl'],
    repo: 'eriktks/conll2002',
    config: (lang) => lang,
    splits: SPLITS,
    terms: 'CoNLL-2002 shared task data, free for research',
  },
  {
    corpus: 'conll2003',
    langs: ['en'],
    repo: 'eriktks/conll2003',
    config: () => 'conll2003',
    splits: SPLITS,
    terms: 'annotations of the Reuters Corpus (RCV1), research use under the Reuters/NIST terms',
  },
  {
    corpus: 'conll2003',
    langs: ['de'],
    terms:
      'German CoNLL-2003 is not on the Hugging Face Hub: its text (Frankfurter Rundschau 1992) is licensed ' +
      'separately (ECI Multilingual Text corpus); with a licence, put deu.train/deu.testa/deu.testb under ' +
      '<data root>/conll2003/de/',
  },
  {
    corpus: 'wikiann',
    repo: 'unimelb-nlp/wikiann',
    config: (lang) => lang,
    splits: SPLITS,
    terms: 'WikiAnn (PAN-X) with the Rahimi et al. splits, ODC-BY',
  },
  {
    corpus: 'multiconer',
    langs: ['bn', 'de', 'en', 'es', 'fa', 'hi', 'ko', 'nl', 'ru', 'tr', 'zh'],
    repo: 'tomaarsen/MultiCoNER',
    config: (lang) => lang,
    splits: SPLITS,
    terms:
      'MultiCoNER 2022 (SemEval-2022 task 11), CC BY 4.0; a community copy (no official Hub release of the 2022 ' +
      'data; MultiCoNER/multiconer_v2 is the 2023 task with another tag set)',
  },
];

/** The table row for a corpus and language (a row without `repo` says why it is not on the Hub). */
export function hubCorpus(corpus: DatasetName, lang: string): HubCorpus | undefined {
  return HUB_CORPORA.find((c) => c.corpus === corpus && (!c.langs || c.langs.includes(lang)));
}
