/**
 * `fromPretrained(idOrDir)`: a local directory is loaded as is; a Hugging Face Hub id (`bert-base-multilingual-cased`,
 * `org/name`) is downloaded once into a cache from `${endpoint}/${id}/resolve/${revision}/${file}` through the
 * library's one Hub client (src/hub/client.ts: atomic, resumable, verified) and reused offline afterwards.
 * `resolveTokenizerDir` does the same for the tokenizer files alone (the tiny preset needs no weights).
 *
 * Cache layout: `<cacheDir>/models--<org>--<name>/<revision>/<file>`, complete once `.complete` (a JSON manifest of
 * file sizes) exists; a complete entry is used without any network access. Only safetensors weights are fetched (`model.safetensors`, or the shards
 * of `model.safetensors.index.json`); pickled `pytorch_model.bin` is never downloaded or read.
 *
 * Settings: cacheDir (default `$MSD_HUB_CACHE`, else `$MSD_CACHE/hub`, else `~/.cache/msd-ner/hub`), endpoint
 * (default `$HF_ENDPOINT`, else https://huggingface.co), allowRemote (default true unless `HF_HUB_OFFLINE=1`),
 * token (default `$HF_TOKEN`, for gated or private models). The tokenizer alone: `MSD_TOKENIZER_DIR`, a local
 * folder, comes before the cache and the Hub (this development setup points it at its local mirror).
 */
import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import {
  HubNotFoundError,
  HubUnavailableError,
  hubDownload,
  hubSettings,
  msdCacheDir,
  type DownloadProgress,
} from '../hub/client.js';
import { writeJsonAtomic } from '../run/io.js';
import { loadBert, type LoadBertOptions, type LoadedBert } from './checkpoint.js';
import { TOKENIZER_FILES } from './save.js';

export type { DownloadProgress };

export interface FromPretrainedOptions extends LoadBertOptions {
  cacheDir?: string;
  /** Allow network access (default true unless HF_HUB_OFFLINE=1). */
  allowRemote?: boolean;
  /** Branch, tag or commit (default 'main'). */
  revision?: string;
  /** Hub endpoint (default $HF_ENDPOINT or https://huggingface.co). */
  endpoint?: string;
  /** Bearer token for gated/private models (default $HF_TOKEN). */
  token?: string;
  onProgress?: (p: DownloadProgress) => void;
  /** Resume attempts after an interrupted transfer within one call (default 3). */
  retries?: number;
}

export function defaultCacheDir(): string {
  if (process.env.MSD_HUB_CACHE) return process.env.MSD_HUB_CACHE;
  return join(msdCacheDir(), 'hub');
}

const HUB_ID = /^[A-Za-z0-9][\w.-]*(\/[A-Za-z0-9][\w.-]*)?$/;

/** Where a Hub model at a revision lives in the cache. */
export function cachePathFor(id: string, revision = 'main', cacheDir = defaultCacheDir()): string {
  return join(cacheDir, `models--${id.replace('/', '--')}`, encodeURIComponent(revision));
}

/**
 * Where `resolveModelDir` would find a model without any network access: a local directory, or a complete cache
 * entry of a Hub id; undefined when it would be downloaded. Throws when it cannot be had at all (a path that does
 * not exist, or a Hub id not in the cache with remote access off): the pre-flight check of a run's model.
 */
export function localModelDir(idOrDir: string, opts: FromPretrainedOptions = {}): string | undefined {
  if (existsSync(idOrDir) && statSync(idOrDir).isDirectory()) return idOrDir;
  if (
    isAbsolute(idOrDir) ||
    idOrDir.startsWith('.') ||
    idOrDir.startsWith('~') ||
    !HUB_ID.test(idOrDir) ||
    idOrDir.includes('..')
  ) {
    throw new Error(
      `${idOrDir}: no such model directory (and not a Hugging Face Hub id like "bert-base-multilingual-cased" or "org/name")`,
    );
  }
  const revision = opts.revision ?? 'main';
  const dir = cachePathFor(idOrDir, revision, opts.cacheDir);
  if (existsSync(join(dir, '.complete'))) return dir;
  const allowRemote = opts.allowRemote ?? !hubSettings().offline;
  if (!allowRemote) {
    const endpoint = hubSettings({ endpoint: opts.endpoint }).endpoint;
    throw new Error(
      `model "${idOrDir}" (revision ${revision}) is not in the cache at ${dir} and allowRemote is false; ` +
        `pass { allowRemote: true } (and unset HF_HUB_OFFLINE) to download it from ${endpoint}, or put a downloaded copy there`,
    );
  }
  return undefined;
}

/**
 * The local directory for `idOrDir`: the directory itself, or the Hub model's cache entry (downloaded if needed
 * and allowed).
 */
export async function resolveModelDir(idOrDir: string, opts: FromPretrainedOptions = {}): Promise<string> {
  const local = localModelDir(idOrDir, opts);
  if (local !== undefined) return local;
  const revision = opts.revision ?? 'main';
  const dir = cachePathFor(idOrDir, revision, opts.cacheDir);
  const endpoint = hubSettings({ endpoint: opts.endpoint }).endpoint;
  mkdirSync(dir, { recursive: true });
  const url = (file: string) => `${endpoint}/${idOrDir}/resolve/${encodeURIComponent(revision)}/${file}`;
  const settings = hubSettings({
    endpoint,
    token: opts.token,
    offline: false,
    onProgress: opts.onProgress,
  });
  const get = (file: string) =>
    hubDownload(url(file), join(dir, file), settings, { retries: opts.retries, label: file });
  const sizes: Record<string, number> = {};
  const fetchRequired = async (file: string) => {
    try {
      sizes[file] = await get(file);
    } catch (err) {
      if (err instanceof HubNotFoundError)
        throw new Error(`${url(file)}: not found (404); is "${idOrDir}" at revision ${revision} a BERT model?`);
      throw err;
    }
  };
  await fetchRequired('config.json');
  try {
    sizes['model.safetensors'] = await get('model.safetensors');
  } catch (err) {
    if (!(err instanceof HubNotFoundError)) throw err;
    try {
      sizes['model.safetensors.index.json'] = await get('model.safetensors.index.json');
    } catch (err2) {
      if (!(err2 instanceof HubNotFoundError)) throw err2;
      throw new Error(
        `${idOrDir} (revision ${revision}) has no model.safetensors or model.safetensors.index.json on ${endpoint}. ` +
          `Pickled pytorch_model.bin weights are not downloaded (unpickling runs code); convert them to safetensors ` +
          `(safetensors.torch.save_file) and load the directory, or pick a revision that has safetensors weights.`,
      );
    }
    const index = JSON.parse(readFileSync(join(dir, 'model.safetensors.index.json'), 'utf8')) as {
      weight_map?: Record<string, string>;
    };
    const shards = [...new Set(Object.values(index.weight_map ?? {}))];
    for (const shard of shards) {
      if (typeof shard !== 'string' || shard.includes('/') || shard.includes('\\') || shard.startsWith('.')) {
        throw new Error(`${url('model.safetensors.index.json')}: bad shard name ${JSON.stringify(shard)}`);
      }
      await fetchRequired(shard);
    }
  }
  for (const file of TOKENIZER_FILES) {
    try {
      sizes[file] = await get(file);
    } catch (err) {
      if (!(err instanceof HubNotFoundError)) throw err; // optional: not every model has every tokenizer file
    }
  }
  writeJsonAtomic(join(dir, '.complete'), {
    id: idOrDir,
    revision,
    endpoint,
    files: sizes,
    date: new Date().toISOString(),
  });
  return dir;
}

/** Loads a BERT model (encoder, heads if saved, tokenizer file paths) from a local directory or the Hub. */
export async function fromPretrained(idOrDir: string, opts: FromPretrainedOptions = {}): Promise<LoadedBert> {
  return loadBert(await resolveModelDir(idOrDir, opts), opts);
}

/** Where the tokenizer of `idOrDir` resolves without any network access (see `resolveTokenizerDir`). */
export function locateTokenizer(
  idOrDir: string,
  opts: Pick<FromPretrainedOptions, 'cacheDir' | 'revision'> = {},
): { dir?: string; source?: 'local directory' | 'MSD_TOKENIZER_DIR' | 'cache'; tried: string[] } {
  const tried: string[] = [];
  if (existsSync(idOrDir) && statSync(idOrDir).isDirectory()) return { dir: idOrDir, source: 'local directory', tried };
  const env = process.env.MSD_TOKENIZER_DIR?.trim();
  if (env) {
    if (existsSync(join(env, 'vocab.txt')) || existsSync(join(env, 'tokenizer.json')))
      return { dir: env, source: 'MSD_TOKENIZER_DIR', tried };
    tried.push(`MSD_TOKENIZER_DIR=${env} (no vocab.txt or tokenizer.json there)`);
  } else tried.push('MSD_TOKENIZER_DIR (unset)');
  if (HUB_ID.test(idOrDir) && !idOrDir.includes('..')) {
    const dir = cachePathFor(idOrDir, opts.revision ?? 'main', opts.cacheDir);
    for (const marker of ['.complete', '.tokenizer-complete'])
      if (existsSync(join(dir, marker))) return { dir, source: 'cache', tried };
    tried.push(`the cache ${dir}`);
  }
  return { tried };
}

/**
 * The folder holding the tokenizer files (`vocab.txt`, `tokenizer.json`, ...) of `idOrDir`, in this order: the
 * folder itself when `idOrDir` is a local directory; `$MSD_TOKENIZER_DIR`; the cache entry of the Hub id (complete
 * model or tokenizer-only); a download of the tokenizer files alone into that entry. Offline with nothing cached,
 * the error names what was tried and both remedies.
 */
export async function resolveTokenizerDir(idOrDir: string, opts: FromPretrainedOptions = {}): Promise<string> {
  const found = locateTokenizer(idOrDir, opts);
  if (found.dir) return found.dir;
  const { tried } = found;
  if (!HUB_ID.test(idOrDir) || idOrDir.includes('..')) {
    throw new Error(
      `${idOrDir}: no such tokenizer directory (and not a Hugging Face Hub id); tried ${tried.join(', ')}`,
    );
  }
  const revision = opts.revision ?? 'main';
  const dir = cachePathFor(idOrDir, revision, opts.cacheDir);
  const s = hubSettings({ endpoint: opts.endpoint, token: opts.token, onProgress: opts.onProgress });
  const offline = opts.allowRemote === false || s.offline;
  const remedies =
    `Either set MSD_TOKENIZER_DIR to a local folder with the tokenizer files (vocab.txt, tokenizer.json), or run ` +
    `\`msd data pull tokenizer\` on a connected machine (it fills ${msdCacheDir()}, which can be copied)`;
  if (offline) {
    throw new Error(
      `tokenizer "${idOrDir}": not found locally (tried ${tried.join(', ')}) and downloads are off ` +
        `(${opts.allowRemote === false ? 'allowRemote is false' : 'HF_HUB_OFFLINE is set'}). ${remedies}`,
    );
  }
  const url = (file: string) => `${s.endpoint}/${idOrDir}/resolve/${encodeURIComponent(revision)}/${file}`;
  const files: Record<string, number> = {};
  try {
    for (const file of TOKENIZER_FILES) {
      try {
        files[file] = await hubDownload(url(file), join(dir, file), s, { label: `${idOrDir}/${file}` });
      } catch (err) {
        if (!(err instanceof HubNotFoundError)) throw err; // optional: not every model has every tokenizer file
      }
    }
  } catch (err) {
    if (err instanceof HubUnavailableError)
      throw new Error(
        `tokenizer "${idOrDir}": not found locally (tried ${tried.join(', ')}) and the Hub did not answer ` +
          `(${err.message}). ${remedies}`,
      );
    throw err;
  }
  if (!files['vocab.txt'] && !files['tokenizer.json'])
    throw new Error(`${url('vocab.txt')}: "${idOrDir}" has neither vocab.txt nor tokenizer.json on ${s.endpoint}`);
  writeJsonAtomic(join(dir, '.tokenizer-complete'), { id: idOrDir, revision, endpoint: s.endpoint, files });
  return dir;
}
