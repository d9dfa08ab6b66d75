/**
 * The one Hugging Face Hub client of the library: corpora (src/data/hub.ts), the tokenizer and the weights
 * (src/model/hub.ts) all download through `hubDownload` and list through `hubJson`.
 *
 * What it relies on (Hub behaviour, as documented or as the official clients implement it):
 * - Files: `GET {endpoint}/{repo}/resolve/{revision}/{path}` (models; datasets under `/datasets/{repo}/...`). For
 *   large (LFS/Xet) files the Hub answers 302 to a CDN and puts `X-Linked-Etag` (the file's sha256) and
 *   `X-Linked-Size` on the 302 itself; small files come back 200 with `ETag` (the git blob id) and
 *   `Content-Length`. huggingface_hub's `file_download.py` reads `X-Linked-Etag` before `ETag` the same way, which
 *   is why redirects are followed by hand here (a followed fetch would drop the 302's headers).
 * - Ranges: the CDN answers `Range: bytes=N-` with 206 and `Content-Range: bytes N-M/TOTAL`.
 * - Parquet listings: `GET {endpoint}/api/datasets/{repo}/parquet/{config}/{split}` is a JSON array of URLs of the
 *   dataset's parquet files (the `refs/convert/parquet` branch, as the dataset viewer's "List Parquet files" page
 *   describes; the Rust client `hugging-face-client` models the same answer as `Vec<String>`).
 * - Gated or private repositories answer 401/403 without a valid `Authorization: Bearer $HF_TOKEN`.
 *
 * Guarantees: a file is written to `<dest>.part` and renamed into place only when complete and verified (sha256
 * when the Hub gives one, else the announced size), so nothing half-written is ever read as complete; a kill leaves
 * the `.part`, which the next call resumes with a Range request. A `<dest>.meta.json` sidecar keeps the size and
 * sha256, and a cached file that no longer matches it is reported and fetched again. `HF_HUB_OFFLINE=1` makes every
 * call fail at once (no request), and every request gives up after `timeoutMs` without an answer, so an offline
 * machine gets its error within seconds.
 */
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { writeJsonAtomic } from '../run/io.js';

export const DEFAULT_ENDPOINT = 'https://huggingface.co';

/** Where the library keeps downloads: `$MSD_CACHE`, else `~/.cache/msd-ner`. */
export function msdCacheDir(): string {
  const env = process.env.MSD_CACHE?.trim();
  return env ? env : join(homedir(), '.cache', 'msd-ner');
}

export interface HubSettings {
  /** Default `$HF_ENDPOINT`, else https://huggingface.co. */
  endpoint: string;
  /** Default `$HF_TOKEN` (gated or private repositories). */
  token?: string;
  /** No network at all; default `HF_HUB_OFFLINE=1` (or `true`). */
  offline: boolean;
  /** Give up on a request that has not answered (or a transfer that stalls) for this long; default 15 s. */
  timeoutMs: number;
  /** Progress of long downloads; default a line on stderr when it is a terminal, else one line per 10%. */
  onProgress?: (p: DownloadProgress) => void;
}

export interface DownloadProgress {
  file: string;
  /** Bytes on disk so far (including a resumed part). */
  loaded: number;
  /** Expected size, when the server says. */
  total?: number;
  done: boolean;
}

export function hubSettings(over: Partial<HubSettings> = {}): HubSettings {
  const off = (process.env.HF_HUB_OFFLINE ?? '').trim().toLowerCase();
  return {
    endpoint: (over.endpoint ?? (process.env.HF_ENDPOINT?.trim() || DEFAULT_ENDPOINT)).replace(/\/+$/, ''),
    token: over.token ?? (process.env.HF_TOKEN?.trim() || undefined),
    offline: over.offline ?? (off === '1' || off === 'true' || off === 'yes'),
    timeoutMs: over.timeoutMs ?? 15_000,
    onProgress: over.onProgress,
  };
}

/** The Hub could not be asked (offline setting, or no answer): callers add what they tried and the remedies. */
export class HubUnavailableError extends Error {
  constructor(
    readonly url: string,
    readonly reason: string,
  ) {
    super(`${url}: ${reason}`);
  }
}

/** 404: the repository, revision or file does not exist. */
export class HubNotFoundError extends Error {
  constructor(readonly url: string) {
    super(`${url}: not found (404)`);
  }
}

/** 401/403: gated or private; the message says how to pass a token. */
export class HubAccessError extends Error {
  constructor(
    readonly url: string,
    readonly status: number,
  ) {
    super(
      `${url}: HTTP ${status}: the repository is gated or private; accept its terms on the Hub with your account ` +
        `and set HF_TOKEN to an access token`,
    );
  }
}

const OFFLINE_REASON = 'not downloaded: HF_HUB_OFFLINE is set (no network access allowed)';

/**
 * A GET, tried again (twice, 200 ms apart) when the connection is reset before an answer: a kept-alive socket that
 * the server closed just as it was reused fails that way, and a GET is safe to repeat. A refused connection or a
 * name that does not resolve fails at once (offline: the error must come within seconds).
 */
async function fetchOnce(url: string, headers: Record<string, string>, signal: AbortSignal): Promise<Response> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await fetch(url, { headers, redirect: 'manual', signal });
    } catch (err) {
      const code = (err as { cause?: { code?: string } }).cause?.code ?? '';
      const reset = code === 'ECONNRESET' || code === 'UND_ERR_SOCKET' || code === 'EPIPE';
      if (!reset || attempt >= 2 || signal.aborted) throw err;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

/** One request, redirects followed by hand (keeping the first answer's X-Linked-* headers), with a timeout. */
async function request(
  url: string,
  s: HubSettings,
  headers: Record<string, string> = {},
): Promise<{ res: Response; linkedEtag?: string; linkedSize?: number; finalUrl: string; abort: AbortController }> {
  if (s.offline) throw new HubUnavailableError(url, OFFLINE_REASON);
  let at = url;
  let linkedEtag: string | undefined;
  let linkedSize: number | undefined;
  for (let hop = 0; hop < 8; hop++) {
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), s.timeoutMs);
    let res: Response;
    // The token goes to the endpoint only, never to a CDN host it redirects to.
    const sameHost = new URL(at).host === new URL(s.endpoint).host;
    const h: Record<string, string> = { ...headers };
    if (s.token && sameHost) h.Authorization = `Bearer ${s.token}`;
    try {
      res = await fetchOnce(at, h, abort.signal);
    } catch (err) {
      const e = err as Error & { cause?: { code?: string; message?: string } };
      const why = abort.signal.aborted
        ? `no answer within ${s.timeoutMs / 1000} s`
        : (e.cause?.code ?? e.cause?.message ?? e.message);
      throw new HubUnavailableError(at, `cannot reach the Hub (${why})`);
    } finally {
      clearTimeout(timer);
    }
    linkedEtag ??= res.headers.get('x-linked-etag') ?? undefined;
    const ls = res.headers.get('x-linked-size');
    if (linkedSize === undefined && ls !== null && Number.isFinite(Number(ls))) linkedSize = Number(ls);
    if (res.status >= 300 && res.status < 400 && res.headers.get('location')) {
      await res.body?.cancel();
      at = new URL(res.headers.get('location')!, at).toString();
      continue;
    }
    if (res.status === 404) {
      await res.body?.cancel();
      throw new HubNotFoundError(url);
    }
    if (res.status === 401 || res.status === 403) {
      await res.body?.cancel();
      throw new HubAccessError(url, res.status);
    }
    return { res, linkedEtag, linkedSize, finalUrl: at, abort };
  }
  throw new HubUnavailableError(url, 'too many redirects');
}

/** GET a JSON answer of the Hub API (e.g. a parquet listing). */
export async function hubJson(url: string, s: HubSettings = hubSettings()): Promise<unknown> {
  const { res } = await request(url, s, { Accept: 'application/json' });
  if (!res.ok) {
    await res.body?.cancel();
    throw new Error(`${url}: HTTP ${res.status} ${res.statusText}`);
  }
  const text = await res.text();
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new Error(`${url}: expected JSON, got ${JSON.stringify(text.slice(0, 80))}`);
  }
}

interface Meta {
  url: string;
  size: number;
  sha256: string;
  etag?: string;
}

const metaPath = (dest: string) => `${dest}.meta.json`;

async function sha256Of(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest('hex');
}

/**
 * Whether a cached file is still what was downloaded: its size always, its sha256 when `full`. A file without a
 * sidecar (put there by hand) is trusted.
 */
export async function checkCached(dest: string, full = false): Promise<string | undefined> {
  if (!existsSync(dest)) return `${dest} is missing`;
  if (!existsSync(metaPath(dest))) return undefined;
  let meta: Meta;
  try {
    meta = JSON.parse(readFileSync(metaPath(dest), 'utf8')) as Meta;
  } catch {
    return `${metaPath(dest)} is not readable JSON`;
  }
  const size = statSync(dest).size;
  if (size !== meta.size) return `${dest} has ${size} bytes, but ${meta.size} were downloaded (truncated or altered)`;
  if (full && meta.sha256 && (await sha256Of(dest)) !== meta.sha256)
    return `${dest} does not match the sha256 it was downloaded with (${meta.sha256}); the file was altered`;
  return undefined;
}

/**
 * The default progress line: rewritten in place on a terminal; otherwise (logs) one line per ~10% for a file over
 * 5 MB and a single line when a smaller file is done, so every download leaves a trace but logs stay short.
 */
export function progressLine(label = 'download'): (p: DownloadProgress) => void {
  const tty = process.stderr.isTTY;
  let lastDecile = -1;
  let lastAt = 0;
  return (p) => {
    const mb = (n: number) => (n / 1e6).toFixed(1);
    const pct = p.total ? Math.floor((100 * p.loaded) / p.total) : undefined;
    const text = `${label} ${p.file}: ${mb(p.loaded)}${p.total ? ` of ${mb(p.total)}` : ''} MB${pct !== undefined ? ` (${pct}%)` : ''}`;
    if (tty) {
      if ((p.total ?? p.loaded) < 1e6) return;
      const now = Date.now();
      if (!p.done && now - lastAt < 200) return;
      lastAt = now;
      process.stderr.write(`\r${text}${p.done ? '\n' : ''}`);
    } else {
      const large = (p.total ?? p.loaded) > 5e6;
      const decile = pct === undefined ? -1 : Math.floor(pct / 10);
      if (p.done || (large && decile > lastDecile)) {
        lastDecile = decile;
        process.stderr.write(`${text}${p.done ? ' done' : ''}\n`);
      }
    }
  };
}

export interface DownloadOptions {
  /** Name shown in progress lines and errors (default: the file name). */
  label?: string;
  /** Resume attempts after a transfer breaks within one call (default 3). */
  retries?: number;
  /** Check the sha256 of an already cached file against its sidecar (default: size only). */
  verifyCached?: boolean;
}

/**
 * Where the body starts in the file and the file's size (the Hub's X-Linked-Size first): a 206 must continue at
 * `have` (else undefined: the part is not a prefix of what is sent); a 200 starts at 0.
 */
function bodyExtent(res: Response, have: number, linkedSize?: number): { start: number; total?: number } | undefined {
  let total = linkedSize;
  if (res.status === 206) {
    const m = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(res.headers.get('content-range') ?? '');
    if (!m || Number(m[1]) !== have) return undefined;
    if (m[3] !== '*') total ??= Number(m[3]);
    return { start: have, total };
  }
  const len = res.headers.get('content-length');
  if (len !== null && Number.isFinite(Number(len))) total ??= Number(len);
  return { start: 0, total };
}

/**
 * Writes the response body into `part` from byte `start` (appending to what is there), reporting the bytes held
 * after each chunk. A transfer that stalls for `timeoutMs` is aborted like an unanswered request. Returns what
 * interrupted it (received bytes and why), or undefined when the body arrived whole.
 */
async function writeBody(
  res: Response,
  part: string,
  start: number,
  abort: AbortController,
  timeoutMs: number,
  onChunk: (loaded: number) => void,
): Promise<string | undefined> {
  let loaded = start;
  const fh = await open(part, start > 0 ? 'a' : 'w');
  let stall = setTimeout(() => abort.abort(), timeoutMs);
  try {
    if (res.body) {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        clearTimeout(stall);
        stall = setTimeout(() => abort.abort(), timeoutMs);
        await fh.write(chunk);
        loaded += chunk.length;
        onChunk(loaded);
      }
    }
    return undefined;
  } catch (err) {
    const why = abort.signal.aborted ? `no data for ${timeoutMs / 1000} s` : (err as Error).message;
    return `download interrupted after ${loaded} bytes (${why})`;
  } finally {
    clearTimeout(stall);
    await fh.close();
  }
}

/**
 * Downloads `url` to `dest` once: returns at once when `dest` is there and matches its sidecar; otherwise streams
 * into `dest.part` (resuming a part left by an earlier call with `Range`), verifies it (sha256 from `X-Linked-Etag`
 * when given, else the announced size) and renames it into place. Returns the size.
 */
export async function hubDownload(
  url: string,
  dest: string,
  s: HubSettings = hubSettings(),
  opts: DownloadOptions = {},
): Promise<number> {
  const file = opts.label ?? dest.split(/[\\/]/).pop()!;
  if (existsSync(dest)) {
    const bad = await checkCached(dest, opts.verifyCached);
    if (!bad) return statSync(dest).size;
    if (s.offline) throw new Error(`${bad}; delete it and download it again on a connected machine`);
    process.stderr.write(`msd: ${bad}; downloading it again\n`);
    rmSync(dest, { force: true });
    rmSync(metaPath(dest), { force: true });
  }
  mkdirSync(dirname(dest), { recursive: true });
  const part = `${dest}.part`;
  const retries = opts.retries ?? 3;
  const onProgress = s.onProgress ?? progressLine();
  let lastError: Error | undefined;
  for (let attempt = 0; attempt <= retries; attempt++) {
    const have = existsSync(part) ? statSync(part).size : 0;
    const { res, linkedEtag, linkedSize, abort } = await request(
      url,
      s,
      have > 0 ? { Range: `bytes=${have}-`, 'Accept-Encoding': 'identity' } : { 'Accept-Encoding': 'identity' },
    );
    if (res.status === 416 && have > 0) {
      // The part is not a prefix the server accepts (the file changed?): start over.
      await res.body?.cancel();
      rmSync(part, { force: true });
      continue;
    }
    if (!res.ok) {
      await res.body?.cancel();
      throw new Error(`${url}: HTTP ${res.status} ${res.statusText}`);
    }
    const etag = (linkedEtag ?? res.headers.get('etag') ?? '').replace(/^W\//, '').replace(/"/g, '');
    const sha256 = /^[0-9a-f]{64}$/.test(etag) ? etag : undefined;
    const extent = bodyExtent(res, have, linkedSize);
    if (!extent) {
      await res.body?.cancel();
      rmSync(part, { force: true });
      lastError = new Error(`${url}: the Range answer had Content-Range ${res.headers.get('content-range')}`);
      continue;
    }
    const { start, total } = extent;
    const interrupted = await writeBody(res, part, start, abort, s.timeoutMs, (loaded) =>
      onProgress({ file, loaded, total, done: false }),
    );
    if (interrupted) {
      lastError = new Error(`${url}: ${interrupted}; the next call resumes from ${part}`);
      continue;
    }
    const size = statSync(part).size;
    if (total !== undefined && size < total) {
      lastError = new Error(`${url}: received ${size} of ${total} bytes; the next call resumes from ${part}`);
      continue;
    }
    if (total !== undefined && size > total) {
      rmSync(part, { force: true });
      throw new Error(`${url}: received ${size} bytes but the Hub announced ${total}; the partial file was removed`);
    }
    const got = await sha256Of(part);
    if (sha256 && got !== sha256) {
      rmSync(part, { force: true });
      throw new Error(
        `${url}: the downloaded file's sha256 is ${got}, but the Hub's ETag says ${sha256} (corrupted in transit or ` +
          `a bad resume); it was removed, run again to download it afresh`,
      );
    }
    const meta: Meta = { url, size, sha256: got, ...(etag ? { etag } : {}) };
    writeJsonAtomic(metaPath(dest), meta);
    renameSync(part, dest);
    onProgress({ file, loaded: size, total: size, done: true });
    return size;
  }
  throw lastError ?? new Error(`${url}: download failed`);
}
