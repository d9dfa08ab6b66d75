/**
 * Optional: Hugging Face Hub datasets as parquet, on a connected machine. The Hub converts every public dataset to
 * parquet and lists the files of a config/split at `/api/datasets/<repo>/parquet/<config>/<split>` (a JSON array
 * of URLs). They are downloaded once into a cache folder and read with `readParquet`; nothing here runs unless it
 * is called, and offline it fails with an error that says what it tried.
 */
import { existsSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readParquet, type ParquetOptions } from './parquet.js';
import type { LoadReport, Sentence } from './types.js';

export interface HubOptions extends ParquetOptions {
  /** Dataset config (e.g. `es` for `conll2002`, `en` for `wikiann`); default `default`. */
  config?: string;
  /** Folder for downloaded files; default `MSD_HUB_CACHE`, else `.cache/hub-datasets` under the working directory. */
  cacheDir?: string;
  /** Hub endpoint; default `HF_ENDPOINT`, else https://huggingface.co. */
  endpoint?: string;
  /** The fetch to use (tests pass a stub). */
  fetch?: typeof fetch;
}

export interface HubDataset {
  repo: string;
  config: string;
  split: string;
  files: string[];
  sentences: Sentence[];
  reports: LoadReport[];
}

async function get(f: typeof fetch, url: string): Promise<Response> {
  let res: Response;
  try {
    res = await f(url);
  } catch (err) {
    throw new Error(
      `Hugging Face Hub: cannot fetch ${url} (${(err as Error).message}); offline? Read local parquet files with readParquet instead`,
    );
  }
  if (!res.ok) throw new Error(`Hugging Face Hub: ${url} answered ${res.status} ${res.statusText}`);
  return res;
}

/**
 * Downloads (once) and reads every parquet file of a Hub dataset split. Ids are `<repo>/<config>/<split>#<row>`,
 * or `.../<split>/part<i>#<row>` when the split has several files.
 */
export async function loadHubDataset(repo: string, split: string, opts: HubOptions = {}): Promise<HubDataset> {
  const f = opts.fetch ?? fetch;
  const config = opts.config ?? 'default';
  const endpoint = (opts.endpoint ?? process.env.HF_ENDPOINT ?? 'https://huggingface.co').replace(/\/$/, '');
  const cacheDir = opts.cacheDir ?? process.env.MSD_HUB_CACHE ?? join(process.cwd(), '.cache', 'hub-datasets');
  const listUrl = `${endpoint}/api/datasets/${repo}/parquet/${encodeURIComponent(config)}/${encodeURIComponent(split)}`;
  const urls = (await (await get(f, listUrl)).json()) as unknown;
  if (!Array.isArray(urls) || urls.length === 0 || !urls.every((u) => typeof u === 'string')) {
    throw new Error(`Hugging Face Hub: ${listUrl} did not list parquet files; expected a JSON array of URLs`);
  }
  const dir = join(cacheDir, repo.replace(/\//g, '__'), config, split);
  mkdirSync(dir, { recursive: true });
  const files: string[] = [];
  const sentences: Sentence[] = [];
  const reports: LoadReport[] = [];
  for (let i = 0; i < urls.length; i++) {
    const path = join(dir, `${String(i).padStart(4, '0')}.parquet`);
    if (!existsSync(path)) {
      const bytes = new Uint8Array(await (await get(f, urls[i] as string)).arrayBuffer());
      // Write then rename, so an interrupted download never looks like a cached file.
      writeFileSync(`${path}.part`, bytes);
      renameSync(`${path}.part`, path);
    }
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
