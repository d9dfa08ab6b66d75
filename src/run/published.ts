/**
 * The paper's published numbers (Ma et al., EMNLP 2022, Tables 1-3): the one reader of `src/run/published.json`
 * (one entry per paper table, one row per method or ablation, F1 per language; the file says how to fill it in).
 * Numbers not filled in are `null` and are never drawn or tabulated as if they were known.
 *
 *   publishedRows('conll')             // AblationRow[] with source 'published' (only the known cells)
 *   publishedF1('conll2002', 'nl')     // MSD's F1 in percent, or null
 *   loadPublished().status             // 'unverified' until someone fills the file in from the paper
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { readJson } from './io.js';
import { VARIANT_NAMES, type Variant } from './variants.js';

/** One score of one variant on one language, published in the paper or measured by a run. F1 in percent. */
export interface AblationRow {
  variant: Variant;
  language: string;
  /** Entity F1 in percent; null = not known (a published cell not filled in, a missing run). */
  f1: number | null;
  source: 'published' | 'measured';
  /** Optional: corpus of the row (conll, wikiann, multiconer). */
  corpus?: string;
}

/** One row of a paper table: a method (MSD, one of its ablations, or a baseline) on the table's languages. */
export interface PublishedRow {
  table: number;
  corpus: string;
  backbone: string;
  /** The paper's name of the row (`MSD`, `MSD w/o. distillers`, `TSL`, ...). */
  method: string;
  /** The variant of this library's method the row is (src/run/variants.ts); absent for a baseline. */
  variant?: string;
  /** F1 in percent per language of the table; null where not filled in. */
  f1: Record<string, number | null>;
  avg: number | null;
  verified: boolean;
}

interface PublishedTable {
  table: number;
  title?: string;
  corpus: string;
  backbone: string;
  sourceLanguage?: string;
  languages: string[];
  rows: Omit<PublishedRow, 'table' | 'corpus' | 'backbone'>[];
}

/** The published-numbers file, its tables flattened to rows. */
export interface PublishedNumbers {
  path: string;
  description: string;
  source: Record<string, string>;
  status: 'verified' | 'unverified' | string;
  note: string;
  metric: string;
  /** Languages of each corpus's table, in the table's order. */
  languages: Record<string, string[]>;
  rows: PublishedRow[];
}

/** The package's src/run/published.json: two levels up from both src/run and lib/run. */
export function defaultPublishedPath(): string {
  return fileURLToPath(new URL('../../src/run/published.json', import.meta.url));
}

const cache = new Map<string, PublishedNumbers>();

/** The published-numbers file, checked for shape (errors name the file, table and row). */
export function loadPublished(path = defaultPublishedPath()): PublishedNumbers {
  const hit = cache.get(path);
  if (hit) return hit;
  if (!existsSync(path)) throw new Error(`${path}: the published numbers file was not found`);
  const doc = readJson<Omit<PublishedNumbers, 'rows' | 'languages' | 'path'> & { tables?: PublishedTable[] }>(path);
  if (!Array.isArray(doc.tables)) throw new Error(`${path}: expected a 'tables' array (one entry per paper table)`);
  const rows: PublishedRow[] = [];
  const languages: Record<string, string[]> = {};
  doc.tables.forEach((t, ti) => {
    const where = `${path}: tables[${ti}] (table ${t.table}, ${t.corpus})`;
    if (!Array.isArray(t.languages) || !Array.isArray(t.rows))
      throw new Error(`${where}: expected 'languages' and 'rows' arrays`);
    languages[t.corpus] = [...t.languages];
    t.rows.forEach((r, ri) => {
      const at = `${where} rows[${ri}] (${r.method})`;
      if (r.variant !== undefined && !(VARIANT_NAMES as string[]).includes(r.variant))
        throw new Error(
          `${at}: variant '${r.variant}'; expected one of ${VARIANT_NAMES.join(', ')} or none (a baseline)`,
        );
      const keys = Object.keys(r.f1 ?? {});
      if (keys.join() !== t.languages.join())
        throw new Error(
          `${at}: f1 has languages [${keys.join(', ')}]; expected the table's [${t.languages.join(', ')}]`,
        );
      for (const [lang, v] of Object.entries(r.f1)) {
        if (v !== null && (typeof v !== 'number' || v < 0 || v > 100))
          throw new Error(`${at}: f1.${lang} is ${JSON.stringify(v)}; expected null or a percentage in [0, 100]`);
      }
      rows.push({ table: t.table, corpus: t.corpus, backbone: t.backbone, ...r, verified: r.verified === true });
    });
  });
  const out: PublishedNumbers = {
    path,
    description: doc.description,
    source: doc.source,
    status: doc.status,
    note: doc.note,
    metric: doc.metric,
    languages,
    rows,
  };
  cache.set(path, out);
  return out;
}

/** The published file's corpus key for a loader corpus name: conll2002 / conll2003 -> conll. */
export function publishedCorpus(corpus: string): string {
  return /^conll200[23]$/.test(corpus) ? 'conll' : corpus;
}

/**
 * Published scores of the method's variants as ablation rows (source 'published'), for one corpus or all; null cells
 * are left out unless `includeNull`, baselines unless `baselines` (their `variant` is then the paper's method name).
 * The paper's own averages are not repeated here: charts and tables average what they show.
 */
export function publishedRows(
  corpus?: string,
  opts: { includeNull?: boolean; baselines?: boolean; path?: string } = {},
): AblationRow[] {
  const out: AblationRow[] = [];
  for (const r of loadPublished(opts.path).rows) {
    if (corpus !== undefined && r.corpus !== publishedCorpus(corpus)) continue;
    if (r.variant === undefined && !opts.baselines) continue;
    for (const [language, f1] of Object.entries(r.f1)) {
      if (f1 === null && !opts.includeNull) continue;
      out.push({ variant: r.variant ?? r.method, language, f1, source: 'published', corpus: r.corpus });
    }
  }
  return out;
}

/** The published row of a variant on a corpus (`conll`, or the loader's `conll2002` / `conll2003`, ...). */
export function publishedRow(corpus: string, variant: Variant = 'full', path?: string): PublishedRow | undefined {
  const key = publishedCorpus(corpus);
  return loadPublished(path).rows.find((r) => r.corpus === key && r.variant === variant);
}

/** The paper's F1 (percent) for a corpus, language and variant (default full MSD), or null where not known here. */
export function publishedF1(corpus: string, language: string, variant: Variant = 'full'): number | null {
  return publishedRow(corpus, variant)?.f1[language] ?? null;
}
