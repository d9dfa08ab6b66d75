/**
 * The paper's published numbers (Ma et al., EMNLP 2022, Tables 1-3), kept in one data file, `src/viz/published.json`,
 * with its source. Numbers that could not be checked against the paper are `null` there and are never drawn or
 * tabulated as if they were known.
 *
 *   publishedRows('conll')   // AblationRow[] with source 'published' (only the non-null cells)
 *   loadPublished().status   // 'unverified' until someone fills the file in from the paper
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from './render.js';
import type { VariantName } from '../sweep/variants.js';

/**
 * A variant of the method, named as in src/sweep/variants.ts (the one home of the variant names and their ablation
 * flags: full, noAux, noMmdL, noMmdM, noAll); other strings are allowed for variants a study adds.
 */
export type Variant = VariantName | (string & {});

/** Short labels for charts and tables. */
export const VARIANT_LABELS: Record<string, string> = {
  full: 'MSD',
  noAux: 'w/o aux. heads',
  noMmdM: 'w/o MMD_M',
  noMmdL: 'w/o MMD_L',
  noAll: 'plain KD',
};

/** 'msd' (this file's earlier name for the full method, still used by some callers) is 'full'. */
export function canonicalVariant(v: string): string {
  return v === 'msd' ? 'full' : v;
}

export function canonicalRow<T extends { variant: string }>(r: T): T {
  return r.variant === 'msd' ? { ...r, variant: 'full' } : r;
}

export const CORPUS_LANGUAGES: Record<string, readonly string[]> = {
  conll: ['de', 'es', 'nl'],
  wikiann: ['ar', 'hi', 'zh'],
  multiconer: ['ko', 'ru', 'tr'],
};

/** One score of one variant on one language, published in the paper or measured by a run. F1 in percent. */
export interface AblationRow {
  variant: Variant;
  language: string;
  /** Entity F1 in percent; null = not known (a published cell that could not be verified, a missing run). */
  f1: number | null;
  source: 'published' | 'measured';
  /** Optional: corpus of the row (conll, wikiann, multiconer). */
  corpus?: string;
}

export interface PublishedFile {
  description: string;
  source: Record<string, string>;
  status: 'verified' | 'unverified' | string;
  note: string;
  metric: string;
  rows: {
    table: number;
    corpus: string;
    backbone: string;
    variant: string;
    label: string;
    f1: Record<string, number | null>;
    avg: number | null;
    verified: boolean;
  }[];
}

let cached: PublishedFile | undefined;

/** The published-numbers file, checked for shape. */
export function loadPublished(path = join(packageRoot(), 'src', 'viz', 'published.json')): PublishedFile {
  if (cached && path === join(packageRoot(), 'src', 'viz', 'published.json')) return cached;
  let doc: PublishedFile;
  try {
    doc = JSON.parse(readFileSync(path, 'utf8')) as PublishedFile;
  } catch (err) {
    throw new Error(`${path}: could not read the published numbers: ${(err as Error).message}`);
  }
  if (!Array.isArray(doc.rows)) throw new Error(`${path}: expected a 'rows' array`);
  doc.rows.forEach((r, i) => {
    for (const [lang, v] of Object.entries(r.f1 ?? {})) {
      if (v !== null && (typeof v !== 'number' || v < 0 || v > 100)) {
        throw new Error(
          `${path}: rows[${i}] (${r.corpus} ${r.variant}) f1.${lang} is ${JSON.stringify(v)}; expected null or a percentage in [0, 100]`,
        );
      }
    }
  });
  cached = doc;
  return doc;
}

/**
 * Published scores as ablation rows (source 'published'), for one corpus or all; null cells are left out unless
 * `includeNull`. The paper's own averages are not repeated here: charts and tables average what they show.
 */
export function publishedRows(corpus?: string, opts: { includeNull?: boolean; path?: string } = {}): AblationRow[] {
  const doc = loadPublished(opts.path);
  const out: AblationRow[] = [];
  for (const r of doc.rows) {
    if (corpus !== undefined && r.corpus !== publishedCorpus(corpus)) continue;
    for (const [language, f1] of Object.entries(r.f1)) {
      if (f1 === null && !opts.includeNull) continue;
      out.push({ variant: r.variant, language, f1, source: 'published', corpus: r.corpus });
    }
  }
  return out;
}

/** The published file's corpus key for a loader corpus name: conll2002 / conll2003 -> conll. */
export function publishedCorpus(corpus: string): string {
  return /^conll200[23]$/.test(corpus) ? 'conll' : corpus;
}

/**
 * The paper's F1 (percent) for a corpus (`conll`, or the loader's `conll2002` / `conll2003`, `wikiann`,
 * `multiconer`), language and variant (default the full MSD row), or null where it is not known here.
 */
export function publishedF1(corpus: string, language: string, variant: Variant = 'full'): number | null {
  const key = publishedCorpus(corpus);
  const row = loadPublished().rows.find((r) => r.corpus === key && r.variant === variant);
  return row?.f1[language] ?? null;
}
