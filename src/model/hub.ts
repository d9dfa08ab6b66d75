/**
 * `fromPretrained(idOrDir)`: a local directory is loaded as is; a Hugging Face Hub id (`bert-base-multilingual-cased`,
 * `org/name`) is downloaded once into a cache with plain `fetch` of `${endpoint}/${id}/resolve/${revision}/${file}`
 * and reused offline afterwards.
 *
 * Cache layout: `<cacheDir>/models--<org>--<name>/<revision>/<file>`, complete once `.complete` (a JSON manifest of
 * file sizes) exists; a complete entry is used without any network access. Downloads stream into `<file>.part`; an
 * interrupted download resumes with an HTTP Range request (retried `retries` times in the same call, and resumed
 * by the next call after that), and the final size is checked against `X-Linked-Size` / `Content-Length` /
 * `Content-Range` before the rename. Only safetensors weights are fetched (`model.safetensors`, or the shards
 * of `model.safetensors.index.json`); pickled `pytorch_model.bin` is never downloaded or read.
 *
 * Settings: cacheDir (default `$MSD_HUB_CACHE`, else `$MSD_CACHE/hub`, else `~/.cache/msd-ner/hub`), endpoint
 * (default `$HF_ENDPOINT`, else https://huggingface.co), allowRemote (default true unless `HF_HUB_OFFLINE=1`),
 * token (default `$HF_TOKEN`, for gated or private models).
 */
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { homedir } from 'node:os';
import { isAbsolute, join } from 'node:path';
import { writeJsonAtomic } from './atomic.js';
import { loadBert, type LoadBertOptions, type LoadedBert } from './checkpoint.js';
import { TOKENIZER_FILES } from './save.js';

export interface DownloadProgress {
  file: string;
  /** Bytes on disk so far (including a resumed part). */
  loaded: number;
  /** Expected size, when the server says. */
  total?: number;
  done: boolean;
}

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
  if (process.env.MSD_CACHE) return join(process.env.MSD_CACHE, 'hub');
  return join(homedir(), '.cache', 'msd-ner', 'hub');
}

const HUB_ID = /^[A-Za-z0-9][\w.-]*(\/[A-Za-z0-9][\w.-]*)?$/;

/** Where a Hub model at a revision lives in the cache. */
export function cachePathFor(id: string, revision = 'main', cacheDir = defaultCacheDir()): string {
  return join(cacheDir, `models--${id.replace('/', '--')}`, encodeURIComponent(revision));
}

class NotFound extends Error {}

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
  const allowRemote = opts.allowRemote ?? process.env.HF_HUB_OFFLINE !== '1';
  if (!allowRemote) {
    const endpoint = (opts.endpoint ?? process.env.HF_ENDPOINT ?? 'https://huggingface.co').replace(/\/+$/, '');
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
  const endpoint = (opts.endpoint ?? process.env.HF_ENDPOINT ?? 'https://huggingface.co').replace(/\/+$/, '');
  mkdirSync(dir, { recursive: true });
  const url = (file: string) => `${endpoint}/${idOrDir}/resolve/${encodeURIComponent(revision)}/${file}`;
  const token = opts.token ?? process.env.HF_TOKEN;
  const get = (file: string) => downloadFile(url(file), join(dir, file), file, { ...opts, token });
  const sizes: Record<string, number> = {};
  const fetchRequired = async (file: string) => {
    try {
      sizes[file] = await get(file);
    } catch (err) {
      if (err instanceof NotFound)
        throw new Error(`${url(file)}: not found (404); is "${idOrDir}" at revision ${revision} a BERT model?`);
      throw err;
    }
  };
  await fetchRequired('config.json');
  try {
    sizes['model.safetensors'] = await get('model.safetensors');
  } catch (err) {
    if (!(err instanceof NotFound)) throw err;
    try {
      sizes['model.safetensors.index.json'] = await get('model.safetensors.index.json');
    } catch (err2) {
      if (!(err2 instanceof NotFound)) throw err2;
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
      if (!(err instanceof NotFound)) throw err; // optional: not every model has every tokenizer file
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

/** Downloads `url` to `dest` via `dest.part`, resuming with Range requests; returns the size. Throws NotFound on 404. */
async function downloadFile(
  url: string,
  dest: string,
  file: string,
  opts: { onProgress?: (p: DownloadProgress) => void; retries?: number; token?: string },
): Promise<number> {
  if (existsSync(dest)) return statSync(dest).size;
  const part = `${dest}.part`;
  const retries = opts.retries ?? 3;
  let lastError: Error | undefined;
  for (let attempt = 0; attempt <= retries; attempt++) {
    const have = existsSync(part) ? statSync(part).size : 0;
    const headers: Record<string, string> = {};
    if (have > 0) headers.Range = `bytes=${have}-`;
    if (opts.token) headers.Authorization = `Bearer ${opts.token}`;
    let res: Response;
    try {
      res = await fetch(url, { headers, redirect: 'follow' });
    } catch (err) {
      lastError = new Error(`${url}: request failed: ${(err as Error).message}`);
      continue;
    }
    if (res.status === 404) {
      await res.body?.cancel();
      throw new NotFound(url);
    }
    if (res.status === 416 && have > 0) {
      // The part is not a prefix the server accepts (file changed?): start over.
      await res.body?.cancel();
      rmSync(part, { force: true });
      continue;
    }
    if (!res.ok) {
      await res.body?.cancel();
      const hint =
        res.status === 401 || res.status === 403 ? ' (gated or private model? set HF_TOKEN or pass { token })' : '';
      throw new Error(`${url}: HTTP ${res.status} ${res.statusText}${hint}`);
    }
    let start = 0;
    let total: number | undefined;
    const linked = Number(res.headers.get('x-linked-size') ?? NaN);
    if (res.status === 206) {
      const m = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(res.headers.get('content-range') ?? '');
      if (!m || Number(m[1]) !== have) {
        await res.body?.cancel();
        rmSync(part, { force: true });
        lastError = new Error(
          `${url}: server answered the Range request with Content-Range ${res.headers.get('content-range')}`,
        );
        continue;
      }
      start = have;
      total = m[3] === '*' ? undefined : Number(m[3]);
    } else {
      const len = Number(res.headers.get('content-length') ?? NaN);
      total = Number.isFinite(len) ? len : undefined;
    }
    if (Number.isFinite(linked)) total = linked;
    let loaded = start;
    const fh = await open(part, start > 0 ? 'a' : 'w');
    try {
      if (res.body) {
        for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
          await fh.write(chunk);
          loaded += chunk.length;
          opts.onProgress?.({ file, loaded, total, done: false });
        }
      }
    } catch (err) {
      lastError = new Error(
        `${url}: download interrupted after ${loaded} bytes (${(err as Error).message}); the next call resumes from ${part}`,
      );
      continue;
    } finally {
      await fh.close();
    }
    const size = statSync(part).size;
    if (total !== undefined && size !== total) {
      if (size > total) {
        rmSync(part, { force: true });
        throw new Error(
          `${url}: received ${size} bytes but the server announced ${total}; the partial file was removed`,
        );
      }
      lastError = new Error(`${url}: received ${size} of ${total} bytes; the next call resumes from ${part}`);
      continue;
    }
    renameSync(part, dest);
    opts.onProgress?.({ file, loaded: size, total: total ?? size, done: true });
    return size;
  }
  throw lastError ?? new Error(`${url}: download failed`);
}
