/**
 * The Hub client and the corpus/tokenizer resolution against a loopback HTTP server that answers like the Hub
 * (test/hub/fake-hub.ts), serving parquet files written from the real CoNLL-2002 files of the local mirror
 * (`MSD_DATA_ROOT`, set by .ci/run). Each test uses its own cache folder (`MSD_CACHE`).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { ensureDataset, loadDataset } from '../../src/data/index.js';
import { locateDataset } from '../../src/data/registry.js';
import { resolveTokenizerDir } from '../../src/model/hub.js';
import { loadTokenizer } from '../../src/tokenizer/load.js';
import {
  CONLL_NAMES,
  conll2002FromMirror,
  modelFromDir,
  startFakeHub,
  type FakeHub,
  type FakeHubOptions,
} from './fake-hub.js';
import { REAL_DATA, REAL_TOKENIZER } from '../real-data.js';

// The real corpora and tokenizer the fake Hub's files are made from: MSD_DATA_ROOT / MSD_TOKENIZER_DIR, else the cache.
const MIRROR = REAL_DATA;
const TOKENIZER = REAL_TOKENIZER;
const skip =
  (!MIRROR || !existsSync(join(MIRROR, 'conll2002', 'es'))) &&
  'needs the real corpora: MSD_DATA_ROOT (bash .ci/run sets it to the local mirror) or a cache filled by the demo';
const skipTok =
  (!TOKENIZER || !existsSync(join(TOKENIZER, 'vocab.txt'))) &&
  'needs MSD_TOKENIZER_DIR (bash .ci/run sets it to the local mBERT tokenizer)';

const saved = { ...process.env };
let opts: FakeHubOptions;
let hub: FakeHub;

/** A clean environment for one test: its own cache, no local data root, the fake Hub as endpoint. */
function fresh(endpoint = hub.endpoint): string {
  const cache = mkdtempSync(join(tmpdir(), 'msd-cache-'));
  process.env.MSD_CACHE = cache;
  process.env.HF_ENDPOINT = endpoint;
  delete process.env.MSD_DATA_ROOT;
  delete process.env.MSD_TOKENIZER_DIR;
  delete process.env.HF_HUB_OFFLINE;
  delete process.env.HF_TOKEN;
  return cache;
}

const parquetDir = (cache: string, split: string) => join(cache, 'hub', 'datasets--eriktks--conll2002', 'es', split);

/** The local mirror's sentences of a split, for comparing with what came through the Hub. */
function mirrorSplit(split: 'train' | 'dev' | 'test') {
  return loadDataset('conll2002', 'es', split, { root: MIRROR });
}

before(async () => {
  if (skip) return;
  opts = {
    datasets: conll2002FromMirror(MIRROR!, CONLL_NAMES, ['es']),
    models: TOKENIZER && !skipTok ? new Map([['bert-base-multilingual-cased', modelFromDir(TOKENIZER)]]) : new Map(),
    lfsAbove: 1_000_000,
  };
  hub = await startFakeHub(opts);
});
after(async () => {
  await hub?.stop();
  for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
  Object.assign(process.env, saved);
});

test(
  'first download: listing, redirects, sha256 from X-Linked-Etag; the split reads like the local file',
  { skip },
  async () => {
    const cache = fresh();
    const before = hub.log.length;
    const r = await ensureDataset('conll2002', 'es', 'dev');
    assert.equal(r.source, 'hub');
    assert.equal(r.path, join(cache, 'data', 'conll2002', 'es', 'esp.testa'));
    const urls = hub.log.slice(before).map((l) => l.url);
    assert.ok(urls[0]!.endsWith('/api/datasets/eriktks/conll2002/parquet/es/validation'), urls[0]);
    assert.ok(urls.some((u) => u.includes('/resolve/refs/convert/parquet/es/validation/0000.parquet')));
    assert.ok(urls.some((u) => u.startsWith('/cdn/')));
    const meta = JSON.parse(readFileSync(join(parquetDir(cache, 'validation'), '0000.parquet.meta.json'), 'utf8'));
    assert.equal(meta.sha256, hub.shaOf.get('eriktks/conll2002/es/validation/0'));
    // Same sentences and tags as the mirror's file, through the same reader (same report counts).
    const got = loadDataset('conll2002', 'es', 'dev');
    const want = mirrorSplit('dev');
    assert.equal(got.sentences.length, want.sentences.length);
    assert.deepEqual(
      got.sentences.map((s) => [s.tokens, s.tags]),
      want.sentences.map((s) => [s.tokens, s.tags]),
    );
    assert.deepEqual(got.report.entities, want.report.entities);
    assert.equal(locateDataset('conll2002', 'es', 'dev').source, 'cache');
  },
);

test('cache hit: with the server stopped, nothing is requested and the split still loads', { skip }, async () => {
  fresh();
  await ensureDataset('conll2002', 'es', 'test');
  const other = await startFakeHub({});
  const endpoint = other.endpoint;
  await other.stop(); // a port with nobody listening
  process.env.HF_ENDPOINT = endpoint;
  const r = await ensureDataset('conll2002', 'es', 'test');
  assert.equal(r.source, 'cache');
  assert.equal(loadDataset('conll2002', 'es', 'test').sentences.length, mirrorSplit('test').sentences.length);
});

test('tag names come from the parquet metadata, not from a fixed id order', { skip }, async () => {
  const shuffled = ['B-LOC', 'O', 'I-MISC', 'B-PER', 'I-LOC', 'B-ORG', 'I-PER', 'B-MISC', 'I-ORG'];
  const other = await startFakeHub({ datasets: conll2002FromMirror(MIRROR!, shuffled, ['es']) });
  try {
    fresh(other.endpoint);
    await ensureDataset('conll2002', 'es', 'dev');
    const got = loadDataset('conll2002', 'es', 'dev');
    assert.deepEqual(
      got.sentences.slice(0, 200).map((s) => s.tags),
      mirrorSplit('dev')
        .sentences.slice(0, 200)
        .map((s) => s.tags),
    );
  } finally {
    await other.stop();
  }
});

test('a transfer cut in the middle is resumed with a Range request in the same call', { skip }, async () => {
  const cache = fresh();
  const sha = hub.shaOf.get('eriktks/conll2002/es/validation/0')!;
  hub.cutAfter.set(sha, 300_000);
  const before = hub.log.length;
  await ensureDataset('conll2002', 'es', 'dev');
  const ranges = hub.log.slice(before).filter((l) => l.range && l.url.startsWith('/cdn/'));
  // One resume, from what had arrived: at most the 300000 bytes sent before the cut (a reset socket may drop a few).
  assert.equal(ranges.length, 1, JSON.stringify(ranges));
  const from = Number(/^bytes=(\d+)-$/.exec(ranges[0]!.range!)?.[1]);
  assert.ok(from > 0 && from <= 300_000, ranges[0]!.range);
  const size = statSync(join(parquetDir(cache, 'validation'), '0000.parquet')).size;
  assert.equal(size, opts.datasets!.get('eriktks/conll2002')!.get('es/validation')![0]!.length);
});

test(
  'a killed pull leaves a .part that the next run resumes (Range), never a file read as complete',
  { skip },
  async () => {
    const cache = fresh();
    const sha = hub.shaOf.get('eriktks/conll2002/es/train/0')!;
    hub.stallAfter.set(sha, 1_000_000); // send 1 MB, then hang, like a connection dying mid-file
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', join('src', 'cli', 'msd.ts'), 'data', 'pull', 'conll2002', 'es'],
      {
        env: process.env,
        stdio: 'ignore',
      },
    );
    const part = join(parquetDir(cache, 'train'), '0000.parquet.part');
    const t0 = Date.now();
    while (!(existsSync(part) && statSync(part).size >= 1_000_000)) {
      assert.ok(Date.now() - t0 < 60_000, 'the child never wrote the first megabyte');
      await new Promise((r) => setTimeout(r, 100));
    }
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    assert.equal(existsSync(join(parquetDir(cache, 'train'), '0000.parquet')), false, 'no complete file after a kill');
    assert.equal(locateDataset('conll2002', 'es', 'train').path, undefined, 'nothing half-written is found');
    const before = hub.log.length;
    await ensureDataset('conll2002', 'es', 'train');
    assert.ok(
      hub.log.slice(before).some((l) => l.url.startsWith('/cdn/') && l.range === `bytes=${1_000_000}-`),
      'the resumed run asked for the rest only',
    );
    assert.equal(loadDataset('conll2002', 'es', 'train').sentences.length, mirrorSplit('train').sentences.length);
  },
);

test(
  'corrupted in transit (sha256 differs from X-Linked-Etag): refused, nothing cached; the retry works',
  { skip },
  async () => {
    const cache = fresh();
    hub.corrupt.add(hub.shaOf.get('eriktks/conll2002/es/validation/0')!);
    await assert.rejects(ensureDataset('conll2002', 'es', 'dev'), /sha256 is [0-9a-f]{64}, but the Hub's ETag says/);
    assert.deepEqual(readdirSync(parquetDir(cache, 'validation')), []);
    assert.equal(locateDataset('conll2002', 'es', 'dev').path, undefined);
    await ensureDataset('conll2002', 'es', 'dev');
    assert.equal(locateDataset('conll2002', 'es', 'dev').source, 'cache');
  },
);

test(
  'a truncated cached file is detected and fetched again; offline it is an error naming the file',
  { skip },
  async () => {
    const cache = fresh();
    await ensureDataset('conll2002', 'es', 'dev');
    const file = join(parquetDir(cache, 'validation'), '0000.parquet');
    const size = statSync(file).size;
    truncateSync(file, 1000);
    const { pullDataset } = await import('../../src/data/hub.js');
    process.env.HF_HUB_OFFLINE = '1';
    await assert.rejects(pullDataset('conll2002', 'es', 'dev'), /HF_HUB_OFFLINE|truncated or altered/);
    delete process.env.HF_HUB_OFFLINE;
    await pullDataset('conll2002', 'es', 'dev');
    assert.equal(statSync(file).size, size);
    writeFileSync(file, Buffer.alloc(size, 7)); // same size, other bytes: the full check (sha256) catches it
    await pullDataset('conll2002', 'es', 'dev');
    assert.equal(
      JSON.parse(readFileSync(`${file}.meta.json`, 'utf8')).sha256,
      hub.shaOf.get('eriktks/conll2002/es/validation/0'),
    );
    assert.notEqual(readFileSync(file)[100], 7);
  },
);

test(
  'offline with nothing cached: a clear error at once, naming what was tried and both remedies',
  { skip },
  async () => {
    const cache = fresh();
    process.env.HF_HUB_OFFLINE = '1';
    const before = hub.log.length;
    const t0 = Date.now();
    await assert.rejects(ensureDataset('conll2002', 'nl', 'train'), (err: Error) => {
      assert.match(err.message, /conll2002 nl train: not found/);
      assert.match(err.message, /data\.root \(unset\)/);
      assert.match(err.message, /MSD_DATA_ROOT \(unset\)/);
      assert.ok(err.message.includes(join(cache, 'data', 'conll2002', 'nl', 'ned.train')), err.message);
      assert.match(err.message, /HF_HUB_OFFLINE/);
      assert.match(err.message, /eriktks\/conll2002/);
      assert.match(err.message, /Point MSD_DATA_ROOT \(or data\.root in the config\) at a local folder/);
      assert.match(err.message, /msd data pull conll2002 nl` on a connected machine/);
      return true;
    });
    assert.equal(hub.log.length, before, 'no request when offline');
    // At once (no network wait); generous for a loaded machine.
    assert.ok(Date.now() - t0 < 10_000, `${Date.now() - t0} ms`);
    // loadDataset itself (no download) says the same.
    assert.throws(() => loadDataset('conll2002', 'nl', 'train'), /msd data pull conll2002 nl/);
  },
);

test('an unreachable Hub fails within seconds with the same remedies', { skip }, async () => {
  // Port 1 on the loopback: nothing listens there (a port freed by a stopped server could be taken again).
  fresh('http://127.0.0.1:1');
  const t0 = Date.now();
  await assert.rejects(ensureDataset('conll2002', 'es', 'dev'), /cannot reach the Hub.*msd data pull conll2002 es/s);
  // Seconds, not the minutes of a retry loop; generous for a loaded machine.
  assert.ok(Date.now() - t0 < 15_000, `${Date.now() - t0} ms`);
});

test('a gated repository: 401 says to set HF_TOKEN; with the token it downloads', { skip }, async () => {
  const other = await startFakeHub({ ...opts, gated: new Map([['eriktks/conll2002', 'secret']]) });
  try {
    fresh(other.endpoint);
    await assert.rejects(ensureDataset('conll2002', 'es', 'dev'), /HTTP 401: .*gated or private.*HF_TOKEN/);
    process.env.HF_TOKEN = 'secret';
    await ensureDataset('conll2002', 'es', 'dev');
    assert.ok(other.log.some((l) => l.auth === 'Bearer secret'));
    assert.ok(other.log.some((l) => l.url.includes('/parquet/es/validation') && l.auth === 'Bearer secret'));
  } finally {
    await other.stop();
  }
});

test('404: a language the Hub does not have; a corpus not on the Hub says why', { skip }, async () => {
  fresh();
  await assert.rejects(
    ensureDataset('conll2002', 'nl', 'train'),
    /no parquet files for eriktks\/conll2002 config nl.*404/s,
  );
  await assert.rejects(
    ensureDataset('conll2003', 'de', 'train'),
    /not on the Hugging Face Hub under terms that allow it: German CoNLL-2003/,
  );
});

test(
  'the tokenizer alone: downloaded once from the Hub into the cache, then read offline',
  { skip: skip || skipTok },
  async () => {
    const cache = fresh();
    const dir = await resolveTokenizerDir('bert-base-multilingual-cased');
    assert.ok(dir.startsWith(cache));
    assert.equal(readFileSync(join(dir, 'vocab.txt'), 'utf8'), readFileSync(join(TOKENIZER!, 'vocab.txt'), 'utf8'));
    assert.equal(existsSync(join(dir, 'model.safetensors')), false, 'no weights for the tokenizer');
    process.env.HF_HUB_OFFLINE = '1';
    assert.equal(await resolveTokenizerDir('bert-base-multilingual-cased'), dir);
    assert.ok(loadTokenizer(dir).tokenizeWord('Málaga').ids.length > 0);
    process.env.MSD_CACHE = mkdtempSync(join(tmpdir(), 'msd-cache-'));
    await assert.rejects(
      resolveTokenizerDir('bert-base-multilingual-cased'),
      /MSD_TOKENIZER_DIR \(unset\).*HF_HUB_OFFLINE.*set MSD_TOKENIZER_DIR to a local folder.*msd data pull tokenizer/s,
    );
  },
);

test('msd data where: each split and the tokenizer with where it resolves and why', { skip }, async () => {
  const cache = fresh();
  await ensureDataset('conll2002', 'es', 'dev');
  const { execFileSync } = await import('node:child_process');
  const out = execFileSync(
    process.execPath,
    ['--import', 'tsx', join('src', 'cli', 'msd.ts'), 'data', 'where', 'conll2002', 'es', 'nl'],
    { encoding: 'utf8', env: { ...process.env, MSD_DATA_ROOT: join(MIRROR!) } },
  );
  const line = (lang: string, split: string) =>
    out.split('\n').find((l) => new RegExp(`^conll2002\\s+${lang}\\s+${split}\\s`).test(l)) ?? '';
  assert.match(line('es', 'train'), new RegExp(`MSD_DATA_ROOT\\s+${resolve(MIRROR!, 'conll2002', 'es', 'esp.train')}`));
  assert.match(out, new RegExp(`MSD_DATA_ROOT ${resolve(MIRROR!)} > cache ${cache}`));
  const noRoot = execFileSync(
    process.execPath,
    ['--import', 'tsx', join('src', 'cli', 'msd.ts'), 'data', 'where', 'conll2002', 'es'],
    { encoding: 'utf8', env: process.env },
  );
  const l2 = (split: string) =>
    noRoot.split('\n').find((l) => new RegExp(`^conll2002\\s+es\\s+${split}\\s`).test(l)) ?? '';
  assert.match(l2('dev'), new RegExp(`cache\\s+${join(cache, 'data', 'conll2002', 'es', 'esp.testa')}`));
  assert.match(l2('train'), /Hub\s+not local; downloads from eriktks\/conll2002 \(es\/train\) on first use/);
  assert.match(noRoot, /^tokenizer\s+bert-base-multilingual-cased: not local \(tried MSD_TOKENIZER_DIR \(unset\)/m);
});
