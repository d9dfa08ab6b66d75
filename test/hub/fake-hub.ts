/**
 * A loopback stand-in for the Hugging Face Hub (127.0.0.1 only), answering the endpoints src/hub/client.ts uses the
 * way the Hub does:
 *
 *   GET /api/datasets/<org>/<name>/parquet/<config>/<split>   JSON array of parquet URLs (404 if unknown)
 *   GET /api/datasets/<repo>/parquet/<config>/<split>/<i>.parquet
 *        302 -> /datasets/<repo>/resolve/refs%2Fconvert%2Fparquet/<config>/<split>/<NNNN>.parquet
 *        302 -> /cdn/<sha256>, with X-Linked-Etag "<sha256>" and X-Linked-Size on that 302, as the Hub does for LFS
 *   GET /<model>/resolve/main/<file>   200 with ETag (a git-blob-like sha1) for small files; 302 to /cdn for large
 *   GET /cdn/<sha256>                  the bytes; `Range: bytes=N-` answered 206 with Content-Range, 416 past the end
 *   a gated repository answers 401 without `Authorization: Bearer <token>`
 *
 * The datasets are parquet files written (test/data/parquet-writer.ts) from the real corpora of a local mirror,
 * with the `huggingface` features metadata (ClassLabel names) that `datasets` writes, in the Hub's id order
 * (O, B-PER, I-PER, B-ORG, I-ORG, B-LOC, I-LOC, B-MISC, I-MISC for CoNLL) unless a test asks for another order.
 *
 * Standalone (for trying the client by hand):
 *   MSD_DATA_ROOT=<local data root> MSD_TOKENIZER_DIR=<local mBERT tokenizer folder> \
 *     node --import tsx test/hub/fake-hub.ts [--port 8765]
 * prints `HF_ENDPOINT=http://127.0.0.1:<port>` and serves until killed.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { readConll } from '../../src/data/conll.js';
import { writeListParquet } from '../data/parquet-writer.js';

export const CONLL_NAMES = ['O', 'B-PER', 'I-PER', 'B-ORG', 'I-ORG', 'B-LOC', 'I-LOC', 'B-MISC', 'I-MISC'];

export interface FakeFile {
  bytes: Uint8Array;
}

export interface FakeHubOptions {
  /** Dataset parquet files: `<repo>` -> `<config>/<split>` -> files. */
  datasets?: Map<string, Map<string, Uint8Array[]>>;
  /** Model repositories: `<id>` -> file name -> bytes. */
  models?: Map<string, Map<string, Uint8Array>>;
  /** Repositories that answer 401 unless the request carries `Bearer <token>`. */
  gated?: Map<string, string>;
  /** Files served by /cdn larger than this are redirected like LFS files (default 0: every model file is). */
  lfsAbove?: number;
}

export interface FakeHub {
  endpoint: string;
  /** Every request, in order. */
  log: { url: string; range?: string; auth?: string }[];
  /** Cut the next transfer of a CDN object (by sha256, or '*' for any) after this many bytes. */
  cutAfter: Map<string, number>;
  /** Send this many bytes of the next transfer of an object (sha256 or '*'), then hang (a stalled connection). */
  stallAfter: Map<string, number>;
  /** Cut each of the next N transfers of an object (sha256 or '*') after half of the bytes it was to send. */
  cutHalf: Map<string, number>;
  /** Serve these CDN objects (by sha256, or '*') with one byte flipped. */
  corrupt: Set<string>;
  /** Announce this size in X-Linked-Size for an object (by sha256) instead of its own: a Hub that lies. */
  linkedSize: Map<string, number>;
  /** The sha256 of every served object, by a readable name (`<repo>/<config>/<split>/<i>` or `<model>/<file>`). */
  shaOf: Map<string, string>;
  stop(): Promise<void>;
}

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/** Parquet bytes of a CoNLL file, tags as ids into `names`, with the `huggingface` features metadata. */
export function conllParquet(path: string, names: readonly string[] = CONLL_NAMES): Uint8Array {
  const { sentences } = readConll(path, { strict: false });
  const id = new Map(names.map((n, i) => [n, i]));
  const features = {
    info: {
      features: {
        tokens: { feature: { dtype: 'string', _type: 'Value' }, _type: 'Sequence' },
        ner_tags: { feature: { names, _type: 'ClassLabel' }, _type: 'Sequence' },
      },
    },
  };
  return writeListParquet(
    [
      { name: 'tokens', kind: 'string', rows: sentences.map((s) => [...s.tokens]) },
      {
        name: 'ner_tags',
        kind: 'int64',
        rows: sentences.map((s) =>
          s.tags.map((t) => {
            const i = id.get(t);
            if (i === undefined) throw new Error(`${path}: tag ${t} not in ${names.join(',')}`);
            return i;
          }),
        ),
      },
    ],
    { keyValues: [{ key: 'huggingface', value: JSON.stringify(features) }] },
  );
}

const CONLL2002_FILES: Record<string, string> = { es: 'esp', nl: 'ned' };
const HUB_SPLIT: Record<string, string> = { train: 'train', validation: 'testa', test: 'testb' };

/** eriktks/conll2002 (es, nl; train/validation/test) as parquet, from `<dataRoot>/conll2002`. */
export function conll2002FromMirror(
  dataRoot: string,
  names: readonly string[] = CONLL_NAMES,
  langs: readonly string[] = ['es', 'nl'],
): Map<string, Map<string, Uint8Array[]>> {
  const configs = new Map<string, Uint8Array[]>();
  for (const lang of langs)
    for (const [split, suffix] of Object.entries(HUB_SPLIT))
      configs.set(`${lang}/${split}`, [
        conllParquet(join(dataRoot, 'conll2002', lang, `${CONLL2002_FILES[lang]}.${suffix}`), names),
      ]);
  return new Map([['eriktks/conll2002', configs]]);
}

/** A model repository from a local folder (e.g. the tokenizer files of bert-base-multilingual-cased). */
export function modelFromDir(dir: string): Map<string, Uint8Array> {
  return new Map(
    readdirSync(dir)
      .filter((f) => !f.startsWith('.'))
      .map((f) => [f, new Uint8Array(readFileSync(join(dir, f)))]),
  );
}

export async function startFakeHub(opts: FakeHubOptions, port = 0): Promise<FakeHub> {
  const cdn = new Map<string, Uint8Array>();
  const shaOf = new Map<string, string>();
  const put = (name: string, bytes: Uint8Array) => {
    const h = sha256(bytes);
    cdn.set(h, bytes);
    shaOf.set(name, h);
    return h;
  };
  for (const [repo, configs] of opts.datasets ?? new Map())
    for (const [cs, files] of configs) files.forEach((b: Uint8Array, i: number) => put(`${repo}/${cs}/${i}`, b));
  for (const [id, files] of opts.models ?? new Map()) for (const [f, b] of files) put(`${id}/${f}`, b);

  const log: FakeHub['log'] = [];
  const cutAfter = new Map<string, number>();
  const cutHalf = new Map<string, number>();
  const linkedSize = new Map<string, number>();
  const corrupt = new Set<string>();
  const stallAfter = new Map<string, number>();
  let endpoint = '';

  const gatedFor = (repo: string, req: IncomingMessage, res: ServerResponse): boolean => {
    const token = opts.gated?.get(repo);
    if (token === undefined || req.headers.authorization === `Bearer ${token}`) return false;
    res.writeHead(401, { 'Content-Type': 'application/json' }).end(
      JSON.stringify({
        error: `Access to dataset ${repo} is restricted. You must have access to it and be authenticated to access it.`,
      }),
    );
    return true;
  };
  const notFound = (res: ServerResponse) =>
    res.writeHead(404, { 'Content-Type': 'application/json' }).end('{"error":"Repository not found"}');
  const toCdn = (res: ServerResponse, h: string) =>
    res
      .writeHead(302, {
        Location: `/cdn/${h}`,
        'X-Linked-Etag': `"${h}"`,
        'X-Linked-Size': linkedSize.get(h) ?? cdn.get(h)!.length,
        ETag: `"${h.slice(0, 40)}"`,
      })
      .end();

  const server: Server = createServer((req, res) => {
    const url = decodeURIComponent(req.url ?? '');
    log.push({ url, range: req.headers.range, auth: req.headers.authorization });
    let m: RegExpExecArray | null;
    if ((m = /^\/api\/datasets\/([^/]+\/[^/]+)\/parquet\/([^/]+)\/([^/]+)$/.exec(url))) {
      const [, repo, config, split] = m;
      if (gatedFor(repo!, req, res)) return;
      const files = opts.datasets?.get(repo!)?.get(`${config}/${split}`);
      if (!files) return notFound(res);
      res
        .writeHead(200, { 'Content-Type': 'application/json' })
        .end(
          JSON.stringify(
            files.map((_, i) => `${endpoint}/api/datasets/${repo}/parquet/${config}/${split}/${i}.parquet`),
          ),
        );
      return;
    }
    if ((m = /^\/api\/datasets\/([^/]+\/[^/]+)\/parquet\/([^/]+)\/([^/]+)\/(\d+)\.parquet$/.exec(url))) {
      const [, repo, config, split, i] = m;
      if (gatedFor(repo!, req, res)) return;
      if (!opts.datasets?.get(repo!)?.get(`${config}/${split}`)?.[Number(i)]) return notFound(res);
      const n = String(i).padStart(4, '0');
      res
        .writeHead(302, {
          Location: `/datasets/${repo}/resolve/refs%2Fconvert%2Fparquet/${config}/${split}/${n}.parquet`,
        })
        .end();
      return;
    }
    if (
      (m = /^\/datasets\/([^/]+\/[^/]+)\/resolve\/refs\/convert\/parquet\/([^/]+)\/([^/]+)\/(\d+)\.parquet$/.exec(url))
    ) {
      const [, repo, config, split, n] = m;
      if (gatedFor(repo!, req, res)) return;
      const h = shaOf.get(`${repo}/${config}/${split}/${Number(n)}`);
      return h ? toCdn(res, h) : notFound(res);
    }
    if ((m = /^\/(.+)\/resolve\/([^/]+)\/([^/]+)$/.exec(url))) {
      const [, id, rev, file] = m;
      if (gatedFor(id!, req, res)) return;
      const h = rev === 'main' ? shaOf.get(`${id}/${file}`) : undefined;
      if (!h) return notFound(res);
      const bytes = cdn.get(h)!;
      if (bytes.length > (opts.lfsAbove ?? 0)) return toCdn(res, h);
      const blob = createHash('sha1').update(`blob ${bytes.length}\0`).update(bytes).digest('hex');
      return serve(req, res, bytes, blob, h);
    }
    if ((m = /^\/cdn\/([0-9a-f]{64})$/.exec(url))) {
      const bytes = cdn.get(m[1]!);
      return bytes ? serve(req, res, bytes, m[1]!, m[1]!) : notFound(res);
    }
    notFound(res);
  });

  function serve(req: IncomingMessage, res: ServerResponse, body: Uint8Array, etag: string, h: string): void {
    let start = 0;
    const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    if (range) {
      start = Number(range[1]);
      if (start >= body.length) {
        res.writeHead(416, { 'Content-Range': `bytes */${body.length}` }).end();
        return;
      }
      res.writeHead(206, {
        ETag: `"${etag}"`,
        'Content-Length': body.length - start,
        'Content-Range': `bytes ${start}-${body.length - 1}/${body.length}`,
      });
    } else {
      res.writeHead(200, { ETag: `"${etag}"`, 'Content-Length': body.length, 'Accept-Ranges': 'bytes' });
    }
    let out = body.subarray(start);
    for (const key of [h, '*'])
      if (corrupt.has(key)) {
        corrupt.delete(key);
        out = Uint8Array.from(out);
        out[Math.floor(out.length / 2)]! ^= 0xff;
        break;
      }
    for (const key of [h, '*']) {
      const cut = cutAfter.get(key);
      if (cut !== undefined) {
        cutAfter.delete(key);
        // As for cutHalf: time for the bytes to reach the client's .part file before the cut, even on a loaded machine.
        res.write(out.subarray(0, cut), () => setTimeout(() => res.socket?.destroy(), 250));
        return;
      }
    }
    for (const key of [h, '*']) {
      const left = cutHalf.get(key) ?? 0;
      if (left > 0) {
        cutHalf.set(key, left - 1);
        // Time for the half to reach the client's file before the cut, even on a loaded machine (20 ms was not).
        res.write(out.subarray(0, Math.floor(out.length / 2)), () => setTimeout(() => res.socket?.destroy(), 250));
        return;
      }
    }
    for (const key of [h, '*']) {
      const stall = stallAfter.get(key);
      if (stall !== undefined) {
        stallAfter.delete(key);
        res.write(out.subarray(0, stall));
        return;
      }
    }
    res.end(out);
  }

  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const stop = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return { endpoint, log, cutAfter, cutHalf, corrupt, linkedSize, stallAfter, shaOf, stop };
}

/** The fake Hub of the end-to-end tests: CoNLL-2002 es/nl and mBERT's tokenizer files from the local mirror. */
export function mirrorHubOptions(dataRoot: string, tokenizerDir: string): FakeHubOptions {
  return {
    datasets: conll2002FromMirror(dataRoot),
    models: new Map([['bert-base-multilingual-cased', modelFromDir(tokenizerDir)]]),
    lfsAbove: 1_000_000,
  };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const dataRoot = process.env.MSD_DATA_ROOT;
  const tokDir = process.env.MSD_TOKENIZER_DIR;
  if (!dataRoot || !tokDir || !existsSync(dataRoot) || !existsSync(tokDir)) {
    console.error('fake-hub: set MSD_DATA_ROOT and MSD_TOKENIZER_DIR to the local mirror (its data and mBERT folder)');
    process.exit(2);
  }
  const p = process.argv.indexOf('--port');
  void startFakeHub(mirrorHubOptions(dataRoot, tokDir), p > 0 ? Number(process.argv[p + 1]) : 0).then((hub) => {
    console.log(`HF_ENDPOINT=${hub.endpoint}`);
    console.log('serving eriktks/conll2002 (es, nl) and bert-base-multilingual-cased; Ctrl-C to stop');
  });
}
