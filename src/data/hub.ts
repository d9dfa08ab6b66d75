/**
 * Corpora from the Hugging Face Hub, through the library's one Hub client (src/hub/client.ts).
 *
 * `ensureDataset(name, lang, split)` is the resolution every run, notebook and test goes through: the first of
 * `data.root`, `$MSD_DATA_ROOT` and the user cache that holds the file (src/data/registry.ts), else a download
 * from the Hub into the cache. A download lists the split's parquet files (`/api/datasets/{repo}/parquet/{config}/
 * {split}`, the Hub's parquet conversion on `refs/convert/parquet`), fetches each once (atomic, resumable,
 * verified), maps the tag ids to names with the ClassLabel names of the file's own `huggingface` metadata, and
 * writes the split under the cache's data root as the corpus's standard file (`conll2002/es/esp.train`, ...),
 * atomically. `loadDataset` then reads it with the same reader, so its reports and errors are those of a local
 * file. Rows that cannot be converted stop the pull with the parquet file and row: nothing is dropped silently.
 */
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import {
  HubNotFoundError,
  HubUnavailableError,
  hubDownload,
  hubJson,
  hubSettings,
  msdCacheDir,
  type HubSettings,
} from '../hub/client.js';
import { writeFileAtomic } from '../run/io.js';
import { hubCorpus } from './hub-corpora.js';
import { asArray, readParquet, readTagColumns, type ParquetOptions } from './parquet.js';
import {
  cacheDataRoot,
  datasetPath,
  locateDataset,
  missingDatasetMessage,
  SPLITS,
  type DatasetName,
  type Located,
  type Split,
} from './registry.js';
import type { LoadReport, Sentence } from './types.js';

export interface HubPullOptions {
  /** A local data root looked at first (a run's `data.root`). */
  root?: string;
  /** Hub settings (endpoint, token, offline, timeout, progress); default from the environment. */
  hub?: Partial<HubSettings>;
}

/** The parquet URLs of one config/split, or a clear error. */
async function listParquet(repo: string, config: string, split: string, s: HubSettings): Promise<string[]> {
  const url = `${s.endpoint}/api/datasets/${repo}/parquet/${encodeURIComponent(config)}/${encodeURIComponent(split)}`;
  const urls = await hubJson(url, s);
  if (!Array.isArray(urls) || urls.length === 0 || !urls.every((u) => typeof u === 'string')) {
    throw new Error(`${url}: expected a JSON array of parquet file URLs, got ${JSON.stringify(urls).slice(0, 120)}`);
  }
  return urls as string[];
}

/** The rows of a Hub parquet file as tokens and tag names (ids mapped with the file's own ClassLabel names). */
export async function readHubRows(
  path: string,
  tokensColumn = 'tokens',
  tagsColumn = 'ner_tags',
): Promise<{ tokens: string[]; tags: string[]; labels: readonly string[] }[]> {
  const { rows, labels } = await readTagColumns(path, tokensColumn, tagsColumn);
  return rows.map((row, r) => {
    const where = `${path}, row ${r + 1}`;
    const tokens = asArray(row[tokensColumn]);
    const ids = asArray(row[tagsColumn]);
    if (!tokens || !ids || tokens.length !== ids.length)
      throw new Error(`${where}: expected equal-length lists ${tokensColumn} and ${tagsColumn}`);
    const tags = ids.map((t, i) => {
      if (typeof t === 'string') return t;
      if (!labels)
        throw new Error(
          `${where}: tags are integer ids but the file has no Hugging Face features metadata with ClassLabel names ` +
            `for '${tagsColumn}'; expected the 'huggingface' key-value metadata that the Hub's parquet files carry`,
        );
      const id = Number(t);
      if (!Number.isInteger(id) || id < 0 || id >= labels.length)
        throw new Error(`${where}: tag id ${id} of token ${i} is outside the ClassLabel names 0..${labels.length - 1}`);
      return labels[id]!;
    });
    tokens.forEach((tok, i) => {
      if (typeof tok !== 'string' || tok === '')
        throw new Error(`${where}: token ${i} is ${JSON.stringify(tok)}; expected a non-empty string`);
    });
    return { tokens: tokens as string[], tags, labels: labels ?? [] };
  });
}

/** One split's sentences as the corpus's standard file text (what the local readers read). */
function standardText(name: DatasetName, split: Split, rows: { tokens: string[]; tags: string[] }[], src: string[]) {
  const out: string[] = [];
  rows.forEach((row, r) => {
    if (row.tokens.length === 0) return; // an empty row holds no sentence (the local files have none either)
    const sep = name === 'wikiann' ? /[\t\n\r]/ : /[\s]/;
    const bad = row.tokens.findIndex((t) => sep.test(t));
    if (bad >= 0)
      throw new Error(
        `${src[r]}: token ${bad} ${JSON.stringify(row.tokens[bad])} has white space, which the ${name} file format cannot hold`,
      );
    if (name === 'multiconer') out.push(`# id ${split}-${r}\tdomain=${split}`);
    row.tokens.forEach((t, i) => {
      const tag = row.tags[i]!;
      out.push(name === 'wikiann' ? `${t}\t${tag}` : name === 'multiconer' ? `${t} _ _ ${tag}` : `${t} ${tag}`);
    });
    out.push('');
  });
  return out.join('\n');
}

/**
 * Downloads one split of a corpus from the Hub into the cache's data root (even when a local root holds it) and
 * returns the file written; undefined when the Hub has no such split (e.g. a corpus without a test split).
 */
export async function pullDataset(
  name: DatasetName,
  lang: string,
  split: Split,
  opts: HubPullOptions = {},
): Promise<string | undefined> {
  const entry = hubCorpus(name, lang);
  if (!entry?.repo) throw new Error(missingDatasetMessage(name, lang, split, [], undefined));
  const s = hubSettings(opts.hub);
  const config = entry.config!(lang);
  const hubSplit = entry.splits![split];
  let urls: string[];
  try {
    urls = await listParquet(entry.repo, config, hubSplit, s);
  } catch (err) {
    if (err instanceof HubNotFoundError) {
      if (split === 'test') return undefined;
      throw new Error(
        `${name} ${lang} ${split}: the Hub has no parquet files for ${entry.repo} config ${config} split ${hubSplit} ` +
          `(${err.url}: 404). Point MSD_DATA_ROOT (or data.root) at a local copy instead`,
      );
    }
    throw err;
  }
  const dir = join(msdCacheDir(), 'hub', `datasets--${entry.repo.replace('/', '--')}`, config, hubSplit);
  const rows: { tokens: string[]; tags: string[] }[] = [];
  const src: string[] = [];
  for (let i = 0; i < urls.length; i++) {
    const path = join(dir, `${String(i).padStart(4, '0')}.parquet`);
    await hubDownload(urls[i]!, path, s, {
      label: `${entry.repo}/${config}/${hubSplit} part ${i}`,
      verifyCached: true,
    });
    const part = await readHubRows(path, entry.tokensColumn, entry.tagsColumn);
    part.forEach((_, r) => src.push(`${path}, row ${r + 1}`));
    rows.push(...part);
  }
  const dest = datasetPath(name, lang, split, cacheDataRoot());
  mkdirSync(dirname(dest), { recursive: true });
  writeFileAtomic(dest, standardText(name, split, rows, src));
  return dest;
}

/**
 * The resolution of one corpus file: local roots and the cache first (no network), else a download from the Hub
 * into the cache. Returns where it resolved, or `path: undefined` for a split the Hub does not have (test of a
 * corpus without one). Offline, or with the Hub unreachable, the error names what was tried and both remedies.
 */
export async function ensureDataset(
  name: DatasetName,
  lang: string,
  split: Split,
  opts: HubPullOptions = {},
): Promise<{ path?: string; source?: Located['source'] | 'hub'; tried: string[] }> {
  const found = locateDataset(name, lang, split, opts.root);
  if (found.path) return found;
  if (split === 'test') {
    // A corpus read from a local folder takes its test split from there too (dev stands in where it has none):
    // one run never mixes a local copy with the Hub's.
    const train = locateDataset(name, lang, 'train', opts.root);
    if (train.source === 'data.root' || train.source === 'MSD_DATA_ROOT') return found;
  }
  const entry = hubCorpus(name, lang);
  if (!entry?.repo) {
    if (split === 'test') return found; // dev stands in for test where a corpus has none (as with local copies)
    throw new Error(missingDatasetMessage(name, lang, split, found.tried));
  }
  try {
    const path = await pullDataset(name, lang, split, opts);
    return { path, source: path ? 'hub' : undefined, tried: found.tried };
  } catch (err) {
    if (err instanceof HubUnavailableError) {
      throw new Error(missingDatasetMessage(name, lang, split, found.tried, `the Hub: ${err.reason} (${err.url})`));
    }
    throw err;
  }
}

/** Every split of the given languages of a corpus, resolved (downloaded where needed). */
export async function ensureCorpus(
  name: DatasetName,
  langs: readonly string[],
  opts: HubPullOptions = {},
): Promise<{ lang: string; split: Split; path?: string; source?: string }[]> {
  const out: { lang: string; split: Split; path?: string; source?: string }[] = [];
  for (const lang of langs)
    for (const split of SPLITS) {
      const r = await ensureDataset(name, lang, split, opts);
      out.push({ lang, split, path: r.path, source: r.source });
    }
  return out;
}

export interface HubOptions extends ParquetOptions {
  /** Dataset config (e.g. `es` for `eriktks/conll2002`, `en` for `unimelb-nlp/wikiann`); default `default`. */
  config?: string;
  /** Folder for downloaded files; default `$MSD_CACHE/hub` (else `~/.cache/msd-ner/hub`). */
  cacheDir?: string;
  /** Hub settings (endpoint, token, offline, ...); default from the environment. */
  hub?: Partial<HubSettings>;
}

export interface HubDataset {
  repo: string;
  config: string;
  split: string;
  files: string[];
  sentences: Sentence[];
  reports: LoadReport[];
}

/**
 * Any Hub dataset split in the tokens + ner_tags layout, read with `readParquet` (for corpora the library does not
 * name). Ids are `<repo>/<config>/<split>#<row>`, or `.../<split>/part<i>#<row>` when the split has several files.
 */
export async function loadHubDataset(repo: string, split: string, opts: HubOptions = {}): Promise<HubDataset> {
  const s = hubSettings(opts.hub);
  const config = opts.config ?? 'default';
  const urls = await listParquet(repo, config, split, s);
  const dir = join(
    opts.cacheDir ?? join(msdCacheDir(), 'hub'),
    `datasets--${repo.replace(/\//g, '--')}`,
    config,
    split,
  );
  const files: string[] = [];
  const sentences: Sentence[] = [];
  const reports: LoadReport[] = [];
  for (let i = 0; i < urls.length; i++) {
    const path = join(dir, `${String(i).padStart(4, '0')}.parquet`);
    await hubDownload(urls[i]!, path, s, { label: `${repo}/${config}/${split} part ${i}` });
    const prefix = opts.idPrefix ?? `${repo}/${config}/${split}`;
    const { sentences: ss, report } = await readParquet(path, {
      ...opts,
      idPrefix: urls.length === 1 ? prefix : `${prefix}/part${i}`,
    });
    files.push(path);
    sentences.push(...ss);
    reports.push(report);
  }
  return { repo, config, split, files, sentences, reports };
}
